/* codec_testutil.h: helpers the picture-coder tests share (test_codec_j2k.c,
 * test_codec_jpegls.c): test pictures, their MSE, a coding checked against
 * the encoder's reconstruction, a decoder run under a time limit, and the
 * byte readers of their stream checks. */
#ifndef FEATRD_CODEC_TESTUTIL_H
#define FEATRD_CODEC_TESTUTIL_H

#include "testutil.h"
#include "codec/codec.h"
#include "codec/pack.h"

/* frames x h x w at `bits`: smooth (a slow 2-D wave, as packed features
 * look up close) or random (every bit of every sample is noise). */
static inline void picture(FrPicture *p, int w, int h, int frames, int bits, int smooth,
                           uint32_t seed)
{
    assert_int_equal(fr_picture_alloc(p, w, h, frames, bits), 0);
    uint32_t top = (1u << bits) - 1u;
    for (int f = 0; f < frames; f++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double v = 0.5 + 0.4 * sin(0.15 * x + f) * cos(0.11 * y - 0.3 * f);
                size_t i = ((size_t)f * h + y) * w + x;
                p->samples[i] = smooth ? (uint16_t)lrint(v * top) : (uint16_t)(tu_lcg(&seed) & top);
            }
}

static inline double mse(const FrPicture *a, const FrPicture *b)
{
    size_t n = (size_t)a->width * a->height * a->frames;
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a->samples[i] - b->samples[i];
        s += d * d;
    }
    return s / (double)n;
}

static inline size_t samples_bytes(const FrPicture *p)
{
    return (size_t)p->width * p->height * p->frames * sizeof(uint16_t);
}

/* Codes pic, checks that the decoder gives the encoder's reconstruction,
 * and returns the stream (*code, *n) and the decoded picture. */
static inline void code_and_decode(FrCodecKind k, const FrPicture *pic, int qp,
                                   const void *settings, uint8_t **code, size_t *n, FrPicture *dec)
{
    FrQpMap m = {qp, NULL, NULL};
    FrPicture rec;
    FrError e;
    int rc = fr_picture_encode(k, pic, &m, settings, code, n, &rec, &e);
    if (rc)
        fail_msg("%s %dx%dx%d %d-bit qp %d: %s", fr_codec_name(k), pic->width, pic->height,
                 pic->frames, pic->bit_depth, qp, e.msg);
    rc = fr_picture_decode(k, *code, *n, pic->width, pic->height, pic->frames, pic->bit_depth, dec,
                           &e);
    if (rc)
        fail_msg("%s: decode: %s", fr_codec_name(k), e.msg);
    assert_memory_equal(dec->samples, rec.samples, samples_bytes(pic));
    fr_picture_free(&rec);
}

/* Runs fn(arg) in a child that SIGALRM ends after `secs`: a decoder that
 * loops forever fails the test instead of stopping it. */
static inline int in_child(int (*fn)(void *), void *arg, unsigned secs)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(secs);
        _exit(fn(arg) & 0xff);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    if (WIFSIGNALED(st))
        return 256 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

static inline size_t leb128_len(size_t v)
{
    size_t k = 1;
    while (v >>= 7)
        k++;
    return k;
}

static inline unsigned rd16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

#endif
