/* featrd/demo.h: the built-in demo. Reads Fashion-MNIST (Debian's
 * dataset-fashion-mnist), generates the two demo data sets from it
 * (fmnist-det: detection scenes with darknet labels; fmnist-cls: a
 * classification set with the class in the file name), and trains the demo
 * darknet models with darknet's own training code. The reader and the
 * generator are src/demo/fmnist.c, training is src/train/train.c (the
 * darknet adapter for training); both are in libfeatrd-train.a, not in the
 * core libfeatrd.a (link -lfeatrd-train -lfeatrd). */
#ifndef FEATRD_DEMO_H
#define FEATRD_DEMO_H

#include <stddef.h>
#include <stdint.h>

#include "featrd/common.h"
#include "featrd/container.h"
#include "featrd/task.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FR_FMNIST_DIR "/usr/share/datasets/fashion-mnist"
#define FR_DEMO_CLASSES 10
#define FR_DEMO_MAX_ITEMS 4

/* ---------------- Fashion-MNIST ---------------- */

/* One split of Fashion-MNIST in memory (28×28 grey images, labels 0..9). */
typedef struct FrFmnist FrFmnist;

/* ---------------- detection scenes ---------------- */

/* An item pasted into a scene: class, the Fashion-MNIST index it came from,
 * and its box in pixels, [x0, x1) × [y0, y1): the tight box of the item's ink
 * (pixels whose alpha is at least FR_DEMO_INK / 255) as pasted. */
typedef struct FrDemoItem {
    int cls;
    int src;
    int x0, y0, x1, y1;
} FrDemoItem;

#define FR_DEMO_INK 40

/* A rendered scene. rgb is size×size×3 interleaved (row-major); mask is
 * size×size with 0 for background and k+1 where item k's ink is on top.
 * Both are owned by the scene: free with fr_demo_scene_free. */
typedef struct FrDemoScene {
    int size;
    uint8_t *rgb;
    uint8_t *mask;
    int n;
    FrDemoItem items[FR_DEMO_MAX_ITEMS];
} FrDemoScene;

/* ---------------- data set generation ---------------- */

typedef struct FrDemoDataSettings {
    const char *out_dir;    /* default "data"; fmnist-det/ and fmnist-cls/ go under it */
    const char *fmnist_dir; /* default NULL = FR_FMNIST_DIR */
    uint64_t seed;          /* default 1 */
    int det_train;          /* detection train scenes (from the train split), default 4000 */
    int det_test;           /* detection test scenes (from the test split), default 500 */
    int det_size;           /* scene width = height in pixels, default 128 */
    int cls_train;          /* classification train images (first N of the train split), default 20000 */
    int cls_test;           /* classification test images (first N of the test split), default 10000 */
    int cls_size;           /* classification image size (upscaled from 28), default 32 */
    int quiet;              /* 1: no progress on stderr; default 0 */
} FrDemoDataSettings;

void fr_demo_data_defaults(FrDemoDataSettings *s);

/* Writes, under out_dir:
 *   fmnist-det/images/{train,test}/NNNNNN.png   scenes (PNG, RGB)
 *   fmnist-det/labels/{train,test}/NNNNNN.txt   darknet labels: "cls cx cy w h" (normalised)
 *   fmnist-det/fmnist.names, train.list, test.list (absolute image paths)
 *   fmnist-cls/{train,test}/NNNNN_<name>.png    grey items upscaled, 3 channels
 *   fmnist-cls/labels.txt, train.list, test.list
 * Each file is written to a temporary name and renamed. Zero counts skip that
 * part. Errors: FR_E_USAGE (bad settings), FR_E_NOENT/FR_E_FORMAT (Fashion-MNIST),
 * FR_E_IO. */
int fr_demo_data_generate(const FrDemoDataSettings *s, FrError *err);

/* ---------------- training ---------------- */

typedef enum FrTrainKind {
    FR_TRAIN_DETECTOR = 0,   /* region-layer cfg, DETECTION_DATA (labels/ next to images/) */
    FR_TRAIN_CLASSIFIER = 1, /* softmax cfg, CLASSIFICATION_DATA (class name in the path) */
} FrTrainKind;

typedef struct FrTrainSettings {
    FrTrainKind kind;       /* default FR_TRAIN_DETECTOR */
    const char *cfg;        /* darknet cfg; required */
    const char *train_list; /* file with one image path per line; required */
    const char *labels;     /* classifier: class names, one per line; required for classifiers */
    const char *weights;    /* initial weights (fine-tuning), or NULL: a seeded random
                             * initialisation. out_dir's checkpoint, when present, wins over
                             * both, so a killed run resumes. Default NULL. */
    const char *out_dir;    /* checkpoints <cfg base>.backup and final <cfg base>.weights; default "build/train" */
    unsigned seed;          /* seeds darknet's rand(): initial weights, batch sampling and
                             * augmentation (reseeded per batch, so runs repeat exactly). Default 1. */
    int max_batches;        /* 0 = the cfg's max_batches. Default 0. */
    int save_every;         /* checkpoint every N batches, default 100 */
    int quiet;              /* 1: no per-batch log line on stderr; default 0 */
    /* Compression-augmented training (seed 001 §3.3): the output of layer
     * augment_split ("max_7" or "7"; its cut set must be that one tensor)
     * is, for each training image with probability augment_prob, quantized
     * to augment.bits, packed and coded with augment.codec at a QP drawn
     * from augment_qp, decoded and written back in place before the forward
     * continues (fr_feature_encode/decode: the sweep's own path and bits).
     * The backward treats the coding as identity (straight-through). QPs and
     * coin flips come from darknet's rand(), reseeded per batch, so runs
     * repeat and resume exactly. NULL: no augmentation. */
    const char *augment_split;
    const int *augment_qp;  /* n_augment_qp QPs 0..51 (lossy hevc) */
    int n_augment_qp;
    double augment_prob;    /* default 1 */
    FrFeatureSettings augment; /* bits, packing, codec, hevc settings; default fr_feature_defaults */
    int reset_batches;      /* 1: start the batch counter (and so the cfg's lr schedule) at 0
                               after loading weights: fine-tuning; default 0 */
    FrDevice device;        /* FR_DEVICE_GPU: darknet's own GPU training (gpu_index 0:
                               forward_gpu, backward_gpu, update_gpu; the region layer's
                               GPU backward instead of featrd's CPU one); needs the GPU
                               build and a device (fr_gpu_check). Default FR_DEVICE_CPU. */
    /* Filled by fr_train_run (may be read after it returns): */
    double first_loss, last_avg_loss; /* first batch's loss; running average at the end */
    long long coded, passed;          /* features coded / left as they were (augmentation) */
} FrTrainSettings;

void fr_train_defaults(FrTrainSettings *s);

/* Trains until the net's batch counter reaches max_batches, checkpointing
 * every save_every batches (atomically) and writing the final weights.
 * A run killed and started again resumes from the checkpoint. Errors:
 * FR_E_USAGE, FR_E_NOENT (cfg, list, labels), FR_E_FORMAT (list empty, a path
 * matching not exactly one label, wrong last layer), FR_E_MISMATCH (weights or
 * labels of another cfg), FR_E_MODEL (loss became NaN), FR_E_IO. Not thread
 * safe: darknet's rand() state is process-wide. Side effect on the process:
 * it reseeds the C library's rand() (srand from s->seed at the start and
 * once per batch), since darknet samples and augments with rand(). For
 * detectors it replaces the region layer's CPU backward, which darknet 2018
 * leaves empty. */
int fr_train_run(FrTrainSettings *s, FrError *err);

#ifdef __cplusplus
}
#endif
#endif
