/* weights_rp.c: darknet weights files in memory, and their representation-
 * precision (RP) and difference-of-models (DoM) coding after seed 002 §3.3,
 * in a small self-describing container. The lossless coders are reached only
 * through codec.h (fr_lossless_encode/decode); no outside library here.
 *
 * Container "FRWP" version 1, all integers little-endian:
 *   off  size  field
 *     0     4  magic "FRWP"
 *     4     1  version (1)
 *     5     1  kind: 0 RP, 1 DoM
 *     6     1  precision p (0..12)
 *     7     1  rounding (FrRpRounding)
 *     8     1  binarization (FrRpBinarization)
 *     9     1  coder (FrCodecKind)
 *    10     2  header_len of the weights header copy (16 or 20)
 *    12     4  reserved, 0
 *    16     8  parameter count
 *    24     8  raw bytes (binarised integers before the coder)
 *    32     8  payload bytes (coder output)
 *    40     4  DoM: CRC-32 of the base's float32 parameter bytes; RP: 0
 *    44     4  CRC-32 of the raw binarised integers (checks the decode)
 *    48    hl  the target's weights header, verbatim
 *  48+hl   pl  payload
 *   end     4  CRC-32 of every byte before it
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "featrd/common.h"
#include "featrd/codec.h"
#include "featrd/experiments.h"
#include "featrd/run.h"
#include "run/results_internal.h"
#include "codec/codec.h"
#include "kinds/experiments.h"

#define CONTAINER_FIXED 48
#define CONTAINER_VERSION 1
#define RP_MAX_PRECISION 12
#define RP_LIMIT 4611686018427387904.0 /* 2^62: room for DoM differences in int64 */

/* CRC-32 (IEEE, as zlib's) of the container: fr_crc32 of featrd/run.h */
#define crc32_of fr_crc32

/* ---------------- little-endian helpers ---------------- */

static void put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* ---------------- weights files ---------------- */

int fr_weights_parse(const uint8_t *data, size_t len, const char *name, FrWeights *w,
                     FrError *err)
{
    memset(w, 0, sizeof *w);
    if (len < 16)
        return fr_error(err, FR_E_FORMAT,
                        "%s: %zu bytes is shorter than a darknet weights header (16 or 20 bytes); "
                        "is it a weights file?", name, len);
    int32_t major = (int32_t)get_u32(data), minor = (int32_t)get_u32(data + 4);
    int32_t revision = (int32_t)get_u32(data + 8);
    /* darknet's load_weights rule for the width of `seen` */
    if (major < 0 || minor < 0 || major >= 1000 || minor >= 1000)
        return fr_error(err, FR_E_FORMAT,
                        "%s: bad darknet weights header (version %d.%d.%d): corrupt, or not a "
                        "weights file", name, (int)major, (int)minor, (int)revision);
    int hl = (major * 10 + minor) >= 2 ? 20 : 16;
    if (len < (size_t)hl)
        return fr_error(err, FR_E_FORMAT,
                        "%s: bad darknet weights header (version %d.%d.%d, %zu bytes); "
                        "is it a weights file?", name, (int)major, (int)minor, (int)revision, len);
    if ((len - (size_t)hl) % 4 != 0)
        return fr_error(err, FR_E_FORMAT,
                        "%s: %zu bytes after the %d-byte header are not a whole number of "
                        "float32 parameters: the file is truncated or not a weights file",
                        name, len - (size_t)hl, hl);
    w->header_len = hl;
    memcpy(w->header, data, (size_t)hl);
    w->major = major;
    w->minor = minor;
    w->revision = revision;
    w->seen = hl == 20 ? get_u64(data + 12) : get_u32(data + 12);
    w->count = (len - (size_t)hl) / 4;
    w->params = malloc(w->count ? w->count * 4 : 1);
    if (!w->params) {
        memset(w, 0, sizeof *w);
        return fr_error(err, FR_E_NOMEM, "%s: out of memory for %zu parameters", name, w->count);
    }
    /* the file is little-endian float32; so is every machine featrd supports */
    memcpy(w->params, data + hl, w->count * 4);
    return 0;
}

int fr_weights_read(const char *path, FrWeights *w, FrError *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    memset(w, 0, sizeof *w);
    int rc = fr_read_file(path, &data, &len, err);
    if (rc)
        return rc;
    rc = fr_weights_parse(data, len, path, w, err);
    free(data);
    return rc;
}

int fr_weights_write(const char *path, const FrWeights *w, FrError *err)
{
    size_t n = fr_weights_file_size(w);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return fr_error(err, FR_E_NOMEM, "%s: out of memory", path);
    memcpy(buf, w->header, (size_t)w->header_len);
    memcpy(buf + w->header_len, w->params, w->count * 4);
    int rc = fr_write_file_atomic(path, buf, n, err);
    free(buf);
    return rc;
}

void fr_weights_free(FrWeights *w)
{
    if (!w)
        return;
    free(w->params);
    memset(w, 0, sizeof *w);
}

int fr_weights_diff(const FrWeights *a, const FrWeights *b, FrWeightsDiff *d, FrError *err)
{
    memset(d, 0, sizeof *d);
    if (a->count != b->count)
        return fr_error(err, FR_E_MISMATCH,
                        "weights differ in size (%zu vs %zu parameters): not the same cfg",
                        a->count, b->count);
    double sum = 0, sum2 = 0;
    for (size_t i = 0; i < a->count; i++) {
        double x = (double)a->params[i] - (double)b->params[i];
        if (memcmp(&a->params[i], &b->params[i], 4))
            d->changed++;
        double ax = fabs(x);
        if (ax > d->max_abs)
            d->max_abs = ax;
        sum += ax;
        sum2 += x * x;
    }
    d->count = a->count;
    d->mean_abs = a->count ? sum / (double)a->count : 0;
    d->rms = a->count ? sqrt(sum2 / (double)a->count) : 0;
    return 0;
}

/* ---------------- RP ---------------- */

void fr_rp_defaults(FrRpSettings *s)
{
    s->precision = 6;
    s->coder = FR_CODEC_LZMA;
    s->rounding = FR_RP_TRUNC;
    s->binarization = FR_RP_INT64;
}

const char *fr_rp_rounding_name(FrRpRounding r)
{
    return r == FR_RP_TRUNC ? "truncate" : r == FR_RP_NEAREST ? "nearest" : "?";
}

int fr_rp_rounding_from_name(const char *s, FrRpRounding *out, FrError *err)
{
    if (s && !strcmp(s, "nearest"))
        *out = FR_RP_NEAREST;
    else if (s && (!strcmp(s, "truncate") || !strcmp(s, "trunc")))
        *out = FR_RP_TRUNC;
    else
        return fr_error(err, FR_E_USAGE, "unknown RP rounding '%s' (use truncate or nearest)",
                        s ? s : "");
    return 0;
}

const char *fr_rp_binarization_name(FrRpBinarization b)
{
    return b == FR_RP_VARINT ? "varint" : b == FR_RP_INT64 ? "int64" : "?";
}

int fr_rp_binarization_from_name(const char *s, FrRpBinarization *out, FrError *err)
{
    if (s && !strcmp(s, "int64"))
        *out = FR_RP_INT64;
    else if (s && !strcmp(s, "varint"))
        *out = FR_RP_VARINT;
    else
        return fr_error(err, FR_E_USAGE, "unknown RP binarization '%s' (use int64 or varint)",
                        s ? s : "");
    return 0;
}

/* 10^p is exact in a double for p <= 22 */
static double pow10_exact(int p)
{
    double v = 1;
    for (int i = 0; i < p; i++)
        v *= 10;
    return v;
}

int64_t fr_rp_quantize(float w, int precision, FrRpRounding r)
{
    double x = (double)w * pow10_exact(precision);
    if (!(fabs(x) < RP_LIMIT))
        return 0;
    return r == FR_RP_TRUNC ? (int64_t)x : (int64_t)llround(x);
}

float fr_rp_dequantize(int64_t q, int precision)
{
    return (float)((double)q / pow10_exact(precision));
}

static int check_settings(const FrRpSettings *s, FrError *err)
{
    if (s->precision < 0 || s->precision > RP_MAX_PRECISION)
        return fr_error(err, FR_E_USAGE, "RP precision %d is out of range (0..%d)", s->precision,
                        RP_MAX_PRECISION);
    if ((int)s->coder < 0 || !fr_codec_is_general(s->coder))
        return fr_error(err, FR_E_USAGE,
                        "RP coder must be a general lossless coder (lzma, zstd, zlib, gzip, bzip2)");
    if (s->rounding != FR_RP_NEAREST && s->rounding != FR_RP_TRUNC)
        return fr_error(err, FR_E_USAGE, "bad RP rounding %d", (int)s->rounding);
    if (s->binarization != FR_RP_INT64 && s->binarization != FR_RP_VARINT)
        return fr_error(err, FR_E_USAGE, "bad RP binarization %d", (int)s->binarization);
    return 0;
}

static int quantize_all(const FrWeights *w, const FrRpSettings *s, const char *what, int64_t *q,
                        FrError *err)
{
    double scale = pow10_exact(s->precision);
    for (size_t i = 0; i < w->count; i++) {
        double x = (double)w->params[i] * scale;
        if (!(fabs(x) < RP_LIMIT))
            return fr_error(err, FR_E_USAGE,
                            "%s: parameter %zu is %g: not finite or too large for RP p=%d "
                            "(|w|*10^p must stay below 2^62); lower the precision",
                            what, i, (double)w->params[i], s->precision);
        q[i] = s->rounding == FR_RP_TRUNC ? (int64_t)x : (int64_t)llround(x);
    }
    return 0;
}

/* int64 LE, or zigzag + LEB128 (at most 10 bytes per value) */
static size_t binarize(const int64_t *v, size_t n, FrRpBinarization b, uint8_t *out)
{
    size_t k = 0;
    if (b == FR_RP_INT64) {
        for (size_t i = 0; i < n; i++, k += 8)
            put_u64(out + k, (uint64_t)v[i]);
        return k;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t z = ((uint64_t)v[i] << 1) ^ (uint64_t)(v[i] >> 63);
        while (z >= 0x80) {
            out[k++] = (uint8_t)(z | 0x80);
            z >>= 7;
        }
        out[k++] = (uint8_t)z;
    }
    return k;
}

static int debinarize(const uint8_t *in, size_t len, FrRpBinarization b, int64_t *v, size_t n,
                      const char *name, FrError *err)
{
    if (b == FR_RP_INT64) {
        if (len != n * 8)
            return fr_error(err, FR_E_FORMAT, "%s: %zu decoded bytes for %zu int64 values: corrupt",
                            name, len, n);
        for (size_t i = 0; i < n; i++)
            v[i] = (int64_t)get_u64(in + 8 * i);
        return 0;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t z = 0;
        int shift = 0;
        for (;;) {
            if (k >= len || shift > 63)
                return fr_error(err, FR_E_FORMAT, "%s: varint stream ends early at value %zu: corrupt",
                                name, i);
            uint8_t c = in[k++];
            z |= (uint64_t)(c & 0x7F) << shift;
            shift += 7;
            if (!(c & 0x80))
                break;
        }
        v[i] = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
    }
    if (k != len)
        return fr_error(err, FR_E_FORMAT, "%s: %zu bytes left after %zu varints: corrupt", name,
                        len - k, n);
    return 0;
}

int fr_rp_encode(const FrWeights *target, const FrWeights *base, const FrRpSettings *s,
                 uint8_t **out, size_t *out_n, FrError *err)
{
    *out = NULL;
    *out_n = 0;
    int rc = check_settings(s, err);
    if (rc)
        return rc;
    if (target->header_len != 16 && target->header_len != 20)
        return fr_error(err, FR_E_USAGE, "target weights have no valid header");
    if (base && base->count != target->count)
        return fr_error(err, FR_E_MISMATCH,
                        "DoM base has %zu parameters and the target %zu: both must come from "
                        "the same cfg", base->count, target->count);
    size_t n = target->count;
    int64_t *q = malloc((n ? n : 1) * sizeof *q);
    int64_t *qb = base ? malloc((n ? n : 1) * sizeof *qb) : NULL;
    uint8_t *raw = malloc(n ? n * 10 : 1), *payload = NULL, *buf = NULL;
    size_t payload_n = 0;
    if (!q || !raw || (base && !qb)) {
        rc = fr_error(err, FR_E_NOMEM, "out of memory for %zu parameters", n);
        goto error;
    }
    if ((rc = quantize_all(target, s, "target weights", q, err)))
        goto error;
    if (base) {
        if ((rc = quantize_all(base, s, "DoM base weights", qb, err)))
            goto error;
        for (size_t i = 0; i < n; i++)
            q[i] -= qb[i]; /* both below 2^62 in magnitude: no overflow */
    }
    size_t raw_n = binarize(q, n, s->binarization, raw);
    if ((rc = fr_lossless_encode(s->coder, raw, raw_n, &payload, &payload_n, err)))
        goto error;
    size_t hl = (size_t)target->header_len;
    size_t total = CONTAINER_FIXED + hl + payload_n + 4;
    buf = malloc(total);
    if (!buf) {
        rc = fr_error(err, FR_E_NOMEM, "out of memory for the coded weights");
        goto error;
    }
    memset(buf, 0, CONTAINER_FIXED);
    memcpy(buf, "FRWP", 4);
    buf[4] = CONTAINER_VERSION;
    buf[5] = base ? 1 : 0;
    buf[6] = (uint8_t)s->precision;
    buf[7] = (uint8_t)s->rounding;
    buf[8] = (uint8_t)s->binarization;
    buf[9] = (uint8_t)s->coder;
    put_u16(buf + 10, (uint16_t)hl);
    put_u64(buf + 16, n);
    put_u64(buf + 24, raw_n);
    put_u64(buf + 32, payload_n);
    put_u32(buf + 40, base ? crc32_of(base->params, n * 4) : 0);
    put_u32(buf + 44, crc32_of(raw, raw_n));
    memcpy(buf + CONTAINER_FIXED, target->header, hl);
    memcpy(buf + CONTAINER_FIXED + hl, payload, payload_n);
    put_u32(buf + total - 4, crc32_of(buf, total - 4));
    *out = buf;
    *out_n = total;
    buf = NULL;
    rc = 0;
error:
    free(q);
    free(qb);
    free(raw);
    free(payload);
    free(buf);
    return rc;
}

int fr_rp_info(const uint8_t *in, size_t n, const char *name, FrRpInfo *info, FrError *err)
{
    memset(info, 0, sizeof *info);
    if (n < 4 || memcmp(in, "FRWP", 4))
        return fr_error(err, FR_E_FORMAT,
                        "%s: not a featrd coded weights file (no FRWP magic); make one with "
                        "`featrd weights encode`", name);
    if (n < CONTAINER_FIXED + 16 + 4)
        return fr_error(err, FR_E_FORMAT, "%s: truncated (%zu bytes)", name, n);
    if (in[4] != CONTAINER_VERSION)
        return fr_error(err, FR_E_FORMAT,
                        "%s: container version %d is not supported (this featrd reads %d)", name,
                        in[4], CONTAINER_VERSION);
    if (crc32_of(in, n - 4) != get_u32(in + n - 4))
        return fr_error(err, FR_E_FORMAT,
                        "%s: checksum mismatch: the file is corrupt or truncated", name);
    info->version = in[4];
    info->dom = in[5];
    info->precision = in[6];
    info->rounding = (FrRpRounding)in[7];
    info->binarization = (FrRpBinarization)in[8];
    info->coder = (FrCodecKind)in[9];
    info->header_len = get_u16(in + 10);
    info->count = get_u64(in + 16);
    info->raw_bytes = get_u64(in + 24);
    info->payload_bytes = get_u64(in + 32);
    info->base_crc = get_u32(in + 40);
    info->original_bytes = (uint64_t)info->header_len + 4 * info->count;
    if (info->dom > 1 || info->precision > RP_MAX_PRECISION || info->rounding > FR_RP_TRUNC ||
        info->binarization > FR_RP_VARINT || !fr_codec_caps(info->coder) ||
        !fr_codec_is_general(info->coder) || (info->header_len != 16 && info->header_len != 20))
        return fr_error(err, FR_E_FORMAT, "%s: bad field in the container header", name);
    /* n may be shorter than a 20-byte header needs: compare before subtracting */
    if (info->count > (uint64_t)1 << 40 || n < CONTAINER_FIXED + (size_t)info->header_len + 4 ||
        info->payload_bytes != n - CONTAINER_FIXED - info->header_len - 4)
        return fr_error(err, FR_E_FORMAT, "%s: lengths in the header do not match the file size",
                        name);
    /* the decoded integers: 8 bytes each, or 1..10 as varints */
    if (info->binarization == FR_RP_INT64 ? info->raw_bytes != 8 * info->count
                                          : info->raw_bytes < info->count || info->raw_bytes > 10 * info->count)
        return fr_error(err, FR_E_FORMAT, "%s: corrupt: count %llu does not fit %llu decoded bytes (field count)",
                        name, (unsigned long long)info->count, (unsigned long long)info->raw_bytes);
    return 0;
}

int fr_rp_decode(const uint8_t *in, size_t n, const char *name, const FrWeights *base,
                 FrWeights *out, FrError *err)
{
    FrRpInfo info;
    memset(out, 0, sizeof *out);
    int rc = fr_rp_info(in, n, name, &info, err);
    if (rc)
        return rc;
    if (info.dom) {
        if (!base)
            return fr_error(err, FR_E_USAGE,
                            "%s: a difference of models (DoM) needs its base weights file (--base)",
                            name);
        if (base->count != info.count)
            return fr_error(err, FR_E_MISMATCH,
                            "%s: the DoM was made against a base of %llu parameters; the base "
                            "given has %zu", name, (unsigned long long)info.count, base->count);
        if (crc32_of(base->params, base->count * 4) != info.base_crc)
            return fr_error(err, FR_E_MISMATCH,
                            "%s: the base weights given are not the ones the DoM was made "
                            "against (CRC differs); use the same base file", name);
    }
    size_t cnt = (size_t)info.count, hl = (size_t)info.header_len;
    uint8_t *raw = NULL;
    size_t raw_n = 0;
    int64_t *q = NULL;
    /* decode first: what is allocated below is bounded by the bytes that
     * actually came out, not by the header's count */
    rc = fr_lossless_decode(info.coder, in + CONTAINER_FIXED + hl, (size_t)info.payload_bytes, &raw,
                            &raw_n, err);
    if (rc) {
        /* the checksum held, so a failing coder means a corrupt writer, not transit */
        if (rc != FR_E_NOMEM) {
            char why[sizeof err->msg];
            snprintf(why, sizeof why, "%s", err ? err->msg : fr_strerror(rc));
            rc = fr_error(err, FR_E_FORMAT, "%s: the payload does not decode (%.300s)", name, why);
        }
        goto error;
    }
    if (raw_n != info.raw_bytes || crc32_of(raw, raw_n) != get_u32(in + 44)) {
        rc = fr_error(err, FR_E_FORMAT, "%s: decoded integers fail their checksum: corrupt", name);
        goto error;
    }
    if (!(q = malloc((cnt ? cnt : 1) * sizeof *q))) {
        rc = fr_error(err, FR_E_NOMEM, "%s: out of memory", name);
        goto error;
    }
    if ((rc = debinarize(raw, raw_n, info.binarization, q, cnt, name, err)))
        goto error;
    if (info.dom) {
        FrRpSettings s;
        fr_rp_defaults(&s);
        s.precision = info.precision;
        s.rounding = info.rounding;
        int64_t *qb = malloc((cnt ? cnt : 1) * sizeof *qb);
        if (!qb) {
            rc = fr_error(err, FR_E_NOMEM, "%s: out of memory", name);
            goto error;
        }
        rc = quantize_all(base, &s, "DoM base weights", qb, err);
        for (size_t i = 0; !rc && i < cnt; i++)
            q[i] += qb[i];
        free(qb);
        if (rc)
            goto error;
    }
    out->params = malloc(cnt ? cnt * 4 : 1);
    if (!out->params) {
        rc = fr_error(err, FR_E_NOMEM, "%s: out of memory", name);
        goto error;
    }
    for (size_t i = 0; i < cnt; i++)
        out->params[i] = fr_rp_dequantize(q[i], info.precision);
    out->count = cnt;
    out->header_len = (int)hl;
    memcpy(out->header, in + CONTAINER_FIXED, hl);
    out->major = (int32_t)get_u32(out->header);
    out->minor = (int32_t)get_u32(out->header + 4);
    out->revision = (int32_t)get_u32(out->header + 8);
    out->seen = hl == 20 ? get_u64(out->header + 12) : get_u32(out->header + 12);
    rc = 0;
error:
    if (rc)
        fr_weights_free(out);
    free(raw);
    free(q);
    return rc;
}

int fr_rp_encode_file(const char *target_path, const char *base_path, const char *out_path,
                      const FrRpSettings *s, FrRpInfo *info, FrError *err)
{
    FrWeights t = {0}, b = {0};
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = fr_weights_read(target_path, &t, err);
    if (!rc && base_path)
        rc = fr_weights_read(base_path, &b, err);
    if (!rc)
        rc = fr_rp_encode(&t, base_path ? &b : NULL, s, &buf, &n, err);
    if (!rc && info)
        rc = fr_rp_info(buf, n, out_path, info, err);
    if (!rc)
        rc = fr_write_file_atomic(out_path, buf, n, err);
    free(buf);
    fr_weights_free(&t);
    fr_weights_free(&b);
    return rc;
}

int fr_rp_decode_file(const char *in_path, const char *base_path, const char *out_path,
                      FrError *err)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    FrWeights b = {0}, w = {0};
    int rc = fr_read_file(in_path, &buf, &n, err);
    if (!rc && base_path)
        rc = fr_weights_read(base_path, &b, err);
    if (!rc)
        rc = fr_rp_decode(buf, n, in_path, base_path ? &b : NULL, &w, err);
    if (!rc)
        rc = fr_weights_write(out_path, &w, err);
    free(buf);
    fr_weights_free(&b);
    fr_weights_free(&w);
    return rc;
}
