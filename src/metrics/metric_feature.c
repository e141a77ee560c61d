/* metric_feature.c: the feature-fidelity metrics of the registry, over a
 * feature point's whole cut set: the element-weighted MSE, PSNR with the
 * widest original range (the Q-layer's tensor range for one cut), SQNR and
 * the n-bit domain's MSE / PSNR. */
#include <math.h>

#include "featrd.h"
#include "metrics/metrics.h"
#include "codec/container.h"

typedef struct CutSet {
    double mse, peak, power;
} CutSet;

static CutSet cut_set(const FrMetricFeature *f)
{
    CutSet c = {NAN, 0, NAN};
    double se = 0, pw = 0, elems = 0;
    for (int k = 0; k < f->n; k++) {
        FrFeatureDistortion d;
        if (fr_feature_distortion(&f->orig[k], &f->rec[k], &d, NULL))
            return (CutSet){NAN, NAN, NAN};
        double ne = (double)fr_tensor_size(&f->orig[k]);
        se += d.mse * ne;
        pw += d.power * ne;
        if (d.peak > c.peak)
            c.peak = d.peak;
        elems += ne;
    }
    c.mse = se / elems;
    c.power = pw / elems;
    return c;
}

static double mse(const FrMetricFeature *f) { return cut_set(f).mse; }

static double psnr(const FrMetricFeature *f)
{
    CutSet c = cut_set(f);
    return fr_psnr(c.mse, c.peak);
}

static double sqnr(const FrMetricFeature *f)
{
    CutSet c = cut_set(f);
    return fr_sqnr(c.mse, c.power);
}

/* per image the n-bit MSE; the point's PSNR is that of the mean MSE */
static double mse_nbit(const FrMetricFeature *f)
{
    double se = 0, elems = 0;
    for (int k = 0; k < f->n; k++) {
        double ne = (double)fr_tensor_size(&f->orig[k]);
        se += fr_feature_mse_nbit(&f->orig[k], &f->rec[k], f->bits) * ne;
        elems += ne;
    }
    return se / elems;
}

static double psnr_of_mean(double mean, int bits) { return fr_psnr_nbit(mean, bits); }

const FrMetricDef fr_metric_feature_psnr_nbit = {
    .info = {"feature_psnr_nbit", "psnr_nbit", FR_TASK_AUTO, 1,
             "PSNR of the decoded feature in the n-bit domain (peak 2^n-1), of the mean MSE"},
    .unit = "dB",
    .feature = mse_nbit,
    .finish = psnr_of_mean,
};

const FrMetricDef fr_metric_feature_mse = {
    .info = {"feature_mse", "mse", FR_TASK_AUTO, 0,
             "MSE of the decoded feature against the original"},
    .unit = "",
    .feature = mse,
};

const FrMetricDef fr_metric_feature_psnr = {
    .info = {"feature_psnr", "psnr", FR_TASK_AUTO, 1,
             "PSNR of the decoded feature over its range"},
    .unit = "dB",
    .feature = psnr,
};

const FrMetricDef fr_metric_feature_sqnr = {
    .info = {"feature_sqnr", "sqnr", FR_TASK_AUTO, 1,
             "SQNR of the decoded feature: its mean square over the MSE, in dB"},
    .unit = "dB",
    .feature = sqnr,
};
