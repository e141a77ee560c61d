/* config_internal.h: what the config loader (config.c) and its YAML
 * reader (yaml_tree.c, the only file that includes yaml.h) share: the node
 * tree libyaml's events become, and the error and allocation helpers. */
#ifndef FEATRD_CONFIG_INTERNAL_H
#define FEATRD_CONFIG_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#include "featrd/config.h"

enum { N_SCALAR, N_SEQ, N_MAP };

/* YAML nesting deeper than this is refused (a stack-depth guard). */
#define MAX_DEPTH 64

typedef struct Node {
    int type;
    char *s;   /* scalar text */
    int plain; /* scalar was unquoted (numbers, booleans and null must be) */
    FrSrcLoc loc;
    int n, cap;
    struct Node **kids;
    char **keys;     /* N_MAP only */
    FrSrcLoc *kloc;  /* N_MAP only: where each key is */
} Node;

const char *cfg_describe(const Node *n, char *buf, size_t cap);
int cfg_is_null(const Node *n);
int cfg_loc_err(FrError *err, int code, FrSrcLoc loc, const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
int cfg_map_find(const Node *n, const char *key);
void cfg_map_remove(Node *n, int i);
int cfg_node_add(Node *n, const char *key, FrSrcLoc kloc, Node *kid);
void cfg_node_free(Node *n);
Node *cfg_node_new(int type, FrSrcLoc loc);
void cfg_pathf(char *buf, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
int cfg_read_yaml(const char *text, size_t len, const char *file, FrError *err, Node **out);
int cfg_vloc_err(FrError *err, int code, FrSrcLoc loc, const char *path, const char *fmt,
                    va_list ap);
void *cfg_xgrow(void *p, int *cap, int need, size_t elem);
char *cfg_xstrdup(const char *s);

#endif
