/* testutil.h: shared helpers for the cmocka tests: scratch directories, running
 * the featrd binary and capturing its output, float comparison. */
#ifndef FEATRD_TESTUTIL_H
#define FEATRD_TESTUTIL_H

#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <math.h>
#include <cmocka.h>

#include "featrd.h"

/* A fresh scratch directory under build/tmp (or $TMPDIR), one per call. */
/* |a - b| <= tol, printing both on failure (cmocka 1.1 has no double assert). */
#define tu_assert_near(a, b, tol)                                                         \
    do {                                                                                   \
        double tu_a_ = (a), tu_b_ = (b);                                                   \
        if (!(fabs(tu_a_ - tu_b_) <= (tol)))                                               \
            fail_msg("%s = %.17g, %s = %.17g: differ by more than %g", #a, tu_a_, #b, tu_b_, \
                     (double)(tol));                                                       \
    } while (0)

static inline const char *tu_tmpdir(void)
{
    static char dirs[16][256];
    static int next;
    char *d = dirs[next++ % 16];
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(d, 256, "%s/featrd-test-XXXXXX", base);
    if (!mkdtemp(d))
        abort();
    return d;
}

/* Path of the featrd binary under test (make test sets FEATRD_BIN). */
static inline const char *tu_bin(void)
{
    const char *b = getenv("FEATRD_BIN");
    return b ? b : "bin/featrd";
}

/* Runs a shell command line; stdout+stderr go to *out (malloc'ed, caller
 * frees, may be NULL). Returns the exit status, or -1 if it did not exit. */
static inline int tu_sh(char **out, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[8400];
    snprintf(full, sizeof full, "( %s ) 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p)
        return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += r;
        if (cap - n < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    buf[n] = 0;
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Writes text to path (for configs and small fixtures). */
static inline void tu_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs(text, f);
    fclose(f);
}

/* Runs fn(arg) in a forked child whose address space may grow by at most
 * `extra` bytes beyond what is mapped now (sanitizer shadow included), and
 * returns fn's value (the child's exit status; -1 if it was killed). A
 * decoder that tries a large allocation gets NULL there, so its error code
 * tells whether it validated before allocating. */
static inline int tu_run_limited(size_t extra, int (*fn)(void *), void *arg)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        long long pages = 0;
        FILE *f = fopen("/proc/self/statm", "r");
        if (!f || fscanf(f, "%lld", &pages) != 1)
            _exit(99);
        fclose(f);
        struct rlimit rl;
        rl.rlim_cur = rl.rlim_max = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + extra;
        if (setrlimit(RLIMIT_AS, &rl) != 0)
            _exit(98);
        _exit(fn(arg) & 0xff);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The tests' deterministic generator (Numerical Recipes' LCG, top 24 bits). */
static inline uint32_t tu_lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* ReLU-like feature maps: per channel a smooth wave cut at a threshold,
 * plus a little noise; every channel different, all from seed. */
static inline void tu_feature_like(FrTensor *t, uint32_t seed)
{
    for (int k = 0; k < t->c; k++) {
        double fx = 0.1 + (tu_lcg(&seed) % 100) / 250.0, ph = (tu_lcg(&seed) % 628) / 100.0;
        double amp = 0.5 + (tu_lcg(&seed) % 100) / 40.0, thr = (tu_lcg(&seed) % 100) / 150.0;
        for (int y = 0; y < t->h; y++)
            for (int x = 0; x < t->w; x++) {
                double v = amp * sin(fx * x + ph) * cos(0.2 * y - ph) - thr +
                           0.05 * ((tu_lcg(&seed) % 1000) / 1000.0 - 0.5);
                t->data[((size_t)k * t->h + y) * t->w + x] = v > 0 ? (float)v : 0.0f;
            }
    }
}

/* A model opened quietly from cfg and weights (NULL: seeded); fails the
 * test with darknet's message when it cannot be opened. */
static inline FrModel *tu_open_model(const char *cfg, const char *weights)
{
    FrModelSettings ms;
    fr_model_defaults(&ms);
    ms.cfg = cfg;
    ms.weights = weights;
    ms.quiet = 1;
    FrModel *m = NULL;
    FrError err = {0};
    if (fr_model_open(&m, &ms, &err) != FR_OK)
        fail_msg("%s: %s", cfg, err.msg);
    return m;
}

/* Mean squared difference of channel k of two tensors of one shape. */
static inline double tu_channel_mse(const FrTensor *a, const FrTensor *b, int k)
{
    size_t plane = (size_t)a->h * a->w;
    double s = 0;
    for (size_t i = 0; i < plane; i++) {
        double d = a->data[k * plane + i] - b->data[k * plane + i];
        s += d * d;
    }
    return s / plane;
}

/* Asserts that haystack contains needle, printing both when it does not. */
#define tu_assert_contains(haystack, needle)                                            \
    do {                                                                                \
        const char *h_ = (haystack), *n_ = (needle);                                    \
        if (!h_ || !strstr(h_, n_)) {                                                   \
            print_error("expected to find \"%s\" in:\n%s\n", n_, h_ ? h_ : "(null)");  \
            fail();                                                                     \
        }                                                                               \
    } while (0)

/* Takes output dir's run lock (DIR/.featrd-run.lock) as a running featrd
 * would, recording pid; returns the descriptor to close (releasing it).
 * flock locks belong to the open file, so a run in this process conflicts. */
static inline int tu_hold_run_lock(const char *dir, long pid)
{
    char path[4200], text[32];
    assert_true(strlen(dir) < 4096);
    snprintf(path, sizeof path, "%.4096s/.featrd-run.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    int n = snprintf(text, sizeof text, "%ld\n", pid);
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(pwrite(fd, text, (size_t)n, 0), n);
    return fd;
}

/* A run on a directory whose lock another process holds (pid 4242 recorded)
 * is refused as a usage error naming that pid, and leaves file as it was. */
#define tu_assert_run_refused_while_locked(dir, file, run_call, errp)                        \
    do {                                                                                  \
        uint8_t *tu_b_ = NULL, *tu_a_ = NULL;                                             \
        size_t tu_nb_ = 0, tu_na_ = 0;                                                    \
        assert_int_equal(fr_read_file((file), &tu_b_, &tu_nb_, NULL), 0);                 \
        int tu_fd_ = tu_hold_run_lock((dir), 4242);                                       \
        assert_int_equal((run_call), FR_E_USAGE);                                         \
        tu_assert_contains((errp)->msg, "is in use by another featrd run (pid 4242)");    \
        close(tu_fd_);                                                                    \
        assert_int_equal(fr_read_file((file), &tu_a_, &tu_na_, NULL), 0);                 \
        assert_int_equal(tu_na_, tu_nb_);                                                 \
        assert_memory_equal(tu_a_, tu_b_, tu_nb_);                                        \
        free(tu_a_);                                                                      \
        free(tu_b_);                                                                      \
    } while (0)

#endif
