/* metric_registry.c: the metrics registry. A metric is a `const FrMetricDef`
 * in a file of its own (metrics/metrics.h says what its hooks get) and one
 * line here; its place in this list is its FrMetric, and the built-in
 * metrics keep the places of featrd/config.h's constants. */
#include <pthread.h>
#include <string.h>

#include "featrd.h"
#include "metrics/metrics.h"

extern const FrMetricDef fr_metric_map07, fr_metric_map, fr_metric_top1, fr_metric_top5,
    fr_metric_fidelity, fr_metric_pixel_agreement, fr_metric_feature_psnr_nbit,
    fr_metric_feature_mse, fr_metric_feature_psnr, fr_metric_feature_sqnr, fr_metric_recon_psnr,
    fr_metric_recon_ssim;

static const FrMetricDef *const metrics[] = {
    &fr_metric_map07,
    &fr_metric_map,
    &fr_metric_top1,
    &fr_metric_top5,
    &fr_metric_fidelity,
    &fr_metric_pixel_agreement,
    &fr_metric_feature_psnr_nbit,
    &fr_metric_feature_mse,
    &fr_metric_feature_psnr,
    &fr_metric_feature_sqnr,
    &fr_metric_recon_psnr,
    &fr_metric_recon_ssim,
};
#define NMETRICS ((int)(sizeof metrics / sizeof metrics[0]))
_Static_assert(NMETRICS <= FR_METRIC_MAX, "raise FR_METRIC_MAX");

int fr_metric_count(void) { return NMETRICS; }

const FrMetricDef *fr_metric_def(FrMetric m)
{
    return m >= 0 && m < NMETRICS ? metrics[m] : NULL;
}

const FrMetricInfo *fr_metric_info(FrMetric m)
{
    const FrMetricDef *d = fr_metric_def(m);
    return d ? &d->info : NULL;
}

const FrMetricInfo *fr_metric_find(const char *name)
{
    for (int i = 0; name && i < NMETRICS; i++)
        if (!strcmp(metrics[i]->info.name, name))
            return &metrics[i]->info;
    return NULL;
}

/* ---------------- columns ---------------- */

static const char *col_names[FR_METRIC_MAX];
static int col_of[FR_METRIC_MAX], ncols;
static pthread_once_t cols_once = PTHREAD_ONCE_INIT;

static void fill_cols(void)
{
    for (int m = 0; m < NMETRICS; m++) {
        int c = 0;
        while (c < ncols && strcmp(col_names[c], metrics[m]->info.column))
            c++;
        if (c == ncols)
            col_names[ncols++] = metrics[m]->info.column;
        col_of[m] = c;
    }
}

int fr_metric_ncolumns(void)
{
    pthread_once(&cols_once, fill_cols);
    return ncols;
}

const char *fr_metric_column_name(int col)
{
    return col >= 0 && col < fr_metric_ncolumns() ? col_names[col] : NULL;
}

int fr_metric_column_of(FrMetric m)
{
    pthread_once(&cols_once, fill_cols);
    return m >= 0 && m < NMETRICS ? col_of[m] : -1;
}

int fr_metric_column_find(const char *name)
{
    for (int c = 0; name && c < fr_metric_ncolumns(); c++)
        if (!strcmp(col_names[c], name))
            return c;
    return -1;
}

int fr_metric_for_column(int col, FrTask t)
{
    for (int m = 0; m < NMETRICS; m++)
        if (fr_metric_column_of(m) == col &&
            (metrics[m]->info.task == FR_TASK_AUTO || metrics[m]->info.task == t))
            return m;
    return -1;
}
