/* featrd/container.h: coding a whole feature (every tensor of a split's cut
 * set) into one self-describing .frd container, and decoding it back. The
 * byte layout is in docs/codec.md. Thread-safe. */
#ifndef FEATRD_CONTAINER_H
#define FEATRD_CONTAINER_H

#include "featrd/codec.h"
#include "featrd/common.h"
#include "featrd/pack.h"
#include "featrd/quant.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bits 32 means "no Q-layer": float32 samples coded by a general lossless
 * coder (seed 000's lossless baseline). */
#define FR_BITS_FLOAT 32

typedef struct FrFeatureSettings {
    int bits;              /* 1..16, or FR_BITS_FLOAT; default 8 */
    FrRangeMode range;     /* default FR_RANGE_TENSOR */
    int relu_min0;         /* min taken as 0 and not sent; default 0 */
    FrPacking packing;     /* default FR_PACK_TILE */
    int tile_pad;          /* 0, 8 or 16; default 0 (forced to 16 with channel_qp + tile) */
    FrCodecKind codec;     /* default FR_CODEC_HEVC */
    int qp;                /* 0..51; default 32 */
    const void *codec_settings; /* the codec's settings struct (FrCodec.settings;
                              FrHevcSettings for hevc), NULL = its defaults;
                              not owned, must stay valid while s is used */
    /* Optional QP per channel (hevc lossy; tile or frames packing), one per
     * channel of every cut tensor, in cut order; NULL = uniform qp. Not
     * owned; must stay valid during fr_feature_encode. */
    const int *channel_qp;
    int n_channel_qp;
} FrFeatureSettings;

void fr_feature_defaults(FrFeatureSettings *s);
/* Checks every field; the error names it (e.g. "bits", "hevc.ctu"). */
int fr_feature_validate(const FrFeatureSettings *s, FrError *err);

/* Bit accounting for one coded feature. */
typedef struct FrBitStats {
    uint64_t total_bits;   /* container bytes × 8 */
    uint64_t payload_bits; /* coded sample streams only */
    uint64_t side_bits;    /* everything else: header, shapes, min/max, QPs, CRC */
    double encode_seconds; /* Q + pack + code + container, wall clock */
} FrBitStats;

#define FR_MAX_CUTS 16
#define FR_MAX_SPLIT_NAME 255

/* What a container says about itself. */
typedef struct FrFeatureInfo {
    char split_name[FR_MAX_SPLIT_NAME + 1];
    int ncuts;
    int c[FR_MAX_CUTS], h[FR_MAX_CUTS], w[FR_MAX_CUTS];
    int bits;
    FrRangeMode range;
    int relu_min0;
    FrPacking packing;
    int tile_pad;
    FrCodecKind codec;
    int qp;                /* base QP (hevc lossy), else 0 */
    int has_channel_qp;
    FrBitStats bits_stats; /* from the container sizes; encode_seconds 0 */
    double decode_seconds;
} FrFeatureInfo;

/* Codes ncuts tensors (1..FR_MAX_CUTS; each its own sub-stream) into a
 * complete .frd container in *frd (malloc'ed, caller frees). bits and info
 * may be NULL. split_name may be NULL (stored empty). */
int fr_feature_encode(const FrTensor *cuts, int ncuts, const char *split_name,
                      const FrFeatureSettings *s, uint8_t **frd, size_t *frd_len,
                      FrBitStats *bits, FrError *err);

/* Parses and decodes a container: *cuts is a malloc'ed array of *ncuts
 * tensors (caller frees each with fr_tensor_free, then free(*cuts)). info
 * may be NULL. Truncated or corrupted input is FR_E_FORMAT (checked by
 * lengths and a CRC-32), never a crash. */
int fr_feature_decode(const uint8_t *frd, size_t len, FrTensor **cuts, int *ncuts,
                      FrFeatureInfo *info, FrError *err);
/* The same for a container from outside (a file a user hands featrd): its
 * lengths, shapes and CRC are checked as above, and every picture is then
 * decoded by fr_picture_decode_contained, so no stream can hang or crash
 * the process (FR_E_FORMAT instead). `featrd decode` uses it; featrd's own
 * runs decode their own streams with fr_feature_decode. Forks. */
int fr_feature_decode_untrusted(const uint8_t *frd, size_t len, FrTensor **cuts, int *ncuts,
                                FrFeatureInfo *info, FrError *err);

/* Reads just the header (no decoding) of a container. */
int fr_feature_probe(const uint8_t *frd, size_t len, FrFeatureInfo *info, FrError *err);

/* One cut tensor's coded stream inside a container, found without decoding:
 * for HEVC codecs the payload is a plain Annex-B stream that any HEVC
 * decoder (ffmpeg, dec265) decodes to layout.frames 4:0:0 pictures of
 * layout.width × layout.height at info.bits. (Pictures narrower or lower
 * than one CTU are coded padded to one CTU: such a decoder's output is to be
 * cropped to the top-left width × height.) The samples are the Q-layer
 * output; layout says where each channel sits. */
typedef struct FrFeatureStream {
    int c, h, w;
    FrPackLayout layout;    /* zeroed for bits 32 */
    float min, max;         /* the tensor's range (range tensor; min 0 with relu_min0);
                               NaN for range channel and bits 32 */
    const uint8_t *payload; /* points into the container: valid while it is */
    size_t payload_n;
} FrFeatureStream;

/* Fills info and streams[0 .. info->ncuts - 1] (streams has room for
 * FR_MAX_CUTS). Corrupt input: FR_E_FORMAT, as fr_feature_probe. */
int fr_feature_streams(const uint8_t *frd, size_t len, FrFeatureInfo *info,
                       FrFeatureStream *streams, FrError *err);

#ifdef __cplusplus
}
#endif
#endif
