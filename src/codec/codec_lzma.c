/* codec_lzma.c: the lzma coder (liblzma: .xz container, CRC-64; level -1 =
 * xz's default preset 6). The only file that includes lzma.h. */
#include "codec/codec_internal.h"

#include <lzma.h>
#include <stddef.h>
#include <stdlib.h>

static int lzma_encode(const void *settings, const uint8_t *in, size_t n, uint8_t **out,
                       size_t *out_n, FrError *err)
{
    int level = settings ? ((const FrLevelSettings *)settings)->level : -1;
    *out = NULL;
    *out_n = 0;
    size_t cap = lzma_stream_buffer_bound(n);
    uint8_t *buf = cap ? malloc(cap) : NULL;
    if (!buf)
        return fr_error(err, FR_E_NOMEM, "lzma: out of memory");
    size_t pos = 0;
    lzma_ret rc = lzma_easy_buffer_encode(level < 0 ? 6 : (uint32_t)level, LZMA_CHECK_CRC64, NULL, in, n, buf, &pos, cap);
    if (rc != LZMA_OK) {
        free(buf);
        return fr_error(err, FR_E_CODEC, "lzma: compression failed (%d)", (int)rc);
    }
    *out = buf;
    *out_n = pos;
    return 0;
}

/* xz's presets use dictionaries of at most 64 MiB; a header asking the
 * decoder for more is refused rather than allocated. */
#define LZMA_MEMLIMIT ((uint64_t)160 << 20)

static int lzma_decode(const uint8_t *in, size_t n, FrSink *out, FrError *err)
{
    lzma_stream z = LZMA_STREAM_INIT;
    if (lzma_stream_decoder(&z, LZMA_MEMLIMIT, 0) != LZMA_OK)
        return fr_error(err, FR_E_CODEC, "lzma: lzma_stream_decoder failed");
    z.next_in = in;
    z.avail_in = n;
    lzma_ret rc = LZMA_OK;
    int room;
    while (rc == LZMA_OK && (room = fr_sink_room(out)) == 0) {
        size_t k = out->cap - out->n;
        z.next_out = out->p + out->n;
        z.avail_out = k;
        rc = lzma_code(&z, LZMA_FINISH);
        out->n += k - z.avail_out;
    }
    size_t left = z.avail_in;
    lzma_end(&z);
    if (room == FR_E_NOMEM)
        return fr_error(err, FR_E_NOMEM, "lzma: out of memory");
    if (rc != LZMA_STREAM_END || out->n != out->want || left)
        return fr_error(err, FR_E_FORMAT,
                        "lzma: the coded stream is corrupt or truncated (%d%s, %s%zu of %zu bytes)",
                        (int)rc, rc == LZMA_MEMLIMIT_ERROR ? ": asks for too much decoder memory" : "",
                        out->n > out->want ? "more than " : "", out->n > out->want ? out->want : out->n, out->want);
    return 0;
}

static const FrField lzma_schema_fields[] = {
    {.key = "level", .type = FR_FIELD_INT, .offset = offsetof(FrLevelSettings, level), .def = -1,
     .lo = 0, .hi = 9, .special = -1, .doc = "xz preset 0..9; -1: xz's default (6)"},
};
static const FrSchema lzma_schema = {"lzma", sizeof(FrLevelSettings), lzma_schema_fields, 1, NULL};

static const char *lzma_version(void)
{
    return lzma_version_string();
}

const FrCodec fr_codec_lzma = {
    .name = "lzma",
    .alias = "xz",
    .id = FR_CODEC_LZMA,
    .caps = FR_CODEC_LOSSLESS | FR_CODEC_BYTES,
    .max_bits = 16,
    .settings = &lzma_schema,
    .summary = "xz container (liblzma)",
    .library = "liblzma",
    .version = lzma_version,
    .encode_bytes = lzma_encode,
    .decode_bytes = lzma_decode,
};
