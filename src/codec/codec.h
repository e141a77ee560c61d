/* codec/codec.h: the library-internal part of module codec: functions that other
 * modules of libfeatrd and the tests use, which are not part of the public
 * API (include/featrd/codec.h) and are not installed. The CLI cannot include
 * this (it is built without -Isrc). */
#ifndef FR_INTERNAL_CODEC_CODEC_H
#define FR_INTERNAL_CODEC_CODEC_H

#include "featrd/codec.h"

/* Appends the codec's settings (NULL: its defaults) to buf as
 * "<sep>key=value", every field (all = 1) or those off their defaults
 * (all = 0), schema order (fr_schema_format). */
void fr_codec_settings_format(const FrCodec *c, const void *settings, int all, const char *sep,
                              char *buf, size_t cap);

/* "hevc" or, with settings that differ from the defaults, "hevc+ctu=32+rdoq=2"
 * (every non-default field, schema order): the codec axis of curve names. */
void fr_codec_label(const FrCodec *c, const void *settings, char *buf, size_t cap);

/* True for the coders that code any bytes (FR_CODEC_BYTES). */
int fr_codec_is_general(FrCodecKind k);

void fr_hevc_defaults(FrHevcSettings *s);

/* Checks ranges; the error names the field (e.g. "hevc.ctu"). */
int fr_hevc_validate(const FrHevcSettings *s, FrError *err);

/* Codes a picture set. HEVC: an Annex-B stream (headers once, then one
 * access unit per frame); lossless coders: the samples as little-endian
 * bytes (1 byte each up to 8 bits, else 2) through the coder. settings is
 * the codec's settings struct (FrHevcSettings for hevc; see FrCodec.settings),
 * NULL for its defaults; qp is ignored by lossless coders. *out is malloc'ed
 * (caller frees). recon, if non-NULL, receives the encoder's reconstruction
 * (allocated here; caller frees with fr_picture_free). */
int fr_picture_encode(FrCodecKind k, const FrPicture *pic, const FrQpMap *qp,
                      const void *settings, uint8_t **out, size_t *out_n, FrPicture *recon,
                      FrError *err);

/* Decodes into out (allocated here) the picture set of the given geometry;
 * a stream that does not match it is FR_E_FORMAT. */
int fr_picture_decode(FrCodecKind k, const uint8_t *in, size_t n, int width, int height, int frames,
                      int bit_depth, FrPicture *out, FrError *err);

/* Raw lossless coding of any bytes (seed 000 codes float32 features
 * directly; model compression codes weights). The output stores the
 * original length in an 8-byte little-endian prefix so decode needs no side
 * channel. k must be a general coder. settings: the coder's (NULL: its
 * defaults, each library's default level). *out is malloc'ed (caller frees). */
int fr_lossless_encode(FrCodecKind k, const void *in, size_t n, uint8_t **out, size_t *out_n,
                       FrError *err);
int fr_lossless_encode_with(FrCodecKind k, const void *settings, const void *in, size_t n,
                            uint8_t **out, size_t *out_n, FrError *err);
int fr_lossless_decode(FrCodecKind k, const uint8_t *in, size_t n, uint8_t **out, size_t *out_n,
                       FrError *err);

void fr_rgb_coding_defaults(FrRgbCoding *s);
int fr_rgb_code(const FrTensor *rgb, const FrRgbCoding *s, size_t *bytes, FrTensor *decoded,
                FrError *err);

/* fr_rgb_code with the defaults and this QP. */
int fr_hevc_code_rgb(const FrTensor *rgb, int qp, size_t *bytes, FrTensor *decoded, FrError *err);

#endif
