/* codec_internal.h: the adapters behind featrd/codec.h, one file per outside
 * library (codec_x265.c, codec_de265.c, codec_zlib.c, codec_bzip2.c,
 * codec_lzma.c, codec_zstd.c), and what the coders share. Each coder file
 * defines its FrCodec (featrd/codec.h); codec_registry.c lists them. All
 * are thread-safe; outputs are malloc'ed unless said otherwise. */
#ifndef FEATRD_CODEC_INTERNAL_H
#define FEATRD_CODEC_INTERNAL_H

#include "featrd/codec.h"
#include "codec/codec.h"

/* x265: codes a 4:0:0 picture set (bit depth 1..12; coded at the smallest of
 * 8/10/12 that holds it). lossless selects --lossless (qp ignored). recon may
 * be NULL. */
int fr_x265_encode_mono(const FrPicture *pic, const FrQpMap *qp, const FrHevcSettings *s,
                        int lossless, uint8_t **out, size_t *out_n, FrPicture *recon,
                        FrError *err);
/* x265: one 8-bit 4:2:0 picture (y: w×h, u/v: (w/2)×(h/2); w, h even),
 * intra at constant qp with the settings s (NULL: fr_hevc_defaults), the
 * CTU reduced to the largest the picture holds. */
int fr_x265_encode_i420(const uint8_t *y, const uint8_t *u, const uint8_t *v, int w, int h, int qp,
                        const FrHevcSettings *s, uint8_t **out, size_t *out_n, FrError *err);

/* The two calls above keep, per thread, up to 4 x265 encoders open for
 * one-frame pictures and code later pictures with the same x265 settings
 * on them; each stream is byte-identical to a fresh encoder's (parameter
 * sets and an IDR first, docs/codec.md "x265 encoder reuse"). A thread's
 * encoders are closed when it exits or calls fr_x265_release(), and are
 * never shared. FR_X265_REUSE=0 in the environment turns reuse off. */

/* Turns reuse on (1, the default) or off (0: a fresh encoder per picture,
 * as the tests' reference) for the calling thread; returns the previous
 * setting. */
int fr_x265_reuse(int on);
/* Closes the calling thread's kept encoders (the runner calls it at the end
 * of a run; worker threads' are closed at their exit). */
void fr_x265_release(void);

/* The calling thread's counts since it started. */
typedef struct FrX265Stats {
    long opened;   /* encoders opened into the cache */
    long reused;   /* pictures coded on an encoder opened before */
    long fixed;    /* of those, streams whose slice header bit was rewritten */
    long fallback; /* pictures coded again on a fresh encoder (header unread) */
} FrX265Stats;
void fr_x265_stats(FrX265Stats *st);

/* libde265: decodes a 4:0:0 stream that must hold exactly `frames` pictures
 * of width×height at a bit depth that holds bit_depth; samples above
 * 2^bit_depth - 1 are an error. out is allocated here. */
int fr_de265_decode_mono(const uint8_t *in, size_t n, int width, int height, int frames,
                         int bit_depth, FrPicture *out, FrError *err);
/* libde265: one 8-bit 4:2:0 picture into caller buffers of the sizes above. */
int fr_de265_decode_i420(const uint8_t *in, size_t n, int w, int h, uint8_t *y, uint8_t *u,
                         uint8_t *v, FrError *err);

/* Where a general decoder writes: the buffer grows as bytes come out (so a
 * corrupt or hostile header cannot make featrd allocate more than the
 * stream really holds), never past want + 1 (the spare byte tells a stream
 * that is too long). */
typedef struct FrSink {
    uint8_t *p;
    size_t n, cap, want;
} FrSink;

/* Makes room after p[n]: 0, 1 when want + 1 bytes are there already, or
 * FR_E_NOMEM. */
int fr_sink_room(FrSink *s);

/* Raw deflate (a ZIP member, as in numpy's .npz) into exactly out_n bytes;
 * anything else is FR_E_FORMAT. */
int fr_zlib_inflate_raw(const uint8_t *in, size_t n, uint8_t *out, size_t out_n, FrError *err);

/* The settings of the general coders: one compression level (-1: the
 * library's default); each coder's schema gives its range. */
typedef struct FrLevelSettings {
    int level;
} FrLevelSettings;

/* Image coders (JPEG XL, JPEG 2000, JPEG-LS, AV1 still pictures) code a
 * picture set one frame at a time. The frames' streams are joined in frame
 * order, each but the last preceded by its length as a LEB128 varint (a
 * single frame is its stream alone); those bytes are part of the stream and
 * so counted in every rate.
 *
 * FrFrameEncode codes one frame (frame->frames == 1) at quality qp (the
 * frame's QP: qp->frame_qp[f] when given, else qp->qp; 0 for a lossless
 * coder) into *out (malloc'ed). recon, when not NULL, is an allocated frame
 * of the same geometry to fill with the encoder's reconstruction; a coder
 * without one fills it by decoding its own stream.
 * FrFrameDecode decodes one frame's stream into samples (width × height,
 * row-major), failing (FR_E_FORMAT) on any other geometry, bit depth, or a
 * sample above 2^bit_depth - 1. */
typedef int (*FrFrameEncode)(const FrCodec *c, const void *settings, const FrPicture *frame,
                             int qp, uint8_t **out, size_t *out_n, FrPicture *recon,
                             FrError *err);
typedef int (*FrFrameDecode)(const FrCodec *c, const uint8_t *in, size_t n, int width,
                             int height, int bit_depth, uint16_t *samples, FrError *err);

/* Codes pic frame by frame with enc (QP per frame as above; a block_qp map
 * is refused: FR_E_USAGE naming the coder) and joins the streams. */
int fr_frames_encode(const FrCodec *c, const void *settings, const FrPicture *pic,
                     const FrQpMap *qp, FrFrameEncode enc, uint8_t **out, size_t *out_n,
                     FrPicture *recon, FrError *err);
/* Splits a joined stream and decodes each frame with dec into out
 * (allocated here); the stream must hold exactly `frames` frames. */
int fr_frames_decode(const FrCodec *c, const uint8_t *in, size_t n, int width, int height,
                     int frames, int bit_depth, FrFrameDecode dec, FrPicture *out, FrError *err);

/* The libraries' version strings. */
const char *fr_x265_version(void);
const char *fr_de265_version(void);

/* zlib: a whole gzip file, decompressed (at most max bytes, else
 * FR_E_FORMAT); *data malloc'ed. */
int fr_gzip_read_file(const char *path, size_t max, uint8_t **data, size_t *n, FrError *err);

/* CRC-32 (zlib's polynomial), for the container. */
uint32_t fr_zlib_crc32(const uint8_t *p, size_t n);

/* fr_picture_decode for a stream from outside featrd: the decoder runs in a child
 * process (fork) whose CPU time is bounded by fr_decode_limit_s, so a coder
 * library that never returns on a hostile stream (CharLS 2.4 has such
 * inputs, fixed in CharLS 3; OpenJPEG 2.5.0, CVE-2023-39327) or crashes on
 * one gives FR_E_FORMAT naming the coder, not a hang or a crash. The
 * samples come back through shared memory. fork: call it where that is
 * safe (a single-threaded process, as `featrd decode`). */
int fr_picture_decode_contained(FrCodecKind k, const uint8_t *in, size_t n, int width, int height,
                                int frames, int bit_depth, FrPicture *out, FrError *err);
/* CPU seconds a contained decode of `samples` samples may take:
 * $FEATRD_DECODE_LIMIT_S (1..86400) when set, else 10 + 1 per Msample. */
double fr_decode_limit_s(size_t samples);

#endif
