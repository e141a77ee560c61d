/* featrd/codec.h: one interface over the inner coders: HEVC (x265 encode,
 * libde265 decode; lossy at constant QP, or lossless) and the general
 * lossless coders (zlib, gzip, bzip2, xz, zstd). Every function is
 * thread-safe: each call opens its own encoder/decoder and keeps no global
 * mutable state, so runner workers may call them in parallel. */
#ifndef FEATRD_CODEC_H
#define FEATRD_CODEC_H

#include "featrd/common.h"
#include "featrd/pack.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum FrCodecKind {
    FR_CODEC_HEVC = 0,          /* x265 lossy, constant QP */
    FR_CODEC_HEVC_LOSSLESS = 1, /* x265 --lossless */
    FR_CODEC_ZLIB = 2,          /* zlib format (RFC 1950), level 6 */
    FR_CODEC_GZIP = 3,          /* gzip format (RFC 1952), level 6 */
    FR_CODEC_BZIP2 = 4,         /* bzip2, block size 9 */
    FR_CODEC_LZMA = 5,          /* xz container, preset 6 */
    FR_CODEC_ZSTD = 6,          /* zstd frame, level 3 */
} FrCodecKind;
#define FR_CODEC_COUNT 7

/* Name <-> enum: hevc, hevc-lossless, zlib, gzip, bzip2, lzma, zstd
 * ("xz" is accepted for lzma). The error lists the valid names. */
const char *fr_codec_name(FrCodecKind k);
int fr_codec_from_name(const char *name, FrCodecKind *out, FrError *err);
/* True for the coders that are not HEVC (they code any bytes). */
int fr_codec_is_general(FrCodecKind k);

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

void fr_hevc_defaults(FrHevcSettings *s);
/* Checks ranges; the error names the field (e.g. "hevc.ctu"). */
int fr_hevc_validate(const FrHevcSettings *s, FrError *err);

/* Per-picture QP choices for FR_CODEC_HEVC. qp is 0..51. frame_qp (frames
 * entries) overrides it per frame; block_qp gives one QP per 16×16 block in
 * raster order, frame after frame (frames × ceil(h/16) × ceil(w/16)
 * entries), used for a QP per tile (tiles padded to 16). Both may be NULL. */
typedef struct FrQpMap {
    int qp;
    const int *frame_qp;
    const int *block_qp;
} FrQpMap;

/* Codes a picture set. HEVC: an Annex-B stream (headers once, then one
 * access unit per frame); lossless coders: the samples as little-endian
 * bytes (1 byte each up to 8 bits, else 2) through the coder. hevc may be
 * NULL (defaults); qp is ignored by lossless coders. *out is malloc'ed
 * (caller frees). recon, if non-NULL, receives the encoder's reconstruction
 * (allocated here; caller frees with fr_picture_free). */
int fr_picture_encode(FrCodecKind k, const FrPicture *pic, const FrQpMap *qp,
                      const FrHevcSettings *hevc, uint8_t **out, size_t *out_n, FrPicture *recon,
                      FrError *err);
/* Decodes into out (allocated here) the picture set of the given geometry;
 * a stream that does not match it is FR_E_FORMAT. */
int fr_picture_decode(FrCodecKind k, const uint8_t *in, size_t n, int width, int height, int frames,
                      int bit_depth, FrPicture *out, FrError *err);

/* Raw lossless coding of any bytes (seed 000 codes float32 features
 * directly; model compression codes weights). The output stores the
 * original length in an 8-byte little-endian prefix so decode needs no side
 * channel. k must be a general coder. Each library's default level. *out is
 * malloc'ed (caller frees). */
int fr_lossless_encode(FrCodecKind k, const void *in, size_t n, uint8_t **out, size_t *out_n,
                       FrError *err);
int fr_lossless_decode(FrCodecKind k, const uint8_t *in, size_t n, uint8_t **out, size_t *out_n,
                       FrError *err);

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

void fr_rgb_coding_defaults(FrRgbCoding *s);
int fr_rgb_code(const FrTensor *rgb, const FrRgbCoding *s, size_t *bytes, FrTensor *decoded,
                FrError *err);
/* fr_rgb_code with the defaults and this QP. */
int fr_hevc_code_rgb(const FrTensor *rgb, int qp, size_t *bytes, FrTensor *decoded, FrError *err);

/* Side information of one anchor image, counted by the rule the features'
 * .frd follows (everything a receiver needs besides the stream): magic 4,
 * version 2, flags 2, codec 1, chroma format 1, QP 1, C/H/W 4+4+4, stream
 * length 4, CRC-32 4 = 31 bytes. */
#define FR_ANCHOR_SIDE_BITS (31 * 8)

#ifdef __cplusplus
}
#endif
#endif
