/* featrd/dataset.h: image lists, ground truth (darknet label files, VOC XML
 * annotations, class labels for classification), names files and a
 * deterministic seeded subset. No outside libraries. */
#ifndef FEATRD_DATASET_H
#define FEATRD_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "featrd/common.h"
#include "featrd/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------- names files ---------------- */

/* Class names, one per line (darknet .names / labels files): trailing CR and
 * spaces are trimmed, blank lines are skipped. Owned by the struct. */
typedef struct FrNames {
    int n;
    char **names;
} FrNames;

/* ---------------- image lists ---------------- */

typedef struct FrImageEntry {
    char *path;     /* resolved: relative paths are joined to the list's directory */
    char *given;    /* the path as written in the list */
    char *label;    /* text of an explicit label column, or NULL (see below) */
    int line;       /* 1-based line in the list file */
} FrImageEntry;

typedef struct FrImageList {
    char *list_path;        /* the list file as given */
    size_t n;
    FrImageEntry *items;    /* owned */
} FrImageList;

/* Reads an image list: one image per line; blank lines and lines whose first
 * non-space character is '#' are skipped; trailing CR/space trimmed. A line
 * that names an existing file is an image path; otherwise, if the text after
 * its last run of spaces/tabs is non-empty and the text before it is an
 * existing file, the line is `path label` (label: a class name or a 0-based
 * class index). Relative paths are resolved against the list's directory.
 * An image that does not exist: FR_E_NOENT "LIST:LINE: image 'P' not found".
 * An empty list: FR_E_FORMAT. */
int fr_image_list_read(const char *list_path, FrImageList *out, FrError *err);
void fr_image_list_free(FrImageList *list);

/* Keeps a deterministic subset of `limit` images (limit 0 or >= n: all):
 * a Fisher–Yates shuffle driven by splitmix64(seed) picks the images, which
 * are then kept in list order. The same (list, limit, seed) gives the same
 * subset on every machine and run. */
int fr_image_list_subset(FrImageList *list, size_t limit, uint64_t seed, FrError *err);

/* An experiment's images: its dataset.images list read, then, when
 * dataset.limit > 0, the subset of that many drawn with dataset.seed. The one
 * place every kind and command gets its image list from. On error *out is
 * empty; the caller frees it with fr_image_list_free. */
struct FrExperiment;
int fr_experiment_images(const struct FrExperiment *e, FrImageList *out, FrError *err);

/* ---------------- ground truth ---------------- */

#ifdef __cplusplus
}
#endif
#endif
