/* schema.c: settings structs described by tables (featrd/schema.h):
 * defaults, ranges, text forms, release of what the fields own. YAML is
 * the config module's (src/config/parse.c, dump.c). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "featrd/schema.h"
#include "util/schema.h"

static int *int_at(const FrField *f, void *obj)
{
    return (int *)((char *)obj + f->offset);
}

static char *str_at(const FrField *f, void *obj)
{
    return (char *)obj + f->offset;
}

static void *at(const FrField *f, const void *obj)
{
    return (char *)obj + f->offset;
}

static int *count_at(const FrField *f, const void *obj)
{
    return (int *)((char *)obj + f->count_offset);
}

static int is_list(const FrField *f)
{
    return f->type == FR_FIELD_INTS || f->type == FR_FIELD_ENUMS || f->type == FR_FIELD_STRINGS;
}

static int is_wide(const FrField *f)
{
    return f->type != FR_FIELD_INT && f->type != FR_FIELD_BOOL && f->type != FR_FIELD_CHOICE;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

void fr_schema_strings_clear(const FrField *f, void *obj)
{
    char ***p = at(f, obj);
    for (int i = 0; *p && i < *count_at(f, obj); i++)
        free((*p)[i]);
    free(*p);
    *p = NULL;
    *count_at(f, obj) = 0;
}

int *fr_schema_all_at(const FrField *f, const void *obj)
{
    return f->type == FR_FIELD_STRINGS && (f->flags & FR_FIELD_ALL)
               ? (int *)((char *)obj + f->all_offset)
               : NULL;
}

static void release_field(const FrField *f, void *obj)
{
    if (f->type == FR_FIELD_STRING) {
        char **p = at(f, obj);
        free(*p);
        *p = NULL;
    } else if (f->type == FR_FIELD_STRINGS) {
        fr_schema_strings_clear(f, obj);
    } else if (f->type == FR_FIELD_INTS || f->type == FR_FIELD_ENUMS) {
        int **p = at(f, obj);
        free(*p);
        *p = NULL;
        *count_at(f, obj) = 0;
    } else if (f->type == FR_FIELD_SECTION) {
        fr_schema_release(f->sub, at(f, obj));
    }
}

void fr_schema_release(const FrSchema *s, void *obj)
{
    for (int i = 0; i < s->n_fields; i++)
        release_field(&s->fields[i], obj);
}

static int init_field(const FrField *f, void *obj)
{
    switch (f->type) {
    case FR_FIELD_CHOICE:
        snprintf(str_at(f, obj), f->size, "%s", f->def_str ? f->def_str : "");
        return 0;
    case FR_FIELD_INT:
    case FR_FIELD_BOOL:
    case FR_FIELD_ENUM:
        *int_at(f, obj) = f->def;
        return 0;
    case FR_FIELD_I64:
        *(long long *)at(f, obj) = f->def;
        return 0;
    case FR_FIELD_U64:
        *(uint64_t *)at(f, obj) = (uint64_t)f->def;
        return 0;
    case FR_FIELD_DOUBLE:
        *(double *)at(f, obj) = f->ddef;
        return 0;
    case FR_FIELD_STRING:
        release_field(f, obj);
        if (f->def_str && !(*(char **)at(f, obj) = dup_str(f->def_str)))
            return FR_E_NOMEM;
        return 0;
    case FR_FIELD_INTS:
    case FR_FIELD_ENUMS: {
        release_field(f, obj);
        if (!f->n_def)
            return 0;
        int *v = malloc((size_t)f->n_def * sizeof *v);
        if (!v)
            return FR_E_NOMEM;
        memcpy(v, f->def_list, (size_t)f->n_def * sizeof *v);
        *(int **)at(f, obj) = v;
        *count_at(f, obj) = f->n_def;
        return 0;
    }
    case FR_FIELD_STRINGS: {
        release_field(f, obj);
        if (fr_schema_all_at(f, obj))
            *fr_schema_all_at(f, obj) = f->def;
        int n = 0;
        while (f->def_strs && f->def_strs[n])
            n++;
        if (!n)
            return 0;
        char **v = calloc((size_t)n, sizeof *v);
        if (!v)
            return FR_E_NOMEM;
        *(char ***)at(f, obj) = v;
        for (int i = 0; i < n; i++) {
            if (!(v[i] = dup_str(f->def_strs[i])))
                return FR_E_NOMEM;
            *count_at(f, obj) = i + 1;
        }
        return 0;
    }
    case FR_FIELD_SECTION:
        return fr_schema_init(f->sub, at(f, obj));
    case FR_FIELD_CUSTOM:
        return 0;
    }
    return 0;
}

int fr_schema_init(const FrSchema *s, void *obj)
{
    for (int i = 0; i < s->n_fields; i++) {
        int rc = init_field(&s->fields[i], obj);
        if (rc)
            return rc;
    }
    return 0;
}

void fr_schema_defaults(const FrSchema *s, void *obj)
{
    memset(obj, 0, s->size);
    (void)fr_schema_init(s, obj); /* the codec settings own nothing */
}

const char *const *fr_schema_names(const FrField *f)
{
    return f->names_fn ? f->names_fn() : f->names;
}

double fr_schema_get_double(const FrField *f, const void *obj)
{
    return *(const double *)at(f, obj);
}

long long fr_schema_get_i64(const FrField *f, const void *obj)
{
    return *(const long long *)at(f, obj);
}

uint64_t fr_schema_get_u64(const FrField *f, const void *obj)
{
    return *(const uint64_t *)at(f, obj);
}

const char *fr_schema_get_string(const FrField *f, const void *obj)
{
    return *(char *const *)at(f, obj);
}

int fr_schema_get_list(const FrField *f, const void *obj, const int **ints, char *const **strs)
{
    if (!is_list(f))
        return 0;
    if (ints)
        *ints = f->type == FR_FIELD_STRINGS ? NULL : *(int *const *)at(f, obj);
    if (strs)
        *strs = f->type == FR_FIELD_STRINGS ? *(char **const *)at(f, obj) : NULL;
    return *count_at(f, obj);
}

static int allowed_has(const int *allowed, long long v)
{
    for (const int *a = allowed; *a != INT_MIN; a++)
        if (*a == v)
            return 1;
    return 0;
}

/* An item of an INTS field, or the value of an INT/I64/U64 one, in range. */
static int wide_int_ok(const FrField *f, long long v)
{
    if (f->allowed)
        return allowed_has(f->allowed, v);
    return v >= f->lo && v <= f->hi;
}

int fr_schema_in_range(const FrField *f, const void *obj)
{
    int ok = 1;
    switch (f->type) {
    case FR_FIELD_INT:
        ok = wide_int_ok(f, fr_schema_get_int(f, obj)) ||
             (f->special && fr_schema_get_int(f, obj) == f->special);
        break;
    case FR_FIELD_I64:
        ok = wide_int_ok(f, fr_schema_get_i64(f, obj));
        break;
    case FR_FIELD_U64:
        ok = f->hi <= 0 || fr_schema_get_u64(f, obj) <= (uint64_t)f->hi;
        break;
    case FR_FIELD_DOUBLE: {
        double v = fr_schema_get_double(f, obj);
        ok = isfinite(v) && (f->flags & FR_FIELD_LO_OPEN ? v > f->dlo : v >= f->dlo) &&
             v <= f->dhi;
        break;
    }
    case FR_FIELD_INTS: {
        const int *v;
        int n = fr_schema_get_list(f, obj, &v, NULL);
        for (int i = 0; i < n && ok; i++)
            ok = wide_int_ok(f, v[i]);
        break;
    }
    default:
        break;
    }
    return ok && (!f->accept || !f->accept(f, obj));
}

void fr_schema_range_text(const FrField *f, char *buf, size_t cap)
{
    if (f->what)
        snprintf(buf, cap, "%s", f->what);
    else if (f->type == FR_FIELD_DOUBLE)
        snprintf(buf, cap, "a number %s %g and <= %g", f->flags & FR_FIELD_LO_OPEN ? ">" : ">=",
                 f->dlo, f->dhi);
    else if (f->type == FR_FIELD_U64 && f->hi <= 0)
        snprintf(buf, cap, "a non-negative integer");
    else if (f->hi == INT_MAX)
        snprintf(buf, cap, "an integer >= %d", f->lo);
    else
        snprintf(buf, cap, "an integer from %d to %d", f->lo, f->hi);
}

const FrField *fr_schema_field(const FrSchema *s, const char *key)
{
    for (int i = 0; key && i < s->n_fields; i++)
        if (!strcmp(s->fields[i].key, key))
            return &s->fields[i];
    return NULL;
}

int fr_schema_get_int(const FrField *f, const void *obj)
{
    return *int_at(f, (void *)obj);
}

const char *fr_schema_get_str(const FrField *f, const void *obj)
{
    return str_at(f, (void *)obj);
}

static int int_ok(const FrField *f, long long v)
{
    if (f->type == FR_FIELD_BOOL)
        return v == 0 || v == 1;
    if (f->special && v == f->special)
        return 1;
    if (f->allowed) {
        for (const int *a = f->allowed; *a != INT_MIN; a++)
            if (*a == v)
                return 1;
        return 0;
    }
    return v >= f->lo && v <= f->hi;
}

static int choice_ok(const FrField *f, const char *v)
{
    for (const char *const *n = f->names; *n; n++)
        if (!strcmp(*n, v) && strlen(v) < f->size)
            return 1;
    return 0;
}

void fr_schema_describe(const FrField *f, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = 0;
#define PUT(...) (k += (size_t)snprintf(buf + (k < cap ? k : cap), k < cap ? cap - k : 0, __VA_ARGS__))
    if (f->type == FR_FIELD_BOOL) {
        PUT("true or false");
    } else if (f->type == FR_FIELD_CHOICE || f->type == FR_FIELD_ENUM ||
               f->type == FR_FIELD_ENUMS) {
        const char *const *names = fr_schema_names(f);
        int n = 0;
        while (names[n])
            n++;
        for (int i = 0; i < n; i++)
            PUT("%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);
    } else if (is_wide(f) && f->type != FR_FIELD_INTS) {
        char w[200] = "";
        if (f->type == FR_FIELD_STRING || f->type == FR_FIELD_STRINGS)
            snprintf(w, sizeof w, "%s", f->what ? f->what : "a string");
        else if (f->type != FR_FIELD_SECTION && f->type != FR_FIELD_CUSTOM)
            fr_schema_range_text(f, w, sizeof w);
        PUT("%s", w);
    } else if (f->type == FR_FIELD_INTS && f->what) {
        PUT("%s", f->what);
    } else if (f->allowed) {
        int n = 0;
        while (f->allowed[n] != INT_MIN)
            n++;
        for (int i = 0; i < n; i++)
            PUT("%s%d", i == 0 ? "" : i == n - 1 && !f->special ? " or " : ", ", f->allowed[i]);
        if (f->special)
            PUT(" or %d", f->special);
    } else {
        PUT("%d..%d", f->lo, f->hi);
        if (f->special)
            PUT(" or %d", f->special);
    }
#undef PUT
}

/* "<schema>.<key> is <v>: use <what the field accepts>" (FR_E_USAGE). */
static int refuse(const FrSchema *s, const FrField *f, const char *shown, FrError *err)
{
    char w[300];
    fr_schema_describe(f, w, sizeof w);
    return fr_error(err, FR_E_USAGE, "%s.%s is %s: use %s", s->name, f->key, shown, w);
}

static int refuse_int(const FrSchema *s, const FrField *f, long long v, FrError *err)
{
    char shown[32];
    snprintf(shown, sizeof shown, "%lld", v);
    return refuse(s, f, shown, err);
}

static int refuse_str(const FrSchema *s, const FrField *f, const char *v, FrError *err)
{
    char shown[300];
    snprintf(shown, sizeof shown, "'%s'", v);
    return refuse(s, f, shown, err);
}

int fr_schema_accepts_int(const FrField *f, long long v)
{
    return (f->type == FR_FIELD_INT || f->type == FR_FIELD_BOOL) && int_ok(f, v);
}

int fr_schema_set_int(const FrSchema *s, const FrField *f, void *obj, long long v, FrError *err)
{
    if (!fr_schema_accepts_int(f, v))
        return refuse_int(s, f, v, err);
    *int_at(f, obj) = (int)v;
    return 0;
}

int fr_schema_set_str(const FrSchema *s, const FrField *f, void *obj, const char *v, FrError *err)
{
    if (f->type != FR_FIELD_CHOICE || !choice_ok(f, v))
        return refuse_str(s, f, v, err);
    snprintf(str_at(f, obj), f->size, "%s", v);
    return 0;
}

int fr_schema_validate_key(const FrSchema *s, const void *obj, const char **key, FrError *err)
{
    const char *k = NULL;
    if (!key)
        key = &k;
    *key = NULL;
    for (int i = 0; i < s->n_fields; i++) {
        const FrField *f = &s->fields[i];
        *key = f->key;
        if (is_wide(f)) {
            if (f->type == FR_FIELD_SECTION) {
                const char *k2 = NULL;
                int rc = fr_schema_validate_key(f->sub, at(f, obj), &k2, err);
                if (rc)
                    return rc;
                continue;
            }
            char v[300], w[300];
            /* a required string (no default) is the owner's rule */
            if (f->type == FR_FIELD_STRING && !fr_schema_get_string(f, obj) && f->def_str &&
                !(f->flags & FR_FIELD_NULLABLE))
                return fr_error(err, FR_E_USAGE, "%s.%s is not set", s->name, f->key);
            if (!fr_schema_in_range(f, obj)) {
                fr_schema_field_text(f, obj, v, sizeof v);
                const char *a = f->accept ? f->accept(f, obj) : NULL;
                if (a)
                    snprintf(w, sizeof w, "%s", a);
                else
                    fr_schema_describe(f, w, sizeof w);
                return fr_error(err, FR_E_USAGE, "%s.%s is %s: use %s", s->name, f->key, v, w);
            }
        } else if (f->type == FR_FIELD_CHOICE) {
            if (!choice_ok(f, fr_schema_get_str(f, obj)))
                return refuse_str(s, f, fr_schema_get_str(f, obj), err);
        } else if (!int_ok(f, fr_schema_get_int(f, obj))) {
            return refuse_int(s, f, fr_schema_get_int(f, obj), err);
        }
    }
    *key = NULL;
    return s->check ? s->check(obj, key, err) : 0;
}

int fr_schema_validate(const FrSchema *s, const void *obj, FrError *err)
{
    return fr_schema_validate_key(s, obj, NULL, err);
}

/* The shortest text that reads back as the same double, kept a float in
 * YAML's eyes. */
static int double_text(double x, char *buf, size_t cap)
{
    char b[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, x);
        if (strtod(b, NULL) == x)
            break;
    }
    if (!strpbrk(b, ".eEn"))
        strcat(b, ".0");
    return snprintf(buf, cap, "%s", b);
}

static int wide_text(const FrField *f, const void *obj, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = 0;
#define PUT(...) (k += (size_t)snprintf(buf + (k < cap ? k : cap), k < cap ? cap - k : 0, __VA_ARGS__))
    switch (f->type) {
    case FR_FIELD_I64:
        PUT("%lld", obj ? fr_schema_get_i64(f, obj) : (long long)f->def);
        break;
    case FR_FIELD_U64:
        PUT("%llu", obj ? (unsigned long long)fr_schema_get_u64(f, obj)
                        : (unsigned long long)f->def);
        break;
    case FR_FIELD_DOUBLE:
        k = (size_t)double_text(obj ? fr_schema_get_double(f, obj) : f->ddef, buf, cap);
        break;
    case FR_FIELD_STRING: {
        const char *s = obj ? fr_schema_get_string(f, obj) : f->def_str;
        PUT("%s", s ? s : "~");
        break;
    }
    case FR_FIELD_ENUM: {
        int v = obj ? fr_schema_get_int(f, obj) : f->def;
        const char *const *names = fr_schema_names(f);
        int n = 0;
        while (names[n])
            n++;
        PUT("%s", v >= 0 && v < n ? names[v] : "?");
        break;
    }
    case FR_FIELD_INTS:
    case FR_FIELD_ENUMS:
    case FR_FIELD_STRINGS: {
        if ((f->flags & FR_FIELD_ALL) && (obj ? *fr_schema_all_at(f, obj) : f->def)) {
            PUT("all");
            break;
        }
        const int *iv = f->def_list;
        char *const *sv = (char *const *)f->def_strs;
        int n = f->n_def;
        if (obj)
            n = fr_schema_get_list(f, obj, &iv, &sv);
        else if (f->type == FR_FIELD_STRINGS)
            for (n = 0; sv && sv[n]; n++)
                ;
        const char *const *names = f->type == FR_FIELD_ENUMS ? fr_schema_names(f) : NULL;
        PUT("[");
        for (int i = 0; i < n; i++) {
            if (f->type == FR_FIELD_INTS)
                PUT("%s%d", i ? ", " : "", iv[i]);
            else
                PUT("%s%s", i ? ", " : "", f->type == FR_FIELD_ENUMS ? names[iv[i]] : sv[i]);
        }
        PUT("]");
        break;
    }
    default:
        break;
    }
#undef PUT
    return (int)k;
}

int fr_schema_field_text(const FrField *f, const void *obj, char *buf, size_t cap)
{
    if (is_wide(f))
        return wide_text(f, obj, buf, cap);
    if (f->type == FR_FIELD_CHOICE)
        return snprintf(buf, cap, "%s", obj ? fr_schema_get_str(f, obj) : f->def_str ? f->def_str : "");
    int v = obj ? fr_schema_get_int(f, obj) : f->def;
    if (f->type == FR_FIELD_BOOL)
        return snprintf(buf, cap, "%s", v ? "true" : "false");
    return snprintf(buf, cap, "%d", v);
}

int fr_schema_is_default(const FrField *f, const void *obj)
{
    if (f->type == FR_FIELD_SECTION) {
        for (int i = 0; i < f->sub->n_fields; i++)
            if (!fr_schema_is_default(&f->sub->fields[i], at(f, obj)))
                return 0;
        return 1;
    }
    if (f->type == FR_FIELD_CUSTOM)
        return 1; /* its owner knows */
    if (f->type == FR_FIELD_STRING) {
        const char *a = fr_schema_get_string(f, obj);
        return a && f->def_str ? !strcmp(a, f->def_str) : !a && !f->def_str;
    }
    if (is_wide(f)) {
        char a[1024], b[1024];
        int na = fr_schema_field_text(f, obj, a, sizeof a);
        int nb = fr_schema_field_text(f, NULL, b, sizeof b);
        return na == nb && (size_t)na < sizeof a && !strcmp(a, b);
    }
    if (f->type == FR_FIELD_CHOICE)
        return !strcmp(fr_schema_get_str(f, obj), f->def_str ? f->def_str : "");
    return fr_schema_get_int(f, obj) == f->def;
}

size_t fr_schema_format(const FrSchema *s, const void *obj, int all, const char *sep, char *buf,
                        size_t cap)
{
    size_t k = strlen(buf);
    for (int i = 0; i < s->n_fields; i++) {
        const FrField *f = &s->fields[i];
        if (!all && fr_schema_is_default(f, obj))
            continue;
        char v[256];
        fr_schema_field_text(f, obj, v, sizeof v);
        int w = snprintf(buf + (k < cap ? k : cap - 1), k < cap ? cap - k : 1, "%s%s=%s", sep,
                         f->key, v);
        k += (size_t)(w > 0 ? w : 0);
    }
    return k;
}

int fr_schema_equal(const FrSchema *s, const void *a, const void *b)
{
    for (int i = 0; i < s->n_fields; i++) {
        const FrField *f = &s->fields[i];
        if (is_wide(f)) {
            if (f->type == FR_FIELD_SECTION) {
                if (!fr_schema_equal(f->sub, at(f, a), at(f, b)))
                    return 0;
                continue;
            }
            char x[1024], y[1024];
            fr_schema_field_text(f, a, x, sizeof x);
            fr_schema_field_text(f, b, y, sizeof y);
            if (strcmp(x, y))
                return 0;
            continue;
        }
        if (f->type == FR_FIELD_CHOICE ? strcmp(fr_schema_get_str(f, a), fr_schema_get_str(f, b))
                                       : fr_schema_get_int(f, a) != fr_schema_get_int(f, b))
            return 0;
    }
    return 1;
}

int fr_schema_set_text(const FrSchema *s, void *obj, const char *kv, FrError *err)
{
    const char *eq = strchr(kv, '=');
    char key[64];
    if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof key)
        return fr_error(err, FR_E_USAGE, "'%s': expected key=value", kv);
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = 0;
    const char *v = eq + 1;
    const FrField *f = fr_schema_field(s, key);
    if (!f) {
        char list[400] = "";
        size_t k = 0;
        for (int i = 0; i < s->n_fields && k < sizeof list; i++)
            k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", s->fields[i].key);
        return fr_error(err, FR_E_USAGE, "%s has no setting '%s'%s%s", s->name, key,
                        s->n_fields ? ": use " : " (it has no settings)", list);
    }
    if (is_wide(f))
        return fr_error(err, FR_E_USAGE, "%s.%s cannot be set as key=value text", s->name, key);
    if (f->type == FR_FIELD_CHOICE)
        return fr_schema_set_str(s, f, obj, v, err);
    if (f->type == FR_FIELD_BOOL && (!strcmp(v, "true") || !strcmp(v, "false")))
        return fr_schema_set_int(s, f, obj, !strcmp(v, "true"), err);
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno)
        return refuse_str(s, f, v, err);
    return fr_schema_set_int(s, f, obj, x, err);
}
