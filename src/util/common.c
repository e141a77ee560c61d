/* common.c: error codes and messages, tensors, .npy files, atomic writes. */
#define _POSIX_C_SOURCE 200809L
#include "featrd.h"
#include "codec/codec_internal.h"
#include "util/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *fr_strerror(int code)
{
    switch (code) {
    case FR_OK: return "success";
    case FR_E_USAGE: return "bad usage";
    case FR_E_CONFIG: return "bad experiment config";
    case FR_E_NOENT: return "no such file";
    case FR_E_FORMAT: return "corrupt or unsupported file";
    case FR_E_MISMATCH: return "inputs do not match";
    case FR_E_IO: return "input/output error";
    case FR_E_NOMEM: return "out of memory";
    case FR_E_CODEC: return "codec failure";
    case FR_E_MODEL: return "model failure";
    case FR_E_INTERNAL: return "internal error";
    case FR_E_INTERRUPTED: return "interrupted";
    default: return "unknown error";
    }
}

int fr_exit_status(int code)
{
    if (code == FR_OK)
        return 0;
    if (code <= FR_E_USAGE && code >= FR_E_MISMATCH)
        return 2;
    return 1;
}

int fr_error(FrError *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int fr_tensor_alloc(FrTensor *t, int c, int h, int w)
{
    memset(t, 0, sizeof *t);
    if (c <= 0 || h <= 0 || w <= 0 || (uint64_t)c * (uint64_t)h > ((uint64_t)1 << 40) / (uint64_t)w)
        return FR_E_USAGE;
    t->data = calloc((size_t)c * (size_t)h * (size_t)w, sizeof(float));
    if (!t->data)
        return FR_E_NOMEM;
    t->c = c;
    t->h = h;
    t->w = w;
    return FR_OK;
}

void fr_tensor_free(FrTensor *t)
{
    if (!t)
        return;
    free(t->data);
    memset(t, 0, sizeof *t);
}

double fr_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int fr_read_file(const char *path, uint8_t **data, size_t *len, FrError *err)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fr_error(err, errno == ENOENT ? FR_E_NOENT : FR_E_IO, "%s: %s", path,
                        strerror(errno));
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return fr_error(err, FR_E_NOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(f);
                return fr_error(err, FR_E_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return fr_error(err, FR_E_IO, "%s: read error", path);
    }
    *data = buf;
    *len = n;
    return FR_OK;
}

int fr_write_file_atomic(const char *path, const void *data, size_t len, FrError *err)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return fr_error(err, FR_E_USAGE, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) /* a directory that is not there is the caller's path: exit 2 */
        return fr_error(err, errno == ENOENT || errno == ENOTDIR ? FR_E_NOENT : FR_E_IO,
                        "%s: cannot create (%s); check the directory exists and is writable",
                        path, strerror(errno));
    const uint8_t *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            return fr_error(err, FR_E_IO, "%s: write failed (%s)", path, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(tmp);
        return fr_error(err, FR_E_IO, "%s: write failed (%s)", path, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return fr_error(err, FR_E_IO, "%s: rename failed (%s)", path, strerror(e));
    }
    return FR_OK;
}

/* --- .npy ---------------------------------------------------------------- */

#define NPY_MAX_DIMS 8

static int parse_shape(const char *hdr, long dims[NPY_MAX_DIMS], int *nd)
{
    const char *s = strstr(hdr, "'shape'");
    if (!s)
        return -1;
    s = strchr(s, '(');
    if (!s)
        return -1;
    s++;
    *nd = 0;
    while (*s && *s != ')') {
        while (*s == ' ' || *s == ',')
            s++;
        if (*s == ')')
            break;
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v <= 0 || v > (1L << 30) || *nd >= NPY_MAX_DIMS)
            return -1;
        dims[(*nd)++] = v;
        s = end;
    }
    return *s == ')' ? 0 : -1;
}

/* The value of 'descr' ('<f4', '>f8', '<f2', '|f1'...) into d (cap 8). */
static int parse_descr(const char *hdr, char *d, size_t cap)
{
    const char *s = strstr(hdr, "'descr'");
    if (!s || !(s = strchr(s + 7, '\'')))
        return -1;
    const char *e = strchr(s + 1, '\'');
    if (!e || (size_t)(e - s - 1) >= cap)
        return -1;
    memcpy(d, s + 1, (size_t)(e - s - 1));
    d[e - s - 1] = 0;
    return 0;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, ex = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (ex == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13); /* inf, NaN */
    } else if (ex) {
        bits = sign | ((ex + 112) << 23) | (man << 13);
    } else if (man) { /* subnormal: normalise */
        int e = -1;
        do {
            e++;
            man <<= 1;
        } while (!(man & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
    } else {
        bits = sign;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Element i of raw data of the given type (size 2/4/8, byte order). */
static float npy_value(const uint8_t *p, int size, int big)
{
    uint8_t b[8];
    for (int k = 0; k < size; k++)
        b[k] = big ? p[size - 1 - k] : p[k]; /* to little-endian */
    if (size == 2) {
        uint16_t h = (uint16_t)(b[0] | (b[1] << 8));
        return half_to_float(h);
    }
    uint64_t u = 0;
    for (int k = size - 1; k >= 0; k--)
        u = (u << 8) | b[k];
    if (size == 4) {
        uint32_t v = (uint32_t)u;
        float f;
        memcpy(&f, &v, sizeof f);
        return f;
    }
    double d;
    memcpy(&d, &u, sizeof d);
    return (float)d;
}

int fr_npy_read(const char *path, FrTensor *out, FrError *err)
{
    return fr_npy_read_ex(path, out, NULL, err);
}

/* Parses a whole .npy held in buf (owned, freed here). */
static int npy_parse(const char *path, uint8_t *buf, size_t len, FrTensor *out, FrNpyInfo *info,
                     FrError *err)
{
    int rc;
    rc = FR_E_FORMAT;
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) {
        fr_error(err, rc, "%s: not a .npy file (bad magic)", path);
        goto error;
    }
    int major = buf[6];
    size_t hlen, hoff;
    if (major == 1) {
        hlen = buf[8] | (buf[9] << 8);
        hoff = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) {
            fr_error(err, rc, "%s: truncated .npy header", path);
            goto error;
        }
        hlen = (size_t)buf[8] | ((size_t)buf[9] << 8) | ((size_t)buf[10] << 16) | ((size_t)buf[11] << 24);
        hoff = 12;
    } else {
        fr_error(err, rc, "%s: unsupported .npy version %d", path, major);
        goto error;
    }
    if (hoff + hlen > len || hlen > 65536) {
        fr_error(err, rc, "%s: truncated .npy header", path);
        goto error;
    }
    char hdr[65537];
    memcpy(hdr, buf + hoff, hlen);
    hdr[hlen] = 0;
    /* numpy writes float16/32/64 in either byte order; featrd keeps float32 */
    char descr[8];
    int size = 0, big = 0;
    if (!parse_descr(hdr, descr, sizeof descr) && (descr[0] == '<' || descr[0] == '>' ||
                                                     descr[0] == '=' || descr[0] == '|') &&
        descr[1] == 'f' && !descr[3]) {
        size = descr[2] == '2' ? 2 : descr[2] == '4' ? 4 : descr[2] == '8' ? 8 : 0;
        big = descr[0] == '>';
    }
    if (!size) {
        fr_error(err, rc, "%s: dtype %s: featrd reads float16, float32 or float64 (either byte "
                 "order); convert with arr.astype(np.float32)", path,
                 parse_descr(hdr, descr, sizeof descr) ? "(unreadable)" : descr);
        goto error;
    }
    int fortran = strstr(hdr, "'fortran_order': True") != NULL;
    long dims[NPY_MAX_DIMS];
    int nd;
    if (parse_shape(hdr, dims, &nd) != 0 || nd < 1) {
        fr_error(err, rc, "%s: shape must have 1 to %d positive dimensions", path, NPY_MAX_DIMS);
        goto error;
    }
    /* leading singleton dimensions (a batch of one: 1xCxHxW) are squeezed */
    int lead = 0;
    while (nd - lead > 3 && dims[lead] == 1)
        lead++;
    if (nd - lead > 3) {
        fr_error(err, rc, "%s: shape has %d dimensions after dropping leading 1s; featrd reads "
                 "C x H x W (one image's tensor: save t.squeeze(0))", path, nd - lead);
        goto error;
    }
    long c = 1, h = 1, w = 1;
    const long *d = dims + lead;
    int k3 = nd - lead;
    if (k3 == 3) { c = d[0]; h = d[1]; w = d[2]; }
    else if (k3 == 2) { h = d[0]; w = d[1]; }
    else { w = d[0]; }
    /* each dimension is below 2^30, so the product can pass 64 bits: bound
     * it before multiplying, then compare with the bytes present */
    uint64_t ch = (uint64_t)c * (uint64_t)h, data = len - hoff - hlen;
    if (ch > ((uint64_t)1 << 31) / (uint64_t)w) {
        fr_error(err, rc, "%s: corrupt: shape %ldx%ldx%ld has over 2^31 elements (%zu data bytes present)", path, c, h, w, (size_t)data);
        goto error;
    }
    size_t n = (size_t)(ch * (uint64_t)w);
    if (data != n * (size_t)size) {
        fr_error(err, rc, "%s: corrupt: data is %zu bytes, shape and dtype %s need %zu", path,
                 (size_t)data, descr, n * (size_t)size);
        goto error;
    }
    rc = fr_tensor_alloc(out, (int)c, (int)h, (int)w);
    if (rc) {
        fr_error(err, rc, "%s: out of memory", path);
        goto error;
    }
    const uint8_t *src = buf + hoff + hlen;
    for (size_t i = 0; i < n; i++) {
        /* C-order index i = (ci, hi, wi); Fortran order stores wi slowest */
        size_t j = i;
        if (fortran) {
            size_t wi = i % (size_t)w, hi = (i / (size_t)w) % (size_t)h, ci = i / ((size_t)w * (size_t)h);
            j = ci + (size_t)c * (hi + (size_t)h * wi);
        }
        out->data[i] = npy_value(src + j * (size_t)size, size, big);
    }
    if (info) {
        snprintf(info->dtype, sizeof info->dtype, "%s", descr);
        info->fortran = fortran;
        info->squeezed = lead;
        info->converted = size != 4 || big;
    }
    free(buf);
    return FR_OK;
error:
    free(buf);
    return rc;
}

/* --- .npz (numpy's savez / savez_compressed: a ZIP of .npy members) ----- */

static uint32_t le16(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
static uint32_t le32(const uint8_t *p) { return le16(p) | (le16(p + 2) << 16); }
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | ((uint64_t)le32(p + 4) << 32); }

/* Member `key` (or key.npy; NULL: the only member) of the ZIP in z[0..n)
 * into *out (malloc'ed). Every offset and size is checked against n. */
static int npz_member(const char *path, const uint8_t *z, size_t n, const char *key, uint8_t **out,
                      size_t *out_n, FrError *err)
{
    *out = NULL;
    size_t e = 0;
    int found = 0;
    if (n >= 22)
        for (size_t i = n - 22, stop = n > 65557 ? n - 65557 : 0;; i--) {
            if (!memcmp(z + i, "PK\5\6", 4)) {
                e = i;
                found = 1;
                break;
            }
            if (i == stop)
                break;
        }
    if (!found)
        return fr_error(err, FR_E_FORMAT, "%s: not a .npz (no ZIP end record)", path);
    uint64_t entries = le16(z + e + 10), cd_off = le32(z + e + 16), cd_size = le32(z + e + 12);
    if ((entries == 0xffff || cd_off == 0xffffffffu || cd_size == 0xffffffffu) && e >= 20 &&
        !memcmp(z + e - 20, "PK\6\7", 4)) { /* zip64, as numpy writes (force_zip64) */
        uint64_t o = le64(z + e - 20 + 8);
        if (o > n || n - o < 56 || memcmp(z + o, "PK\6\6", 4))
            return fr_error(err, FR_E_FORMAT, "%s: corrupt .npz (zip64 end record)", path);
        entries = le64(z + o + 32);
        cd_size = le64(z + o + 40);
        cd_off = le64(z + o + 48);
    }
    if (cd_off > n || cd_size > n - cd_off || entries > cd_size / 46)
        return fr_error(err, FR_E_FORMAT, "%s: corrupt .npz (central directory outside the file)",
                        path);
    char names[512] = "";
    size_t nl = 0, p = (size_t)cd_off, end = (size_t)(cd_off + cd_size);
    for (uint64_t k = 0; k < entries; k++) {
        if (end - p < 46 || memcmp(z + p, "PK\1\2", 4))
            return fr_error(err, FR_E_FORMAT, "%s: corrupt .npz (directory entry %llu)", path,
                            (unsigned long long)k);
        uint32_t method = le16(z + p + 10), crc = le32(z + p + 16);
        uint64_t csize = le32(z + p + 20), usize = le32(z + p + 24), lho = le32(z + p + 42);
        size_t nlen = le16(z + p + 28), xlen = le16(z + p + 30), clen = le16(z + p + 32);
        if (end - p - 46 < nlen + xlen + clen)
            return fr_error(err, FR_E_FORMAT, "%s: corrupt .npz (directory entry %llu)", path,
                            (unsigned long long)k);
        const char *name = (const char *)z + p + 46;
        /* zip64 extra: the 8-byte values of the fields set to 0xffffffff, in order */
        for (size_t x = p + 46 + nlen, xe = x + xlen; x + 4 <= xe;) {
            uint32_t id = le16(z + x), sz = le16(z + x + 2);
            if (x + 4 + sz > xe)
                break;
            if (id == 1) {
                size_t q = x + 4, qe = q + sz;
                if (usize == 0xffffffffu && q + 8 <= qe) { usize = le64(z + q); q += 8; }
                if (csize == 0xffffffffu && q + 8 <= qe) { csize = le64(z + q); q += 8; }
                if (lho == 0xffffffffu && q + 8 <= qe) { lho = le64(z + q); q += 8; }
            }
            x += 4 + sz;
        }
        size_t kl = key ? strlen(key) : 0;
        int match = key ? ((nlen == kl && !memcmp(name, key, kl)) ||
                           (nlen == kl + 4 && !memcmp(name, key, kl) && !memcmp(name + kl, ".npy", 4)))
                        : entries == 1;
        if (nl + nlen + 8 < sizeof names)
            nl += (size_t)snprintf(names + nl, sizeof names - nl, "%s%.*s", nl ? ", " : "",
                                   (int)(nlen > 4 && !memcmp(name + nlen - 4, ".npy", 4) ? nlen - 4 : nlen),
                                   name);
        p += 46 + nlen + xlen + clen;
        if (!match)
            continue;
        if (lho > n || n - lho < 30 || memcmp(z + lho, "PK\3\4", 4))
            return fr_error(err, FR_E_FORMAT, "%s: corrupt .npz (member %.*s)", path, (int)nlen, name);
        uint64_t data = lho + 30 + le16(z + lho + 26) + le16(z + lho + 28);
        if (data > n || csize > n - data || usize > ((uint64_t)1 << 33) ||
            (method == 0 && usize != csize) || (method == 8 && usize > 1032 * csize + 1024) ||
            (method != 0 && method != 8))
            return fr_error(err, FR_E_FORMAT, "%s: corrupt or unsupported .npz member %.*s (method "
                            "%u, %llu -> %llu bytes)", path, (int)nlen, name, method,
                            (unsigned long long)csize, (unsigned long long)usize);
        uint8_t *buf = malloc(usize ? (size_t)usize : 1);
        if (!buf)
            return fr_error(err, FR_E_NOMEM, "%s: out of memory", path);
        int rc = 0;
        if (method == 0)
            memcpy(buf, z + data, (size_t)usize);
        else
            rc = fr_zlib_inflate_raw(z + data, (size_t)csize, buf, (size_t)usize, err);
        if (!rc && fr_zlib_crc32(buf, (size_t)usize) != crc)
            rc = fr_error(err, FR_E_FORMAT, "%s: corrupt .npz member %.*s (CRC)", path, (int)nlen, name);
        if (rc) {
            free(buf);
            if (rc != FR_E_FORMAT)
                return rc;
            /* the coder's message is a copy: err->msg is also where it goes */
            char why[sizeof err->msg];
            snprintf(why, sizeof why, "%s", err ? err->msg : "");
            return fr_error(err, rc, "%s: member %.*s: %s", path, (int)nlen, name, why);
        }
        *out = buf;
        *out_n = (size_t)usize;
        return 0;
    }
    if (!key)
        return fr_error(err, FR_E_USAGE, "%s: holds %llu arrays (%s): name one as %s:KEY", path,
                        (unsigned long long)entries, names, path);
    return fr_error(err, FR_E_NOENT, "%s: no array '%s' (arrays: %s)", path, key, names);
}

int fr_npy_read_ex(const char *path, FrTensor *out, FrNpyInfo *info, FrError *err)
{
    memset(out, 0, sizeof *out);
    if (info)
        memset(info, 0, sizeof *info);
    /* "file.npz:key" or "file.npz" (one array) */
    const char *colon = strrchr(path, ':');
    size_t pl = colon ? (size_t)(colon - path) : strlen(path);
    if (pl >= 4 && !strncmp(path + pl - 4, ".npz", 4)) {
        char zpath[4096];
        if (pl >= sizeof zpath)
            return fr_error(err, FR_E_USAGE, "%.200s...: path too long", path);
        memcpy(zpath, path, pl);
        zpath[pl] = 0;
        uint8_t *z, *m = NULL;
        size_t zn, mn = 0;
        int rc = fr_read_file(zpath, &z, &zn, err);
        if (rc)
            return rc;
        rc = npz_member(zpath, z, zn, colon ? colon + 1 : NULL, &m, &mn, err);
        free(z);
        if (rc)
            return rc;
        return npy_parse(path, m, mn, out, info, err);
    }
    uint8_t *buf;
    size_t len;
    int rc = fr_read_file(path, &buf, &len, err);
    if (rc)
        return rc;
    return npy_parse(path, buf, len, out, info, err);
}

int fr_npy_write(const char *path, const FrTensor *t, FrError *err)
{
    char hdr[256];
    int n = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d, %d), }",
                     t->c, t->h, t->w);
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)n + pad + 1;
    size_t bytes = fr_tensor_size(t) * 4;
    uint8_t *buf = malloc(10 + hlen + bytes);
    if (!buf)
        return fr_error(err, FR_E_NOMEM, "%s: out of memory", path);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (uint8_t)(hlen & 0xff);
    buf[9] = (uint8_t)(hlen >> 8);
    memcpy(buf + 10, hdr, (size_t)n);
    memset(buf + 10 + n, ' ', pad);
    buf[10 + hlen - 1] = '\n';
    memcpy(buf + 10 + hlen, t->data, bytes);
    int rc = fr_write_file_atomic(path, buf, 10 + hlen + bytes, err);
    free(buf);
    return rc;
}
