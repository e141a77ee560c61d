/* features_kind.c: kind features' entry in the kinds registry
 * (src/run/kinds.c): its section `features` (the tensors to code: a
 * directory or a list, the curves' split name, a limit), read, defaulted,
 * checked, dumped and hashed by the config module from this schema and
 * handed to the run (src/run/features.c) as fr_experiment_kind_settings;
 * its rules across keys (no network: no model, image list, split axis,
 * weights axis or per-channel allocation) and the files it reads. The kind
 * shares sweep, bd and bootstrap with kind rd; the coding is the runner's. */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#include "alloc/alloc.h"
#include "config/config.h"
#include "kinds/experiments.h"
#include "util/schema.h"

static const FrField features_fields[] = {
    {FR_STR(FrFeaturesSpec, dir, FR_FIELD_NULLABLE), .doc = "features directory"},
    {FR_STR(FrFeaturesSpec, list, FR_FIELD_NULLABLE), .doc = "features list file"},
    {FR_STR(FrFeaturesSpec, split, FR_FIELD_NULLABLE), .doc = "the curves' split name"},
    {.key = "limit", .type = FR_FIELD_INT, .offset = offsetof(FrFeaturesSpec, limit), .lo = 0,
     .hi = INT_MAX, .doc = "the first N images; 0 = all"},
};
static const FrSchema features_schema = FR_SCHEMA("features", FrFeaturesSpec, features_fields);

/* The section as a top-level key of the config. */
const FrField fr_features_section = {.key = "features", .type = FR_FIELD_SECTION,
                                     .sub = &features_schema, .doc = "the tensors to code"};

int fr_features_validate(const FrExperiment *e, FrError *err)
{
    const FrFeaturesSpec *f = fr_experiment_kind_settings(e);
    const FrSweepSpec *s = &e->sweep;
    if (!f->dir == !f->list)
        return fr_experiment_error(e, err, FR_E_CONFIG, f->dir ? "features.list" : "kind",
                                   "kind features needs exactly one of features.dir (a "
                                   "directory from `featrd features`, or of .npy files) and "
                                   "features.list (a features.txt-style list)");
    if (e->model.cfg)
        return fr_experiment_error(e, err, FR_E_CONFIG, "model.cfg",
                                   "kind features runs no network (the features are given); "
                                   "remove model, or use kind rd to run the model");
    if (e->dataset.images)
        return fr_experiment_error(e, err, FR_E_CONFIG, "dataset.images",
                                   "kind features reads features.dir or features.list, not an "
                                   "image list; remove dataset");
    if (s->n_split)
        return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.split",
                                   "kind features codes the features as given: their split is "
                                   "features.split (default: from the list); remove sweep.split");
    if (s->n_weights)
        return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.weights",
                                   "kind features runs no network, so it has no weights axis");
    for (int i = 0; i < s->n_allocation; i++)
        if (fr_alloc_info(s->allocation[i])->per_channel)
            return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.allocation",
                                       "%s allocation measures each channel's effect on the "
                                       "network output, and kind features has no back half: "
                                       "use allocation: [uniform] (or kind rd with the model)",
                                       fr_allocation_name(s->allocation[i]));
    for (int i = 0; i < s->n_codec; i++)
        if (s->codec[i].n_split) {
            char k[64];
            snprintf(k, sizeof k, "sweep.codec[%d].split", i);
            return fr_experiment_error(e, err, FR_E_CONFIG, k,
                                       "kind features has one split (features.split); remove "
                                       "the entry's split list");
        }
    if (s->n_qp_base)
        return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.qp_base",
                                   "only used with allocation: sensitivity");
    uint64_t np = fr_experiment_sweep_points(e);
    if (np > (uint64_t)s->max_points)
        return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.codec",
                                   "the sweep expands to %s%llu points, more than "
                                   "sweep.max_points (%lld); shorten the lists or raise "
                                   "max_points", np == UINT64_MAX ? "over " : "",
                                   (unsigned long long)np, s->max_points);
    return 0;
}

int fr_features_check_files(const FrExperiment *e, FrError *err)
{
    const FrFeaturesSpec *f = fr_experiment_kind_settings(e);
    int rc;
    if ((rc = fr_experiment_check_file(e, "features.dir", f->dir, 1,
                                       "a directory written by `featrd features CONFIG --split S "
                                       "--out DIR`, or one of .npy files", err)) ||
        (rc = fr_experiment_check_file(e, "features.list", f->list, 0,
                                       "a list of .npy files, one `FILE IMAGE LAYER` line each "
                                       "(the format of features.txt)", err)))
        return rc;
    return 0;
}
