/* names.c: the YAML spellings of the config's enums (some from the kinds,
 * allocators and metrics registries), "a, b or c" lists and the "did you
 * mean" suggestion. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "featrd/alloc.h"
#include "featrd/experiments.h"
#include "featrd/metrics.h"
#include "alloc/alloc.h"
#include "config/config.h"
#include "config/task.h"
#include "kinds/experiments.h"
#include "metrics/metrics.h"
#include <pthread.h>

/* ------------------------------------------------------------------ */
/* Enum spellings. */

/* The names of the kinds, allocators and metrics registries
 * (featrd/experiments.h, alloc.h, metrics.h; ids are their positions),
 * NULL-terminated as get_enum wants them, filled once for every thread. */
#define MAX_REG_NAMES 64
static const char *kind_names[MAX_REG_NAMES], *alloc_names[MAX_REG_NAMES],
    *metric_names[MAX_REG_NAMES];
static pthread_once_t reg_names_once = PTHREAD_ONCE_INIT;

static void fill_reg_names(void)
{
    for (int i = 0; i < fr_kind_count() && i < MAX_REG_NAMES - 1; i++)
        kind_names[i] = fr_kind_info((FrExperimentKind)i)->name;
    for (int i = 0; i < fr_alloc_count() && i < MAX_REG_NAMES - 1; i++)
        alloc_names[i] = fr_alloc_info((FrAllocation)i)->name;
    for (int i = 0; i < fr_metric_count() && i < MAX_REG_NAMES - 1; i++)
        metric_names[i] = fr_metric_info((FrMetric)i)->name;
}

static const char *const *reg_names(const char **names)
{
    pthread_once(&reg_names_once, fill_reg_names);
    return names;
}
const char *const *cfg_kind_names(void) { return reg_names(kind_names); }
const char *const *cfg_alloc_names(void) { return reg_names(alloc_names); }
const char *const *cfg_metric_names(void) { return reg_names(metric_names); }
const char *const cfg_task_names[] = {"auto", "detection", "classification", "dense", NULL};
const char *const cfg_gemm_names[] = {"openblas", "darknet", NULL};
const char *const cfg_device_names[] = {"cpu", "gpu", NULL};
const char *const cfg_kernels_names[] = {"fast", "darknet", NULL};
const char *const cfg_label_names[] = {"darknet-txt", "voc-xml", "class-list", NULL};
const char *const cfg_range_names[] = {"tensor", "channel", NULL};
const char *const cfg_pack_names[] = {"tile", "quilt", "frames", "tile-sorted", NULL};

const char *const cfg_scope_names[] = {"image", "dataset", NULL};

const char *const cfg_bd_names[] = {"pchip", "cubic", NULL};
const char *const cfg_anchor_codec_names[] = {"hevc", "jpeg", NULL};
/* The registered codecs' names (featrd/codec.h) with all of the
 * capabilities in need, NULL-terminated, into names[cap]. */
void cfg_codec_names(unsigned need, const char **names, int cap)
{
    int k = 0;
    for (int i = 0; i < fr_codec_count() && k < cap - 1; i++)
        if ((fr_codec_at(i)->caps & need) == need)
            names[k++] = fr_codec_at(i)->name;
    names[k] = NULL;
}

int cfg_count_names(const char *const *names)
{
    int n = 0;
    while (names[n])
        n++;
    return n;
}

const char *cfg_name_at(const char *const *names, int i)
{
    return i >= 0 && i < cfg_count_names(names) ? names[i] : NULL;
}

const char *fr_kind_name(FrExperimentKind k) { return cfg_name_at(KIND_NAMES, (int)k); }
const char *fr_task_name(FrTask t) { return cfg_name_at(TASK_NAMES, (int)t); }
const char *fr_device_name(FrDevice d) { return cfg_name_at(cfg_device_names, (int)d); }
const char *fr_allocation_name(FrAllocation a) { return cfg_name_at(ALLOC_NAMES, (int)a); }
const char *fr_metric_name(FrMetric m) { return cfg_name_at(METRIC_NAMES, (int)m); }
const char *fr_bd_method_name(FrBdMethod m) { return cfg_name_at(BD_NAMES, (int)m); }
const char *fr_label_format_name(FrLabelFormat l) { return cfg_name_at(LABEL_NAMES, (int)l); }

int fr_metric_from_name(const char *s)
{
    for (int i = 0; s && METRIC_NAMES[i]; i++)
        if (!strcmp(METRIC_NAMES[i], s))
            return i;
    return -1;
}

/* "a, b or c" */
void cfg_join_list(const char *const *names, const char *last, char *buf, size_t cap)
{
    size_t o = 0;
    int n = cfg_count_names(names);
    buf[0] = 0;
    for (int i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i == 0 ? "" : i == n - 1 ? last : ", ",
                              names[i]);
}

void cfg_or_list(const char *const *names, char *buf, size_t cap)
{
    cfg_join_list(names, " or ", buf, cap);
}

/* Optimal string alignment distance, for "did you mean". */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    int d[41][41];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb];
}

/* The closest name within a small distance, or NULL. */
const char *cfg_suggest(const char *word, const char *const *names)
{
    const char *best = NULL;
    int bd = 99;
    for (int i = 0; names[i]; i++) {
        int d = edit_distance(word, names[i]);
        if (d < bd) {
            bd = d;
            best = names[i];
        }
    }
    int lim = strlen(word) <= 3 ? 1 : strlen(word) <= 6 ? 2 : 3;
    return bd <= lim ? best : NULL;
}

