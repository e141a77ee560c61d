/* codec_de265.c: the libde265 adapter: decodes the HEVC streams that
 * codec_x265.c writes (4:0:0 feature pictures, 8-bit 4:2:0 images). The
 * only file that includes libde265/de265.h. One decoder per call, decoding
 * in the caller's thread (no worker threads). */
#include "codec/codec_internal.h"
#include "codec/pack.h"

#include <libde265/de265.h>
#include <limits.h>
#include <string.h>

/* Copies one plane of img into dst (w×h, 16-bit samples) or dst8. */
static void copy_plane(const struct de265_image *img, int ch, int w, int h, uint16_t *dst,
                       uint8_t *dst8)
{
    int stride = 0;
    const uint8_t *src = de265_get_image_plane(img, ch, &stride);
    int wide = de265_get_bits_per_pixel(img, ch) > 8;
    for (int y = 0; y < h; y++) {
        const uint8_t *row = src + (size_t)y * stride;
        for (int x = 0; x < w; x++) {
            unsigned v = wide ? ((const uint16_t *)row)[x] : row[x];
            if (dst)
                dst[(size_t)y * w + x] = (uint16_t)v;
            else
                dst8[(size_t)y * w + x] = (uint8_t)v;
        }
    }
}

/* libde265 leaves picture memory uninitialised, and a damaged stream can
 * leave regions undecoded: zeroing each new picture keeps the output of a
 * bad stream deterministic (garbage, but the same garbage every run). */
static int zeroed_get_buffer(de265_decoder_context *ctx, struct de265_image_spec *spec,
                             struct de265_image *img, void *userdata)
{
    int ok = de265_get_default_image_allocation_functions()->get_buffer(ctx, spec, img, userdata);
    if (!ok)
        return ok;
    for (int c = 0; c < 3; c++) {
        int stride = 0;
        uint8_t *plane = (uint8_t *)de265_get_image_plane(img, c, &stride);
        if (c > 0 && spec->format == de265_image_format_mono8)
            break;
        int rows = c == 0 || spec->format != de265_image_format_YUV420P8 ? spec->height
                                                                        : (spec->height + 1) / 2;
        if (plane && stride > 0)
            memset(plane, 0, (size_t)stride * (size_t)rows);
    }
    return ok;
}

static void default_release_buffer(de265_decoder_context *ctx, struct de265_image *img,
                                   void *userdata)
{
    de265_get_default_image_allocation_functions()->release_buffer(ctx, img, userdata);
}

/* Runs the decoder over a whole stream, calling take() for each picture in
 * output order. take returns 0 to go on or an error code. */
typedef int (*TakeFn)(const struct de265_image *img, int index, void *ctx, FrError *err);

static int decode_all(const uint8_t *in, size_t n, TakeFn take, void *ctx, int *count, FrError *err)
{
    *count = 0;
    if (n == 0 || n > INT_MAX)
        return fr_error(err, FR_E_FORMAT, "hevc: the coded stream is empty or too large (%zu bytes)", n);
    de265_decoder_context *d = de265_new_decoder();
    if (!d)
        return fr_error(err, FR_E_NOMEM, "hevc: cannot create a libde265 decoder");
    struct de265_image_allocation alloc = {zeroed_get_buffer, default_release_buffer};
    de265_set_image_allocation_functions(d, &alloc, NULL);
    de265_set_parameter_bool(d, DE265_DECODER_PARAM_BOOL_SEI_CHECK_HASH, 1);
    de265_set_parameter_bool(d, DE265_DECODER_PARAM_SUPPRESS_FAULTY_PICTURES, 0);
    int rc = 0;
    de265_error e = de265_push_data(d, in, (int)n, 0, NULL);
    if (de265_isOK(e))
        e = de265_flush_data(d);
    if (!de265_isOK(e)) {
        rc = fr_error(err, FR_E_FORMAT, "hevc: libde265 refused the stream: %s",
                      de265_get_error_text(e));
        goto done;
    }
    int more = 1;
    /* Every call consumes input or returns a picture; the cap only guards
     * against a decoder that stops making progress on a corrupt stream. */
    for (long iter = 0; more && iter < 100000000L; iter++) {
        e = de265_decode(d, &more);
        if (e == DE265_ERROR_WAITING_FOR_INPUT_DATA)
            more = 0;
        else if (!de265_isOK(e)) {
            rc = fr_error(err, FR_E_FORMAT, "hevc: the coded stream is corrupt: %s",
                          de265_get_error_text(e));
            goto done;
        }
        const struct de265_image *img;
        while ((img = de265_peek_next_picture(d)) != NULL) {
            rc = take(img, *count, ctx, err);
            de265_release_next_picture(d);
            if (rc)
                goto done;
            (*count)++;
        }
    }
    /* libde265 conceals damage (a cut-off slice decodes to a picture); its
     * warnings are the only sign, and x265's streams never raise any. */
    if (!rc) {
        de265_error w = de265_get_warning(d);
        if (w != DE265_OK)
            rc = fr_error(err, FR_E_FORMAT, "hevc: the coded stream is damaged: %s",
                          de265_get_error_text(w));
    }
done:
    de265_free_decoder(d);
    return rc;
}

typedef struct MonoCtx {
    FrPicture *pic;
} MonoCtx;

/* The encoder pads pictures smaller than one CTU (at most 64) up to it. */
static int size_ok(int coded, int want)
{
    return coded == want || (want < 64 && coded > want && coded <= 64);
}

static int take_mono(const struct de265_image *img, int index, void *vctx, FrError *err)
{
    FrPicture *p = ((MonoCtx *)vctx)->pic;
    int depth = p->bit_depth <= 8 ? 8 : p->bit_depth <= 10 ? 10 : 12;
    if (index >= p->frames)
        return fr_error(err, FR_E_FORMAT, "hevc: the stream holds more than %d pictures", p->frames);
    if (de265_get_chroma_format(img) != de265_chroma_mono ||
        !size_ok(de265_get_image_width(img, 0), p->width) ||
        !size_ok(de265_get_image_height(img, 0), p->height) ||
        de265_get_bits_per_pixel(img, 0) != depth)
        return fr_error(err, FR_E_FORMAT,
                        "hevc: corrupt: picture %d is %dx%d %d-bit (chroma %d), the header declares %dx%d %d-bit 4:0:0",
                        index, de265_get_image_width(img, 0), de265_get_image_height(img, 0),
                        de265_get_bits_per_pixel(img, 0), (int)de265_get_chroma_format(img),
                        p->width, p->height, depth);
    size_t fsz = (size_t)p->width * p->height;
    if (!p->samples) { /* allocated once libde265 has decoded a picture of the declared size */
        FrPicture tmp;
        if (fr_picture_alloc(&tmp, p->width, p->height, p->frames, p->bit_depth))
            return fr_error(err, FR_E_NOMEM, "hevc: out of memory for %dx%dx%d pictures", p->width,
                            p->height, p->frames);
        p->samples = tmp.samples;
    }
    uint16_t *d = p->samples + (size_t)index * fsz;
    copy_plane(img, 0, p->width, p->height, d, NULL);
    uint16_t top = (uint16_t)((1u << p->bit_depth) - 1u);
    for (size_t i = 0; i < fsz; i++)
        if (d[i] > top)
            return fr_error(err, FR_E_FORMAT,
                            "hevc: picture %d holds sample %u above %u, the %d-bit maximum", index,
                            d[i], top, p->bit_depth);
    return 0;
}

/* VCL NAL units (slices) in an Annex-B stream: every picture needs one. */
static long count_slices(const uint8_t *in, size_t n)
{
    long k = 0;
    for (size_t i = 0; i + 3 < n; i++)
        if (in[i] == 0 && in[i + 1] == 0 && in[i + 2] == 1) {
            if (((in[i + 3] >> 1) & 0x3f) < 32)
                k++;
            i += 2;
        }
    return k;
}

int fr_de265_decode_mono(const uint8_t *in, size_t n, int width, int height, int frames,
                         int bit_depth, FrPicture *out, FrError *err)
{
    memset(out, 0, sizeof *out);
    /* the declared frame count must be there before its buffers are
     * allocated; the size is libde265's own picture size (take_mono) */
    long slices = count_slices(in, n);
    if (frames < 1 || frames > slices)
        return fr_error(err, FR_E_FORMAT,
                        "hevc: corrupt: %d pictures declared, the %zu-byte stream has %ld slices",
                        frames, n, slices);
    if (width <= 0 || height <= 0 || bit_depth < 1 || bit_depth > 16)
        return fr_error(err, FR_E_FORMAT, "hevc: cannot hold %dx%dx%d %d-bit pictures", width,
                        height, frames, bit_depth);
    out->width = width;
    out->height = height;
    out->frames = frames;
    out->bit_depth = bit_depth;
    int rc;
    MonoCtx ctx = {out};
    int count;
    rc = decode_all(in, n, take_mono, &ctx, &count, err);
    if (!rc && count != frames)
        rc = fr_error(err, FR_E_FORMAT, "hevc: the stream holds %d pictures, expected %d", count,
                      frames);
    if (rc)
        fr_picture_free(out);
    return rc;
}

typedef struct I420Ctx {
    int w, h;
    uint8_t *y, *u, *v;
} I420Ctx;

static int take_i420(const struct de265_image *img, int index, void *vctx, FrError *err)
{
    I420Ctx *c = vctx;
    if (index > 0)
        return fr_error(err, FR_E_FORMAT, "hevc: the image stream holds more than one picture");
    if (de265_get_chroma_format(img) != de265_chroma_420 || de265_get_image_width(img, 0) != c->w ||
        de265_get_image_height(img, 0) != c->h || de265_get_bits_per_pixel(img, 0) != 8)
        return fr_error(err, FR_E_FORMAT, "hevc: the image is not %dx%d 8-bit 4:2:0", c->w, c->h);
    copy_plane(img, 0, c->w, c->h, NULL, c->y);
    copy_plane(img, 1, c->w / 2, c->h / 2, NULL, c->u);
    copy_plane(img, 2, c->w / 2, c->h / 2, NULL, c->v);
    return 0;
}

int fr_de265_decode_i420(const uint8_t *in, size_t n, int w, int h, uint8_t *y, uint8_t *u,
                         uint8_t *v, FrError *err)
{
    I420Ctx ctx = {w, h, y, u, v};
    int count;
    int rc = decode_all(in, n, take_i420, &ctx, &count, err);
    if (!rc && count != 1)
        rc = fr_error(err, FR_E_FORMAT, "hevc: the image stream holds %d pictures, expected 1", count);
    return rc;
}

const char *fr_de265_version(void)
{
    return de265_get_version();
}
