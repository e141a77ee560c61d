/* kinds.c: the experiment kinds registry. One row per `kind:` value: its
 * name, the top-level sections it reads that not every kind reads (rd and
 * features share sweep, bd and bootstrap), whether it needs an image list
 * and a model, and the function that runs it. fr_run dispatches here; the config
 * checks sections and names against the rows. A new kind is one file (its
 * run function and, if it has settings, its section: a schema the config
 * reads, dumps and hashes by itself; docs/experiments.md "Adding an
 * experiment kind") plus one row here. */
#include <string.h>

#include "featrd.h"
#include "kinds/experiments.h"

static const char *const RD_SECTIONS[] = {"sweep", "anchors", "bd", "bootstrap", NULL};
static const char *const NO_SECTIONS[] = {NULL}; /* for a kind whose own section is all */
static const char *const FEATURES_SECTIONS[] = {"sweep", "bd", "bootstrap", NULL};

static const FrKindInfo kinds[] = {
    {FR_KIND_RD, "rd", "rate-distortion sweep over split, bits, packing, codec and QP",
     RD_SECTIONS, 1, fr_run_rd, 1, NULL, NULL, NULL, NULL},
    {FR_KIND_LOSSLESS, "lossless", "seed 000: lossless coders over every layer's features",
     NO_SECTIONS, 1, fr_run_lossless, 1, &fr_lossless_section, NULL, NULL, NULL},
    {FR_KIND_MODEL, "model", "seed 002: model-weight compression (RP, DoM)", NO_SECTIONS, 0,
     fr_run_modelcomp, 1, &fr_modelcomp_section, NULL, fr_modelcomp_validate,
     fr_modelcomp_check_files},
    {FR_KIND_FEATURES, "features",
     "bring your own features: .npy tensors through the rd coding (no network)",
     FEATURES_SECTIONS, 0, fr_run_features, 0, &fr_features_section, "sweep",
     fr_features_validate, fr_features_check_files},
};

int fr_kind_count(void)
{
    return (int)(sizeof kinds / sizeof kinds[0]);
}

const FrKindInfo *fr_kind_info(FrExperimentKind k)
{
    for (int i = 0; i < fr_kind_count(); i++)
        if (kinds[i].id == k)
            return &kinds[i];
    return NULL;
}

const FrKindInfo *fr_kind_find(const char *name)
{
    for (int i = 0; name && i < fr_kind_count(); i++)
        if (!strcmp(kinds[i].name, name))
            return &kinds[i];
    return NULL;
}

/* 1 when section is one of k's own: listed in sections, or its section's key */
static int owns(const FrKindInfo *k, const char *section)
{
    for (const char *const *s = k->sections; *s; s++)
        if (!strcmp(*s, section))
            return 1;
    return k->section && !strcmp(k->section->key, section);
}

const FrKindInfo *fr_kind_of_section(const char *section)
{
    for (int i = 0; section && i < fr_kind_count(); i++)
        if (owns(&kinds[i], section))
            return &kinds[i];
    return NULL;
}

int fr_kind_reads_section(const FrKindInfo *k, const char *section)
{
    if (!k || !section)
        return 0;
    return owns(k, section) || fr_kind_of_section(section) == NULL;
}

int fr_run(const FrExperiment *e, const FrRunOptions *o, FrError *err)
{
    const FrKindInfo *k = fr_kind_info(e->kind);
    if (!k)
        return fr_error(err, FR_E_USAGE, "experiment kind %d is unknown", (int)e->kind);
    return k->run(e, o, err);
}
