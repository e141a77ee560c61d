/* data/dataset.h: the library-internal part of module dataset: functions that other
 * modules of libfeatrd and the tests use, which are not part of the public
 * API (include/featrd/dataset.h) and are not installed. The CLI cannot include
 * this (it is built without -Isrc). */
#ifndef FR_INTERNAL_DATA_DATASET_H
#define FR_INTERNAL_DATA_DATASET_H

#include "featrd/dataset.h"

/* Errors: FR_E_NOENT, FR_E_FORMAT (empty file, duplicate name: file:line). */
int fr_names_read(const char *path, FrNames *out, FrError *err);
void fr_names_free(FrNames *names);

/* The same, but a name may occur more than once: a model's output classes
 * (WordTree's 9k.names has three "car"s), where the index is what counts. */
int fr_names_read_model(const char *path, FrNames *out, FrError *err);

/* Index of the (first) name, or -1. */
int fr_names_find(const FrNames *names, const char *name);

/* Which data set class each model class is scored as. to_dataset[i] is the
 * data set class of model class i, or -1 (its detections are not scored).
 * model_path / dataset_path name the files in messages.
 * - map_path NULL: the two lists must be the same, name by name. Otherwise
 *   FR_E_MISMATCH naming the first class that differs (index, both names and
 *   files) and what to do.
 * - map_path: a text file, one `MODEL<TAB>DATASET` pair a line ('#' lines
 *   and blank lines skipped). MODEL is a model class name that occurs once,
 *   `@N` (0-based index into the model's names) or `@N:NAME` (index, checked
 *   to be NAME: FR_E_MISMATCH if not); DATASET is a data set class name.
 *   Several model classes may map to one data set class; a model class
 *   mapped twice, an unknown name or a map that maps nothing is FR_E_FORMAT
 *   naming file:line.
 * *to_dataset is malloc'ed [model->n] (caller frees). */
int fr_class_map_build(const FrNames *model, const char *model_path, const FrNames *dataset,
                       const char *dataset_path, const char *map_path, int **to_dataset,
                       FrError *err);

/* splitmix64: advances *state and returns the next 64-bit value. */
uint64_t fr_splitmix64(uint64_t *state);

/* Uniform integer in [0, n) from the generator (rejection sampling, no
 * modulo bias); n > 0. */
uint64_t fr_rand_below(uint64_t *state, uint64_t n);

/* Darknet's label path for an image: the last "/images/" (or "JPEGImages")
 * directory component replaced by "labels" and the extension by ".txt"
 * (…/images/x.jpg → …/labels/x.txt). FR_E_USAGE if the result does not fit. */
int fr_darknet_label_path(const char *image_path, char *out, size_t cap, FrError *err);

/* Reads a darknet label file (lines `class cx cy w h`, normalised to [0, 1])
 * and converts the boxes to pixels of an img_w × img_h image:
 * x1 = (cx - w/2) * img_w, x2 = (cx + w/2) * img_w (same for y); no
 * difficult flags (all 0). Class ids must be < nclasses when nclasses > 0.
 * *boxes is malloc'ed (caller frees; NULL when *n == 0). Errors name
 * file:line. A missing file is FR_E_NOENT. */
int fr_gt_read_darknet(const char *label_path, int img_w, int img_h, int nclasses,
                       FrGtBox **boxes, size_t *n, FrError *err);

/* VOC annotation path for an image: …/JPEGImages/ID.jpg → …/Annotations/ID.xml. */
int fr_voc_annotation_path(const char *image_path, char *out, size_t cap, FrError *err);

/* Reads a VOC XML annotation: <size><width>/<height> (optional, 0 if absent)
 * and each <object> with <name>, <difficult> (0 if absent) and <bndbox>
 * xmin ymin xmax ymax (1-based inclusive pixels), returned 0-based (each
 * corner minus 1) so they compare with darknet's 0-based detections — the
 * shift darknet's VOC result writer undoes with its +1, and the frame
 * darknet label files (voc_label.py subtracts 1) decode to. <part>
 * sub-objects are ignored. Names
 * are mapped through `names`; an unknown name is FR_E_FORMAT naming the file
 * and the name. *boxes malloc'ed as above. img_w/img_h may be NULL. */
int fr_gt_read_voc_xml(const char *xml_path, const FrNames *names, FrGtBox **boxes,
                       size_t *n, int *img_w, int *img_h, FrError *err);

/* The class label of an image for classification. If the entry has an
 * explicit label (list format `path label`) it is a class name of `labels` or
 * a 0-based index. Otherwise darknet's convention: the one class name that
 * occurs as a substring of the path as written in the list (entry->given);
 * none or several → FR_E_FORMAT naming the list file and line. */
int fr_image_label(const FrImageList *list, size_t i, const FrNames *labels,
                   long *label, FrError *err);

#endif
