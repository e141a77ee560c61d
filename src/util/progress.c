/* progress.c: the progress display of long runs (featrd/run.h): a bar with
 * the ETA redrawn in place when stderr is a terminal, one line per finished
 * unit otherwise (logs, Slurm), nothing with --quiet. */
#define _DEFAULT_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "featrd/run.h"
#include "run/results_internal.h"

struct FrProgress {
    FrProgressMode mode;
    char name[128];
    size_t total, already, done;
    double t0;
    int bar_drawn;
};

FrProgress *fr_progress_create(FrProgressMode mode, const char *name, size_t total,
                               size_t already)
{
    FrProgress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (mode == FR_PROGRESS_AUTO)
        mode = isatty(STDERR_FILENO) ? FR_PROGRESS_BAR : FR_PROGRESS_LINES;
    p->mode = mode;
    snprintf(p->name, sizeof p->name, "%s", name ? name : "run");
    p->total = total;
    p->already = already;
    p->done = already;
    p->t0 = fr_now();
    return p;
}

static void fmt_secs(char *buf, size_t cap, double s)
{
    if (s < 0) {
        snprintf(buf, cap, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(buf, cap, "%02ld:%02ld", t / 60, t % 60);
}

/* Only the units done in this process tell the speed: resumed ones took no time. */
static double eta_of(const FrProgress *p, double elapsed)
{
    size_t fresh = p->done - p->already;
    if (fresh == 0 || p->done >= p->total)
        return p->done >= p->total ? 0 : -1;
    return elapsed / (double)fresh * (double)(p->total - p->done);
}

size_t fr_progress_fit(const char *label, size_t room, char *out, size_t cap)
{
    size_t n = strlen(label);
    if (cap == 0)
        return 0;
    if (n <= room || room < 4) {
        size_t k = n <= room ? n : room;
        if (k >= cap)
            k = cap - 1;
        memcpy(out, label, k);
        out[k] = 0;
        return k;
    }
    /* too long: its end, where the points of a sweep differ (codec, qp) */
    size_t keep = room - 3;
    if (keep + 3 >= cap)
        keep = cap > 4 ? cap - 4 : 0;
    memcpy(out, "...", 3);
    memcpy(out + 3, label + n - keep, keep);
    out[3 + keep] = 0;
    return 3 + keep;
}

/* Columns of the terminal on stderr ($COLUMNS, else 80 when unknown). */
static size_t term_columns(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    long v = c ? strtol(c, NULL, 10) : 0;
    return v > 0 && v < 10000 ? (size_t)v : 80;
}

static void draw_bar(FrProgress *p, const char *tail)
{
    double el = fr_now() - p->t0;
    char e1[32], e2[32];
    fmt_secs(e1, sizeof e1, el);
    fmt_secs(e2, sizeof e2, eta_of(p, el));
    int width = 30;
    int fill = p->total ? (int)((double)p->done / (double)p->total * width) : width;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    char head[512], fit[1024];
    int hn = snprintf(head, sizeof head, "%s [%s] %zu/%zu %s elapsed, ETA %s  ", p->name, bar,
                      p->done, p->total, e1, e2);
    /* the whole label when the terminal is wide enough, else its end; one
     * column spare so the line never wraps */
    size_t cols = term_columns(), used = hn > 0 ? (size_t)hn : 0;
    fr_progress_fit(tail ? tail : "", cols > used + 1 ? cols - used - 1 : 0, fit, sizeof fit);
    fprintf(stderr, "\r\033[K%s%s", head, fit);
    fflush(stderr);
    p->bar_drawn = 1;
}

void fr_progress_step(FrProgress *p, const char *label, const char *detail, FrProgressFn fn,
                      void *user)
{
    if (!p)
        return;
    p->done++;
    double el = fr_now() - p->t0;
    double eta = eta_of(p, el);
    if (p->mode == FR_PROGRESS_BAR) {
        draw_bar(p, label);
    } else if (p->mode == FR_PROGRESS_LINES) {
        char e2[32];
        fmt_secs(e2, sizeof e2, eta);
        fprintf(stderr, "%s: %zu/%zu %s%s%s (ETA %s)\n", p->name, p->done, p->total,
                label ? label : "", detail && *detail ? " " : "", detail ? detail : "", e2);
        fflush(stderr);
    }
    if (fn) {
        FrProgressEvent ev = {p->done, p->total, label ? label : "", detail ? detail : "", el, eta};
        fn(&ev, user);
    }
}

void fr_progress_note(FrProgress *p, const char *fmt, ...)
{
    if (!p || p->mode != FR_PROGRESS_BAR)
        return;
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    draw_bar(p, buf);
}

void fr_progress_destroy(FrProgress **pp)
{
    if (!pp || !*pp)
        return;
    if ((*pp)->mode == FR_PROGRESS_BAR && (*pp)->bar_drawn) {
        fputc('\n', stderr);
        fflush(stderr);
    }
    free(*pp);
    *pp = NULL;
}
