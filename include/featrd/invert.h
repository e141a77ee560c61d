/* featrd/invert.h: reconstructing the input image from a split's feature
 * (seed 003's second result, issue #24). A small darknet decoder
 * (convolutional + upsample layers ending in a [cost] layer) maps the
 * dequantized feature of one split to the letterboxed network input; the
 * sweep runs it on every RD point's decoded feature (config `invert:`) and
 * reports the reconstruction's PSNR and SSIM against the input. Training is
 * src/train/train.c in libfeatrd-train.a (darknet's own train_network on
 * batches built in memory); the decoder's forward at sweep time is an FrModel
 * (fr_model_open on the decoder cfg, fr_model_forward on the feature,
 * fr_model_output). */
#ifndef FEATRD_INVERT_H
#define FEATRD_INVERT_H

#include "featrd/common.h"
#include "featrd/container.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum FrInvertLoss {
    FR_INVERT_LOSS_CFG = 0, /* the decoder cfg's [cost] type */
    FR_INVERT_LOSS_L2,      /* darknet's sse */
    FR_INVERT_LOSS_L1,      /* darknet's L1 */
} FrInvertLoss;

typedef struct FrInvertTrainSettings {
    const char *model_cfg;     /* the task network's cfg; required */
    const char *model_weights; /* its weights; NULL: a seeded random initialisation */
    const char *split;         /* layer name ("max_5"); its cut set must be one tensor */
    const char *train_list;    /* image paths, one per line; required */
    const char *decoder_cfg;   /* the decoder; input C×H×W = the split's output, last
                                * layer [cost] on a 3×H×W output = the network input */
    const char *decoder_weights; /* initial decoder weights, or NULL (seeded init); a
                                  * checkpoint in out_dir wins over both. Default NULL. */
    const char *out_dir;       /* <decoder base>.backup and .weights; default "build/train" */
    unsigned seed;             /* darknet's rand(): init, image sampling, coding draws; 1 */
    int max_batches;           /* 0 = the decoder cfg's max_batches */
    int save_every;            /* checkpoint every N batches; default 100 */
    int limit;                 /* use the first N images of the list; 0 = all */
    FrInvertLoss loss;         /* default FR_INVERT_LOSS_CFG */
    int quiet;                 /* no per-batch line on stderr */
    /* Coding noise (the sweep's feature path): with probability code_prob
     * each training feature is quantized to code.bits, packed, coded with
     * code.codec at a QP drawn from code_qp and decoded, so the decoder
     * sees what it sees in the sweep. n_code_qp 0: uncoded (dequantized
     * float) features. */
    FrFeatureSettings code;    /* default fr_feature_defaults */
    const int *code_qp;
    int n_code_qp;
    double code_prob;          /* default 1 */
    /* Filled by fr_invert_train (readable after it returns): */
    double first_loss, last_avg_loss; /* per image: the loss summed over 3·H·W values */
    double last_mse;                  /* last_avg_loss as a per-value MSE (L2 loss only) */
    double seconds;                   /* wall time of this call's batches */
    long long coded, passed;
} FrInvertTrainSettings;

void fr_invert_train_defaults(FrInvertTrainSettings *s);

/* Trains the decoder on (feature, letterboxed input) pairs made in memory
 * batch by batch: for each of net.batch images drawn with darknet's rand()
 * (reseeded per batch from seed and the batch number, so a resumed run
 * repeats exactly), the task network's front half to split, the optional
 * coding, and the image as the network input sees it. darknet's
 * train_network does the step (SGD with the decoder cfg's momentum, decay
 * and lr schedule). Checkpoints every save_every batches; a killed run
 * resumes. Errors: FR_E_USAGE (bad settings, a split with a multi-tensor
 * cut set), FR_E_NOENT, FR_E_FORMAT (a decoder cfg without a final [cost],
 * no images), FR_E_MISMATCH (decoder input or output of another shape than
 * the split's feature and the network input, naming both), FR_E_MODEL (loss
 * NaN). Not thread safe (darknet's rand()). */
int fr_invert_train(FrInvertTrainSettings *s, FrError *err);

/* "models/fmnist-yolo.cfg", "max_5" -> "models/fmnist-yolo-inv-max_5.cfg"
 * (the shipped default decoder of a model and split); ext is ".cfg" or
 * ".weights". Returns snprintf's length. */
int fr_invert_default_path(const char *model_cfg, const char *split, const char *ext, char *buf,
                           size_t cap);

#ifdef __cplusplus
}
#endif
#endif
