/* files.c: fr_experiment_check_files: every file the experiment reads
 * exists and is readable, else the message points at its key's line. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "config/config.h"
#include "kinds/experiments.h"
#include "featrd/alloc.h"
#include "featrd/experiments.h"
#include "featrd/metrics.h"
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Files the experiment names. */

static int check_one(const FrExperiment *e, FrError *err, const char *key, const char *path,
                     int want_dir, const char *advice);

static int check_sweep_weights(const FrExperiment *e, FrError *err)
{
    for (int i = 0; i < e->sweep.n_weights; i++) {
        char key[64];
        snprintf(key, sizeof key, "sweep.weights[%d]", i);
        int rc = check_one(e, err, key, e->sweep.weights[i], 0,
                           "a darknet .weights file of model.cfg (e.g. from featrd train "
                           "--augment; tools/train_augmented.sh makes the demo's)");
        if (rc)
            return rc;
    }
    return 0;
}

static int check_one(const FrExperiment *e, FrError *err, const char *key, const char *path,
                     int want_dir, const char *advice)
{
    if (!path)
        return 0;
    struct stat st;
    if (stat(path, &st) != 0) {
        /* what a newcomer needs: where a relative path was looked for, and
         * how the demo's generated data comes about */
        char where[4300] = "", cwd[4096];
        if (path[0] != '/' && getcwd(cwd, sizeof cwd))
            snprintf(where, sizeof where, " (relative paths are taken from the working directory, "
                     "%s: run featrd from the directory the config's paths assume)", cwd);
        const char *demo = strstr(path, "fmnist-det/") || strstr(path, "fmnist-cls/")
                               ? "; it is the built-in demo data: `featrd data --out data` (or "
                                 "`make run`) writes it"
                               : "";
        return fr_experiment_error(e, err, FR_E_NOENT, key, "no such %s '%s'%s: %s%s",
                                   want_dir ? "directory" : "file", path, where, advice, demo);
    }
    if (want_dir && !S_ISDIR(st.st_mode))
        return fr_experiment_error(e, err, FR_E_NOENT, key, "'%s' is not a directory: %s", path,
                                   advice);
    if (!want_dir && S_ISDIR(st.st_mode))
        return fr_experiment_error(e, err, FR_E_NOENT, key, "'%s' is a directory, not a file: %s",
                                   path, advice);
    if (access(path, R_OK) != 0)
        return fr_experiment_error(e, err, FR_E_NOENT, key, "cannot read '%s': %s", path,
                                   strerror(errno));
    return 0;
}

int fr_experiment_check_file(const FrExperiment *e, const char *key, const char *path,
                             int want_dir, const char *advice, FrError *err)
{
    return check_one(e, err, key, path, want_dir, advice);
}

int fr_experiment_check_files(const FrExperiment *e, FrError *err)
{
    if (!e)
        return fr_error(err, FR_E_USAGE, "fr_experiment_check_files: NULL experiment");
    int rc;
    if ((rc = check_one(e, err, "model.cfg", e->model.cfg, 0,
                        "give the darknet .cfg of the network; the stock ones are in "
                        "/usr/share/darknet/cfg")) ||
        (rc = check_one(e, err, "model.weights", e->model.weights, 0,
                        "put the weights file there (the README says where to get them; none "
                        "can be downloaded here) or remove model.weights to run with seeded "
                        "random weights")) ||
        (rc = check_sweep_weights(e, err)) ||
        (rc = check_one(e, err, "model.names", e->model.names, 0,
                        "a text file with one class name per line")) ||
        (rc = check_one(e, err, "dataset.images", e->dataset.images, 0,
                        "a text file listing one image path per line; see the README for the "
                        "data sets")) ||
        (rc = check_one(e, err, "dataset.annotations", e->dataset.annotations, 1,
                        "the VOC Annotations directory with one .xml per image")) ||
        (rc = check_one(e, err, "dataset.labels_file", e->dataset.labels_file, 0,
                        "a text file with one class id per image line")) ||
        (rc = check_one(e, err, "dataset.names", e->dataset.names, 0,
                        "a text file with the data set's class names, one per line (VOC: "
                        "/usr/share/darknet/data/voc.names)")) ||
        (rc = check_one(e, err, "dataset.class_map", e->dataset.class_map, 0,
                        "a text file of 'MODEL<TAB>DATASET' class pairs (configs/9k-voc.map "
                        "maps YOLO9000's WordTree classes to VOC)")))
        return rc;
    const FrKindInfo *ki = fr_kind_info(e->kind);
    if (ki && ki->check_files && (rc = ki->check_files(e, err))) /* the kind's own files */
        return rc;
    return 0;
}
