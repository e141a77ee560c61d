/* train.c: the darknet adapter for training (libfeatrd-train.a, beside the
 * core library, which never calls it): trains networks with darknet's own
 * training code (parse_network_cfg, load_data_blocking with DETECTION_DATA / CLASSIFICATION_DATA,
 * train_network, save_weights). Includes darknet.h; the GEMM used is
 * whatever gemm_cpu the executable links (src/model/model_blas.c's OpenBLAS override).
 * On the GPU (GPU build, device gpu) darknet trains as it does itself:
 * gpu_index 0 before parsing, so train_network runs forward_network_gpu,
 * backward_network_gpu and update_network_gpu, and load/save_weights move
 * the weights between host and device. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <darknet.h>

#include "featrd/codec.h"
#include "featrd/container.h"
#include "featrd/demo.h"
#include "featrd/invert.h"
#include "featrd/model.h"
#include "demo/demo.h"

void fr_train_defaults(FrTrainSettings *s)
{
    memset(s, 0, sizeof *s);
    s->kind = FR_TRAIN_DETECTOR;
    s->out_dir = "build/train";
    s->seed = 1;
    s->save_every = 100;
    s->augment_prob = 1;
    fr_feature_defaults(&s->augment);
}

/* ---------------- compression-augmented training ---------------- */

int fr_train_code_feature(float *data, int c, int h, int w, const FrFeatureSettings *fs, int qp,
                          uint64_t *bits, FrError *err)
{
    FrTensor t = {c, h, w, data};
    FrFeatureSettings s = *fs;
    s.qp = qp;
    uint8_t *frd = NULL;
    size_t len = 0;
    FrBitStats bs;
    FrTensor *rec = NULL;
    int nrec = 0;
    int rc = fr_feature_encode(&t, 1, NULL, &s, &frd, &len, &bs, err);
    if (!rc)
        rc = fr_feature_decode(frd, len, &rec, &nrec, NULL, err);
    if (!rc && (nrec != 1 || rec[0].c != c || rec[0].h != h || rec[0].w != w))
        rc = fr_error(err, FR_E_INTERNAL, "augment: decoded feature has another shape");
    if (!rc)
        memcpy(data, rec[0].data, (size_t)c * h * w * sizeof *data);
    if (!rc && bits)
        *bits = bs.total_bits;
    for (int k = 0; k < nrec; k++)
        fr_tensor_free(&rec[k]);
    free(rec);
    free(frd);
    return rc;
}

/* darknet's forward has no user pointer; training is one process-wide
 * activity anyway (rand()), so the augmentation state is too. */
/* OUT/<cfg name without .cfg>.backup and .weights: where a training run
 * checkpoints and where it writes its result (cap bytes each). */
static void out_paths(const char *cfg, const char *out_dir, char *backup, char *final,
                      size_t cap)
{
    char base[256];
    const char *b = strrchr(cfg, '/');
    snprintf(base, sizeof base, "%s", b ? b + 1 : cfg);
    char *dot = strrchr(base, '.');
    if (dot)
        *dot = 0;
    snprintf(backup, cap, "%s/%s.backup", out_dir, base);
    snprintf(final, cap, "%s/%s.weights", out_dir, base);
}

static struct {
    void (*forward)(struct layer, struct network);
#ifdef GPU
    void (*forward_gpu)(struct layer, struct network);
#endif
    FrTrainSettings *s;
    int failed;
    FrError err;
} aug;

static void augment_host(layer l, network net)
{
    if (!net.train || aug.failed)
        return;
    if (!(aug.s->augment_prob > 0)) { /* draws nothing: darknet's step exactly */
        aug.s->passed += l.batch;
        return;
    }
    for (int b = 0; b < l.batch; b++) {
        /* one coin and one QP per image, drawn in image order */
        double u = (double)rand() / ((double)RAND_MAX + 1.0);
        int qp = aug.s->augment_qp[rand() % aug.s->n_augment_qp];
        if (!(u < aug.s->augment_prob)) {
            aug.s->passed++;
            continue;
        }
        if (fr_train_code_feature(l.output + (size_t)b * l.outputs, l.out_c, l.out_h, l.out_w,
                                  &aug.s->augment, qp, NULL, &aug.err)) {
            aug.failed = 1;
            return;
        }
        aug.s->coded++;
    }
}

static void augment_forward(layer l, network net)
{
    aug.forward(l, net);
    augment_host(l, net);
}

#ifdef GPU
/* The coding runs on the host: the layer's output comes off the device,
 * is coded and decoded in place, and goes back before the next layer. */
static void augment_forward_gpu(layer l, network net)
{
    aug.forward_gpu(l, net);
    if (!net.train || aug.failed)
        return;
    cuda_pull_array(l.output_gpu, l.output, (size_t)l.batch * l.outputs);
    augment_host(l, net);
    cuda_push_array(l.output_gpu, l.output, (size_t)l.batch * l.outputs);
}
#endif

/* "max_7", "7" -> 7; the cut set must be this layer's output alone. */
static int augment_layer(const network *net, const char *name, int *out, FrError *err)
{
    const char *us = strrchr(name, '_'), *num = us ? us + 1 : name;
    char *end;
    long v = strtol(num, &end, 10);
    if (!*num || *end || v < 0 || v >= net->n - 1)
        return fr_error(err, FR_E_USAGE,
                        "--augment '%s': expected a layer name such as max_7 or an index below %d "
                        "(featrd layers CFG lists them)", name, net->n - 1);
    int s = (int)v;
    for (int j = s + 1; j < net->n; j++) {
        const layer *l = &net->layers[j];
        int early = -1;
        if (l->type == ROUTE)
            for (int k = 0; k < l->n; k++)
                if (l->input_layers[k] < s)
                    early = l->input_layers[k];
        if (l->type == SHORTCUT && l->index < s)
            early = l->index;
        if (early >= 0)
            return fr_error(err, FR_E_USAGE,
                            "--augment '%s': layer %d reads layer %d's output across the split, so "
                            "the cut is more than one tensor; augment at a split with a one-tensor "
                            "cut set (featrd layers CFG --split NAME shows it)", name, j, early);
    }
    *out = s;
    return 0;
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Parameters darknet's save_weights writes for this net (conv and connected
 * layers, the only weighted layers the demo cfgs use); -1 if another
 * weighted layer type is present. */
static long long weight_floats(const network *net)
{
    long long n = 0;
    for (int i = 0; i < net->n; i++) {
        const layer *l = &net->layers[i];
        if (l->type == CONVOLUTIONAL) {
            n += (long long)l->n + (long long)l->nweights;
            if (l->batch_normalize)
                n += 3LL * l->n;
        } else if (l->type == CONNECTED) {
            n += (long long)l->outputs + (long long)l->inputs * l->outputs;
            if (l->batch_normalize)
                n += 3LL * l->outputs;
        } else if (l->type == DECONVOLUTIONAL) { /* groups set to 1 before loading */
            n += (long long)l->n + (long long)l->c * l->n * l->size * l->size;
            if (l->batch_normalize)
                n += 3LL * l->n;
        } else if (l->type == BATCHNORM || l->type == RNN || l->type == GRU || l->type == LSTM ||
                   l->type == CRNN || l->type == LOCAL) {
            return -1;
        }
    }
    return n;
}

/* darknet's load_weights exits on a missing file and loads a short one
 * silently: check the size first. */
static int check_weights(const network *net, const char *path, FrError *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return fr_error(err, FR_E_NOENT, "%s: no such weights file", path);
    long long want = weight_floats(net);
    if (want >= 0 && (long long)st.st_size != 20 + 4 * want)
        return fr_error(err, FR_E_MISMATCH,
                        "%s: %lld bytes, but the cfg needs %lld (20-byte header + %lld floats): "
                        "weights of another cfg?",
                        path, (long long)st.st_size, 20 + 4 * want, want);
    return 0;
}

/* darknet 2018's CPU backward_region_layer is commented out, so on the CPU a
 * region layer passes no gradient back and a detector never learns. This is
 * what its GPU twin does: the logistic derivative on x, y (and extra coords)
 * and on objectness, then the delta handed to the layer below. */
static void region_backward(layer l, network net)
{
    int wh = l.w * l.h, per = l.coords + l.classes + 1;
    for (int b = 0; b < l.batch; b++)
        for (int n = 0; n < l.n; n++) {
            int base = b * l.outputs + n * wh * per;
            for (int e = 0; e < l.coords + 1; e++) {
                /* w, h (entries 2, 3) are linear; a background class has no logistic */
                if (e == 2 || e == 3 || (e == l.coords && l.background))
                    continue;
                float *y = l.output + base + e * wh, *d = l.delta + base + e * wh;
                for (int i = 0; i < wh; i++)
                    d[i] *= y[i] * (1.0f - y[i]);
            }
        }
    if (net.delta)
        axpy_cpu(l.batch * l.inputs, 1, l.delta, 1, net.delta, 1);
}

static int save_atomic(network *net, const char *path, FrError *err)
{
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    save_weights(net, tmp);
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return fr_error(err, FR_E_IO, "%s: cannot write weights: %s", path, strerror(e));
    }
    return 0;
}

static int mkdir_p(const char *path, FrError *err)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
                return fr_error(err, FR_E_IO, "%s: cannot create directory: %s", tmp, strerror(errno));
            *p = c;
            if (!c)
                break;
        }
    }
    return 0;
}

/* Reads a list file into a NULL-terminated array of strings (lines). */
static int read_lines(const char *path, char ***out, int *n, FrError *err)
{
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return fr_error(err, errno == ENOENT ? FR_E_NOENT : FR_E_IO, "%s: cannot open: %s", path,
                        strerror(errno));
    char line[PATH_MAX + 2];
    int cap = 0;
    char **v = NULL;
    while (fgets(line, sizeof line, f)) {
        size_t len = strcspn(line, "\r\n");
        line[len] = 0;
        if (!len)
            continue;
        if (*n + 2 > cap) {
            cap = cap ? cap * 2 : 1024;
            char **nv = realloc(v, (size_t)cap * sizeof *v);
            if (!nv)
                goto nomem;
            v = nv;
        }
        if (!(v[*n] = strdup(line)))
            goto nomem;
        v[++*n] = NULL;
    }
    fclose(f);
    *out = v;
    return 0;
nomem:
    fclose(f);
    for (int i = 0; i < *n; i++)
        free(v[i]);
    free(v);
    *n = 0;
    return fr_error(err, FR_E_NOMEM, "%s: out of memory", path);
}

static void free_lines(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int fr_train_run(FrTrainSettings *s, FrError *err)
{
    if (!s || !s->cfg || !s->train_list)
        return fr_error(err, FR_E_USAGE, "training needs a cfg and a train list");
    if (s->kind == FR_TRAIN_CLASSIFIER && !s->labels)
        return fr_error(err, FR_E_USAGE, "training a classifier needs a labels file");
    s->first_loss = s->last_avg_loss = NAN;
    s->coded = s->passed = 0;
    if (s->augment_split) {
        if (!s->augment_qp || s->n_augment_qp <= 0)
            return fr_error(err, FR_E_USAGE, "--augment needs --augment-qp (e.g. 32,37,42)");
        if (!(s->augment_prob >= 0 && s->augment_prob <= 1))
            return fr_error(err, FR_E_USAGE, "--augment-prob %g: a probability 0..1", s->augment_prob);
        if (!(fr_codec_caps(s->augment.codec) & FR_CODEC_LOSSY))
            return fr_error(err, FR_E_USAGE, "--augment-codec: augmentation codes with lossy hevc "
                            "(a lossless coder would change nothing)");
        const FrCodec *ac = fr_codec_by_id((int)s->augment.codec);
        for (int k = 0; k < s->n_augment_qp; k++)
            if (s->augment_qp[k] < ac->qp_lo || s->augment_qp[k] > ac->qp_hi)
                return fr_error(err, FR_E_USAGE, "--augment-qp %d: %s QPs are %d..%d",
                                s->augment_qp[k], ac->name, ac->qp_lo, ac->qp_hi);
        int rc0 = fr_feature_validate(&s->augment, err);
        if (rc0)
            return rc0;
    }
    if (!file_exists(s->cfg))
        return fr_error(err, FR_E_NOENT, "%s: no such cfg file", s->cfg);
    if (s->device == FR_DEVICE_GPU) {
        int grc = fr_gpu_check(err);
        if (grc)
            return grc;
    } else if (s->device != FR_DEVICE_CPU) {
        return fr_error(err, FR_E_USAGE, "unknown device %d", (int)s->device);
    }
    int rc = mkdir_p(s->out_dir ? s->out_dir : "build/train", err);
    if (rc)
        return rc;
    char **paths = NULL, **labels = NULL;
    int npaths = 0, nlabels = 0;
    network *net = NULL;
    if ((rc = read_lines(s->train_list, &paths, &npaths, err)))
        return rc;
    if (npaths == 0) {
        rc = fr_error(err, FR_E_FORMAT, "%s: no image paths", s->train_list);
        goto done;
    }
    if (s->kind == FR_TRAIN_CLASSIFIER) {
        if ((rc = read_lines(s->labels, &labels, &nlabels, err)))
            goto done;
        /* darknet finds the class by strstr(path, name): exactly one must match */
        for (int i = 0; i < npaths; i++) {
            int hits = 0;
            for (int k = 0; k < nlabels; k++)
                hits += strstr(paths[i], labels[k]) != NULL;
            if (hits != 1) {
                rc = fr_error(err, FR_E_FORMAT,
                              "%s line %d: %s matches %d class names of %s (needs exactly 1)",
                              s->train_list, i + 1, paths[i], hits, s->labels);
                goto done;
            }
        }
    }
    if (!file_exists(paths[0])) {
        rc = fr_error(err, FR_E_NOENT, "%s line 1: %s: no such image (run `featrd data` first)",
                      s->train_list, paths[0]);
        goto done;
    }

    const char *out_dir = s->out_dir ? s->out_dir : "build/train";
    char backup[PATH_MAX + 300], final[PATH_MAX + 300];
    out_paths(s->cfg, out_dir, backup, final, sizeof backup);

    srand(s->seed);
#ifdef GPU
    /* read by the layer constructors, load_weights and save_weights */
    gpu_index = s->device == FR_DEVICE_GPU ? 0 : -1;
#endif
    net = parse_network_cfg((char *)s->cfg);
    if (!net) {
        rc = fr_error(err, FR_E_FORMAT, "%s: darknet could not parse the cfg", s->cfg);
        goto done;
    }
    layer last = net->layers[net->n - 1];
    if (s->kind == FR_TRAIN_DETECTOR && last.type != REGION) {
        rc = fr_error(err, FR_E_FORMAT, "%s: a detector cfg must end with a [region] layer", s->cfg);
        goto done;
    }
    if (s->kind == FR_TRAIN_CLASSIFIER && last.type != SOFTMAX) {
        rc = fr_error(err, FR_E_FORMAT, "%s: a classifier cfg must end with a [softmax] layer", s->cfg);
        goto done;
    }
    if (s->kind == FR_TRAIN_CLASSIFIER && last.outputs != nlabels) {
        rc = fr_error(err, FR_E_MISMATCH, "%s: the net has %d outputs but %s names %d classes",
                      s->cfg, last.outputs, s->labels, nlabels);
        goto done;
    }
    /* on the GPU darknet's own backward_region_layer_gpu does this */
    if (s->kind == FR_TRAIN_DETECTOR)
        net->layers[net->n - 1].backward = region_backward;
    /* A checkpoint in out_dir wins, so a killed run (fine-tuning included)
     * resumes; else the given weights; else a seeded initialisation. */
    const char *init = file_exists(backup) ? backup : s->weights;
    if (init) {
        if ((rc = check_weights(net, init, err)))
            goto done;
        load_weights(net, (char *)init);
        if (init == s->weights && s->reset_batches)
            *net->seen = 0; /* fine-tuning: the cfg's schedule from its start */
        fprintf(stderr, "featrd train: starting from %s (batch %zu%s)\n", init, get_current_batch(net),
                init == s->weights && s->reset_batches ? ", fine-tuning" : "");
    }
    if (s->max_batches > 0)
        net->max_batches = s->max_batches;
    if (s->augment_split) {
        int sl = 0;
        if ((rc = augment_layer(net, s->augment_split, &sl, err)))
            goto done;
        memset(&aug, 0, sizeof aug);
        aug.forward = net->layers[sl].forward;
        aug.s = s;
        net->layers[sl].forward = augment_forward;
#ifdef GPU
        aug.forward_gpu = net->layers[sl].forward_gpu;
        if (s->device == FR_DEVICE_GPU)
            net->layers[sl].forward_gpu = augment_forward_gpu;
#endif
        if (!s->quiet)
            fprintf(stderr, "featrd train: coding layer %d's output (%dx%dx%d) with %s, %d-bit, QP "
                    "from %d values, probability %g\n", sl, net->layers[sl].out_c,
                    net->layers[sl].out_h, net->layers[sl].out_w, fr_codec_name(s->augment.codec),
                    s->augment.bits, s->n_augment_qp, s->augment_prob);
    }

    int imgs = net->batch * net->subdivisions;
    load_args args = get_base_args(net);
    args.paths = paths;
    args.n = imgs;
    args.m = npaths;
    args.threads = 1;
    if (s->kind == FR_TRAIN_DETECTOR) {
        args.type = DETECTION_DATA;
        args.coords = last.coords;
        args.classes = last.classes;
        args.jitter = last.jitter;
        args.num_boxes = last.max_boxes;
    } else {
        args.type = CLASSIFICATION_DATA;
        args.classes = nlabels;
        args.labels = labels;
        args.hierarchy = net->hierarchy;
    }

    float avg = -1;
    double t0 = fr_now();
    size_t start = get_current_batch(net);
    while (get_current_batch(net) < (size_t)net->max_batches) {
        size_t batch = get_current_batch(net);
        /* One seed per batch: the sampled images, the augmentation and any
         * dropout masks depend on (seed, batch) only, also after a resume. */
        srand(s->seed * 2654435761u + (unsigned)batch * 40503u + 1u);
        data d = {0};
        args.d = &d;
        load_data_blocking(args);
        float loss = train_network(net, d);
        free_data(d);
        if (s->augment_split && aug.failed) {
            *err = aug.err;
            rc = aug.err.code ? aug.err.code : FR_E_CODEC;
            goto done;
        }
        if (isnan(s->first_loss))
            s->first_loss = loss;
        if (loss != loss) {
            rc = fr_error(err, FR_E_MODEL,
                          "%s: loss became NaN at batch %zu; lower learning_rate or raise burn_in",
                          s->cfg, batch);
            goto done;
        }
        avg = avg < 0 ? loss : avg * 0.9f + loss * 0.1f;
        s->last_avg_loss = avg;
        size_t now = get_current_batch(net);
        if (!s->quiet) {
            double el = fr_now() - t0;
            fprintf(stderr, "featrd train: batch %zu/%d loss %.4f avg %.4f lr %g %.1f s (%.2f s/batch)\n",
                    now, net->max_batches, loss, avg, get_current_rate(net), el,
                    el / (double)(now - start));
        }
        if (s->save_every > 0 && now % (size_t)s->save_every == 0 &&
            (rc = save_atomic(net, backup, err)))
            goto done;
    }
    if ((rc = save_atomic(net, backup, err)) || (rc = save_atomic(net, final, err)))
        goto done;
    if (!s->quiet)
        fprintf(stderr, "featrd train: wrote %s after %zu batches\n", final, get_current_batch(net));
done:
    if (net)
        free_network(net);
    free_lines(paths, npaths);
    free_lines(labels, nlabels);
    return rc;
}

/* ---------------- the image decoder (featrd/invert.h) ---------------- */

void fr_invert_train_defaults(FrInvertTrainSettings *s)
{
    memset(s, 0, sizeof *s);
    s->out_dir = "build/train";
    s->seed = 1;
    s->save_every = 100;
    s->code_prob = 1;
    fr_feature_defaults(&s->code);
}

int fr_invert_default_path(const char *model_cfg, const char *split, const char *ext, char *buf,
                           size_t cap)
{
    const char *slash = strrchr(model_cfg, '/');
    const char *base = slash ? slash + 1 : model_cfg;
    const char *dot = strrchr(base, '.');
    int nb = dot ? (int)(dot - model_cfg) : (int)strlen(model_cfg);
    return snprintf(buf, cap, "%.*s-inv-%s%s", nb, model_cfg, split, ext);
}

/* One training pair: the split's feature (coded when asked) into x, the
 * network input into y. */
static int invert_pair(FrModel *m, FrInvertTrainSettings *s, int split, const char *path,
                       float *x, size_t nx, float *y, size_t ny, FrError *err)
{
    FrTensor rgb = {0}, in = {0}, cuts[FR_MODEL_MAX_CUTS];
    int ncuts = 0;
    int rc = fr_model_load_image(m, path, &rgb, err);
    if (!rc && (rc = fr_model_prepare_input(m, &rgb, &in)))
        fr_error(err, rc, "%s: cannot prepare the network input", path);
    if (!rc)
        rc = fr_model_front(m, &in, split, cuts, &ncuts, err);
    if (!rc && (fr_tensor_size(&cuts[0]) != nx || fr_tensor_size(&in) != ny))
        rc = fr_error(err, FR_E_INTERNAL, "%s: feature or input of an unexpected size", path);
    if (!rc && s->n_code_qp > 0) {
        /* one coin and one QP per image, drawn in image order */
        double u = (double)rand() / ((double)RAND_MAX + 1.0);
        int qp = s->code_qp[rand() % s->n_code_qp];
        if (u < s->code_prob) {
            rc = fr_train_code_feature(cuts[0].data, cuts[0].c, cuts[0].h, cuts[0].w, &s->code,
                                       qp, NULL, err);
            s->coded++;
        } else {
            s->passed++;
        }
    }
    if (!rc) {
        memcpy(x, cuts[0].data, nx * sizeof *x);
        memcpy(y, in.data, ny * sizeof *y);
    }
    for (int k = 0; k < ncuts; k++)
        fr_tensor_free(&cuts[k]);
    fr_tensor_free(&rgb);
    fr_tensor_free(&in);
    return rc;
}

int fr_invert_train(FrInvertTrainSettings *s, FrError *err)
{
    if (!s || !s->model_cfg || !s->split || !s->train_list || !s->decoder_cfg)
        return fr_error(err, FR_E_USAGE, "invert train needs the model cfg, a split, a train list "
                        "and a decoder cfg");
    s->first_loss = s->last_avg_loss = s->last_mse = NAN;
    s->coded = s->passed = 0;
    s->seconds = 0;
    int rc;
    if (s->n_code_qp > 0) {
        if (!(s->code_prob >= 0 && s->code_prob <= 1))
            return fr_error(err, FR_E_USAGE, "--code-prob %g: a probability 0..1", s->code_prob);
        if (!(fr_codec_caps(s->code.codec) & FR_CODEC_LOSSY))
            return fr_error(err, FR_E_USAGE, "--code-codec: coding noise needs a lossy codec");
        const FrCodec *cc = fr_codec_by_id((int)s->code.codec);
        for (int k = 0; k < s->n_code_qp; k++)
            if (s->code_qp[k] < cc->qp_lo || s->code_qp[k] > cc->qp_hi)
                return fr_error(err, FR_E_USAGE, "--code-qp %d: %s QPs are %d..%d", s->code_qp[k],
                                cc->name, cc->qp_lo, cc->qp_hi);
        if ((rc = fr_feature_validate(&s->code, err)))
            return rc;
    }
    if (!file_exists(s->decoder_cfg))
        return fr_error(err, FR_E_NOENT, "%s: no such decoder cfg (featrd invert train --decoder)",
                        s->decoder_cfg);
    const char *out_dir = s->out_dir ? s->out_dir : "build/train";
    if ((rc = mkdir_p(out_dir, err)))
        return rc;
    char **paths = NULL;
    int npaths = 0;
    FrModel *m = NULL, *dm = NULL;
    network *net = NULL;
    data d = {0};
    if ((rc = read_lines(s->train_list, &paths, &npaths, err)))
        return rc;
    int nuse = s->limit > 0 && s->limit < npaths ? s->limit : npaths;
    if (nuse == 0) {
        rc = fr_error(err, FR_E_FORMAT, "%s: no image paths", s->train_list);
        goto done;
    }
    FrModelSettings ms;
    fr_model_defaults(&ms);
    ms.cfg = s->model_cfg;
    ms.weights = s->model_weights;
    ms.seed = s->seed;
    ms.quiet = 1;
    if ((rc = fr_model_open(&m, &ms, err)))
        goto done;
    int split = 0, cut[FR_MODEL_MAX_CUTS], ncut = 0;
    if ((rc = fr_model_find_layer(m, s->split, &split, err)) ||
        (rc = fr_model_cut_set_err(m, split, cut, FR_MODEL_MAX_CUTS, &ncut, err)))
        goto done;
    if (ncut != 1) {
        rc = fr_error(err, FR_E_USAGE, "split %s: its cut set is %d tensors; the decoder takes one "
                      "(featrd layers CFG --split NAME shows the cut)", s->split, ncut);
        goto done;
    }
    FrLayerInfo li;
    fr_model_layer_info(m, cut[0], &li);
    int ic, ih, iw;
    fr_model_input_size(m, &ic, &ih, &iw);
    /* the decoder cfg through the checked open first: its errors name the line */
    FrModelSettings ds;
    fr_model_defaults(&ds);
    ds.cfg = s->decoder_cfg;
    ds.quiet = 1;
    if ((rc = fr_model_open(&dm, &ds, err)))
        goto done;
    fr_model_close(&dm);

    char backup[PATH_MAX + 300], final[PATH_MAX + 300];
    out_paths(s->decoder_cfg, out_dir, backup, final, sizeof backup);

    srand(s->seed);
    net = parse_network_cfg((char *)s->decoder_cfg);
    if (!net) {
        rc = fr_error(err, FR_E_FORMAT, "%s: darknet could not parse the cfg", s->decoder_cfg);
        goto done;
    }
    layer *last = &net->layers[net->n - 1];
    if (net->n < 2 || last->type != COST) {
        rc = fr_error(err, FR_E_FORMAT, "%s: a decoder cfg must end with a [cost] layer "
                      "(type=sse for L2, type=L1)", s->decoder_cfg);
        goto done;
    }
    if (net->c != li.c || net->h != li.h || net->w != li.w) {
        rc = fr_error(err, FR_E_MISMATCH, "%s: the decoder takes %d×%d×%d (channels×height×width), "
                      "but %s outputs %d×%d×%d", s->decoder_cfg, net->c, net->h, net->w, li.name,
                      li.c, li.h, li.w);
        goto done;
    }
    if (last->inputs != ic * ih * iw || net->layers[net->n - 2].out_c != ic) {
        const layer *o = &net->layers[net->n - 2];
        rc = fr_error(err, FR_E_MISMATCH, "%s: the decoder outputs %d×%d×%d, the network input "
                      "is %d×%d×%d", s->decoder_cfg, o->out_c, o->out_h, o->out_w, ic, ih, iw);
        goto done;
    }
    if (s->loss == FR_INVERT_LOSS_L2)
        last->cost_type = SSE;
    else if (s->loss == FR_INVERT_LOSS_L1)
        last->cost_type = L1;
    for (int i = 0; i < net->n; i++) /* as fr_model_open: darknet's reader divides by groups */
        if (net->layers[i].type == DECONVOLUTIONAL && net->layers[i].groups <= 0)
            net->layers[i].groups = 1;
    const char *init = file_exists(backup) ? backup : s->decoder_weights;
    if (init) {
        if ((rc = check_weights(net, init, err)))
            goto done;
        load_weights(net, (char *)init);
        if (!s->quiet)
            fprintf(stderr, "featrd invert train: starting from %s (batch %zu)\n", init,
                    get_current_batch(net));
    }
    if (s->max_batches > 0)
        net->max_batches = s->max_batches;
    if (!s->quiet)
        fprintf(stderr, "featrd invert train: %s (%d×%d×%d) -> %d×%d×%d input, %d images, batch %d, "
                "%s loss%s\n", li.name, li.c, li.h, li.w, ic, ih, iw, nuse, net->batch,
                last->cost_type == L1 ? "L1" : "L2", s->n_code_qp ? ", coded features" : "");
    int imgs = net->batch * net->subdivisions;
    size_t nx = (size_t)li.c * li.h * li.w, ny = (size_t)ic * ih * iw;
    d.X = make_matrix(imgs, (int)nx);
    d.y = make_matrix(imgs, (int)ny);
    float avg = -1;
    double t0 = fr_now(), t_pairs = 0;
    size_t start = get_current_batch(net);
    while (get_current_batch(net) < (size_t)net->max_batches) {
        size_t batch = get_current_batch(net);
        srand(s->seed * 2654435761u + (unsigned)batch * 40503u + 1u);
        double tp = fr_now();
        for (int i = 0; i < imgs && !rc; i++) {
            int k = rand() % nuse;
            rc = invert_pair(m, s, split, paths[k], d.X.vals[i], nx, d.y.vals[i], ny, err);
        }
        if (rc)
            goto done;
        t_pairs += fr_now() - tp;
        float loss = train_network(net, d);
        if (isnan(s->first_loss))
            s->first_loss = loss;
        if (loss != loss) {
            rc = fr_error(err, FR_E_MODEL, "%s: loss became NaN at batch %zu; lower learning_rate "
                          "or raise burn_in", s->decoder_cfg, batch);
            goto done;
        }
        avg = avg < 0 ? loss : avg * 0.9f + loss * 0.1f;
        s->last_avg_loss = avg;
        size_t now = get_current_batch(net);
        s->seconds = fr_now() - t0;
        if (!s->quiet) {
            /* darknet's sse is the plain sum of squares: per value it is an MSE */
            double mse = avg / (double)ny;
            fprintf(stderr, "featrd invert train: batch %zu/%d loss %.2f avg %.2f (%s %.5f, "
                    "PSNR %.2f dB) lr %g %.1f s (%.2f s/batch, %.2f making pairs)\n", now,
                    net->max_batches, loss, avg, last->cost_type == L1 ? "mean |e|" : "MSE", mse,
                    last->cost_type == L1 ? NAN : 10 * log10(1.0 / mse), get_current_rate(net),
                    s->seconds, s->seconds / (double)(now - start),
                    t_pairs / (double)(now - start));
        }
        if (s->save_every > 0 && now % (size_t)s->save_every == 0 &&
            (rc = save_atomic(net, backup, err)))
            goto done;
    }
    if (last->cost_type != L1 && avg >= 0)
        s->last_mse = avg / (double)ny;
    if ((rc = save_atomic(net, backup, err)) || (rc = save_atomic(net, final, err)))
        goto done;
    if (!s->quiet)
        fprintf(stderr, "featrd invert train: wrote %s after %zu batches\n", final,
                get_current_batch(net));
done:
    if (d.X.vals)
        free_data(d);
    if (net)
        free_network(net);
    fr_model_close(&m);
    fr_model_close(&dm);
    free_lines(paths, npaths);
    return rc;
}
