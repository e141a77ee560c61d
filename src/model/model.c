/* model.c: the darknet adapter's open and close (the cfg rewritten by
 * cfg_check.c, probed and parsed by model_parse.c, the weights loaded,
 * shared with dn_model_open_shared, or seeded), layer names and stage
 * aliases, layer lookup and cut sets. The adapter's other files, which
 * share the DnModel struct through model_dn.h (the one adapter header that
 * includes darknet.h, with train.c and kernels.h):
 *   model_dn.c     darknet's process-wide state (locks, gpu_index, stderr)
 *   model_parse.c  the cfg probe in a child, weights checks, seeded init,
 *                  save_weights
 *   model_pass.c   front / back / one-pass-many-splits passes, detections
 *   model_image.c  image loading, input preparation, the JPEG anchor
 *   model_blas.c   the gemm_cpu override that sends darknet's matrix
 *                  multiplies to OpenBLAS (the only cblas.h user)
 *   kernels.c      the interposed im2col, activation, maxpool, batchnorm
 *   train.c        darknet's training loop
 *
 * darknet global state met here, and how it is handled:
 * - stderr: parse_network_cfg / load_weights / save_weights print tables and
 *   notes; the stdio stream stderr (not fd 2, so sanitizer reports still
 *   show) is pointed at /dev/null around them, under parse_lock (other
 *   threads' stderr is lost for that moment).
 * - crashes: darknet trusts its cfg (anchors vs num, kernel sizes, calloc
 *   results). The cfg's layer options are range-checked first, then each
 *   distinct cfg text is parsed once in a forked child whose fate decides
 *   whether this process parses it; no signal handler is ever installed.
 * - rand(): the parser's random init (rand_normal keeps a static spare) and
 *   the crop layer call it. Parsing runs under parse_lock after srand(seed),
 *   and the weights are then re-initialised from a per-model generator, so
 *   results do not depend on what ran before. The crop layer's rand() values
 *   are unused at inference (centre crop).
 * - exit(): darknet exits on missing files and aborts on malformed cfgs; the
 *   cfg, the files it names and the weights are checked before darknet sees
 *   them.
 * - gemm_cpu is called by name from libdarknet.so through the PLT; the
 *   definition in model_blas.c interposes (the Makefile links libfeatrd.a whole) and
 *   the choice of GEMM is per thread, set at the start of each pass.
 * - gpu_index (GPU build, make GPU=1): darknet's layer constructors,
 *   load_weights and save_weights read this global, not the network's own
 *   field. It is set under parse_lock around each of them: -1 for a CPU
 *   model and for the cfg probe's child (no device buffers, thanks to
 *   tools/darknet-gpu/0002), 0 for a GPU one.
 * - CUDA (GPU build): one context per process (the runtime's primary
 *   context on device 0). darknet keeps its cuBLAS handle and curand
 *   generator in unguarded statics and runs every kernel on the default
 *   stream, so GPU work of all models takes turns under gpu_lock (lock
 *   order: parse_lock, then gpu_lock). darknet aborts on any CUDA error
 *   (check_error → assert), device out of memory included. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "featrd/model.h"
#include "model/model_internal.h"
#include "model/model.h"
#include "model/model_dn.h"
#include "model/backend.h"

static int is_pool(LAYER_TYPE t)
{
    return t == MAXPOOL || t == AVGPOOL;
}

static const char alias_rule[] =
    "Stage aliases (classification and dense networks; after Table I of Chen et al. 2018): "
    "layers are grouped into stages by output resolution (H×W > 1), a new stage starting at "
    "each change of resolution. convK = the last layer of stage K that is not a pooling, "
    "dropout or crop layer and whose cut set is its own output alone (so in ResNets the "
    "end of the last residual block at that resolution); poolK = the max/avg pooling layer that ends stage K (the first "
    "layer of the next resolution, or the global pooling to 1×1); fcK = the K-th connected "
    "layer (or 1×1 convolution on a 1×1 input). Detection networks get no aliases.";

const char *fr_model_alias_rule(void)
{
    return alias_rule;
}

/* True when a split after layer i cuts only i's own output (the end of a
 * residual block, not a conv in the middle of one). */
static int clean_cut(const DnModel *m, int i)
{
    int idx[FR_MODEL_MAX_CUTS], n = 0;
    if (dn_model_cut_set_err(m, i, idx, FR_MODEL_MAX_CUTS, &n, NULL) != FR_OK)
        return 1;
    return n == 1 && idx[0] == i;
}

static void make_aliases(DnModel *m)
{
    const network *net = m->net;
    int stage = 0, cur_h = 0, cur_w = 0, nfc = 0, spatial_done = 0;
    int conv_last[256];
    for (int k = 0; k < 256; k++)
        conv_last[k] = -1;
    for (int i = 0; i < net->n; i++) {
        const layer *l = &net->layers[i];
        int c, h, w;
        fr_dn_out_shape(l, &c, &h, &w);
        if (h * w > 1 && !spatial_done) {
            if (h != cur_h || w != cur_w) {
                if (is_pool(l->type) && stage > 0)
                    snprintf(m->aliases[i], MAX_NAME, "pool%d", stage);
                if (stage < 255)
                    stage++;
                cur_h = h;
                cur_w = w;
            }
            if (!is_pool(l->type) && l->type != DROPOUT && l->type != CROP && clean_cut(m, i))
                conv_last[stage] = i;
        } else if (h * w == 1) {
            if (!spatial_done && stage > 0 && is_pool(l->type))
                snprintf(m->aliases[i], MAX_NAME, "pool%d", stage);
            spatial_done = 1;
            int in1 = l->type == CONVOLUTIONAL && l->h * l->w == 1;
            if (l->type == CONNECTED || in1)
                snprintf(m->aliases[i], MAX_NAME, "fc%d", ++nfc);
        }
    }
    for (int k = 1; k <= stage && k < 256; k++)
        if (conv_last[k] >= 0 && !m->aliases[conv_last[k]][0])
            snprintf(m->aliases[conv_last[k]], MAX_NAME, "conv%d", k);
}

static FrTask detect_task(const network *net, int out)
{
    const layer *l = &net->layers[out];
    if (l->type == REGION || l->type == YOLO || l->type == DETECTION)
        return FR_TASK_DETECTION;
    int c, h, w;
    fr_dn_out_shape(l, &c, &h, &w);
    if (l->type == SOFTMAX || h * w == 1)
        return FR_TASK_CLASSIFICATION;
    return FR_TASK_DENSE;
}

/* ------------------------------------------------------------ open/close -- */

/* ------------------------------------------------------ shared weights -- */

/* The parameter arrays load_weights (and seeded_init) fill for layer l: the
 * pointer fields a model opened with dn_model_open_shared takes from its
 * base. Writes their addresses into slot and returns how many. */
static int param_slots(layer *l, float **slot[5])
{
    int n = 0;
    switch (l->type) {
    case CONVOLUTIONAL:
    case DECONVOLUTIONAL:
    case CONNECTED:
    case BATCHNORM:
        slot[n++] = &l->weights; /* NULL in a batchnorm layer */
        slot[n++] = &l->biases;
        slot[n++] = &l->scales;
        slot[n++] = &l->rolling_mean;
        slot[n++] = &l->rolling_variance;
        break;
    case LOCAL:
        slot[n++] = &l->weights;
        slot[n++] = &l->biases;
        break;
    default:
        break;
    }
    return n;
}

/* Whether m's parameters can be aliased: inference on the host reads them
 * and nothing else. Binary and xnor layers derive per-model copies from
 * them at every pass, recurrent layers keep theirs in sub-layers, a GPU
 * model holds device copies: those get a model of their own. */
static int shareable(const DnModel *m)
{
    if (fr_dn_on_gpu(m) || m->has_recurrent)
        return 0;
    for (int i = 0; i < m->n; i++) {
        const layer *l = &m->net->layers[i];
        if (l->binary || l->xnor)
            return 0;
    }
    return 1;
}

/* Points m's parameter arrays at base's (same cfg and input size, so the
 * same layers and sizes) and frees m's own. */
static int share_params(DnModel *m, DnModel *base, FrError *err)
{
    if (m->n != base->n)
        return fr_error(err, FR_E_MODEL, "%s: a shared model has %d layers, its base %d", m->cfg, m->n, base->n);
    for (int i = 0; i < m->n; i++) {
        layer *l = &m->net->layers[i], *b = &base->net->layers[i];
        float **sl[5], **sb[5];
        int n = param_slots(l, sl);
        param_slots(b, sb);
        if (l->type != b->type || l->outputs != b->outputs || l->inputs != b->inputs ||
            l->nweights != b->nweights || l->n != b->n)
            return fr_error(err, FR_E_MODEL, "%s: layer %d of a shared model differs from its base", m->cfg, i);
        for (int k = 0; k < n; k++)
            if ((*sl[k] == NULL) != (*sb[k] == NULL))
                return fr_error(err, FR_E_MODEL, "%s: layer %d of a shared model differs from its base", m->cfg, i);
    }
    for (int i = 0; i < m->n; i++) {
        float **sl[5], **sb[5];
        int n = param_slots(&m->net->layers[i], sl);
        param_slots(&base->net->layers[i], sb);
        for (int k = 0; k < n; k++) {
            free(*sl[k]);
            *sl[k] = *sb[k];
        }
    }
#ifdef __GLIBC__
    /* the parser's random init touched the copies just freed; below the
     * mmap threshold they sit in the heap, and would stay resident */
    malloc_trim(0);
#endif
    m->base = base;
    atomic_fetch_add(&base->refs, 1);
    return FR_OK;
}

static int open_model(DnModel **mp, const FrModelSettings *s, DnModel *base, FrError *err);

int dn_model_open_shared(DnModel **mp, DnModel *base, int quiet, FrError *err)
{
    if (!mp)
        return fr_error(err, FR_E_USAGE, "dn_model_open_shared: no output pointer");
    *mp = NULL;
    if (!base)
        return fr_error(err, FR_E_USAGE, "dn_model_open_shared: no base model");
    if (base->base)
        base = base->base;
    FrModelSettings s;
    fr_model_defaults(&s);
    s.cfg = base->cfg;
    s.weights = base->weights;
    s.seed = base->seed;
    s.width = base->width;
    s.height = base->height;
    s.gemm = base->gemm;
    s.device = base->device;
    s.kernels = base->kernels;
    s.quiet = quiet;
    return open_model(mp, &s, shareable(base) ? base : NULL, err);
}

int dn_model_shares_params(const DnModel *a, const DnModel *b)
{
    if (!a || !b || a->n != b->n)
        return 0;
    int shared = 0;
    for (int i = 0; i < a->n; i++) {
        float **sa[5], **sb[5];
        int n = param_slots(&a->net->layers[i], sa);
        param_slots(&b->net->layers[i], sb);
        for (int k = 0; k < n; k++) {
            if (*sa[k] != *sb[k])
                return 0;
            shared += *sa[k] != NULL;
        }
    }
    return shared;
}

int dn_model_open(DnModel **mp, const FrModelSettings *s, FrError *err)
{
    return open_model(mp, s, NULL, err);
}

/* Opens a model; with base, its parameters are base's instead of loaded. */
static int open_model(DnModel **mp, const FrModelSettings *s, DnModel *base, FrError *err)
{
    if (!mp)
        return fr_error(err, FR_E_USAGE, "dn_model_open: no output pointer");
    *mp = NULL;
    if (!s || !s->cfg || !s->cfg[0])
        return fr_error(err, FR_E_USAGE, "no model cfg given");
    if (s->width < 0 || s->height < 0 || s->width > 16384 || s->height > 16384 ||
        (!s->width) != (!s->height))
        return fr_error(err, FR_E_USAGE, "%s: bad input size %dx%d (give both, 1..16384, or 0 for the cfg's)", s->cfg, s->width, s->height);
    if (s->gemm != FR_GEMM_OPENBLAS && s->gemm != FR_GEMM_DARKNET)
        return fr_error(err, FR_E_USAGE, "%s: unknown gemm %d", s->cfg, (int)s->gemm);
    if (s->device != FR_DEVICE_CPU && s->device != FR_DEVICE_GPU)
        return fr_error(err, FR_E_USAGE, "%s: unknown device %d", s->cfg, (int)s->device);
    if (s->kernels != FR_KERNELS_FAST && s->kernels != FR_KERNELS_DARKNET)
        return fr_error(err, FR_E_USAGE, "%s: unknown kernels %d", s->cfg, (int)s->kernels);
    if (s->device == FR_DEVICE_GPU) {
        int grc = fr_gpu_check(err);
        if (grc != FR_OK)
            return grc;
    }
    if (strlen(s->cfg) > 3000 || (s->weights && strlen(s->weights) > 3000))
        return fr_error(err, FR_E_USAGE, "model path too long");

    FrCfgText text = {0};
    FrCfgInfo ci = {0};
    int rc = fr_cfg_rewrite(s->cfg, s->width, s->height, &text, &ci, err);
    if (rc != FR_OK) {
        free(text.p);
        return rc;
    }
    DnModel *m = calloc(1, sizeof *m);
    if (!m) {
        free(text.p);
        free(ci.line);
        return fr_error(err, FR_E_NOMEM, "out of memory opening %s", s->cfg);
    }
    m->cfg = strdup(s->cfg);
    m->cfg_line = ci.line;
    m->gemm = s->gemm;
    m->kernels = s->kernels;
    m->quiet = s->quiet;
    m->seed = s->seed;
    m->device = s->device;
    m->width = s->width;
    m->height = s->height;
    atomic_init(&m->refs, 1);
    if (!m->cfg || (s->weights && !(m->weights = strdup(s->weights)))) {
        free(text.p);
        dn_model_close(&m);
        return fr_error(err, FR_E_NOMEM, "out of memory opening %s", s->cfg);
    }

    /* darknet parses a path: an anonymous memory file (/proc/self/fd/N)
     * leaves nothing behind when the process is killed; a file in TMPDIR
     * only where memfd_create is missing */
    char tmp[4096];
    int fd = memfd_create("featrd-cfg", MFD_CLOEXEC), memfd = fd >= 0;
    if (memfd) {
        snprintf(tmp, sizeof tmp, "/proc/self/fd/%d", fd);
    } else {
        const char *tmpdir = getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp";
        snprintf(tmp, sizeof tmp, "%s/featrd-cfg-XXXXXX", tmpdir);
        fd = mkstemp(tmp);
    }
    if (fd < 0) {
        rc = fr_error(err, FR_E_IO, "%s: cannot create a temporary cfg: %s", tmp, strerror(errno));
        goto error;
    }
    size_t off = 0;
    while (off < text.n) {
        ssize_t k = write(fd, text.p + off, text.n - off);
        if (k <= 0) {
            close(fd);
            if (!memfd)
                unlink(tmp);
            rc = fr_error(err, FR_E_IO, "%s: cannot write a temporary cfg: %s", tmp, strerror(errno));
            goto error;
        }
        off += (size_t)k;
    }
    if (!memfd)
        close(fd);

    m->net = fr_dn_checked_parse(tmp, &text, &ci, s, err, &rc);
    if (memfd)
        close(fd);
    else
        unlink(tmp);
    if (rc != FR_OK)
        goto error;
    if (!m->net || m->net->n != ci.nlayers) {
        rc = fr_error(err, FR_E_MODEL, "%s: darknet could not build the network", s->cfg);
        goto error;
    }
    FILE *saved;
    network *net = m->net;
    m->n = net->n;
    net->train = 0;
    m->owner = calloc((size_t)m->n, sizeof *m->owner);
    m->names = calloc((size_t)m->n, sizeof *m->names);
    m->aliases = calloc((size_t)m->n, sizeof *m->aliases);
    if (!m->owner || !m->names || !m->aliases) {
        rc = fr_error(err, FR_E_NOMEM, "out of memory opening %s", s->cfg);
        goto error;
    }
    m->out_layer = m->n - 1;
    while (m->out_layer > 0 && net->layers[m->out_layer].type == COST)
        m->out_layer--;
    for (int i = 0; i < m->n; i++) {
        layer *l = &net->layers[i];
        snprintf(m->names[i], MAX_NAME, "%s_%d", fr_dn_type_name(l->type), i);
        m->owner[i] = (l->type == DROPOUT && i > 0) ? m->owner[i - 1] : i;
        if (l->type == RNN || l->type == GRU || l->type == LSTM || l->type == CRNN)
            m->has_recurrent = 1;
        /* the parser leaves a region layer's temperature 0 and the CPU
         * tree softmax divides by it */
        if (l->type == REGION && l->temperature == 0)
            l->temperature = 1;
        int bad_reorg = l->type == REORG && !l->reverse && l->stride > 0 &&
                        (l->w % l->stride || l->h % l->stride);
        if (l->outputs <= 0 || bad_reorg) {
            rc = fr_error(err, FR_E_USAGE, "%s:%d: layer %d (%s) %s at input %dx%d; choose an input size the network divides evenly (multiples of 32 for YOLO)", s->cfg, m->cfg_line[i], i, m->names[i], bad_reorg ? "cannot reorganise its odd-sized input" : "gets inputs of different sizes", net->w, net->h);
            goto error;
        }
        if (!l->output || (l->workspace_size > 0 && !net->workspace)) {
            rc = fr_error(err, FR_E_NOMEM, "%s:%d: darknet could not allocate layer %d (%s) at input %dx%d; use a smaller input or fewer channels", s->cfg, m->cfg_line[i], i, m->names[i], net->w, net->h);
            goto error;
        }
        if (!l->forward) {
            rc = fr_error(err, FR_E_FORMAT, "%s:%d: darknet built layer %d without a forward pass", s->cfg, m->cfg_line[i], i);
            goto error;
        }
#ifdef GPU
        if (fr_dn_on_gpu(m) && (!l->forward_gpu || !l->output_gpu)) {
            rc = fr_error(err, FR_E_USAGE, "%s:%d: darknet has no GPU forward for layer %d (%s); use device cpu for this network", s->cfg, m->cfg_line[i], i, m->names[i]);
            goto error;
        }
#endif
    }
    if (m->kernels == FR_KERNELS_FAST && !fr_dn_on_gpu(m))
        fr_kernels_drop_training_copies(net); /* inference: batch norm never writes them */
    m->task = detect_task(net, m->out_layer);
    if (m->task != FR_TASK_DETECTION)
        make_aliases(m);

    /* darknet loads a deconvolutional layer with the convolutional reader,
     * which divides by groups, left 0 by make_deconvolutional_layer */
    for (int i = 0; i < net->n; i++)
        if (net->layers[i].type == DECONVOLUTIONAL && net->layers[i].groups <= 0)
            net->layers[i].groups = 1;
    if (base) {
        if ((rc = share_params(m, base, err)) != FR_OK)
            goto error;
        m->random_init = base->random_init;
    } else if (s->weights) {
        if ((rc = fr_dn_check_weights(m, s->weights, err)) != FR_OK)
            goto error;
        pthread_mutex_lock(&fr_dn_parse_lock);
        saved = fr_dn_quiet_begin();
        fr_dn_set_gpu_index(m->device); /* load_weights pushes to the device when >= 0 */
        fr_dn_gpu_begin(m);
        load_weights(net, (char *)s->weights);
        fr_dn_gpu_end(m);
        fr_dn_quiet_end(saved);
        pthread_mutex_unlock(&fr_dn_parse_lock);
    } else {
        m->random_init = 1;
        fr_dn_seeded_init(net, s->seed);
        if (fr_dn_on_gpu(m)) {
            fr_dn_gpu_begin(m);
            fr_dn_push_weights(m);
            fr_dn_gpu_end(m);
        }
        if (!s->quiet)
            fprintf(stderr, "featrd: %s: no weights given; seeded random initialisation (seed %llu)\n", s->cfg, (unsigned long long)s->seed);
    }
    free(text.p);
    *mp = m;
    return FR_OK;

error:
    free(text.p);
    dn_model_close(&m);
    return rc;
}

/* Frees m; a model sharing another's parameters gives them back first and
 * then drops its reference to that base. */
static void free_model(DnModel *m)
{
    DnModel *base = m->base;
    if (m->net) {
        if (base)
            for (int i = 0; i < m->n; i++) {
                float **sl[5];
                int n = param_slots(&m->net->layers[i], sl);
                for (int k = 0; k < n; k++)
                    *sl[k] = NULL; /* base's: free_network must not free them */
            }
        fr_dn_gpu_begin(m);
        free_network(m->net);
        fr_dn_gpu_end(m);
    }
    free(m->cfg);
    free(m->weights);
    free(m->owner);
    free(m->names);
    free(m->aliases);
    free(m->cfg_line);
    free(m);
    if (base && atomic_fetch_sub(&base->refs, 1) == 1)
        free_model(base);
}

void dn_model_close(DnModel **mp)
{
    if (!mp || !*mp)
        return;
    DnModel *m = *mp;
    *mp = NULL;
    /* a base shared by others lives on until the last of them closes */
    if (atomic_fetch_sub(&m->refs, 1) == 1)
        free_model(m);
}

/* ------------------------------------------------------------ queries -- */

int dn_model_layer_count(const DnModel *m)
{
    return m ? m->n : 0;
}

int dn_model_layer_info(const DnModel *m, int i, FrLayerInfo *info)
{
    if (!m || !info || i < 0 || i >= m->n)
        return FR_E_USAGE;
    const layer *l = &m->net->layers[i];
    info->index = i;
    info->type = fr_dn_type_name(l->type);
    info->name = m->names[i];
    info->alias = m->aliases[i];
    fr_dn_out_shape(l, &info->c, &info->h, &info->w);
    info->bytes = 4 * (size_t)info->c * (size_t)info->h * (size_t)info->w;
    return FR_OK;
}

void dn_model_input_size(const DnModel *m, int *c, int *h, int *w)
{
    *c = m->net->c;
    *h = m->net->h;
    *w = m->net->w;
}

const char *dn_model_cfg_path(const DnModel *m)
{
    return m ? m->cfg : "";
}

FrTask dn_model_task(const DnModel *m)
{
    return m->task;
}

int dn_model_classes(const DnModel *m)
{
    for (int i = m->n - 1; i >= 0; i--) {
        const layer *l = &m->net->layers[i];
        if (l->type == REGION || l->type == YOLO || l->type == DETECTION)
            return l->classes;
    }
    return m->net->layers[m->out_layer].outputs;
}

void dn_model_set_gemm(DnModel *m, FrGemm g)
{
    if (m && (g == FR_GEMM_OPENBLAS || g == FR_GEMM_DARKNET))
        m->gemm = g;
}

void dn_model_set_kernels(DnModel *m, FrKernels k)
{
    if (m && (k == FR_KERNELS_FAST || k == FR_KERNELS_DARKNET))
        m->kernels = k;
}

FrGemm dn_model_get_gemm(const DnModel *m)
{
    return m->gemm;
}

static int name_matches_type(const char *word, LAYER_TYPE t)
{
    static const struct {
        const char *w;
        LAYER_TYPE t;
    } syn[] = {
        {"convolutional", CONVOLUTIONAL}, {"maxpool", MAXPOOL}, {"avgpool", AVGPOOL},
        {"conn", CONNECTED},              {"soft", SOFTMAX},    {"deconvolutional", DECONVOLUTIONAL},
        {"lrn", NORMALIZATION},
    };
    if (!strcasecmp(word, fr_dn_type_name(t)))
        return 1;
    for (size_t i = 0; i < sizeof syn / sizeof syn[0]; i++)
        if (syn[i].t == t && !strcasecmp(word, syn[i].w))
            return 1;
    return 0;
}

int dn_model_find_layer(const DnModel *m, const char *name, int *index, FrError *err)
{
    if (!m || !name || !index)
        return fr_error(err, FR_E_USAGE, "no layer name given");
    const char *p = name;
    while (isspace((unsigned char)*p))
        p++;
    char nm[64];
    snprintf(nm, sizeof nm, "%s", p);
    for (size_t k = strlen(nm); k > 0 && isspace((unsigned char)nm[k - 1]); k--)
        nm[k - 1] = 0;
    if (nm[0] && strspn(nm, "0123456789") == strlen(nm)) {
        long v = strtol(nm, NULL, 10);
        if (v >= 0 && v < m->n) {
            *index = (int)v;
            return FR_OK;
        }
        return fr_error(err, FR_E_USAGE, "%s: layer index %s out of range (the network has layers 0..%d)", m->cfg, nm, m->n - 1);
    }
    for (int i = 0; i < m->n; i++)
        if (!strcasecmp(nm, m->names[i]) || (m->aliases[i][0] && !strcasecmp(nm, m->aliases[i]))) {
            *index = i;
            return FR_OK;
        }
    /* long section names: maxpool_3, convolutional_6 */
    char *us = strrchr(nm, '_');
    if (us && us[1] && strspn(us + 1, "0123456789") == strlen(us + 1)) {
        long v = strtol(us + 1, NULL, 10);
        *us = 0;
        if (v >= 0 && v < m->n && name_matches_type(nm, m->net->layers[v].type)) {
            *index = (int)v;
            return FR_OK;
        }
        *us = '_';
    }
    char ex[512] = "";
    size_t len = 0;
    int shown = 0;
    for (int i = 0; i < m->n && shown < 4; i++, shown++)
        len += (size_t)snprintf(ex + len, sizeof ex - len, "%s, ", m->names[i]);
    int na = 0;
    for (int i = 0; i < m->n && na < 3 && len < sizeof ex - 40; i++)
        if (m->aliases[i][0]) {
            len += (size_t)snprintf(ex + len, sizeof ex - len, "%s, ", m->aliases[i]);
            na++;
        }
    if (len < sizeof ex - 40)
        snprintf(ex + len, sizeof ex - len, "... %s, or an index 0..%d", m->names[m->n - 1], m->n - 1);
    return fr_error(err, FR_E_USAGE, "%s: no layer named '%s'; valid names look like %s (`featrd layers %s` lists them all)", m->cfg, nm, ex, m->cfg);
}

/* --------------------------------------------------------------- cut set -- */

int dn_model_cut_set_err(const DnModel *m, int split, int *layers, int max, int *n, FrError *err)
{
    if (!m || !n)
        return fr_error(err, FR_E_USAGE, "dn_model_cut_set: no model");
    *n = 0;
    if (split < 0 || split >= m->n)
        return fr_error(err, FR_E_USAGE, "%s: split %d is not a layer (0..%d)", m->cfg, split, m->n - 1);
    if (split >= m->out_layer)
        return fr_error(err, FR_E_USAGE, "%s: a split after %s (%d) leaves no back half; split at or before %s", m->cfg, m->names[split], split, m->out_layer > 0 ? m->names[m->out_layer - 1] : "(none)");
    if (m->has_recurrent)
        return fr_error(err, FR_E_USAGE, "%s: recurrent layers keep state across passes; splitting this network is not supported", m->cfg);
    const network *net = m->net;
    char *need = calloc((size_t)split + 1, 1);
    if (!need)
        return fr_error(err, FR_E_NOMEM, "out of memory");
    for (int j = split + 1; j < m->n; j++) {
        const layer *l = &net->layers[j];
        int src[64], ns = 0;
        if (l->type == ROUTE) {
            for (int k = 0; k < l->n && ns < 64; k++)
                src[ns++] = l->input_layers[k];
        } else {
            src[ns++] = j - 1;
            if (l->type == SHORTCUT)
                src[ns++] = l->index;
        }
        for (int k = 0; k < ns; k++) {
            if (src[k] < 0 || src[k] >= m->n)
                continue;
            int o = m->owner[src[k]];
            if (o <= split)
                need[o] = 1;
        }
    }
    /* yolov3's earlier yolo layers are outputs too: the detection decoder
     * reads them after the back half */
    for (int i = 0; i <= split; i++) {
        LAYER_TYPE t = net->layers[i].type;
        if (t == REGION || t == YOLO || t == DETECTION)
            need[m->owner[i]] = 1;
    }
    int cnt = 0;
    for (int i = 0; i <= split; i++)
        if (need[i]) {
            if (layers && cnt < max)
                layers[cnt] = i;
            cnt++;
        }
    free(need);
    *n = cnt;
    if (layers && cnt > max)
        return fr_error(err, FR_E_USAGE, "%s: the cut after %s holds %d tensors, more than the %d given room", m->cfg, m->names[split], cnt, max);
    return FR_OK;
}

/* --------------------------------------------------- the backend entry -- */

/* The darknet backend as the registry sees it (src/model/backends.c): each
 * operation is the dn_model_* function of the same name on the backend's
 * own handle. */
static int op_open(void **self, const FrModelSettings *s, FrError *err)
{
    DnModel *m = NULL;
    int rc = dn_model_open(&m, s, err);
    *self = m;
    return rc;
}
static int op_open_shared(void **self, void *base, int quiet, FrError *err)
{
    DnModel *m = NULL;
    int rc = dn_model_open_shared(&m, base, quiet, err);
    *self = m;
    return rc;
}
static int op_shares_params(const void *a, const void *b) { return dn_model_shares_params(a, b); }
static void op_close(void *self)
{
    DnModel *m = self;
    dn_model_close(&m);
}
static int op_layer_count(const void *self) { return dn_model_layer_count(self); }
static int op_layer_info(const void *self, int i, FrLayerInfo *info)
{
    return dn_model_layer_info(self, i, info);
}
static void op_input_size(const void *self, int *c, int *h, int *w)
{
    dn_model_input_size(self, c, h, w);
}
static const char *op_cfg_path(const void *self) { return dn_model_cfg_path(self); }
static FrTask op_task(const void *self) { return dn_model_task(self); }
static int op_classes(const void *self) { return dn_model_classes(self); }
static void op_set_gemm(void *self, FrGemm g) { dn_model_set_gemm(self, g); }
static FrGemm op_get_gemm(const void *self) { return dn_model_get_gemm(self); }
static void op_set_kernels(void *self, FrKernels k) { dn_model_set_kernels(self, k); }
static int op_find_layer(const void *self, const char *name, int *index, FrError *err)
{
    return dn_model_find_layer(self, name, index, err);
}
static int op_cut_set(const void *self, int split, int *layers, int max, int *n, FrError *err)
{
    return dn_model_cut_set_err(self, split, layers, max, n, err);
}
static int op_prepare_input(void *self, const FrTensor *rgb, FrTensor *input)
{
    return dn_model_prepare_input(self, rgb, input);
}
static int op_save_weights(void *self, const char *path, FrError *err)
{
    return dn_model_save_weights(self, path, err);
}
static int op_forward(void *self, const FrTensor *input, FrError *err)
{
    return dn_model_forward(self, input, err);
}
static int op_front(void *self, const FrTensor *input, int split, FrTensor *cuts, int *ncuts,
                    FrError *err)
{
    return dn_model_front(self, input, split, cuts, ncuts, err);
}
static int op_forward_cuts(void *self, const FrTensor *input, const int *splits, int n,
                           FrTensor *cuts, int *ncuts, double *t_front, FrError *err)
{
    return dn_model_forward_cuts(self, input, splits, n, cuts, ncuts, t_front, err);
}
static int op_back_to(void *self, int split, const FrTensor *cuts, int ncuts, int last,
                      FrError *err)
{
    return dn_model_back_to(self, split, cuts, ncuts, last, err);
}
static int op_output(void *self, FrTensor *out) { return dn_model_output(self, out); }
static int op_layer_output(void *self, int layer, FrTensor *out)
{
    return dn_model_layer_output(self, layer, out);
}
static int op_detections(void *self, int orig_w, int orig_h, float thresh, float nms,
                         FrDetection **dets, int *n)
{
    return dn_model_detections(self, orig_w, orig_h, thresh, nms, dets, n);
}

const FrModelBackend fr_model_backend_darknet = {
    .name = "darknet",
    .doc = "darknet .cfg + .weights (Debian's libdarknet; CUDA build with make GPU=1)",
    .open = op_open,
    .open_shared = op_open_shared,
    .shares_params = op_shares_params,
    .close = op_close,
    .layer_count = op_layer_count,
    .layer_info = op_layer_info,
    .input_size = op_input_size,
    .cfg_path = op_cfg_path,
    .task = op_task,
    .classes = op_classes,
    .set_gemm = op_set_gemm,
    .get_gemm = op_get_gemm,
    .set_kernels = op_set_kernels,
    .find_layer = op_find_layer,
    .cut_set = op_cut_set,
    .prepare_input = op_prepare_input,
    .save_weights = op_save_weights,
    .forward = op_forward,
    .front = op_front,
    .forward_cuts = op_forward_cuts,
    .back_to = op_back_to,
    .output = op_output,
    .layer_output = op_layer_output,
    .detections = op_detections,
};
