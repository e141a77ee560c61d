/* schema.c: settings structs described by tables (featrd/schema.h). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "featrd/schema.h"

static int *int_at(const FrField *f, void *obj)
{
    return (int *)((char *)obj + f->offset);
}

static char *str_at(const FrField *f, void *obj)
{
    return (char *)obj + f->offset;
}

void fr_schema_defaults(const FrSchema *s, void *obj)
{
    memset(obj, 0, s->size);
    for (int i = 0; i < s->n_fields; i++) {
        const FrField *f = &s->fields[i];
        if (f->type == FR_FIELD_CHOICE)
            snprintf(str_at(f, obj), f->size, "%s", f->def_str ? f->def_str : "");
        else
            *int_at(f, obj) = f->def;
    }
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
    } else if (f->type == FR_FIELD_CHOICE) {
        int n = 0;
        while (f->names[n])
            n++;
        for (int i = 0; i < n; i++)
            PUT("%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ", f->names[i]);
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
    return f->type != FR_FIELD_CHOICE && int_ok(f, v);
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
        if (f->type == FR_FIELD_CHOICE) {
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

int fr_schema_field_text(const FrField *f, const void *obj, char *buf, size_t cap)
{
    if (f->type == FR_FIELD_CHOICE)
        return snprintf(buf, cap, "%s", obj ? fr_schema_get_str(f, obj) : f->def_str ? f->def_str : "");
    int v = obj ? fr_schema_get_int(f, obj) : f->def;
    if (f->type == FR_FIELD_BOOL)
        return snprintf(buf, cap, "%s", v ? "true" : "false");
    return snprintf(buf, cap, "%d", v);
}

int fr_schema_is_default(const FrField *f, const void *obj)
{
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
