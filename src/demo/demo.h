/* demo/demo.h: the internal part of module demo (src/demo/, in
 * libfeatrd-train.a, not the core libfeatrd.a): what src/train/ and the tests
 * use that is not part of the public API (include/featrd/demo.h) and is not
 * installed. The CLI cannot include this (it is built without -Isrc). */
#ifndef FR_INTERNAL_DEMO_DEMO_H
#define FR_INTERNAL_DEMO_DEMO_H

#include "featrd/demo.h"

/* Opens split "train" (60,000 images) or "test" (10,000) from dir (NULL =
 * FR_FMNIST_DIR), reading the gzipped idx files with zlib. Errors: FR_E_NOENT
 * (files missing: install dataset-fashion-mnist), FR_E_FORMAT (bad idx
 * header, truncated, label out of range), FR_E_USAGE (bad split). On error
 * *ds is NULL. Close with fr_fmnist_close. */
int fr_fmnist_open(FrFmnist **ds, const char *dir, const char *split, FrError *err);
void fr_fmnist_close(FrFmnist **ds);
int fr_fmnist_count(const FrFmnist *ds);
int fr_fmnist_label(const FrFmnist *ds, int i);

/* 28×28 row-major grey pixels of image i (white item on black), owned by ds. */
const uint8_t *fr_fmnist_pixels(const FrFmnist *ds, int i);

/* Short class names used in file names, names files and label lists:
 * top trouser pullover dress coat sandal shirt sneaker bag boot. None is a
 * substring of another, as darknet's classifier matches names in paths with
 * strstr. NULL if cls is out of range. */
const char *fr_demo_class_name(int cls);

/* Renders scene `index` of a set deterministically from (seed, index) alone,
 * so any subset can be regenerated: 1..4 items drawn from ds, scaled to
 * 28..64 px (for size 128; proportional otherwise), tinted, placed with
 * little overlap on a textured noisy background. size: 64..1024. Uses no
 * libm transcendental functions and no rand(), so the bytes are the same on
 * every IEEE machine. Errors: FR_E_USAGE, FR_E_NOMEM. */
int fr_demo_scene_render(const FrFmnist *ds, uint64_t seed, int index, int size,
                         FrDemoScene *scene, FrError *err);
void fr_demo_scene_free(FrDemoScene *scene);

/* The augmentation of one feature, in place: C×H×W floats coded with fs at
 * qp and replaced by the decoded values (what the back half sees in
 * training). *bits, if not NULL, receives the coded size. */
int fr_train_code_feature(float *data, int c, int h, int w, const FrFeatureSettings *fs, int qp,
                          uint64_t *bits, FrError *err);

#endif
