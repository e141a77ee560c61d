/* model_api.c: the public fr_model_* functions, each dispatching to the
 * backend the model was opened with (model/backend.h). A NULL model goes to
 * the default backend's operation with a NULL handle, which reports it as
 * that function always has. */
#include <stdlib.h>
#include <string.h>

#include "featrd/model.h"
#include "model/backend.h"
#include "model/model.h"
#include "model/model_internal.h"

#define BE(m) ((m) ? (m)->be : fr_model_backend_at(0))
#define SELF(m) ((m) ? (m)->self : NULL)

void fr_model_defaults(FrModelSettings *s)
{
    memset(s, 0, sizeof *s);
    s->seed = 1;
    s->gemm = FR_GEMM_OPENBLAS;
}

/* The handle a backend's open gave, in an FrModel; the backend's own
 * errors pass through as it reported them. */
static int wrap(FrModel **mp, const FrModelBackend *be, void *self, int rc, FrError *err)
{
    if (rc != FR_OK || !self)
        return rc;
    FrModel *m = malloc(sizeof *m);
    if (!m) {
        be->close(self);
        return fr_error(err, FR_E_NOMEM, "out of memory opening a model");
    }
    m->be = be;
    m->self = self;
    *mp = m;
    return FR_OK;
}

int fr_model_open(FrModel **mp, const FrModelSettings *s, FrError *err)
{
    if (mp)
        *mp = NULL;
    const FrModelBackend *be = fr_model_backend_find(s ? s->backend : NULL);
    if (!be) {
        char names[256];
        return fr_error(err, FR_E_USAGE, "unknown model backend '%s'; featrd has %s",
                        s->backend, fr_model_backend_names(names, sizeof names));
    }
    void *self = NULL;
    int rc = be->open(mp ? &self : NULL, s, err);
    return wrap(mp, be, self, rc, err);
}

int fr_model_open_shared(FrModel **mp, FrModel *base, int quiet, FrError *err)
{
    if (mp)
        *mp = NULL;
    const FrModelBackend *be = BE(base);
    void *self = NULL;
    int rc = be->open_shared(mp ? &self : NULL, SELF(base), quiet, err);
    return wrap(mp, be, self, rc, err);
}

int fr_model_shares_params(const FrModel *a, const FrModel *b)
{
    if (!a || !b || a->be != b->be)
        return 0;
    return a->be->shares_params(a->self, b->self);
}

void fr_model_close(FrModel **mp)
{
    if (!mp || !*mp)
        return;
    FrModel *m = *mp;
    *mp = NULL;
    m->be->close(m->self);
    free(m);
}

int fr_model_layer_count(const FrModel *m) { return BE(m)->layer_count(SELF(m)); }

int fr_model_layer_info(const FrModel *m, int i, FrLayerInfo *info)
{
    return BE(m)->layer_info(SELF(m), i, info);
}

void fr_model_input_size(const FrModel *m, int *c, int *h, int *w)
{
    BE(m)->input_size(SELF(m), c, h, w);
}

const char *fr_model_cfg_path(const FrModel *m) { return BE(m)->cfg_path(SELF(m)); }
FrTask fr_model_task(const FrModel *m) { return BE(m)->task(SELF(m)); }
int fr_model_classes(const FrModel *m) { return BE(m)->classes(SELF(m)); }
void fr_model_set_gemm(FrModel *m, FrGemm g) { BE(m)->set_gemm(SELF(m), g); }
FrGemm fr_model_get_gemm(const FrModel *m) { return BE(m)->get_gemm(SELF(m)); }
void fr_model_set_kernels(FrModel *m, FrKernels k) { BE(m)->set_kernels(SELF(m), k); }

int fr_model_find_layer(const FrModel *m, const char *name, int *index, FrError *err)
{
    return BE(m)->find_layer(SELF(m), name, index, err);
}

int fr_model_cut_set_err(const FrModel *m, int split, int *layers, int max, int *n, FrError *err)
{
    return BE(m)->cut_set(SELF(m), split, layers, max, n, err);
}

int fr_model_cut_set(const FrModel *m, int split, int *layers, int max, int *n)
{
    return BE(m)->cut_set(SELF(m), split, layers, max, n, NULL);
}

int fr_model_prepare_input(FrModel *m, const FrTensor *rgb, FrTensor *input)
{
    return BE(m)->prepare_input(SELF(m), rgb, input);
}

int fr_model_save_weights(FrModel *m, const char *path, FrError *err)
{
    return BE(m)->save_weights(SELF(m), path, err);
}

int fr_model_forward(FrModel *m, const FrTensor *input, FrError *err)
{
    return BE(m)->forward(SELF(m), input, err);
}

int fr_model_front(FrModel *m, const FrTensor *input, int split, FrTensor *cuts, int *ncuts,
                   FrError *err)
{
    return BE(m)->front(SELF(m), input, split, cuts, ncuts, err);
}

int fr_model_forward_cuts(FrModel *m, const FrTensor *input, const int *splits, int n,
                          FrTensor *cuts, int *ncuts, double *t_front, FrError *err)
{
    return BE(m)->forward_cuts(SELF(m), input, splits, n, cuts, ncuts, t_front, err);
}

int fr_model_back(FrModel *m, int split, const FrTensor *cuts, int ncuts, FrError *err)
{
    return BE(m)->back_to(SELF(m), split, cuts, ncuts, -1, err);
}

int fr_model_back_to(FrModel *m, int split, const FrTensor *cuts, int ncuts, int last,
                     FrError *err)
{
    return BE(m)->back_to(SELF(m), split, cuts, ncuts, last, err);
}

int fr_model_output(FrModel *m, FrTensor *out) { return BE(m)->output(SELF(m), out); }

int fr_model_layer_output(FrModel *m, int layer, FrTensor *out)
{
    return BE(m)->layer_output(SELF(m), layer, out);
}

int fr_model_detections(FrModel *m, int orig_w, int orig_h, float thresh, float nms,
                        FrDetection **dets, int *n)
{
    return BE(m)->detections(SELF(m), orig_w, orig_h, thresh, nms, dets, n);
}
