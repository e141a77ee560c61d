/* features_internal.h: the input of `kind: features` (src/run/features.c):
 * which .npy files make up each image's cut set, read from features.dir or
 * features.list and checked before the runner (run.c) codes anything. */
#ifndef FEATRD_FEATURES_INTERNAL_H
#define FEATRD_FEATURES_INTERNAL_H

#include "featrd.h"

/* One tensor file of one image. Strings owned by the set. */
typedef struct FrFeatureFile {
    char *path;  /* as opened (joined to the list's directory when relative) */
    char *rel;   /* the name the decoded copy gets under decoded_dir/<point id>/ */
    char *layer; /* the layer it comes from ("" when the input does not say) */
    int line;    /* 1-based line of the list (0: found by a directory scan) */
    int c, h, w; /* its shape, as read */
} FrFeatureFile;

/* One image: its cut set in file order (the order it is coded in). */
typedef struct FrFeatureImage {
    char *image; /* the image it was computed from, or the files' common name */
    int n;
    FrFeatureFile files[FR_MODEL_MAX_CUTS];
} FrFeatureImage;

typedef struct FrFeatureSet {
    char *source;   /* features.txt, the list or the directory, for messages */
    size_t n;
    FrFeatureImage *images;
    char split[256]; /* what the curves are named by (features.split, the list's
                      * "# split:" line, else the first image's last layer) */
    char layer[256]; /* the split's layer name (the list's "(layer L)", else split) */
    char cut[512];   /* the cut set: the first image's layers joined by '+' */
    size_t bytes;    /* float32 bytes of every tensor of every image */
} FrFeatureSet;

/* Reads e's features.dir / features.list (features.limit applied) and reads
 * every tensor once: each must be a readable .npy, the shapes a list gives
 * (C H W) must match, and every image must have the same layers in the same
 * order. Errors name the list's file:line (FR_E_FORMAT, FR_E_NOENT) or the
 * config key. */
int fr_feature_set_read(const FrExperiment *e, FrFeatureSet *s, FrError *err);
void fr_feature_set_free(FrFeatureSet *s);

/* The set as an image list for the runner: one entry per image, path =
 * the image's name, line = its 1-based position. */
int fr_feature_set_list(const FrFeatureSet *s, FrImageList *list, FrError *err);

/* dir/features.txt for the decoded copies of one point, in the input's
 * format (file = rel), so `kind: features` or the user's script reads
 * them the same way. Atomically. */
int fr_feature_set_write_index(const FrFeatureSet *s, const char *dir, FrError *err);

#endif
