/* run_truth.c: what is known about each image before any point runs: its
 * ground truth (darknet label files or VOC XML, the scored classes and
 * dataset.class_map), its class label, and the reference pass (the whole
 * uncompressed network once per image). Part of the runner (run_internal.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run/run_internal.h"
#include "data/dataset.h"
#include "model/model.h"

/* ---------------- ground truth and the reference pass ---------------- */

int fr_run_read_gt_(Run *r, size_t img, FrError *err)
{
    ImgInfo *in = &r->info[img];
    const FrExperiment *e = r->e;
    const char *path = r->list.items[img].path;
    in->label = -1;
    if (r->task == FR_TASK_DETECTION) {
        if (e->dataset.labels == FR_LABELS_VOC_XML) {
            const char *base = strrchr(path, '/');
            base = base ? base + 1 : path;
            char xml[4400];
            const char *dot = strrchr(base, '.');
            int bl = dot ? (int)(dot - base) : (int)strlen(base);
            snprintf(xml, sizeof xml, "%s/%.*s.xml", e->dataset.annotations, bl, base);
            return fr_gt_read_voc_xml(xml, &r->names, &in->gt, &in->ngt, NULL, NULL, err);
        }
        char lp[4400];
        int rc = fr_darknet_label_path(path, lp, sizeof lp, err);
        if (!rc)
            rc = fr_gt_read_darknet(lp, in->w, in->h, r->nclasses, &in->gt, &in->ngt, err);
        return rc;
    }
    return 0;
}

/* err's message again, prefixed with the config location of key. */
static int at_key(const FrExperiment *e, FrError *err, int rc, const char *key, const char *tail)
{
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
    return fr_experiment_error(e, err, rc, key, "%s%s", msg, tail);
}

/* The classes a detection run scores: the model's names (model.names) are
 * checked against the network and against the data set's (dataset.names),
 * or mapped onto them by dataset.class_map; r->names, r->nclasses and
 * r->cmap are set. Without names files, ids are used as they are. */
int fr_run_detection_classes_(Run *r, FrError *err)
{
    const FrExperiment *e = r->e;
    r->nmodel_classes = r->nclasses;
    int rc = 0;
    if (e->dataset.labels == FR_LABELS_DARKNET_TXT) {
        /* voc_label.py drops difficult objects from the label files (and
         * the VOC07 devkit ignores detections of them), so the score comes
         * out lower than the devkit's */
        for (size_t i = 0; i < r->list.n; i++)
            if (strstr(r->list.items[i].path, "JPEGImages/") ||
                strstr(r->list.items[i].path, "VOC20")) {
                fprintf(stderr,
                        "featrd run: warning: %s: VOC images with darknet label files: those "
                        "carry no 'difficult' flags (voc_label.py leaves difficult objects "
                        "out), so difficult objects cannot be ignored: detections of them count "
                        "as false positives and mAP comes out lower than the VOC devkit's. Use "
                        "-o dataset.labels=voc-xml -o dataset.annotations=.../Annotations\n",
                        e->dataset.images);
                break;
            }
    }
    if (!e->model.names) {
        if (e->dataset.labels == FR_LABELS_VOC_XML)
            return fr_experiment_error(e, err, FR_E_CONFIG, "model.names",
                                       "VOC XML labels need the class names file: set "
                                       "model.names (and dataset.names if the data set's "
                                       "classes differ)");
        return 0;
    }
    FrNames mn = {0};
    if ((rc = fr_names_read_model(e->model.names, &mn, err)))
        return at_key(e, err, rc, "model.names", "");
    if (mn.n != r->nclasses) {
        rc = fr_experiment_error(e, err, FR_E_MISMATCH, "model.names",
                                 "'%s' has %d class names but the network (%s) outputs %d "
                                 "classes: give this model's names file", e->model.names, mn.n,
                                 e->model.cfg, r->nclasses);
        goto done;
    }
    const char *dpath = e->dataset.names ? e->dataset.names : e->model.names;
    if ((rc = fr_names_read(dpath, &r->names, err))) {
        rc = at_key(e, err, rc, e->dataset.names ? "dataset.names" : "model.names",
                    e->dataset.names ? ""
                                     : " (a model whose names repeat needs dataset.names and "
                                       "dataset.class_map)");
        goto done;
    }
    if (e->dataset.names || e->dataset.class_map) {
        int *map = NULL;
        rc = fr_class_map_build(&mn, e->model.names, &r->names, dpath, e->dataset.class_map,
                                &map, err);
        if (rc) {
            rc = at_key(e, err, rc, e->dataset.class_map ? "dataset.class_map" : "dataset.names",
                        "");
            goto done;
        }
        r->cmap = map;
        r->nclasses = r->names.n;
    }
done:
    fr_names_free(&mn);
    return rc;
}

int fr_run_ref_image_(Run *r, int worker, size_t img, void *arg, FrError *err)
{
    RefArg *ra = arg;
    FrTensor rgb = {0}, input = {0};
    int rc = fr_run_load_input_(r, worker, img, &rgb, ra->forward ? &input : NULL, err);
    if (rc)
        goto done;
    r->info[img].w = rgb.w;
    r->info[img].h = rgb.h;
    rc = fr_run_read_gt_(r, img, err);
    if (rc || !ra->forward)
        goto done;
    double t0 = fr_now();
    if (ra->ncap) {
        /* the front halves of the captured splits, copied out on the way */
        FrTensor cuts[8 * FR_MODEL_MAX_CUTS];
        int ncuts[8];
        double tf[8];
        memset(cuts, 0, sizeof cuts);
        rc = fr_model_forward_cuts(r->models[worker], &input, ra->layer, ra->ncap, cuts, ncuts,
                                   tf, err);
        for (int j = 0; !rc && j < ra->ncap; j++) {
            CutCache *cc = &r->pre[ra->split[j]][img];
            memcpy(cc->cuts, cuts + j * FR_MODEL_MAX_CUTS, sizeof cc->cuts);
            cc->ncuts = ncuts[j];
            cc->t_front = tf[j];
        }
    } else {
        rc = fr_model_forward(r->models[worker], &input, err);
    }
    if (rc)
        goto done;
    ImgRes *res = &ra->res[img];
    rc = fr_run_take_output_(r, r->models[worker], img, res, err);
    res->t_back = fr_now() - t0;
    if (!rc && r->task != FR_TASK_DETECTION) {
        FrTensor *ref = &r->info[img].ref;
        rc = fr_tensor_alloc(ref, res->out.c, res->out.h, res->out.w);
        if (!rc)
            memcpy(ref->data, res->out.data, fr_tensor_size(ref) * sizeof(float));
    }
done:
    fr_tensor_free(&rgb);
    fr_tensor_free(&input);
    return rc;
}

/* Class labels for classification (list `path label`, darknet's class name
 * in the path, or dataset.labels_file with one class id per list line). */
int fr_run_read_labels_(Run *r, FrError *err)
{
    const FrExperiment *e = r->e;
    if (r->task != FR_TASK_CLASSIFICATION)
        return 0;
    if (e->dataset.labels == FR_LABELS_CLASS_LIST && e->dataset.labels_file) {
        FILE *f = fopen(e->dataset.labels_file, "r");
        if (!f)
            return fr_experiment_error(e, err, FR_E_NOENT, "dataset.labels_file",
                                       "cannot open '%s' (%s)", e->dataset.labels_file,
                                       strerror(errno));
        /* The k-th label line belongs to the k-th image line of the list. */
        long *lab = NULL;
        size_t n = 0, cap = 0;
        char line[256];
        while (fgets(line, sizeof line, f)) {
            char *end;
            long v = strtol(line, &end, 10);
            if (end == line)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                long *nw = realloc(lab, cap * sizeof *nw);
                if (!nw) {
                    free(lab);
                    fclose(f);
                    return fr_error(err, FR_E_NOMEM, "out of memory");
                }
                lab = nw;
            }
            lab[n++] = v;
        }
        fclose(f);
        /* Map list lines to ordinals of image lines: lines are increasing. */
        FrImageList full = {0};
        int rc = fr_image_list_read(e->dataset.images, &full, err);
        if (rc) {
            free(lab);
            return rc;
        }
        for (size_t i = 0; i < r->list.n; i++) {
            r->info[i].label = -1;
            for (size_t k = 0; k < full.n && k < n; k++)
                if (full.items[k].line == r->list.items[i].line)
                    r->info[i].label = lab[k];
        }
        fr_image_list_free(&full);
        free(lab);
        return 0;
    }
    FrNames names = {0};
    const char *nf = e->model.names ? e->model.names : e->dataset.labels_file;
    if (!nf) {
        /* Without class names only numeric labels (`path 3`) can be read. */
        for (size_t i = 0; i < r->list.n; i++) {
            const char *t = r->list.items[i].label;
            char *end = NULL;
            long v = t ? strtol(t, &end, 10) : -1;
            r->info[i].label = t && end != t && !*end && v >= 0 ? v : -1;
        }
        return 0;
    }
    int rc = fr_names_read(nf, &names, err);
    for (size_t i = 0; i < r->list.n && !rc; i++)
        rc = fr_image_label(&r->list, i, &names, &r->info[i].label, err);
    fr_names_free(&names);
    return rc;
}
