/* cfg_check.c: the darknet cfg check and rewrite (model_internal.h). Text
 * work only: nothing here calls darknet, so a cfg darknet would choke on is
 * refused with the file, line and key before darknet parses it. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/model_internal.h"

/* Section names darknet's parser accepts (string_to_layer_type), so a cfg
 * with a typo is refused before darknet builds a layer without a forward. */
static const char *const known_sections[] = {
    "shortcut", "crop", "cost", "detection", "region", "yolo", "iseg", "local", "conv",
    "convolutional", "deconv", "deconvolutional", "activation", "logistic", "l2norm", "net",
    "network", "crnn", "gru", "lstm", "rnn", "conn", "connected", "max", "maxpool", "reorg",
    "avg", "avgpool", "dropout", "lrn", "normalization", "batchnorm", "soft", "softmax", "route",
    "upsample",
};

static int known_section(const char *s)
{
    for (size_t i = 0; i < sizeof known_sections / sizeof known_sections[0]; i++)
        if (!strcmp(s, known_sections[i]))
            return 1;
    return 0;
}

/* --------------------------------------------------- cfg check + rewrite -- */

static int buf_add(FrCfgText *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = b->cap - b->n;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, room, fmt, ap);
        va_end(ap);
        if (k < 0)
            return -1;
        if ((size_t)k < room) {
            b->n += (size_t)k;
            return 0;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap - b->n <= (size_t)k)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q)
            return -1;
        b->p = q;
        b->cap = cap;
    }
}

/* darknet's strip(): every space, tab and newline goes, inside too. */
static void strip_all(char *s)
{
    char *d = s;
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            *d++ = *s;
    *d = 0;
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* A data file named in the cfg (tree=, map=): as written if it exists, else
 * next to the cfg or in its parent (darknet's cfg/ and data/ layout). */
static int resolve_data_file(const char *cfg, const char *val, char *out, size_t cap)
{
    if (file_exists(val) || val[0] == '/') {
        snprintf(out, cap, "%s", val);
        return file_exists(val);
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", cfg);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    if (snprintf(out, cap, "%s/%s", dir, val) >= (int)cap)
        return 0;
    if (file_exists(out))
        return 1;
    if (snprintf(out, cap, "%s/../%s", dir, val) >= (int)cap)
        return 0;
    return file_exists(out);
}

/* Layer options darknet trusts: a kernel of 2001 makes it ask for a 49 GB
 * workspace and use the NULL it gets back; more anchors than 2×num overflow
 * its bias array (glibc then aborts inside malloc); stride 0 divides by
 * zero, a negative stride gives negative shapes. Each section's first
 * occurrence of a key is the one darknet reads (option_find). */
enum { OPT_SIZE, OPT_STRIDE, OPT_PAD, OPT_PADDING, OPT_FILTERS, OPT_GROUPS, OPT_OUTPUT,
       OPT_NUM, OPT_CLASSES, OPT_COORDS, OPT_SIDE, OPT_ANCHORS, OPT_MASK, OPT_N };
static const char *const opt_keys[OPT_N] = {"size", "stride", "pad", "padding", "filters",
    "groups", "output", "num", "classes", "coords", "side", "anchors", "mask"};

typedef struct SecOpts {
    char section[64];
    int layer, sec_line;
    int set[OPT_N];
    int line[OPT_N];
    long long v[OPT_N];   /* numeric keys; list keys: the number of values */
    long long mask_min, mask_max;
    int bad[OPT_N];       /* not an integer (numeric) or an empty value (lists) */
} SecOpts;

/* "1,2, 3" → 3 values, min/max of their integer parts. */
static long long count_list(const char *v, long long *mn, long long *mx)
{
    long long n = 0;
    *mn = LLONG_MAX;
    *mx = LLONG_MIN;
    for (const char *t = v; *t;) {
        char *end;
        long long x = strtoll(t, &end, 10);
        if (end == t)
            x = 0;
        if (x < *mn)
            *mn = x;
        if (x > *mx)
            *mx = x;
        n++;
        const char *c = strchr(t, ',');
        if (!c)
            break;
        t = c + 1;
    }
    return n;
}

static void sec_note(SecOpts *so, const char *key, const char *val, int lineno)
{
    for (int k = 0; k < OPT_N; k++) {
        if (strcmp(key, opt_keys[k]) || so->set[k])
            continue;
        so->set[k] = 1;
        so->line[k] = lineno;
        if (k == OPT_ANCHORS || k == OPT_MASK) {
            long long mn, mx;
            so->v[k] = count_list(val, &mn, &mx);
            so->bad[k] = !val[0];
            if (k == OPT_MASK) {
                so->mask_min = mn;
                so->mask_max = mx;
            }
        } else {
            char *end;
            errno = 0;
            so->v[k] = strtoll(val, &end, 10);
            so->bad[k] = end == val || errno == ERANGE || so->v[k] > INT_MAX || so->v[k] < INT_MIN;
        }
    }
}

/* A key's value (or darknet's default) outside lo..hi is refused. */
static int sec_range(const SecOpts *so, int k, long long def, long long lo, long long hi,
                     const char *path, const char *why, FrError *err, long long *out)
{
    long long v = so->set[k] ? so->v[k] : def;
    if (so->set[k] && so->bad[k])
        return fr_error(err, FR_E_FORMAT, "%s:%d: [%s] (layer %d): %s= is not an integer", path, so->line[k], so->section, so->layer, opt_keys[k]);
    if (v < lo || v > hi)
        return fr_error(err, FR_E_FORMAT, "%s:%d: [%s] (layer %d): %s=%lld is outside %lld..%lld%s", path, so->set[k] ? so->line[k] : so->sec_line, so->section, so->layer, opt_keys[k], v, lo, hi, why);
    if (out)
        *out = v;
    return FR_OK;
}

#define FR_CFG_MAX_KERNEL 64
#define FR_CFG_MAX_STRIDE 64
#define FR_CFG_MAX_FILTERS 65536
#define FR_CFG_MAX_OUTPUT (1 << 20)
#define FR_CFG_MAX_ANCHORS 4096
#define FR_CFG_MAX_CLASSES 100000

static int check_section(const SecOpts *so, const char *path, FrError *err)
{
    const char *s = so->section;
    int rc = FR_OK;
    long long v = 0, num = 0;
    if (so->layer < 0)
        return FR_OK;
    if (!strcmp(s, "conv") || !strcmp(s, "convolutional") || !strcmp(s, "local") ||
        !strcmp(s, "deconv") || !strcmp(s, "deconvolutional")) {
        long long size = 1, filters = 1;
        if ((rc = sec_range(so, OPT_SIZE, 1, 1, FR_CFG_MAX_KERNEL, path, " (darknet would allocate a size²-sized workspace per output pixel)", err, &size)) ||
            (rc = sec_range(so, OPT_STRIDE, 1, 1, FR_CFG_MAX_STRIDE, path, "", err, NULL)) ||
            (rc = sec_range(so, OPT_PAD, 0, 0, 1, path, "", err, NULL)) ||
            (rc = sec_range(so, OPT_PADDING, 0, 0, size, path, " (at most size=)", err, NULL)) ||
            (rc = sec_range(so, OPT_FILTERS, 1, 1, FR_CFG_MAX_FILTERS, path, "", err, &filters)) ||
            (rc = sec_range(so, OPT_GROUPS, 1, 1, filters, path, " (at most filters=)", err, NULL)))
            return rc;
    } else if (!strcmp(s, "max") || !strcmp(s, "maxpool")) {
        long long size = 1, stride = 1;
        if ((rc = sec_range(so, OPT_STRIDE, 1, 1, FR_CFG_MAX_STRIDE, path, "", err, &stride)) ||
            (rc = sec_range(so, OPT_SIZE, stride, 1, FR_CFG_MAX_KERNEL, path, "", err, &size)) ||
            (rc = sec_range(so, OPT_PADDING, size - 1, 0, 2 * size, path, " (at most 2×size=)", err, NULL)))
            return rc;
    } else if (!strcmp(s, "reorg")) {
        if ((rc = sec_range(so, OPT_STRIDE, 1, 1, FR_CFG_MAX_STRIDE, path, "", err, NULL)))
            return rc;
    } else if (!strcmp(s, "upsample")) {
        if ((rc = sec_range(so, OPT_STRIDE, 2, -FR_CFG_MAX_STRIDE, FR_CFG_MAX_STRIDE, path, "", err, &v)))
            return rc;
        if (v == 0)
            return fr_error(err, FR_E_FORMAT, "%s:%d: [upsample] (layer %d): stride=0 (darknet divides by it); use a positive factor to upsample, a negative one to downsample", path, so->line[OPT_STRIDE], so->layer);
    } else if (!strcmp(s, "conn") || !strcmp(s, "connected")) {
        if ((rc = sec_range(so, OPT_OUTPUT, 1, 1, FR_CFG_MAX_OUTPUT, path, "", err, NULL)))
            return rc;
    } else if (!strcmp(s, "region") || !strcmp(s, "yolo") || !strcmp(s, "detection")) {
        if ((rc = sec_range(so, OPT_NUM, 1, 1, FR_CFG_MAX_ANCHORS, path, "", err, &num)) ||
            (rc = sec_range(so, OPT_CLASSES, 20, 1, FR_CFG_MAX_CLASSES, path, "", err, NULL)) ||
            (rc = sec_range(so, OPT_COORDS, 4, 0, 64, path, "", err, NULL)) ||
            (rc = sec_range(so, OPT_SIDE, 7, 1, 4096, path, "", err, NULL)))
            return rc;
        if (so->set[OPT_ANCHORS] && so->v[OPT_ANCHORS] > 2 * num)
            return fr_error(err, FR_E_FORMAT, "%s:%d: [%s] (layer %d): anchors= has %lld values but num=%lld allows at most %lld (a width,height pair per anchor); fix num= or the anchor list", path, so->line[OPT_ANCHORS], s, so->layer, so->v[OPT_ANCHORS], num, 2 * num);
        if (!strcmp(s, "yolo") && so->set[OPT_MASK]) {
            if (so->bad[OPT_MASK] || so->v[OPT_MASK] > num || so->mask_min < 0 || so->mask_max >= num)
                return fr_error(err, FR_E_FORMAT, "%s:%d: [yolo] (layer %d): mask= must list at most num=%lld anchor indices, each in 0..%lld", path, so->line[OPT_MASK], so->layer, num, num - 1);
        }
    }
    return FR_OK;
}

/* Checks what would make darknet exit or crash and writes the cfg darknet
 * will parse: batch=1 subdivisions=1, the requested input size, crop sizes
 * no larger than the input, absolute data file paths. */
int fr_cfg_rewrite(const char *path, int in_w, int in_h, FrCfgText *out, FrCfgInfo *ci, FrError *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = fr_read_file(path, &data, &len, NULL);
    if (rc != FR_OK) {
        if (access(path, F_OK) != 0)
            return fr_error(err, FR_E_NOENT, "%s: no such model cfg; give the path of a darknet .cfg (e.g. /usr/share/darknet/cfg/yolo9000.cfg)", path);
        return fr_error(err, FR_E_IO, "%s: cannot read the model cfg: %s", path, strerror(errno));
    }
    char *text = malloc(len + 1);
    if (!text) {
        free(data);
        return fr_error(err, FR_E_NOMEM, "out of memory reading %s", path);
    }
    memcpy(text, data, len);
    text[len] = 0;
    free(data);
    if (memchr(text, 0, len)) {
        free(text);
        return fr_error(err, FR_E_FORMAT, "%s: not a darknet cfg (binary data)", path);
    }

    int nsec = 0, lineno = 0, cap = 0, net_w = 0, net_h = 0, net_c = 0, net_inputs = 0;
    char section[64] = "";
    SecOpts so = {.layer = -1};
    int *lines = NULL;
    char *p = text;
    int layer = -1;
    while (*p && rc == FR_OK) {
        char *nl = strchr(p, '\n');
        size_t L = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        char line[4096];
        if (L >= sizeof line) {
            rc = fr_error(err, FR_E_FORMAT, "%s:%d: line too long for darknet's cfg reader", path, lineno);
            break;
        }
        memcpy(line, p, L);
        line[L] = 0;
        p += L + (nl ? 1 : 0);
        char orig[4096];
        memcpy(orig, line, L + 1);
        strip_all(line);
        if (!line[0] || line[0] == '#' || line[0] == ';') {
            buf_add(out, "%s\n", orig);
            continue;
        }
        if (line[0] == '[') {
            char *close = strchr(line, ']');
            if (!close || close[1] || close - line - 1 <= 0 || close - line - 1 >= (long)sizeof section) {
                rc = fr_error(err, FR_E_FORMAT, "%s:%d: bad section header '%s'", path, lineno, orig);
                break;
            }
            if ((rc = check_section(&so, path, err)) != FR_OK)
                break;
            memcpy(section, line + 1, (size_t)(close - line - 1));
            section[close - line - 1] = 0;
            memset(&so, 0, sizeof so);
            snprintf(so.section, sizeof so.section, "%s", section);
            so.layer = nsec - 1;
            so.sec_line = lineno;
            if (nsec == 0 && strcmp(section, "net") && strcmp(section, "network")) {
                rc = fr_error(err, FR_E_FORMAT, "%s:%d: the first section must be [net], not [%s]", path, lineno, section);
                break;
            }
            if (!known_section(section)) {
                rc = fr_error(err, FR_E_FORMAT, "%s:%d: unknown layer type [%s] (darknet would skip it and crash)", path, lineno, section);
                break;
            }
            if (nsec > 0) {
                layer = nsec - 1;
                if (layer >= cap) {
                    cap = cap ? cap * 2 : 64;
                    int *q = realloc(lines, (size_t)cap * sizeof *q);
                    if (!q) {
                        rc = fr_error(err, FR_E_NOMEM, "out of memory reading %s", path);
                        break;
                    }
                    lines = q;
                }
                lines[layer] = lineno;
            }
            nsec++;
            buf_add(out, "%s\n", line);
            if (nsec == 1) {
                buf_add(out, "batch=1\nsubdivisions=1\n");
                if (in_w > 0)
                    buf_add(out, "width=%d\nheight=%d\n", in_w, in_h);
            }
            continue;
        }
        if (nsec == 0) {
            rc = fr_error(err, FR_E_FORMAT, "%s:%d: option '%s' before the first section [net]", path, lineno, orig);
            break;
        }
        char *eq = strchr(line, '=');
        if (!eq) {
            buf_add(out, "%s\n", orig); /* darknet warns and ignores it */
            continue;
        }
        *eq = 0;
        const char *key = line, *val = eq + 1;
        sec_note(&so, key, val, lineno);
        if (nsec == 1) {
            if (!strcmp(key, "batch") || !strcmp(key, "subdivisions"))
                continue;
            if (!strcmp(key, "width")) {
                net_w = atoi(val);
                if (in_w > 0)
                    continue;
            }
            if (!strcmp(key, "height")) {
                net_h = atoi(val);
                if (in_h > 0)
                    continue;
            }
            if (!strcmp(key, "channels"))
                net_c = atoi(val);
            if (!strcmp(key, "inputs"))
                net_inputs = atoi(val);
            buf_add(out, "%s=%s\n", key, val);
            continue;
        }
        if (!strcmp(section, "crop") && (!strcmp(key, "crop_width") || !strcmp(key, "crop_height"))) {
            int v = atoi(val);
            int lim = !strcmp(key, "crop_width") ? (in_w > 0 ? in_w : net_w) : (in_h > 0 ? in_h : net_h);
            if (lim > 0 && v > lim)
                v = lim; /* a crop larger than its input divides by zero in darknet */
            buf_add(out, "%s=%d\n", key, v);
            continue;
        }
        if (!strcmp(key, "tree") || !strcmp(key, "map")) {
            char res[4096];
            if (!resolve_data_file(path, val, res, sizeof res)) {
                rc = fr_error(err, FR_E_NOENT, "%s:%d: %s=%s: no such file (looked as written and next to the cfg)", path, lineno, key, val);
                break;
            }
            buf_add(out, "%s=%s\n", key, res);
            continue;
        }
        if (!strcmp(section, "route") && !strcmp(key, "layers")) {
            char tmp[4096];
            snprintf(tmp, sizeof tmp, "%s", val);
            char *sv = NULL;
            int k = 0;
            for (char *t = strtok_r(tmp, ",", &sv); t; t = strtok_r(NULL, ",", &sv), k++) {
                int idx = atoi(t);
                if (idx < 0)
                    idx += layer;
                if (idx < 0 || idx >= layer) {
                    rc = fr_error(err, FR_E_FORMAT, "%s:%d: route layer %d reads layer %s, which is not an earlier layer", path, lineno, layer, t);
                    break;
                }
            }
            if (rc == FR_OK && k == 0)
                rc = fr_error(err, FR_E_FORMAT, "%s:%d: route layer %d has an empty layers=", path, lineno, layer);
            if (rc != FR_OK)
                break;
        }
        if (!strcmp(section, "shortcut") && !strcmp(key, "from")) {
            int idx = atoi(val);
            if (idx < 0)
                idx += layer;
            if (idx < 0 || idx >= layer) {
                rc = fr_error(err, FR_E_FORMAT, "%s:%d: shortcut layer %d reads layer %s, which is not an earlier layer", path, lineno, layer, val);
                break;
            }
        }
        buf_add(out, "%s=%s\n", key, val);
    }
    free(text);
    if (rc == FR_OK)
        rc = check_section(&so, path, err);
    if (rc == FR_OK && nsec == 0)
        rc = fr_error(err, FR_E_FORMAT, "%s: no sections; not a darknet cfg", path);
    if (rc == FR_OK && nsec == 1)
        rc = fr_error(err, FR_E_FORMAT, "%s: [net] but no layers", path);
    if (rc == FR_OK && (net_w < 0 || net_w > 16384 || net_h < 0 || net_h > 16384 || net_c < 0 || net_c > 4096 || net_inputs < 0 || net_inputs > FR_CFG_MAX_OUTPUT))
        rc = fr_error(err, FR_E_FORMAT, "%s: [net] width=%d height=%d channels=%d inputs=%d: width and height must be 1..16384, channels 1..4096, inputs 1..%d", path, net_w, net_h, net_c, net_inputs, FR_CFG_MAX_OUTPUT);
    if (rc == FR_OK && !net_inputs && !(net_w > 0 && net_h > 0 && net_c > 0))
        rc = fr_error(err, FR_E_FORMAT, "%s: [net] needs width, height and channels (or inputs)", path);
    if (rc == FR_OK && !out->p)
        rc = fr_error(err, FR_E_NOMEM, "out of memory reading %s", path);
    if (rc != FR_OK) {
        free(lines);
        return rc;
    }
    ci->nlayers = nsec - 1;
    ci->line = lines;
    return FR_OK;
}

