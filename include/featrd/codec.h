/* featrd/codec.h: one interface over the inner coders: HEVC (x265 encode,
 * libde265 decode; lossy at constant QP, or lossless) and the general
 * lossless coders (zlib, gzip, bzip2, xz, zstd). Every function is
 * thread-safe: each call opens its own encoder/decoder and keeps no global
 * mutable state, so runner workers may call them in parallel. */
#ifndef FEATRD_CODEC_H
#define FEATRD_CODEC_H

#include "featrd/common.h"
#include "featrd/pack.h"
#include "featrd/schema.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The registry of inner coders. Each coder is one FrCodec, defined in its
 * own file (src/codec/codec_<name>.c) and listed once in src/codec/codec_registry.c;
 * nothing else in featrd names a coder: what the runner, the container, the
 * plots and the config do with it follows from its capabilities and its
 * settings schema. docs/codec.md shows how to add one.
 *
 * Ids are stable: the container (.frd) and the RP weights file store them.
 * Never renumber or reuse one; a new coder takes the next free id. The
 * built-in coders' ids: */
typedef enum FrCodecKind {
    FR_CODEC_HEVC = 0,          /* x265 lossy, constant QP */
    FR_CODEC_HEVC_LOSSLESS = 1, /* x265 --lossless */
    FR_CODEC_ZLIB = 2,          /* zlib format (RFC 1950) */
    FR_CODEC_GZIP = 3,          /* gzip format (RFC 1952) */
    FR_CODEC_BZIP2 = 4,         /* bzip2 */
    FR_CODEC_LZMA = 5,          /* xz container */
    FR_CODEC_ZSTD = 6,          /* zstd frame */
    FR_CODEC_AV1 = 7,           /* libaom all-intra, fixed quantizer */
    FR_CODEC_AV1_LOSSLESS = 8,  /* libaom lossless */
    FR_CODEC_JXL = 9,           /* libjxl lossy (VarDCT), Butteraugli distance */
    FR_CODEC_JXL_LOSSLESS = 10, /* libjxl lossless (modular) */
    FR_CODEC_J2K = 11,          /* OpenJPEG irreversible 9/7 at a compression ratio */
    FR_CODEC_J2K_LOSSLESS = 12, /* OpenJPEG reversible 5/3 */
    FR_CODEC_JPEGLS = 13,       /* CharLS near-lossless, qp = NEAR */
    FR_CODEC_JPEGLS_LOSSLESS = 14, /* CharLS lossless (NEAR = 0) */
} FrCodecKind;

/* Capabilities (FrCodec.caps). */
#define FR_CODEC_LOSSY    0x01u /* a QP trades rate for distortion (a curve per entry) */
#define FR_CODEC_LOSSLESS 0x02u /* decodes to exactly what was coded (one point per entry) */
#define FR_CODEC_BLOCK_QP 0x04u /* QP per frame and per 16x16 block: per-channel allocation */
#define FR_CODEC_BYTES    0x08u /* codes any bytes (float32 features, model weights) */
#define FR_CODEC_ANNEXB   0x10u /* its stream is HEVC Annex-B (featrd frd extract) */
#define FR_CODEC_FRAME_QP 0x40u /* QP per frame (FrQpMap.frame_qp): a QP per channel with
                                 * packing frames */
#define FR_CODEC_X265_QP  0x20u /* its QP is x265's (0..51), so an entry without its own
                                 * qp list takes sweep.qp; other lossy coders must name theirs */

typedef struct FrQpMap FrQpMap; /* below */
struct FrSink; /* where a byte decoder writes (src/codec/codec_internal.h) */

typedef struct FrCodec FrCodec;
struct FrCodec {
    const char *name;          /* the YAML / CLI name, e.g. "zstd" */
    const char *alias;         /* another accepted name ("xz" for lzma), or NULL */
    int id;                    /* stable, see above */
    unsigned caps;             /* FR_CODEC_* */
    int max_bits;              /* deepest picture sample it codes */
    int qp_lo, qp_hi;          /* FR_CODEC_LOSSY: the QP range; a higher QP always codes
                                  coarser (fewer bits, more distortion) */
    const char *qp_doc;        /* FR_CODEC_LOSSY: what its QP means, e.g. "x265 QP" */
    const FrSchema *settings;  /* its settings struct (never NULL; may have no field) */
    const char *summary;       /* one line for `featrd help codecs` and docs/codec.md */
    const char *library;       /* the outside library, e.g. "libzstd" */
    const char *(*version)(void); /* that library's version string */
    /* Pictures (NULL for a byte coder: the samples are then coded as
     * little-endian bytes, 1 per sample up to 8 bits, else 2). settings is
     * the codec's struct; never NULL here. */
    int (*encode)(const FrCodec *c, const void *settings, const FrPicture *pic, const FrQpMap *qp,
                  uint8_t **out, size_t *out_n, FrPicture *recon, FrError *err);
    int (*decode)(const FrCodec *c, const uint8_t *in, size_t n, int width, int height,
                  int frames, int bit_depth, FrPicture *out, FrError *err);
    /* Bytes (FR_CODEC_BYTES; NULL otherwise). decode appends to the sink
     * and fails (FR_E_FORMAT) unless exactly sink->want bytes come out. */
    int (*encode_bytes)(const void *settings, const uint8_t *in, size_t n, uint8_t **out,
                        size_t *out_n, FrError *err);
    int (*decode_bytes)(const uint8_t *in, size_t n, struct FrSink *out, FrError *err);
};

/* The registered coders: fr_codec_at(0 .. fr_codec_count() - 1). */
int fr_codec_count(void);
const FrCodec *fr_codec_at(int i);
/* By name or alias / by id; NULL when none. */
const FrCodec *fr_codec_find(const char *name);
const FrCodec *fr_codec_by_id(int id);
/* fr_codec_find, or FR_E_USAGE "codec 'x' is unknown: use hevc, ...". */
int fr_codec_lookup(const char *name, const FrCodec **out, FrError *err);
/* The codec's settings at their defaults, malloc'ed (caller frees), or NULL. */
void *fr_codec_settings_new(const FrCodec *c);

/* Name <-> id of a registered coder (aliases accepted). */
const char *fr_codec_name(FrCodecKind k);
int fr_codec_from_name(const char *name, FrCodecKind *out, FrError *err);
/* The capabilities of a registered id; 0 for an unknown one. */
unsigned fr_codec_caps(FrCodecKind k);

/* x265 settings for feature pictures. Defaults (fr_hevc_defaults) mimic HM
 * RExt all-intra as used in the feature-coding papers: 4:0:0 input, CTU 16,
 * min CU 8, RDOQ off, psy off, SAO on, every frame intra, exact QP (ipratio
 * 1), no WPP, no info SEI, single-threaded (deterministic). The YAML exposes
 * these fields by the same names. */
typedef struct FrHevcSettings {
    int ctu;            /* CTU size 16, 32 or 64; default 16 */
    int min_cu;         /* minimum CU size 8, 16 or 32; default 8 */
    int rdoq;           /* RDOQ level 0..2; default 0 (off) */
    int psy;            /* psycho-visual tuning (psy-rd 2.0, psy-rdoq 1.0) 0/1; default 0 */
    int sao;            /* sample adaptive offset 0/1; default 1 */
    int deblock;        /* deblocking filter 0/1; default 1 */
    int wpp;            /* wavefront parallel processing 0/1; default 0 */
    int intra;          /* 1: every frame intra (default); 0: one I frame, then P frames */
    int tskip;          /* transform skip 0/1; default 0 */
    char preset[16];    /* x265 preset the above override; default "medium" */
} FrHevcSettings;

/* The HEVC coders' settings schema (FrCodec.settings of hevc and
 * hevc-lossless); the YAML keys of a sweep.codec entry and of an anchor. */
extern const FrSchema fr_hevc_schema;

/* Per-picture QP choices for FR_CODEC_HEVC. qp is 0..51. frame_qp (frames
 * entries) overrides it per frame; block_qp gives one QP per 16×16 block in
 * raster order, frame after frame (frames × ceil(h/16) × ceil(w/16)
 * entries), used for a QP per tile (tiles padded to 16). Both may be NULL. */
typedef struct FrQpMap {
    int qp;
    const int *frame_qp;
    const int *block_qp;
} FrQpMap;

/* Cloud-only anchor: codes an RGB image (3×H×W floats in [0,1]) with x265
 * at constant QP, one intra picture, 8-bit, decodes it with libde265 and
 * converts back to RGB in decoded (allocated here, 3×H×W, caller frees).
 * Colour: BT.601 limited range (Y 16..235, Cb/Cr 16..240); 4:2:0 (chroma =
 * 2×2 mean, replicated back) or 4:0:0 (luma only: the decoded image is
 * grey). Sizes are padded by edge repetition to a multiple of 8 (at least
 * 16) and cropped back. *bytes is the HEVC stream size (headers included;
 * the side information a receiver also needs is FR_ANCHOR_SIDE_BITS).
 * code = 0 skips x265: the image is only converted to YCbCr and back (the
 * `reference-yuv` point: what the conversion alone costs); *bytes is 0. */
typedef struct FrRgbCoding {
    int qp;              /* 0..51; default 32 */
    int chroma;          /* 420 (default) or 400 */
    int code;            /* 1 (default): code; 0: conversion only */
    FrHevcSettings hevc; /* default fr_hevc_defaults(): the features' settings */
} FrRgbCoding;

/* Side information of one anchor image, counted by the rule the features'
 * .frd follows (everything a receiver needs besides the stream): magic 4,
 * version 2, flags 2, codec 1, chroma format 1, QP 1, C/H/W 4+4+4, stream
 * length 4, CRC-32 4 = 31 bytes. */
#define FR_ANCHOR_SIDE_BITS (31 * 8)

#ifdef __cplusplus
}
#endif
#endif
