/* model_pass.c: the passes over a layer range (front half, back half, one
 * forward yielding every split's cut tensors) on the host or the device,
 * and the detections decoded from the output. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "featrd/model.h"
#include "model/model_internal.h"
#include "model/model.h"
#include "model/model_dn.h"

/* ---------------------------------------------------------------- passes -- */

#ifdef GPU
/* The GPU twin of run_range: the layers' forward_gpu on device buffers, the
 * input of layer `from` already on the device. gpu_lock held. */
static void run_range_gpu(DnModel *m, int from, int to)
{
    network net = *m->net;
    if (from == 0) {
        net.input = m->net->input;
        net.input_gpu = m->net->input_gpu;
    } else {
        net.input = m->net->layers[from - 1].output;
        net.input_gpu = m->net->layers[from - 1].output_gpu;
    }
    for (int i = from; i <= to; i++) {
        net.index = i;
        layer l = net.layers[i];
        l.forward_gpu(l, net);
        net.input = l.output;
        net.input_gpu = l.output_gpu;
        if (l.truth) {
            net.truth = l.output;
            net.truth_gpu = l.output_gpu;
        }
    }
}

/* Device → host for layer i's output. gpu_lock held. */
static void pull_layer(const DnModel *m, int i)
{
    const layer *l = &m->net->layers[i];
    cuda_pull_array(l->output_gpu, l->output, (size_t)l->outputs * l->batch);
}

/* After a GPU pass over from..to: what the task reads on the host (the
 * output layer, and the detection layers the box decoder reads; region and
 * yolo pull themselves at inference, detection does not). */
static void pull_outputs(DnModel *m, int from, int to)
{
    for (int i = from; i <= to; i++) {
        LAYER_TYPE t = m->net->layers[i].type;
        if (i == m->out_layer || t == REGION || t == YOLO || t == DETECTION)
            pull_layer(m, i);
    }
}
#endif

static void run_range(DnModel *m, int from, int to)
{
#ifdef GPU
    if (fr_dn_on_gpu(m)) { /* input of `from` on the device already; gpu_lock held */
        run_range_gpu(m, from, to);
        pull_outputs(m, from, to);
        return;
    }
#endif
    network net = *m->net;
    fr_dn_gemm_thread(m->gemm);
    fr_kernels_set_thread(m->kernels);
    if (from == 0)
        net.input = m->net->input;
    else
        net.input = m->net->layers[from - 1].output;
    for (int i = from; i <= to; i++) {
        net.index = i;
        layer l = net.layers[i];
        l.forward(l, net);
        net.input = l.output;
        if (l.truth)
            net.truth = l.output;
    }
}

static int set_input(DnModel *m, const FrTensor *in, FrError *err)
{
    const network *net = m->net;
    if (!in || !in->data)
        return fr_error(err, FR_E_USAGE, "%s: no input tensor", m->cfg);
    if (in->c != net->c || in->h != net->h || in->w != net->w)
        return fr_error(err, FR_E_MISMATCH, "%s: input is %d×%d×%d (C×H×W), the network takes %d×%d×%d; use dn_model_prepare_input", m->cfg, in->c, in->h, in->w, net->c, net->h, net->w);
    memcpy(net->input, in->data, fr_tensor_size(in) * sizeof(float));
#ifdef GPU
    if (fr_dn_on_gpu(m)) /* gpu_lock held */
        cuda_push_array(net->input_gpu, net->input, fr_tensor_size(in));
#endif
    return FR_OK;
}

int dn_model_forward(DnModel *m, const FrTensor *input, FrError *err)
{
    if (!m)
        return fr_error(err, FR_E_USAGE, "no model");
    fr_dn_gpu_begin(m);
    int rc = set_input(m, input, err);
    if (rc == FR_OK)
        run_range(m, 0, m->n - 1);
    fr_dn_gpu_end(m);
    return rc;
}

static int copy_layer(const DnModel *m, int i, FrTensor *out)
{
    int c, h, w;
    fr_dn_out_shape(&m->net->layers[i], &c, &h, &w);
    int rc = fr_tensor_alloc(out, c, h, w);
    if (rc != FR_OK)
        return rc;
#ifdef GPU
    if (fr_dn_on_gpu(m)) { /* the device holds the pass's values of every layer */
        fr_dn_gpu_begin(m);
        pull_layer(m, i);
        fr_dn_gpu_end(m);
    }
#endif
    memcpy(out->data, m->net->layers[i].output, fr_tensor_size(out) * sizeof(float));
    return FR_OK;
}

int dn_model_front(DnModel *m, const FrTensor *input, int split, FrTensor *cuts, int *ncuts,
                   FrError *err)
{
    if (!m || !cuts || !ncuts)
        return fr_error(err, FR_E_USAGE, "dn_model_front: missing argument");
    *ncuts = 0;
    int idx[FR_MODEL_MAX_CUTS], n = 0;
    int rc = dn_model_cut_set_err(m, split, idx, FR_MODEL_MAX_CUTS, &n, err);
    if (rc != FR_OK)
        return rc;
    fr_dn_gpu_begin(m);
    rc = set_input(m, input, err);
    if (rc == FR_OK)
        run_range(m, 0, split);
    fr_dn_gpu_end(m);
    if (rc != FR_OK)
        return rc;
    /* copy_layer pulls each cut tensor from the device on the GPU */
    for (int k = 0; k < n; k++) {
        if ((rc = copy_layer(m, idx[k], &cuts[k])) != FR_OK) {
            for (int j = 0; j < k; j++)
                fr_tensor_free(&cuts[j]);
            return fr_error(err, rc, "%s: out of memory copying the cut tensors", m->cfg);
        }
    }
    *ncuts = n;
    return FR_OK;
}

int dn_model_forward_cuts(DnModel *m, const FrTensor *input, const int *splits, int n,
                          FrTensor *cuts, int *ncuts, double *t_front, FrError *err)
{
    if (!m || n < 0 || (n && (!splits || !cuts || !ncuts)))
        return fr_error(err, FR_E_USAGE, "dn_model_forward_cuts: missing argument");
    int idx[FR_MODEL_MAX_CUTS * 8], nidx[8];
    if (n > 8)
        return fr_error(err, FR_E_USAGE, "dn_model_forward_cuts: at most 8 splits, %d given", n);
    for (int j = 0; j < n; j++) {
        ncuts[j] = 0;
        int rc = dn_model_cut_set_err(m, splits[j], idx + j * FR_MODEL_MAX_CUTS,
                                      FR_MODEL_MAX_CUTS, &nidx[j], err);
        if (rc != FR_OK)
            return rc;
    }
    /* copy_layer takes the GPU lock itself: held per step, not across */
    fr_dn_gpu_begin(m);
    int rc = set_input(m, input, err);
    fr_dn_gpu_end(m);
    double t0 = fr_now();
    int done = -1; /* layers 0..done have run */
    for (int left = n; rc == FR_OK && left > 0;) {
        int next = m->n; /* the shallowest split not yet copied */
        for (int j = 0; j < n; j++)
            if (!ncuts[j] && splits[j] < next)
                next = splits[j];
        if (next > done) {
            fr_dn_gpu_begin(m);
            run_range(m, done + 1, next);
            fr_dn_gpu_end(m);
            done = next;
        }
        for (int j = 0; j < n && rc == FR_OK; j++) {
            if (ncuts[j] || splits[j] != next)
                continue;
            for (int k = 0; k < nidx[j] && rc == FR_OK; k++)
                rc = copy_layer(m, idx[j * FR_MODEL_MAX_CUTS + k], &cuts[j * FR_MODEL_MAX_CUTS + k]);
            if (rc != FR_OK) {
                for (int k = 0; k < nidx[j]; k++)
                    fr_tensor_free(&cuts[j * FR_MODEL_MAX_CUTS + k]);
                rc = fr_error(err, rc, "%s: out of memory copying the cut tensors", m->cfg);
                break;
            }
            ncuts[j] = nidx[j];
            if (t_front)
                t_front[j] = fr_now() - t0;
            left--;
        }
    }
    if (rc == FR_OK && done < m->n - 1) {
        fr_dn_gpu_begin(m);
        run_range(m, done + 1, m->n - 1);
        fr_dn_gpu_end(m);
    }
    if (rc != FR_OK)
        for (int j = 0; j < n; j++) {
            for (int k = 0; k < ncuts[j]; k++)
                fr_tensor_free(&cuts[j * FR_MODEL_MAX_CUTS + k]);
            ncuts[j] = 0;
        }
    return rc;
}

int dn_model_back_to(DnModel *m, int split, const FrTensor *cuts, int ncuts, int last,
                     FrError *err)
{
    if (!m || (!cuts && ncuts))
        return fr_error(err, FR_E_USAGE, "dn_model_back: missing argument");
    int idx[FR_MODEL_MAX_CUTS], n = 0;
    int rc = dn_model_cut_set_err(m, split, idx, FR_MODEL_MAX_CUTS, &n, err);
    if (rc != FR_OK)
        return rc;
    if (ncuts != n)
        return fr_error(err, FR_E_MISMATCH, "%s: the cut after %s needs %d tensors, %d given", m->cfg, m->names[split], n, ncuts);
    for (int k = 0; k < n; k++) {
        int c, h, w;
        fr_dn_out_shape(&m->net->layers[idx[k]], &c, &h, &w);
        if (!cuts[k].data || cuts[k].c != c || cuts[k].h != h || cuts[k].w != w)
            return fr_error(err, FR_E_MISMATCH, "%s: cut tensor %d (%s) is %d×%d×%d (C×H×W), the layer outputs %d×%d×%d", m->cfg, k, m->names[idx[k]], cuts[k].c, cuts[k].h, cuts[k].w, c, h, w);
    }
    /* in place: route and shortcut read net.layers[j].output (on the GPU
     * output_gpu) directly */
    fr_dn_gpu_begin(m);
    for (int k = 0; k < n; k++) {
        memcpy(m->net->layers[idx[k]].output, cuts[k].data, fr_tensor_size(&cuts[k]) * sizeof(float));
#ifdef GPU
        if (fr_dn_on_gpu(m))
            cuda_push_array(m->net->layers[idx[k]].output_gpu, m->net->layers[idx[k]].output, fr_tensor_size(&cuts[k]));
#endif
    }
    /* the layers after `last` do not feed it: stop there when asked */
    run_range(m, split + 1, last > split && last < m->n ? last : m->n - 1);
    fr_dn_gpu_end(m);
    return FR_OK;
}

int dn_model_output(DnModel *m, FrTensor *out)
{
    if (!m || !out)
        return FR_E_USAGE;
    return copy_layer(m, m->out_layer, out);
}

int dn_model_layer_output(DnModel *m, int layer, FrTensor *out)
{
    if (!m || !out || layer < 0 || layer >= m->n)
        return FR_E_USAGE;
    return copy_layer(m, layer, out);
}

/* ------------------------------------------------------------ detections -- */

int dn_model_detections(DnModel *m, int orig_w, int orig_h, float thresh, float nms,
                        FrDetection **dets, int *n)
{
    if (!m || !dets || !n || orig_w <= 0 || orig_h <= 0 || m->task != FR_TASK_DETECTION)
        return FR_E_USAGE;
    *dets = NULL;
    *n = 0;
    /* the tree softmax's hierarchy_predictions rewrites the region output in
     * place; keep it so repeated calls and dn_model_output see the pass's values */
    float *keep[8] = {0};
    int keep_layer[8], nkeep = 0;
    /* in the im2col workspace, idle between passes and already resident
     * (yolo9000@544: a 31 MiB region output in an 81 MiB workspace), else
     * in a buffer of its own */
    size_t need = 0, ws = 0;
    for (int i = 0; i < m->n; i++) {
        const layer *l = &m->net->layers[i];
        if (l->workspace_size > ws)
            ws = l->workspace_size;
        if ((l->type == REGION || l->type == YOLO || l->type == DETECTION) && nkeep < 8)
            keep_layer[nkeep++] = i;
    }
    for (int k = 0; k < nkeep; k++)
        need += (size_t)m->net->layers[keep_layer[k]].outputs * sizeof(float);
    float *in_ws = !fr_dn_on_gpu(m) && m->net->workspace && need <= ws ? m->net->workspace : NULL;
    for (int k = 0, off = 0; k < nkeep; k++) {
        const layer *l = &m->net->layers[keep_layer[k]];
        keep[k] = in_ws ? in_ws + off : malloc((size_t)l->outputs * sizeof(float));
        off += l->outputs;
        if (!keep[k]) {
            for (int j = 0; j < k && !in_ws; j++)
                free(keep[j]);
            return FR_E_NOMEM;
        }
        memcpy(keep[k], l->output, (size_t)l->outputs * sizeof(float));
    }
    int nb = 0;
    detection *d = get_network_boxes(m->net, orig_w, orig_h, thresh, 0.5f, NULL, 0, &nb);
    for (int k = 0; k < nkeep; k++) {
        const layer *l = &m->net->layers[keep_layer[k]];
        memcpy(l->output, keep[k], (size_t)l->outputs * sizeof(float));
        if (!in_ws)
            free(keep[k]);
    }
    if (!d && nb)
        return FR_E_NOMEM;
    int classes = 0;
    for (int i = m->n - 1; i >= 0 && !classes; i--) {
        const layer *l = &m->net->layers[i];
        if (l->type == REGION || l->type == YOLO || l->type == DETECTION)
            classes = l->classes;
    }
    if (nms > 0 && nb > 0)
        do_nms_sort(d, nb, classes, nms);
    size_t cnt = 0;
    for (int i = 0; i < nb; i++)
        for (int j = 0; j < classes; j++)
            if (d[i].prob[j] > thresh)
                cnt++;
    FrDetection *out = cnt ? malloc(cnt * sizeof *out) : NULL;
    if (cnt && !out) {
        free_detections(d, nb);
        return FR_E_NOMEM;
    }
    size_t k = 0;
    for (int i = 0; i < nb; i++) {
        box b = d[i].bbox;
        float x1 = b.x - b.w / 2, x2 = b.x + b.w / 2, y1 = b.y - b.h / 2, y2 = b.y + b.h / 2;
        /* darknet's validate_detector clamps the same way (1-based there) */
        if (x1 < 0) x1 = 0;
        if (y1 < 0) y1 = 0;
        if (x2 > orig_w - 1) x2 = (float)(orig_w - 1);
        if (y2 > orig_h - 1) y2 = (float)(orig_h - 1);
        for (int j = 0; j < classes; j++)
            if (d[i].prob[j] > thresh) {
                out[k].cls = j;
                out[k].score = d[i].prob[j];
                out[k].x1 = x1;
                out[k].y1 = y1;
                out[k].x2 = x2;
                out[k].y2 = y2;
                k++;
            }
    }
    free_detections(d, nb);
    *dets = out;
    *n = (int)k;
    return FR_OK;
}

void fr_detections_free(FrDetection **dets)
{
    if (dets) {
        free(*dets);
        *dets = NULL;
    }
}

