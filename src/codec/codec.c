/* codec.c: the coder interface over the registry (codec_registry.c): lookup
 * by name and id, picture encode/decode dispatch (a byte coder codes the
 * samples as little-endian bytes), raw lossless coding of any bytes, and the
 * cloud-only RGB anchor. */
#define _GNU_SOURCE
#include "codec/codec_internal.h"
#include "codec/codec.h"
#include "codec/pack.h"
#include "util/schema.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const FrCodec *fr_codec_find(const char *name)
{
    for (int i = 0; name && i < fr_codec_count(); i++) {
        const FrCodec *c = fr_codec_at(i);
        if (!strcmp(name, c->name) || (c->alias && !strcmp(name, c->alias)))
            return c;
    }
    return NULL;
}

const FrCodec *fr_codec_by_id(int id)
{
    for (int i = 0; i < fr_codec_count(); i++)
        if (fr_codec_at(i)->id == id)
            return fr_codec_at(i);
    return NULL;
}

int fr_codec_lookup(const char *name, const FrCodec **out, FrError *err)
{
    if ((*out = fr_codec_find(name)))
        return 0;
    char list[400] = "";
    size_t k = 0;
    int n = fr_codec_count();
    for (int i = 0; i < n && k < sizeof list; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ",
                              fr_codec_at(i)->name);
    return fr_error(err, FR_E_USAGE, "codec '%s' is unknown: use %s", name ? name : "(null)", list);
}

void *fr_codec_settings_new(const FrCodec *c)
{
    void *p = calloc(1, c->settings->size ? c->settings->size : 1);
    if (p)
        fr_schema_defaults(c->settings, p);
    return p;
}

const char *fr_codec_name(FrCodecKind k)
{
    const FrCodec *c = fr_codec_by_id((int)k);
    return c ? c->name : NULL;
}

int fr_codec_from_name(const char *name, FrCodecKind *out, FrError *err)
{
    const FrCodec *c;
    int rc = fr_codec_lookup(name, &c, err);
    if (!rc)
        *out = (FrCodecKind)c->id;
    return rc;
}

unsigned fr_codec_caps(FrCodecKind k)
{
    const FrCodec *c = fr_codec_by_id((int)k);
    return c ? c->caps : 0;
}

int fr_codec_is_general(FrCodecKind k)
{
    return (fr_codec_caps(k) & FR_CODEC_BYTES) != 0;
}

/* The codec's settings, or its defaults in def (which holds
 * FR_SETTINGS_MAX bytes); NULL when the defaults do not fit there. */
#define FR_SETTINGS_MAX 512
static const void *settings_or_default(const FrCodec *c, const void *settings, void *def)
{
    if (settings)
        return settings;
    if (c->settings->size > FR_SETTINGS_MAX)
        return NULL;
    fr_schema_defaults(c->settings, def);
    return def;
}

static int settings_too_large(const FrCodec *c, FrError *err)
{
    return fr_error(err, FR_E_INTERNAL, "%s: its settings struct (%zu bytes) is larger than "
                    "FR_SETTINGS_MAX: pass the settings", c->name, c->settings->size);
}

void fr_codec_settings_format(const FrCodec *c, const void *settings, int all, const char *sep,
                              char *buf, size_t cap)
{
    _Alignas(16) unsigned char def[FR_SETTINGS_MAX];
    const void *s = settings_or_default(c, settings, def);
    if (s)
        fr_schema_format(c->settings, s, all, sep, buf, cap);
}

void fr_codec_label(const FrCodec *c, const void *settings, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", c->name);
    fr_codec_settings_format(c, settings, 0, "+", buf, cap);
}

static int general_encode(const FrCodec *c, const void *settings, const uint8_t *in, size_t n,
                          uint8_t **out, size_t *out_n, FrError *err)
{
    if (!c || !(c->caps & FR_CODEC_BYTES) || !c->encode_bytes)
        return fr_error(err, FR_E_USAGE, "codec '%s' is not a general lossless coder",
                        c ? c->name : "?");
    _Alignas(16) unsigned char def[FR_SETTINGS_MAX];
    if (!(settings = settings_or_default(c, settings, def)))
        return settings_too_large(c, err);
    int rc = fr_schema_validate(c->settings, settings, err);
    return rc ? rc : c->encode_bytes(settings, in, n, out, out_n, err);
}

int fr_sink_room(FrSink *s)
{
    if (s->n < s->cap)
        return 0;
    if (s->cap > s->want)
        return 1;
    size_t cap = s->cap < 65536 ? 65536 : s->cap * 2;
    if (cap > s->want + 1 || cap < s->cap)
        cap = s->want + 1;
    uint8_t *p = realloc(s->p, cap);
    if (!p)
        return FR_E_NOMEM;
    s->p = p;
    s->cap = cap;
    return 0;
}

/* Decodes exactly want bytes into a buffer that grows with the output
 * (*out: malloc'ed, caller frees; NULL on error). */
static int general_decode(const FrCodec *c, const uint8_t *in, size_t n, uint8_t **out,
                          size_t want, FrError *err)
{
    FrSink s = {NULL, 0, 0, want};
    int rc;
    *out = NULL;
    if (!c || !(c->caps & FR_CODEC_BYTES) || !c->decode_bytes)
        rc = fr_error(err, FR_E_USAGE, "codec '%s' is not a general lossless coder",
                      c ? c->name : "?");
    else
        rc = c->decode_bytes(in, n, &s, err);
    if (!rc && !s.p && !(s.p = malloc(1)))
        rc = fr_error(err, FR_E_NOMEM, "decode: out of memory");
    if (rc) {
        free(s.p);
        return rc;
    }
    *out = s.p;
    return 0;
}

int fr_picture_encode(FrCodecKind k, const FrPicture *pic, const FrQpMap *qp,
                      const void *settings, uint8_t **out, size_t *out_n, FrPicture *recon,
                      FrError *err)
{
    *out = NULL;
    *out_n = 0;
    if (recon)
        memset(recon, 0, sizeof *recon);
    const FrCodec *c = fr_codec_by_id((int)k);
    if (!c)
        return fr_error(err, FR_E_USAGE, "encode: unknown codec %d", (int)k);
    if (!pic || !pic->samples || pic->width <= 0 || pic->height <= 0 || pic->frames <= 0 ||
        pic->bit_depth < 1 || pic->bit_depth > 16)
        return fr_error(err, FR_E_USAGE, "encode: empty or invalid picture");
    if (pic->bit_depth > c->max_bits)
        return fr_error(err, FR_E_USAGE, "%s codes at most %d-bit samples, not %d", c->name,
                        c->max_bits, pic->bit_depth);
    _Alignas(16) unsigned char def[FR_SETTINGS_MAX];
    if (!(settings = settings_or_default(c, settings, def)))
        return settings_too_large(c, err);
    if (c->encode)
        return c->encode(c, settings, pic, qp, out, out_n, recon, err);
    /* a byte coder: the samples as little-endian bytes */
    size_t ns = (size_t)pic->width * pic->height * pic->frames;
    int wide = pic->bit_depth > 8;
    uint8_t *raw = malloc(ns * (wide ? 2 : 1));
    if (!raw)
        return fr_error(err, FR_E_NOMEM, "encode: out of memory");
    for (size_t i = 0; i < ns; i++) {
        if (wide) {
            raw[2 * i] = (uint8_t)(pic->samples[i] & 0xff);
            raw[2 * i + 1] = (uint8_t)(pic->samples[i] >> 8);
        } else {
            raw[i] = (uint8_t)pic->samples[i];
        }
    }
    int rc = general_encode(c, settings, raw, ns * (wide ? 2 : 1), out, out_n, err);
    if (!rc && recon && (rc = fr_picture_alloc(recon, pic->width, pic->height, pic->frames,
                                               pic->bit_depth)) == 0)
        memcpy(recon->samples, pic->samples, ns * sizeof(uint16_t));
    else if (rc == FR_E_NOMEM)
        fr_error(err, rc, "encode: out of memory");
    free(raw);
    if (rc) {
        free(*out);
        *out = NULL;
        *out_n = 0;
    }
    return rc;
}

int fr_picture_decode(FrCodecKind k, const uint8_t *in, size_t n, int width, int height, int frames,
                      int bit_depth, FrPicture *out, FrError *err)
{
    memset(out, 0, sizeof *out);
    const FrCodec *c = fr_codec_by_id((int)k);
    if (!c)
        return fr_error(err, FR_E_FORMAT, "decode: unknown codec %d", (int)k);
    if (c->decode)
        return c->decode(c, in, n, width, height, frames, bit_depth, out, err);
    if (width <= 0 || height <= 0 || frames <= 0 ||
        (uint64_t)width * (uint64_t)height > ((uint64_t)1 << 34) / (uint64_t)frames)
        return fr_error(err, FR_E_FORMAT, "decode: bad picture size %dx%dx%d", width, height, frames);
    size_t ns = (size_t)width * height * frames;
    int wide = bit_depth > 8;
    /* decoded first, so a shape the payload does not hold allocates nothing */
    uint8_t *raw = NULL;
    int rc = general_decode(c, in, n, &raw, ns * (wide ? 2 : 1), err);
    if (rc)
        return rc;
    rc = fr_picture_alloc(out, width, height, frames, bit_depth);
    if (rc) {
        free(raw);
        return fr_error(err, rc == FR_E_NOMEM ? rc : FR_E_FORMAT,
                        "decode: cannot hold %dx%dx%d %d-bit pictures", width, height, frames,
                        bit_depth);
    }
    uint16_t top = (uint16_t)((1u << bit_depth) - 1u);
    for (size_t i = 0; !rc && i < ns; i++) {
        uint16_t v = wide ? (uint16_t)(raw[2 * i] | raw[2 * i + 1] << 8) : raw[i];
        if (v > top)
            rc = fr_error(err, FR_E_FORMAT, "decode: sample %zu is %u, above the %d-bit maximum",
                          i, v, bit_depth);
        out->samples[i] = v;
    }
    free(raw);
    if (rc)
        fr_picture_free(out);
    return rc;
}

/* ---- decoding untrusted streams in a child ---- */

/* What the child hands back: its verdict, and the samples after it. */
typedef struct Contained {
    int rc;
    int width, height, frames, bit_depth;
    char msg[sizeof(((FrError *)0)->msg)];
} Contained;

double fr_decode_limit_s(size_t samples)
{
    const char *v = getenv("FEATRD_DECODE_LIMIT_S");
    char *end;
    double lim = v ? strtod(v, &end) : 0;
    if (v && end != v && !*end && lim >= 1 && lim <= 86400)
        return lim;
    /* the slowest coder here (OpenJPEG) decodes > 5 Msamples/s on this
     * machine: 10 s and 1 s per Msample is a bound no valid stream meets */
    return 10.0 + (double)samples / 1e6;
}

int fr_picture_decode_contained(FrCodecKind k, const uint8_t *in, size_t n, int width, int height,
                                int frames, int bit_depth, FrPicture *out, FrError *err)
{
    memset(out, 0, sizeof *out);
    const FrCodec *c = fr_codec_by_id((int)k);
    if (!c)
        return fr_error(err, FR_E_FORMAT, "decode: unknown codec %d", (int)k);
    if (width <= 0 || height <= 0 || frames <= 0 ||
        (uint64_t)width * (uint64_t)height > ((uint64_t)1 << 34) / (uint64_t)frames)
        return fr_error(err, FR_E_FORMAT, "decode: bad picture size %dx%dx%d", width, height, frames);
    size_t ns = (size_t)width * height * frames, bytes = sizeof(Contained) + ns * sizeof(uint16_t);
    double limit = fr_decode_limit_s(ns);
    Contained *shm = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shm == MAP_FAILED)
        return fr_error(err, FR_E_NOMEM, "decode: no memory for a %dx%dx%d picture", width, height,
                        frames);
    shm->rc = FR_E_FORMAT;
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC)) {
        munmap(shm, bytes);
        return fr_error(err, FR_E_IO, "decode: pipe: %s", strerror(errno));
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(pfd[0]);
        close(pfd[1]);
        munmap(shm, bytes);
        return fr_error(err, FR_E_IO, "decode: fork: %s", strerror(e));
    }
    if (pid == 0) {
        /* the decoder's CPU time is bounded: a loop it never leaves ends
         * with SIGXCPU; the parent's signal handlers are not ours to run */
        close(pfd[0]);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGXCPU, SIG_DFL);
        rlim_t cpu = (rlim_t)ceil(limit);
        struct rlimit rl = {cpu, cpu + 1};
        setrlimit(RLIMIT_CPU, &rl);
        FrPicture p;
        FrError e = {0};
        int rc = fr_picture_decode(k, in, n, width, height, frames, bit_depth, &p, &e);
        if (!rc && (p.width != width || p.height != height || p.frames != frames))
            rc = fr_error(&e, FR_E_FORMAT, "decode: the decoder returned %dx%dx%d, not %dx%dx%d",
                          p.width, p.height, p.frames, width, height, frames);
        if (!rc) {
            memcpy(shm + 1, p.samples, ns * sizeof(uint16_t));
            shm->width = p.width;
            shm->height = p.height;
            shm->frames = p.frames;
            shm->bit_depth = p.bit_depth;
        }
        memcpy(shm->msg, e.msg, sizeof shm->msg);
        shm->rc = rc;
        fr_picture_free(&p);
        _exit(0);
    }
    close(pfd[1]);
    /* the pipe's write end closes when the child ends, however it ends; a
     * child that outlives twice its CPU limit in wall time (stopped, or
     * blocked) is killed */
    struct pollfd pf = {pfd[0], POLLIN, 0};
    int wall_ms = (int)(limit * 2000.0) + 1000, killed = 0;
    for (;;) {
        int pr = poll(&pf, 1, wall_ms);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0) {
            kill(pid, SIGKILL);
            killed = 1;
        }
        break;
    }
    close(pfd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    int rc;
    if (killed || (WIFSIGNALED(st) && (WTERMSIG(st) == SIGXCPU || WTERMSIG(st) == SIGKILL)))
        rc = fr_error(err, FR_E_FORMAT,
                      "decode: the %s decoder did not finish this %dx%dx%d stream within %.0f s "
                      "of CPU (a corrupt or hostile stream; FEATRD_DECODE_LIMIT_S sets the limit)",
                      c->name, width, height, frames, limit);
    else if (WIFSIGNALED(st))
        rc = fr_error(err, FR_E_FORMAT, "decode: the %s decoder died of %s on this stream (corrupt)",
                      c->name, strsignal(WTERMSIG(st)));
    else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        rc = fr_error(err, FR_E_FORMAT, "decode: the %s decoder exited with status %d (corrupt)",
                      c->name, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    else if (shm->rc) {
        rc = shm->rc;
        shm->msg[sizeof shm->msg - 1] = 0;
        fr_error(err, rc, "%s", shm->msg);
    } else if ((rc = fr_picture_alloc(out, width, height, frames, shm->bit_depth)))
        rc = fr_error(err, FR_E_NOMEM, "decode: out of memory");
    else
        memcpy(out->samples, shm + 1, ns * sizeof(uint16_t));
    munmap(shm, bytes);
    return rc;
}

int fr_lossless_encode(FrCodecKind k, const void *in, size_t n, uint8_t **out, size_t *out_n,
                       FrError *err)
{
    return fr_lossless_encode_with(k, NULL, in, n, out, out_n, err);
}

int fr_lossless_encode_with(FrCodecKind k, const void *settings, const void *in, size_t n,
                            uint8_t **out, size_t *out_n, FrError *err)
{
    *out = NULL;
    *out_n = 0;
    if (!fr_codec_is_general(k))
        return fr_error(err, FR_E_USAGE,
                        "codec '%s' cannot code raw bytes: use a general coder (zlib, gzip, bzip2, lzma, zstd)",
                        fr_codec_name(k) ? fr_codec_name(k) : "?");
    uint8_t *body;
    size_t bn;
    int rc = general_encode(fr_codec_by_id((int)k), settings, in, n, &body, &bn, err);
    if (rc)
        return rc;
    uint8_t *o = malloc(bn + 8);
    if (!o) {
        free(body);
        return fr_error(err, FR_E_NOMEM, "%s: out of memory", fr_codec_name(k));
    }
    for (int i = 0; i < 8; i++)
        o[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(o + 8, body, bn);
    free(body);
    *out = o;
    *out_n = bn + 8;
    return 0;
}

int fr_lossless_decode(FrCodecKind k, const uint8_t *in, size_t n, uint8_t **out, size_t *out_n,
                       FrError *err)
{
    *out = NULL;
    *out_n = 0;
    if (!fr_codec_is_general(k))
        return fr_error(err, FR_E_USAGE,
                        "codec '%s' cannot code raw bytes: use a general coder (zlib, gzip, bzip2, lzma, zstd)",
                        fr_codec_name(k) ? fr_codec_name(k) : "?");
    if (n < 8)
        return fr_error(err, FR_E_FORMAT, "%s: stream of %zu bytes is truncated (no length prefix)",
                        fr_codec_name(k), n);
    uint64_t len = 0;
    for (int i = 0; i < 8; i++)
        len |= (uint64_t)in[i] << (8 * i);
    /* Constant data compresses enormously (bzip2: 12 MiB of zeros in 49 B),
     * so no ratio is refused; the output buffer grows with what the coder
     * really produces, and must end at exactly `len` bytes. */
    if (len > ((uint64_t)1 << 36))
        return fr_error(err, FR_E_FORMAT, "%s: corrupt: the length prefix claims %llu bytes (over 64 GiB)",
                        fr_codec_name(k), (unsigned long long)len);
    uint8_t *o = NULL;
    int rc = general_decode(fr_codec_by_id((int)k), in + 8, n - 8, &o, (size_t)len, err);
    if (rc)
        return rc;
    *out = o;
    *out_n = (size_t)len;
    return 0;
}

static uint8_t clip8(double v)
{
    return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)lrint(v);
}

void fr_rgb_coding_defaults(FrRgbCoding *s)
{
    memset(s, 0, sizeof *s);
    s->qp = 32;
    s->chroma = 420;
    s->code = 1;
    fr_hevc_defaults(&s->hevc);
}

int fr_hevc_code_rgb(const FrTensor *rgb, int qp, size_t *bytes, FrTensor *decoded, FrError *err)
{
    FrRgbCoding s;
    fr_rgb_coding_defaults(&s);
    s.qp = qp;
    return fr_rgb_code(rgb, &s, bytes, decoded, err);
}

int fr_rgb_code(const FrTensor *rgb, const FrRgbCoding *s, size_t *bytes, FrTensor *decoded,
                FrError *err)
{
    if (decoded)
        memset(decoded, 0, sizeof *decoded);
    if (bytes)
        *bytes = 0;
    if (!rgb || !rgb->data || rgb->c != 3 || rgb->h <= 0 || rgb->w <= 0)
        return fr_error(err, FR_E_USAGE, "hevc anchor: the image must be 3xHxW RGB");
    if (s->code && (s->qp < 0 || s->qp > 51))
        return fr_error(err, FR_E_USAGE, "hevc anchor: qp %d is out of range: use 0..51", s->qp);
    if (s->chroma != 420 && s->chroma != 400)
        return fr_error(err, FR_E_USAGE, "hevc anchor: chroma %d: use 420 or 400", s->chroma);
    int rc = fr_hevc_validate(&s->hevc, err);
    if (rc)
        return rc;
    int luma_only = s->chroma == 400;
    int H = rgb->h, W = rgb->w;
    /* 4:2:0 and x265's minimum CU need a multiple of 8; pad by repetition. */
    int PW = (W + 7) / 8 * 8, PH = (H + 7) / 8 * 8;
    PW = PW < 16 ? 16 : PW; /* x265's smallest CTU */
    PH = PH < 16 ? 16 : PH;
    size_t ny = (size_t)PW * PH, nc = ny / 4;
    /* slack behind each plane: x265 reads rows with 32-byte vector loads */
    uint8_t *y = calloc(ny + 128, 1), *u = calloc(nc + 128, 1), *v = calloc(nc + 128, 1);
    uint8_t *code = NULL;
    size_t ncode = 0;
    FrPicture pic = {0}, dec = {0};
    if (!y || !u || !v) {
        rc = fr_error(err, FR_E_NOMEM, "hevc anchor: out of memory");
        goto done;
    }
    const float *R = rgb->data, *G = R + (size_t)H * W, *B = G + (size_t)H * W;
    /* BT.601 limited range (studio swing), as ffmpeg's default for SD. */
    for (int yy = 0; yy < PH; yy++)
        for (int xx = 0; xx < PW; xx++) {
            size_t p = (size_t)(yy < H ? yy : H - 1) * W + (xx < W ? xx : W - 1);
            double r = R[p], g = G[p], b = B[p];
            y[(size_t)yy * PW + xx] = clip8(16 + 219 * (0.299 * r + 0.587 * g + 0.114 * b));
        }
    if (!luma_only)
        for (int yy = 0; yy < PH / 2; yy++)
            for (int xx = 0; xx < PW / 2; xx++) {
                double cb = 0, cr = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) {
                        int sy = 2 * yy + dy, sx = 2 * xx + dx;
                        size_t p = (size_t)(sy < H ? sy : H - 1) * W + (sx < W ? sx : W - 1);
                        double r = R[p], g = G[p], b = B[p];
                        cb += -0.168736 * r - 0.331264 * g + 0.5 * b;
                        cr += 0.5 * r - 0.418688 * g - 0.081312 * b;
                    }
                u[(size_t)yy * (PW / 2) + xx] = clip8(128 + 224 * cb / 4);
                v[(size_t)yy * (PW / 2) + xx] = clip8(128 + 224 * cr / 4);
            }
    else {
        memset(u, 128, nc);
        memset(v, 128, nc);
    }
    if (s->code && !luma_only) {
        if ((rc = fr_x265_encode_i420(y, u, v, PW, PH, s->qp, &s->hevc, &code, &ncode, err)))
            goto done;
        if (decoded && (rc = fr_de265_decode_i420(code, ncode, PW, PH, y, u, v, err)))
            goto done;
    } else if (s->code) {
        if ((rc = fr_picture_alloc(&pic, PW, PH, 1, 8))) {
            rc = fr_error(err, FR_E_NOMEM, "hevc anchor: out of memory");
            goto done;
        }
        for (size_t i = 0; i < ny; i++)
            pic.samples[i] = y[i];
        FrQpMap q = {s->qp, NULL, NULL};
        FrHevcSettings hs = s->hevc;
        int fit = PW >= 64 && PH >= 64 ? 64 : PW >= 32 && PH >= 32 ? 32 : 16;
        if (hs.ctu > fit)
            hs.ctu = fit;
        if (hs.min_cu > hs.ctu)
            hs.min_cu = hs.ctu;
        if ((rc = fr_x265_encode_mono(&pic, &q, &hs, 0, &code, &ncode, NULL, err)))
            goto done;
        if (decoded) {
            if ((rc = fr_de265_decode_mono(code, ncode, PW, PH, 1, 8, &dec, err)))
                goto done;
            for (size_t i = 0; i < ny; i++)
                y[i] = (uint8_t)dec.samples[i];
        }
    }
    if (bytes)
        *bytes = ncode;
    if (decoded) {
        if ((rc = fr_tensor_alloc(decoded, 3, H, W))) {
            rc = fr_error(err, FR_E_NOMEM, "hevc anchor: out of memory");
            goto done;
        }
        float *dR = decoded->data, *dG = dR + (size_t)H * W, *dB = dG + (size_t)H * W;
        for (int yy = 0; yy < H; yy++)
            for (int xx = 0; xx < W; xx++) {
                double Y = (y[(size_t)yy * PW + xx] - 16) / 219.0;
                double Cb = (u[(size_t)(yy / 2) * (PW / 2) + xx / 2] - 128) / 224.0;
                double Cr = (v[(size_t)(yy / 2) * (PW / 2) + xx / 2] - 128) / 224.0;
                double r = Y + 1.402 * Cr, g = Y - 0.344136 * Cb - 0.714136 * Cr, b = Y + 1.772 * Cb;
                size_t p = (size_t)yy * W + xx;
                dR[p] = (float)(r < 0 ? 0 : r > 1 ? 1 : r);
                dG[p] = (float)(g < 0 ? 0 : g > 1 ? 1 : g);
                dB[p] = (float)(b < 0 ? 0 : b > 1 ? 1 : b);
            }
    }
done:
    fr_picture_free(&pic);
    fr_picture_free(&dec);
    free(y);
    free(u);
    free(v);
    free(code);
    return rc;
}

/* Image coders: one stream per frame, joined with LEB128 lengths. */
static int put_leb128(uint8_t **buf, size_t *n, size_t *cap, uint64_t v)
{
    do {
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 256;
            uint8_t *p = realloc(*buf, nc);
            if (!p)
                return FR_E_NOMEM;
            *buf = p;
            *cap = nc;
        }
        uint8_t b = (uint8_t)(v & 0x7f);
        v >>= 7;
        (*buf)[(*n)++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    return 0;
}

static int append(uint8_t **buf, size_t *n, size_t *cap, const uint8_t *p, size_t k)
{
    if (k > *cap - *n) {
        size_t nc = *cap ? *cap : 256;
        while (nc - *n < k) {
            if (nc > SIZE_MAX / 2)
                return FR_E_NOMEM;
            nc *= 2;
        }
        uint8_t *q = realloc(*buf, nc);
        if (!q)
            return FR_E_NOMEM;
        *buf = q;
        *cap = nc;
    }
    memcpy(*buf + *n, p, k);
    *n += k;
    return 0;
}

int fr_frames_encode(const FrCodec *c, const void *settings, const FrPicture *pic,
                     const FrQpMap *qp, FrFrameEncode enc, uint8_t **out, size_t *out_n,
                     FrPicture *recon, FrError *err)
{
    *out = NULL;
    *out_n = 0;
    if (qp && qp->block_qp)
        return fr_error(err, FR_E_USAGE, "%s has no QP per block: a QP per channel needs "
                        "packing frames (a QP per frame) or hevc", c->name);
    int lossy = (c->caps & FR_CODEC_LOSSY) != 0;
    size_t plane = (size_t)pic->width * pic->height;
    FrPicture fr = {0}, rf = {0};
    int rc = 0;
    if (recon && (rc = fr_picture_alloc(recon, pic->width, pic->height, pic->frames,
                                        pic->bit_depth)))
        return fr_error(err, FR_E_NOMEM, "%s: out of memory", c->name);
    uint8_t *buf = NULL, *one = NULL;
    size_t n = 0, cap = 0, k = 0;
    for (int f = 0; f < pic->frames && !rc; f++) {
        int q = !lossy ? 0 : qp ? (qp->frame_qp ? qp->frame_qp[f] : qp->qp) : (c->qp_lo + c->qp_hi) / 2;
        if (lossy && (q < c->qp_lo || q > c->qp_hi)) {
            rc = fr_error(err, FR_E_USAGE, "%s: qp %d%s is out of range: use %d..%d", c->name, q,
                          pic->frames > 1 ? " of a frame" : "", c->qp_lo, c->qp_hi);
            break;
        }
        fr = (FrPicture){pic->width, pic->height, 1, pic->bit_depth, pic->samples + f * plane};
        if (recon) {
            rf = (FrPicture){pic->width, pic->height, 1, pic->bit_depth, recon->samples + f * plane};
        }
        if ((rc = enc(c, settings, &fr, q, &one, &k, recon ? &rf : NULL, err)))
            break;
        if ((f + 1 < pic->frames && put_leb128(&buf, &n, &cap, k)) || append(&buf, &n, &cap, one, k))
            rc = fr_error(err, FR_E_NOMEM, "%s: out of memory", c->name);
        free(one);
        one = NULL;
    }
    if (rc) {
        free(buf);
        if (recon)
            fr_picture_free(recon);
        return rc;
    }
    *out = buf;
    *out_n = n;
    return 0;
}

/* Reads one LEB128 value at in[*pos], advancing *pos; 1 when the stream
 * ends inside it or it runs past 64 bits. */
static int get_leb128(const uint8_t *in, size_t n, size_t *pos, uint64_t *v)
{
    *v = 0;
    for (int shift = 0;; shift += 7) {
        if (*pos >= n || shift > 56)
            return 1;
        uint8_t b = in[(*pos)++];
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return 0;
    }
}

int fr_frames_decode(const FrCodec *c, const uint8_t *in, size_t n, int width, int height,
                     int frames, int bit_depth, FrFrameDecode dec, FrPicture *out, FrError *err)
{
    memset(out, 0, sizeof *out);
    if (width <= 0 || height <= 0 || frames <= 0 || bit_depth < 1 || bit_depth > c->max_bits ||
        (uint64_t)width * (uint64_t)height > ((uint64_t)1 << 30) / (uint64_t)frames)
        return fr_error(err, FR_E_FORMAT, "%s: bad picture geometry %dx%dx%d at %d bits", c->name,
                        width, height, frames, bit_depth);
    /* the frame lengths first, so a stream that cannot hold `frames` frames
     * allocates nothing */
    size_t pos = 0;
    for (int f = 0; f + 1 < frames; f++) {
        uint64_t len;
        if (get_leb128(in, n, &pos, &len))
            return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: frame %d's length is "
                            "truncated", c->name, f);
        if (len == 0 || len > n - pos)
            return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: frame %d claims %llu bytes "
                            "of %zu left", c->name, f, (unsigned long long)len, n - pos);
        pos += (size_t)len;
    }
    if (pos >= n)
        return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: no bytes for frame %d", c->name,
                        frames - 1);
    if (fr_picture_alloc(out, width, height, frames, bit_depth))
        return fr_error(err, FR_E_NOMEM, "%s: out of memory", c->name);
    size_t plane = (size_t)width * height;
    pos = 0;
    int rc = 0;
    for (int f = 0; f < frames && !rc; f++) {
        uint64_t len = n - pos; /* the last frame runs to the end */
        if (f + 1 < frames)
            get_leb128(in, n, &pos, &len); /* checked above */
        rc = dec(c, in + pos, (size_t)len, width, height, bit_depth, out->samples + f * plane,
                 err);
        pos += (size_t)len;
    }
    if (rc)
        fr_picture_free(out);
    return rc;
}
