/* featrd/common.h: error codes, the message buffer, and the float tensor that
 * every module passes around. Everything here is plain data; no library
 * headers leak through. */
#ifndef FEATRD_COMMON_H
#define FEATRD_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FR_VERSION_STRING "0.1.0"

/* Every function that can fail returns 0 or one of these (negative) codes.
 * Codes at or below FR_E_USAGE are the caller's fault (bad file, bad value):
 * the CLI exits 2 for them and 1 for everything else. */
enum FrErrorCode {
    FR_OK = 0,
    FR_E_USAGE = -1,        /* bad argument or option value */
    FR_E_CONFIG = -2,       /* bad experiment YAML (syntax, type, range, unknown key) */
    FR_E_NOENT = -3,        /* an input file named by the user does not exist */
    FR_E_FORMAT = -4,       /* an input file is corrupt, truncated or of the wrong kind */
    FR_E_MISMATCH = -5,     /* inputs disagree (weights vs cfg, shapes, changed config) */
    /* runtime failures: exit 1 */
    FR_E_IO = -20,          /* read/write failed (disk full, permission) */
    FR_E_NOMEM = -21,
    FR_E_CODEC = -22,       /* an outside codec library failed */
    FR_E_MODEL = -23,       /* darknet failed */
    FR_E_INTERNAL = -24,    /* a bug: an invariant did not hold */
    FR_E_INTERRUPTED = -25, /* stopped by a signal; work so far is saved */
};

/* Static text for a code, never NULL. */
const char *fr_strerror(int code);

/* Exit status the CLI uses for a code: 0, 1 (runtime) or 2 (bad input). */
int fr_exit_status(int code);

/* Context for the last error: functions that take an FrError * fill it with a
 * full sentence naming the file (and line), the key and what to do. May be
 * NULL when the caller does not want the text. */
typedef struct FrError {
    int code;
    char msg[1024];
} FrError;

/* Sets err (if non-NULL) and returns code, so callers can write
 * `return fr_error(err, FR_E_NOENT, "%s: no such file", path);` */
int fr_error(FrError *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* A C×H×W float32 tensor, channel-major (the layout darknet uses and .npy
 * files store). The tensor owns data unless noted otherwise by the API that
 * returned it. */
typedef struct FrTensor {
    int c, h, w;
    float *data;
} FrTensor;

/* Allocates a zeroed tensor. Returns 0 or FR_E_NOMEM / FR_E_USAGE. */
int fr_tensor_alloc(FrTensor *t, int c, int h, int w);
/* Frees t->data and zeroes t; safe on a zeroed tensor. */
void fr_tensor_free(FrTensor *t);
static inline size_t fr_tensor_size(const FrTensor *t)
{
    return (size_t)t->c * (size_t)t->h * (size_t)t->w;
}

/* .npy I/O. Reading takes what numpy writes: float16, float32 or float64 in
 * either byte order (converted to float32), C or Fortran order, 1 to 8
 * dimensions of which leading 1s are dropped down to C×H×W (1×C×H×W from a
 * batch of one; missing leading dimensions read as 1). Reads check every
 * length. Writing: C-order little-endian float32, C×H×W. */
typedef struct FrNpyInfo {
    char dtype[8];  /* as in the file, e.g. "<f8" */
    int converted;  /* 1: not little-endian float32 in the file */
    int fortran;    /* 1: the file was in Fortran order */
    int squeezed;   /* leading singleton dimensions dropped */
} FrNpyInfo;
/* The same; info (may be NULL) says what was converted, for a note. */
int fr_npy_read_ex(const char *path, FrTensor *out, FrNpyInfo *info, FrError *err);
int fr_npy_write(const char *path, const FrTensor *t, FrError *err);

/* Writes a file atomically: data goes to PATH.tmp.<pid>, is fsync'ed and
 * renamed over PATH, so a crash leaves the old file or the new, never half. */
int fr_write_file_atomic(const char *path, const void *data, size_t len, FrError *err);
/* Reads a whole file into a malloc'ed buffer (caller frees). */
int fr_read_file(const char *path, uint8_t **data, size_t *len, FrError *err);

/* Monotonic seconds, for timing columns. */
double fr_now(void);

#ifdef __cplusplus
}
#endif
#endif
