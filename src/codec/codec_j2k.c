/* codec_j2k.c: the two JPEG 2000 coders (OpenJPEG 2.5): j2k, lossy
 * (irreversible 9/7, one quality layer at a compression ratio), and
 * j2k-lossless (reversible 5/3). Each frame is a plain J2K codestream (no
 * JP2 boxes: nothing a decoder needs is in them), one grey component, one
 * tile, coded and decoded in memory. The only file that includes openjpeg.h. */
#include "codec/codec_internal.h"
#include "util/schema.h"

#include <limits.h>
#include <openjpeg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct FrJ2kSettings {
    int resolutions; /* resolution levels (DWT levels + 1); 0: auto */
    int cblk;        /* code-block width = height */
} FrJ2kSettings;

static const int CBLK_VALUES[] = {16, 32, 64, INT_MIN};

#define F(k) .key = #k, .offset = offsetof(FrJ2kSettings, k)
static const FrField j2k_fields[] = {
    {F(resolutions), .type = FR_FIELD_INT, .def = 0, .lo = 0, .hi = 12,
     .doc = "resolution levels (DWT levels + 1), at most floor(log2(min(w, h))) + 1; "
            "0: that many, at most 6"},
    {F(cblk), .type = FR_FIELD_INT, .def = 64, .allowed = CBLK_VALUES,
     .doc = "code-block width and height"},
};
#undef F

static const FrSchema j2k_schema = {"j2k", sizeof(FrJ2kSettings), j2k_fields,
                                    (int)(sizeof j2k_fields / sizeof j2k_fields[0]), NULL};

/* The most resolution levels a w x h picture holds: OpenJPEG needs every
 * level at least one sample wide and high. */
static int max_resolutions(int w, int h)
{
    int m = w < h ? w : h, r = 1;
    while (m >= 2 && r < 33) {
        m >>= 1;
        r++;
    }
    return r;
}

/* OpenJPEG reads and writes through these on a memory buffer: out grows as
 * the encoder writes; in is the stream being decoded. */
typedef struct MemStream {
    const uint8_t *in;
    uint8_t *out;
    size_t n, cap, pos; /* bytes held (in: all of them), out's size, position */
    int writing;
} MemStream;

static OPJ_SIZE_T mem_read(void *buf, OPJ_SIZE_T k, void *user)
{
    MemStream *m = user;
    if (m->pos >= m->n)
        return (OPJ_SIZE_T)-1;
    if (k > m->n - m->pos)
        k = m->n - m->pos;
    memcpy(buf, m->in + m->pos, k);
    m->pos += k;
    return k;
}

static OPJ_SIZE_T mem_write(void *buf, OPJ_SIZE_T k, void *user)
{
    MemStream *m = user;
    if (k > SIZE_MAX / 2 - m->pos)
        return (OPJ_SIZE_T)-1;
    if (m->pos + k > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->pos + k)
            cap *= 2;
        uint8_t *p = realloc(m->out, cap);
        if (!p)
            return (OPJ_SIZE_T)-1;
        m->out = p;
        m->cap = cap;
    }
    if (m->pos > m->n) /* a skip past the end leaves zeros */
        memset(m->out + m->n, 0, m->pos - m->n);
    memcpy(m->out + m->pos, buf, k);
    m->pos += k;
    if (m->pos > m->n)
        m->n = m->pos;
    return k;
}

static OPJ_OFF_T mem_skip(OPJ_OFF_T k, void *user)
{
    MemStream *m = user;
    if (k < 0 && (uint64_t)-k > m->pos)
        return -1;
    if (k > 0 && !m->writing && (uint64_t)k > m->n - m->pos)
        k = (OPJ_OFF_T)(m->n - m->pos);
    m->pos = (size_t)((OPJ_OFF_T)m->pos + k);
    return k;
}

static OPJ_BOOL mem_seek(OPJ_OFF_T to, void *user)
{
    MemStream *m = user;
    if (to < 0 || (!m->writing && (uint64_t)to > m->n))
        return OPJ_FALSE;
    m->pos = (size_t)to;
    return OPJ_TRUE;
}

static opj_stream_t *mem_stream(MemStream *m)
{
    opj_stream_t *s = opj_stream_create(65536, m->writing ? OPJ_FALSE : OPJ_TRUE);
    if (!s)
        return NULL;
    if (m->writing) {
        opj_stream_set_write_function(s, mem_write);
    } else {
        opj_stream_set_read_function(s, mem_read);
        opj_stream_set_user_data_length(s, m->n);
    }
    opj_stream_set_skip_function(s, mem_skip);
    opj_stream_set_seek_function(s, mem_seek);
    opj_stream_set_user_data(s, m, NULL);
    return s;
}

/* OpenJPEG's messages: the first error is kept for the FrError; warnings
 * and information are dropped (featrd's errors say what failed). */
typedef struct J2kLog {
    char msg[200];
} J2kLog;

static void j2k_drop(const char *msg, void *user)
{
    (void)msg;
    (void)user;
}

static void j2k_keep(const char *msg, void *user)
{
    J2kLog *log = user;
    if (log->msg[0])
        return;
    size_t k = strcspn(msg, "\n");
    if (k >= sizeof log->msg)
        k = sizeof log->msg - 1;
    memcpy(log->msg, msg, k);
    log->msg[k] = 0;
}

static void j2k_quiet(opj_codec_t *codec, J2kLog *log)
{
    log->msg[0] = 0;
    opj_set_info_handler(codec, j2k_drop, NULL);
    opj_set_warning_handler(codec, j2k_drop, NULL);
    opj_set_error_handler(codec, j2k_keep, log);
}

static unsigned rd16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* OpenJPEG writes a COM segment in every main header (with our empty
 * comment, 6 bytes); a decoder needs nothing from it, so it is cut out. The
 * main header runs from SOC to the first SOT; every segment there has a
 * length, and no later length counts main-header bytes. */
static void drop_com(MemStream *m)
{
    size_t p = 2;
    while (p + 4 <= m->n && m->out[p] == 0xff && m->out[p + 1] != 0x90) {
        size_t len = rd16(m->out + p + 2);
        if (len < 2 || p + 2 + len > m->n)
            return;
        if (m->out[p + 1] == 0x64) {
            memmove(m->out + p, m->out + p + 2 + len, m->n - p - 2 - len);
            m->n -= 2 + len;
            continue;
        }
        p += 2 + len;
    }
}

static int j2k_decode_frame(const FrCodec *c, const uint8_t *in, size_t n, int width,
                            int height, int bit_depth, uint16_t *samples, FrError *err);

static int j2k_encode_frame(const FrCodec *c, const void *settings, const FrPicture *f, int qp,
                            uint8_t **out, size_t *out_n, FrPicture *recon, FrError *err)
{
    const FrJ2kSettings *s = settings;
    int lossless = !(c->caps & FR_CODEC_LOSSY);
    int fit = max_resolutions(f->width, f->height);
    if (s->resolutions > fit)
        return fr_error(err, FR_E_USAGE, "%s: resolutions=%d needs a picture of at least %dx%d, "
                        "not %dx%d: use at most %d (or 0)", c->name, s->resolutions,
                        1 << (s->resolutions - 1), 1 << (s->resolutions - 1), f->width,
                        f->height, fit);
    opj_image_cmptparm_t cp;
    memset(&cp, 0, sizeof cp);
    cp.dx = cp.dy = 1;
    cp.w = (OPJ_UINT32)f->width;
    cp.h = (OPJ_UINT32)f->height;
    cp.prec = (OPJ_UINT32)f->bit_depth;
    opj_image_t *img = opj_image_create(1, &cp, OPJ_CLRSPC_GRAY);
    if (!img)
        return fr_error(err, FR_E_NOMEM, "%s: out of memory", c->name);
    img->x1 = cp.w;
    img->y1 = cp.h;
    size_t ns = (size_t)f->width * f->height;
    for (size_t i = 0; i < ns; i++)
        img->comps[0].data[i] = f->samples[i];

    opj_cparameters_t par;
    opj_set_default_encoder_parameters(&par);
    char no_comment[1] = "";
    par.cp_comment = no_comment; /* NULL would mean OpenJPEG's version text */
    par.tcp_numlayers = 1;
    par.cp_disto_alloc = 1;
    par.tcp_rates[0] = lossless ? 0.0f : (float)qp; /* 0: every coding pass */
    par.irreversible = !lossless;
    par.numresolution = s->resolutions ? s->resolutions : fit < 6 ? fit : 6;
    par.cblockw_init = par.cblockh_init = s->cblk;

    J2kLog log;
    MemStream m = {.writing = 1};
    opj_stream_t *st = NULL;
    opj_codec_t *codec = opj_create_compress(OPJ_CODEC_J2K);
    int ok = codec != NULL;
    if (ok) {
        j2k_quiet(codec, &log);
        ok = opj_setup_encoder(codec, &par, img);
    }
    if (ok) {
        /* no worker threads (the runner's workers are the parallelism);
         * false only in a build without thread support, single-threaded anyway */
        (void)opj_codec_set_threads(codec, 0);
        ok = (st = mem_stream(&m)) != NULL && opj_start_compress(codec, img, st) &&
             opj_encode(codec, st) && opj_end_compress(codec, st);
    }
    if (st)
        opj_stream_destroy(st);
    if (codec)
        opj_destroy_codec(codec);
    opj_image_destroy(img);
    if (!ok) {
        free(m.out);
        return fr_error(err, FR_E_CODEC, "%s: OpenJPEG cannot code the %dx%d %d-bit picture%s%s",
                        c->name, f->width, f->height, f->bit_depth, codec ? ": " : "",
                        codec ? log.msg : "");
    }
    drop_com(&m);
    int rc = recon ? j2k_decode_frame(c, m.out, m.n, f->width, f->height, f->bit_depth,
                                      recon->samples, err)
                   : 0;
    if (rc) {
        free(m.out);
        return rc;
    }
    *out = m.out;
    *out_n = m.n;
    return 0;
}

/* The codestream must start with SOC and the SIZ of exactly this picture in
 * one tile: checked here, before OpenJPEG allocates anything after what a
 * (corrupt) SIZ claims. */
static int check_siz(const FrCodec *c, const uint8_t *in, size_t n, int width, int height,
                     int bit_depth, FrError *err)
{
    if (n < 4 + 41 + 2 || rd16(in) != 0xff4f || rd16(in + 2) != 0xff51 || rd16(in + 4) != 41)
        return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: no J2K main header of one "
                        "component", c->name);
    const uint8_t *z = in + 8; /* after SOC, SIZ, Lsiz, Rsiz */
    if (rd32(z) != (uint32_t)width || rd32(z + 4) != (uint32_t)height || rd32(z + 8) ||
        rd32(z + 12) || rd32(z + 16) < (uint32_t)width || rd32(z + 20) < (uint32_t)height ||
        rd32(z + 24) || rd32(z + 28) || rd16(z + 32) != 1 || z[34] != bit_depth - 1 ||
        z[35] != 1 || z[36] != 1)
        return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: its header is not that of one "
                        "%dx%d %d-bit grey tile", c->name, width, height, bit_depth);
    /* every frame ends with EOC; OpenJPEG would accept its loss silently */
    if (rd16(in + n - 2) != 0xffd9)
        return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: truncated (no EOC marker)",
                        c->name);
    return 0;
}

/* What OpenJPEG read matches the picture and the coder: one tile, one
 * unsigned component of the geometry, the wavelet of this mode. */
static int check_header(const FrCodec *c, opj_codec_t *codec, const opj_image_t *img, int width,
                        int height, int bit_depth)
{
    if (img->numcomps != 1 || img->x0 || img->y0 || img->x1 != (OPJ_UINT32)width ||
        img->y1 != (OPJ_UINT32)height || img->comps[0].prec != (OPJ_UINT32)bit_depth ||
        img->comps[0].sgnd || img->comps[0].dx != 1 || img->comps[0].dy != 1)
        return 0;
    opj_codestream_info_v2_t *ci = opj_get_cstr_info(codec);
    if (!ci)
        return 0;
    int reversible = !(c->caps & FR_CODEC_LOSSY);
    int ok = ci->tw == 1 && ci->th == 1 && ci->nbcomps == 1 &&
             ci->m_default_tile_info.tccp_info &&
             ci->m_default_tile_info.tccp_info[0].qmfbid == (OPJ_UINT32)reversible;
    opj_destroy_cstr_info(&ci);
    return ok;
}

static int j2k_decode_frame(const FrCodec *c, const uint8_t *in, size_t n, int width,
                            int height, int bit_depth, uint16_t *samples, FrError *err)
{
    int rc = check_siz(c, in, n, width, height, bit_depth, err);
    if (rc)
        return rc;
    J2kLog log;
    MemStream m = {.in = in, .n = n};
    opj_dparameters_t par;
    opj_set_default_decoder_parameters(&par);
    opj_image_t *img = NULL;
    opj_stream_t *st = NULL;
    opj_codec_t *codec = opj_create_decompress(OPJ_CODEC_J2K);
    if (!codec || !(st = mem_stream(&m))) {
        rc = fr_error(err, FR_E_NOMEM, "%s: out of memory", c->name);
        goto done;
    }
    j2k_quiet(codec, &log);
    /* strict: a truncated tile is an error, not a blurred picture */
    if (!opj_setup_decoder(codec, &par) || !opj_decoder_set_strict_mode(codec, OPJ_TRUE)) {
        rc = fr_error(err, FR_E_CODEC, "%s: OpenJPEG's decoder cannot be set up", c->name);
        goto done;
    }
    (void)opj_codec_set_threads(codec, 0);
    if (!opj_read_header(st, codec, &img) ||
        !check_header(c, codec, img, width, height, bit_depth)) {
        rc = fr_error(err, FR_E_FORMAT, "%s: corrupt stream: not one %dx%d %d-bit %s tile%s%s",
                      c->name, width, height, bit_depth,
                      c->caps & FR_CODEC_LOSSY ? "9/7" : "reversible 5/3", log.msg[0] ? ": " : "",
                      log.msg);
        goto done;
    }
    if (!opj_decode(codec, st, img) || !opj_end_decompress(codec, st) || !img->comps[0].data ||
        img->comps[0].w != (OPJ_UINT32)width || img->comps[0].h != (OPJ_UINT32)height) {
        rc = fr_error(err, FR_E_FORMAT, "%s: corrupt stream: it does not decode%s%s", c->name,
                      log.msg[0] ? ": " : "", log.msg);
        goto done;
    }
    size_t ns = (size_t)width * height;
    int32_t top = (int32_t)((1u << bit_depth) - 1u);
    for (size_t i = 0; i < ns && !rc; i++) {
        int32_t v = img->comps[0].data[i];
        if (v < 0 || v > top)
            rc = fr_error(err, FR_E_FORMAT, "%s: corrupt stream: sample %zu is %d, outside "
                          "0..%d", c->name, i, (int)v, (int)top);
        samples[i] = (uint16_t)v;
    }
done:
    if (img)
        opj_image_destroy(img);
    if (st)
        opj_stream_destroy(st);
    if (codec)
        opj_destroy_codec(codec);
    return rc;
}

static int j2k_encode(const FrCodec *c, const void *settings, const FrPicture *pic,
                      const FrQpMap *qp, uint8_t **out, size_t *out_n, FrPicture *recon,
                      FrError *err)
{
    int rc = fr_schema_validate(c->settings, settings, err);
    if (rc)
        return rc;
    if (pic->bit_depth < 1 || pic->bit_depth > c->max_bits)
        return fr_error(err, FR_E_USAGE, "%s codes 1..%d-bit samples, not %d", c->name,
                        c->max_bits, pic->bit_depth);
    return fr_frames_encode(c, settings, pic, qp, j2k_encode_frame, out, out_n, recon, err);
}

static int j2k_decode(const FrCodec *c, const uint8_t *in, size_t n, int width, int height,
                      int frames, int bit_depth, FrPicture *out, FrError *err)
{
    return fr_frames_decode(c, in, n, width, height, frames, bit_depth, j2k_decode_frame, out,
                            err);
}

static const char *j2k_version(void)
{
    return opj_version();
}

const FrCodec fr_codec_j2k = {
    .name = "j2k",
    .id = FR_CODEC_J2K,
    .caps = FR_CODEC_LOSSY | FR_CODEC_FRAME_QP,
    .max_bits = 16,
    .qp_lo = 2,
    .qp_hi = 255,
    .qp_doc = "compression ratio (OpenJPEG tcp_rates[0]) = raw bytes at the picture's bit depth "
              "/ coded bytes: qp 10 codes a tenth (easy content may take fewer)",
    .settings = &j2k_schema,
    .summary = "JPEG 2000 codestream, irreversible 9/7, one layer at a compression ratio "
               "(OpenJPEG)",
    .library = "OpenJPEG",
    .version = j2k_version,
    .encode = j2k_encode,
    .decode = j2k_decode,
};

const FrCodec fr_codec_j2k_lossless = {
    .name = "j2k-lossless",
    .id = FR_CODEC_J2K_LOSSLESS,
    .caps = FR_CODEC_LOSSLESS,
    .max_bits = 16,
    .settings = &j2k_schema,
    .summary = "JPEG 2000 codestream, reversible 5/3, lossless (OpenJPEG)",
    .library = "OpenJPEG",
    .version = j2k_version,
    .encode = j2k_encode,
    .decode = j2k_decode,
};
