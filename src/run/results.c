/* results.c: the result files of a run (featrd/run.h): output directory
 * checks, shard-specific file names, manifest.yaml, the crash-safe journal of
 * finished points, text/CSV building for atomic writes, the points.csv column
 * list, shard merge. bd.csv and plots are in results_out.c. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "featrd.h"
#include "run/results_internal.h"
#include "config/config.h"
#include "util/csv.h"


/* ---------------- options ---------------- */

void fr_run_options_defaults(FrRunOptions *o)
{
    memset(o, 0, sizeof *o);
    o->jobs = 0;
    o->shard_index = 0;
    o->shard_count = 1;
    o->progress = FR_PROGRESS_AUTO;
    o->plots = -1;
    o->cache_mem = (size_t)1 << 30;
    o->unit = -1;
}

int fr_run_parse_shard(const char *text, FrRunOptions *o, FrError *err)
{
    char *end;
    errno = 0;
    long i = strtol(text, &end, 10);
    if (end == text || *end != '/')
        return fr_error(err, FR_E_USAGE, "--shard '%s': expected I/N, e.g. --shard 0/4", text);
    const char *p = end + 1;
    long n = strtol(p, &end, 10);
    if (end == p || *end || errno || n < 1 || n > 100000 || i < 0 || i >= n)
        return fr_error(err, FR_E_USAGE,
                        "--shard '%s': expected I/N with N >= 1 and 0 <= I < N, e.g. --shard 0/4",
                        text);
    o->shard_index = (int)i;
    o->shard_count = (int)n;
    return 0;
}

/* ---------------- text buffer ---------------- */

static int text_reserve(FrText *t, size_t more)
{
    if (t->oom)
        return -1;
    if (t->len + more + 1 <= t->cap)
        return 0;
    size_t cap = t->cap ? t->cap : 256;
    while (cap < t->len + more + 1)
        cap *= 2;
    char *s = realloc(t->s, cap);
    if (!s) {
        t->oom = 1;
        return -1;
    }
    t->s = s;
    t->cap = cap;
    return 0;
}

void fr_text_printf(FrText *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || text_reserve(t, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

void fr_text_csv_field(FrText *t, const char *field, char sep)
{
    size_t need = fr_csv_quote(NULL, 0, field ? field : "");
    if (text_reserve(t, need + 1))
        return;
    fr_csv_quote(t->s + t->len, need + 1, field ? field : "");
    t->len += need;
    t->s[t->len++] = sep;
    t->s[t->len] = 0;
}

void fr_text_csv_double(FrText *t, double v, char sep)
{
    char buf[48];
    fr_csv_fmt_double(buf, sizeof buf, v);
    fr_text_csv_field(t, buf, sep);
}

void fr_text_free(FrText *t)
{
    free(t->s);
    memset(t, 0, sizeof *t);
}

int fr_text_write_atomic(const FrText *t, const char *path, FrError *err)
{
    if (t->oom)
        return fr_error(err, FR_E_NOMEM, "%s: out of memory while building the file", path);
    return fr_write_file_atomic(path, t->s ? t->s : "", t->len, err);
}

/* ---------------- directories and names ---------------- */

static int mkdir_p(const char *dir)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0777) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0777) && errno != EEXIST)
        return -1;
    return 0;
}

int fr_results_dir_prepare(const char *dir, FrError *err)
{
    if (!dir || !*dir)
        return fr_error(err, FR_E_USAGE, "output.dir is empty: set output.dir in the config");
    if (mkdir_p(dir))
        return fr_error(err, FR_E_USAGE,
                        "output.dir '%s': cannot create it (%s): choose a writable directory "
                        "with -o output.dir=PATH",
                        dir, strerror(errno));
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.featrd-probe.%ld", dir, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0)
        return fr_error(err, FR_E_USAGE,
                        "output.dir '%s': not writable (%s): choose a writable directory with "
                        "-o output.dir=PATH",
                        dir, strerror(errno));
    close(fd);
    unlink(probe);
    return 0;
}

int fr_flock_try(const char *path, int *fd, char *holder, size_t cap, FrError *err)
{
    holder[0] = 0;
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (*fd < 0)
        return fr_error(err, FR_E_IO, "%s: cannot open the lock (%s)", path, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    int e = errno;
    ssize_t k = pread(*fd, holder, cap - 1, 0);
    holder[k > 0 ? k : 0] = 0;
    holder[strcspn(holder, "\n")] = 0;
    close(*fd);
    *fd = -1;
    if (e == EWOULDBLOCK)
        return 1;
    return fr_error(err, FR_E_IO, "%s: cannot lock (%s)", path, strerror(e));
}

int fr_results_lock(const char *dir, int shard_index, int shard_count, int *fd, FrError *err)
{
    char path[4300], pid[32];
    fr_results_name(path, sizeof path, dir, ".featrd-run", "lock", shard_index, shard_count);
    int busy = fr_flock_try(path, fd, pid, sizeof pid, err);
    if (busy < 0)
        return busy;
    if (busy)
        return fr_error(err, FR_E_USAGE,
                        "output.dir '%s' is in use by another featrd run (pid %s); wait for "
                        "it to finish or choose another output.dir",
                        dir, pid[0] ? pid : "?");
    /* Holding the lock, remove what killed runs left: NAME.tmp.PID[.K]
     * files of processes that no longer exist. */
    DIR *d = opendir(dir);
    for (struct dirent *de; d && (de = readdir(d));) {
        const char *t = strstr(de->d_name, ".tmp.");
        if (!t)
            continue;
        char *end;
        long op = strtol(t + 5, &end, 10);
        if (op <= 0 || end == t + 5 || (*end && *end != '.'))
            continue;
        if (kill((pid_t)op, 0) == 0 || errno != ESRCH)
            continue; /* alive (or not ours to judge) */
        char stale[4600];
        if (snprintf(stale, sizeof stale, "%s/%s", dir, de->d_name) < (int)sizeof stale)
            unlink(stale);
    }
    if (d)
        closedir(d);
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(*fd, 0) != 0 || pwrite(*fd, pid, (size_t)n, 0) != n) {
        int e = errno;
        fr_results_unlock(fd);
        return fr_error(err, FR_E_IO, "%s: cannot write the run lock (%s)", path, strerror(e));
    }
    return 0;
}

/* 1 (and the holder's pid in pid) when a run holds the lock of shard i/n. */
static int shard_running(const char *dir, int i, int n, char *pid, size_t cap)
{
    char path[4300];
    fr_results_name(path, sizeof path, dir, ".featrd-run", "lock", i, n);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int busy = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    ssize_t k = busy ? pread(fd, pid, cap - 1, 0) : 0;
    pid[k > 0 ? k : 0] = 0;
    pid[strcspn(pid, "\n")] = 0;
    close(fd);
    return busy;
}

void fr_results_unlock(int *fd)
{
    if (fd && *fd >= 0) {
        close(*fd); /* releases the flock */
        *fd = -1;
    }
}

void fr_results_name(char *buf, size_t cap, const char *dir, const char *base, const char *ext,
                     int shard_index, int shard_count)
{
    if (shard_count > 1)
        snprintf(buf, cap, "%s/%s.shard-%d-of-%d.%s", dir, base, shard_index, shard_count, ext);
    else
        snprintf(buf, cap, "%s/%s.%s", dir, base, ext);
}

/* ---------------- manifest ---------------- */

/* A pipe end at fd 0..2 would be overwritten by the child's own stdin,
 * stdout or stderr set-up (only when the caller runs with those closed). */
static int above_std(int fd)
{
    if (fd > 2)
        return fd;
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return d;
}

/* Runs argv (argv[0] looked up in PATH; no shell, so no quoting of paths)
 * with stdin on /dev/null, stderr on /dev/null or (with_stderr) into the
 * same pipe as stdout, and keeps what it wrote (first cap - 1 bytes,
 * trailing white space removed, NUL-terminated) in out. Returns its exit
 * status (0..255), 128 + the signal that ended it, or -1 when it cannot
 * start. The pipe is read to its end so the child never blocks on it, and
 * the child is reaped. Both pipe ends are close-on-exec, so a program
 * another thread starts meanwhile does not inherit them. */
int fr_spawn_capture(char *const argv[], int with_stderr, char *out, size_t cap)
{
    if (cap)
        out[0] = 0;
    int fd[2];
    if (pipe2(fd, O_CLOEXEC))
        return -1;
    fd[0] = above_std(fd[0]);
    fd[1] = above_std(fd[1]);
    if (fd[0] < 0 || fd[1] < 0) {
        if (fd[0] >= 0)
            close(fd[0]);
        if (fd[1] >= 0)
            close(fd[1]);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int rc = posix_spawn_file_actions_init(&fa);
    if (!rc) {
        /* dup2 clears close-on-exec on the child's stdout only */
        if (!(rc = posix_spawn_file_actions_adddup2(&fa, fd[1], 1)) &&
            !(rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) &&
            !(rc = with_stderr ? posix_spawn_file_actions_adddup2(&fa, fd[1], 2)
                               : posix_spawn_file_actions_addopen(&fa, 2, "/dev/null",
                                                                  O_WRONLY, 0)))
            rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
    }
    close(fd[1]);
    if (rc) {
        close(fd[0]);
        return -1;
    }
    size_t n = 0;
    for (;;) {
        char chunk[512];
        ssize_t k = read(fd[0], chunk, sizeof chunk);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        size_t room = cap > n + 1 ? cap - 1 - n : 0;
        size_t take = (size_t)k < room ? (size_t)k : room;
        memcpy(out + n, chunk, take);
        n += take;
    }
    close(fd[0]);
    if (cap) {
        out[n] = 0;
        while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
            out[--n] = 0;
    }
    int st = 0;
    pid_t w;
    while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
        ;
    if (w != pid) /* SIGCHLD ignored by the caller: the status is gone */
        return 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
}

/* fr_spawn_capture's first 255 bytes of stdout (malloc'ed), or NULL when
 * argv cannot start, exits non-zero or prints nothing. */
static char *run_capture(char *const argv[])
{
    char buf[256];
    int st = fr_spawn_capture(argv, 0, buf, sizeof buf);
    return st == 0 && buf[0] ? strdup(buf) : NULL;
}

static void iso_now(char *buf, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* YAML block scalar lines, each prefixed with indent. */
static void text_indent(FrText *t, const char *s, const char *indent)
{
    const char *p = s;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        fr_text_printf(t, "%s%.*s\n", indent, (int)n, p);
        p += n + (nl ? 1 : 0);
    }
}

int fr_manifest_write_kind(const char *path, const struct FrExperiment *e, const char *git_dir,
                           const char *csv, const char *state, FrError *err)
{
    char extra[512];
    snprintf(extra, sizeof extra, "kind_outputs: %s\nstate: %s\n", csv, state);
    return fr_manifest_write(path, e, 0, 1, git_dir, extra, err);
}

int fr_manifest_write(const char *path, const FrExperiment *e, int shard_index, int shard_count,
                      const char *git_dir, const char *extra, FrError *err)
{
    FrText t = {0};
    char when[64];
    iso_now(when, sizeof when);
    fr_text_printf(&t, "# featrd run manifest: how these results were made.\n");
    fr_text_printf(&t, "featrd_manifest: 1\n");
    fr_text_printf(&t, "experiment: \"%s\"\n", e->name ? e->name : "");
    fr_text_printf(&t, "kind: %s\n", fr_kind_name(e->kind));
    fr_text_printf(&t, "config_hash: %016llx\n", (unsigned long long)fr_experiment_hash(e));
    fr_text_printf(&t, "shard: %d/%d\n", shard_index, shard_count);
    fr_text_printf(&t, "written: %s\n", when);
    char *gd = (char *)(git_dir ? git_dir : ".");
    char *rev_argv[] = {"git", "-C", gd, "rev-parse", "HEAD", NULL};
    char *rev = run_capture(rev_argv);
    char *st_argv[] = {"git", "-C", gd, "status", "--porcelain", "--untracked-files=no", NULL};
    char *dirty = rev ? run_capture(st_argv) : NULL;
    fr_text_printf(&t, "git_revision: %s%s\n", rev ? rev : "unknown",
                   dirty ? " # working tree has uncommitted changes" : "");
    free(rev);
    free(dirty);
    fr_text_printf(&t, "featrd_version: %s\n", FR_VERSION_STRING);
    char *vbuf = NULL;
    size_t vlen = 0;
    FILE *mf = open_memstream(&vbuf, &vlen);
    if (mf) {
        fr_versions_print(mf, "  ");
        fclose(mf);
        fr_text_printf(&t, "libraries:\n");
        /* Each library line is "  name: version"; quote nothing, keep as printed. */
        text_indent(&t, vbuf, "");
        free(vbuf);
    }
    struct utsname u;
    fr_text_printf(&t, "machine:\n");
    if (uname(&u) == 0)
        fr_text_printf(&t, "  uname: \"%s %s %s %s\"\n  hostname: \"%s\"\n", u.sysname, u.release,
                       u.version, u.machine, u.nodename);
    fr_text_printf(&t, "  cores: %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
    /* OpenBLAS's threads inside each worker (1 unless OPENBLAS_NUM_THREADS says) */
    fr_text_printf(&t, "  blas_threads: %d\n", fr_model_blas_threads(0));
    /* only for GPU runs, so CPU manifests stay as they were */
    if (e->kind != FR_KIND_FEATURES && e->model.device == FR_DEVICE_GPU) {
        char g[1024];
        fr_text_printf(&t, "device: gpu\ngpu:\n%s", fr_gpu_describe(g, sizeof g, "  "));
    }
    if (extra)
        fr_text_printf(&t, "%s", extra);
    char *dump = fr_experiment_dump_string(e);
    if (!dump) {
        fr_text_free(&t);
        return fr_error(err, FR_E_NOMEM, "%s: cannot dump the experiment", path);
    }
    fr_text_printf(&t, "config: |\n");
    text_indent(&t, dump, "  ");
    free(dump);
    int rc = fr_text_write_atomic(&t, path, err);
    fr_text_free(&t);
    return rc;
}

int fr_manifest_read_hash(const char *path, uint64_t *hash, FrError *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : fr_error(err, FR_E_IO, "%s: %s", path, strerror(errno));
    char line[1024];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long h;
        if (sscanf(line, "config_hash: %llx", &h) == 1) {
            *hash = h;
            found = 1;
            break;
        }
    }
    fclose(f);
    if (!found)
        return fr_error(err, FR_E_FORMAT, "%s: no 'config_hash:' line (not a featrd manifest?)",
                        path);
    return 1;
}

int fr_results_write_config(const char *path, const FrExperiment *e, FrError *err)
{
    char *dump = fr_experiment_dump_string(e);
    int rc = dump ? fr_write_file_atomic(path, dump, strlen(dump), err)
                  : fr_error(err, FR_E_NOMEM, "%s: cannot dump the experiment", path);
    free(dump);
    return rc;
}

/* Result files a run may leave in a directory (what --force removes). */
static int is_result_file(const char *n)
{
    static const char *pre[] = {"points.", "manifest.", "config.", "images.", "bd.", "rd_",
                                "plot_", "images.d", "vs_reference.", "boot", "scores",
                                "detections", "streams", "units"};
    for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++)
        if (!strncmp(n, pre[i], strlen(pre[i])))
            return 1;
    return 0;
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char sub[4400];
            snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
            remove_tree(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* The key path of each line of a canonical dump ("sweep.qp", "sweep.codec",
 * "anchors"): section and sub carry the open blocks between lines. */
static void dump_key(const char *line, size_t len, char *section, char *sub, size_t scap,
                     char *key, size_t kcap)
{
    size_t i = 0;
    while (i < len && line[i] == ' ')
        i++;
    size_t colon = i;
    while (colon < len && line[colon] != ':')
        colon++;
    int item = i + 1 < len && line[i] == '-' && line[i + 1] == ' ';
    if (i == 0) {
        snprintf(key, kcap, "%.*s", (int)(colon - i), line);
        /* "sweep:" opens a section; "name: x" does not */
        snprintf(section, scap, "%.120s", colon + 1 >= len ? key : "");
        sub[0] = 0;
    } else if (i > 2 || item) {
        snprintf(key, kcap, "%s", *sub ? sub : section);
    } else {
        snprintf(key, kcap, "%.120s.%.*s", section, (int)(colon - i), line + i);
        snprintf(sub, scap, "%.250s", colon + 1 >= len ? key : "");
    }
}

/* The keys whose lines differ between dir/config.yaml and e's dump, the
 * keys that do not enter the hash left out; "" when unknown. */
static void changed_keys(const char *dir, const FrExperiment *e, char *out, size_t cap)
{
    out[0] = 0;
    char path[4400];
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    uint8_t *old = NULL;
    size_t on = 0;
    char *now = fr_experiment_dump_string(e);
    if (!now || fr_read_file(path, &old, &on, NULL)) {
        free(now);
        return;
    }
    static const char *skip[] = {"name", "jobs", "quiet", "output.dir", "output.plots",
                                 "output.keep_streams", "bd", "sweep.max_points"};
    const char *txt[2] = {(const char *)old, now};
    size_t tlen[2] = {on, strlen(now)};
    size_t used = 0;
    for (int side = 0; side < 2; side++) {
        char section[256] = "", sub[256] = "";
        for (size_t p = 0; p < tlen[side];) {
            size_t q = p;
            while (q < tlen[side] && txt[side][q] != '\n')
                q++;
            const char *line = txt[side] + p;
            size_t len = q - p;
            char key[256];
            dump_key(line, len, section, sub, sizeof section, key, sizeof key);
            /* is this exact line in the other text? */
            int found = 0;
            const char *o = txt[!side];
            for (size_t a = 0; a < tlen[!side] && !found;) {
                size_t b = a;
                while (b < tlen[!side] && o[b] != '\n')
                    b++;
                found = b - a == len && !memcmp(o + a, line, len);
                a = b + 1;
            }
            int skipped = !len || line[0] == '#';
            for (size_t k = 0; k < sizeof skip / sizeof skip[0] && !skipped; k++)
                skipped = !strcmp(key, skip[k]) || (!strncmp(key, skip[k], strlen(skip[k])) &&
                                                    key[strlen(skip[k])] == '.');
            char pat[260];
            snprintf(pat, sizeof pat, "%s,", key);
            if (!found && !skipped && !strstr(out, pat) && used + strlen(pat) + 2 < cap) {
                used += (size_t)snprintf(out + used, cap - used, "%s", pat);
            }
            p = q + 1;
        }
    }
    if (used)
        out[used - 1] = 0; /* the last comma */
    for (char *c = out; *c; c++)
        if (*c == ',' && c[1])
            *c = ' ';
    free(old);
    free(now);
}

int fr_results_check_config(const char *dir, const FrExperiment *e, int force, FrError *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    uint64_t want = fr_experiment_hash(e);
    int differs = 0;
    char which[512] = "";
    uint64_t got = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "manifest.", 9) || !strstr(de->d_name, ".yaml"))
            continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        uint64_t h = 0;
        FrError e2;
        int rc = fr_manifest_read_hash(path, &h, &e2);
        if (rc < 0 || (rc == 1 && h != want)) {
            differs = 1;
            got = h;
            snprintf(which, sizeof which, "%s", de->d_name);
        }
    }
    closedir(d);
    if (!differs)
        return 0;
    if (!force) {
        char changed[600];
        changed_keys(dir, e, changed, sizeof changed);
        return fr_error(err, FR_E_MISMATCH,
                        "%s/%s: this directory holds results of a different config (hash %016llx, "
                        "this config %016llx%s%s); use --force to discard them, or a new output.dir "
                        "(-o output.dir=PATH)",
                        dir, which, (unsigned long long)got, (unsigned long long)want,
                        changed[0] ? "; changed: " : "", changed);
    }
    d = opendir(dir);
    if (!d)
        return 0;
    while ((de = readdir(d))) {
        if (!is_result_file(de->d_name) && strcmp(de->d_name, "cache"))
            continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        remove_tree(path);
    }
    closedir(d);
    return 0;
}

/* ---------------- CRC-32 and the journal ---------------- */

uint32_t fr_crc32(const void *data, size_t n)
{
    static uint32_t table[256];
    static int ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    const uint8_t *p = data;
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

struct FrJournal {
    int fd;
    char *path;
};

int fr_journal_open(FrJournal **out, const char *path, FrError *err)
{
    *out = NULL;
    /* O_APPEND: every record lands at the end whatever else writes the file */
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0)
        return fr_error(err, FR_E_IO, "%s: cannot open the journal (%s)", path, strerror(errno));
    /* Cut a torn tail (a line without its '\n') so the next record starts clean. */
    off_t size = lseek(fd, 0, SEEK_END);
    off_t keep = size;
    char c;
    while (keep > 0) {
        if (pread(fd, &c, 1, keep - 1) != 1)
            break;
        if (c == '\n')
            break;
        keep--;
    }
    if (keep != size && ftruncate(fd, keep)) {
        close(fd);
        return fr_error(err, FR_E_IO, "%s: cannot truncate a torn record (%s)", path,
                        strerror(errno));
    }
    FrJournal *j = calloc(1, sizeof *j);
    if (!j || !(j->path = strdup(path))) {
        free(j);
        close(fd);
        return fr_error(err, FR_E_NOMEM, "%s: out of memory", path);
    }
    j->fd = fd;
    *out = j;
    return 0;
}

int fr_journal_append(FrJournal *j, const char *payload, FrError *err)
{
    size_t n = strlen(payload);
    if (memchr(payload, '\n', n))
        return fr_error(err, FR_E_INTERNAL, "%s: journal record contains a newline", j->path);
    char *line = malloc(n + 11);
    if (!line)
        return fr_error(err, FR_E_NOMEM, "%s: out of memory", j->path);
    snprintf(line, 10, "%08x", fr_crc32(payload, n));
    line[8] = ' ';
    memcpy(line + 9, payload, n);
    line[9 + n] = '\n';
    size_t len = n + 10, off = 0;
    while (off < len) {
        ssize_t w = write(j->fd, line + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            free(line);
            return fr_error(err, FR_E_IO, "%s: write failed (%s)", j->path, strerror(errno));
        }
        off += (size_t)w;
    }
    free(line);
    if (fsync(j->fd))
        return fr_error(err, FR_E_IO, "%s: fsync failed (%s)", j->path, strerror(errno));
    return 0;
}

void fr_journal_close(FrJournal **j)
{
    if (!j || !*j)
        return;
    close((*j)->fd);
    free((*j)->path);
    free(*j);
    *j = NULL;
}

int fr_journal_read(const char *path, char ***lines, size_t *n, FrError *err)
{
    *lines = NULL;
    *n = 0;
    uint8_t *data = NULL;
    size_t len = 0;
    if (access(path, F_OK))
        return 0;
    int rc = fr_read_file(path, &data, &len, err);
    if (rc)
        return rc;
    size_t cap = 0;
    char **out = NULL;
    size_t pos = 0;
    while (pos < len) {
        uint8_t *nl = memchr(data + pos, '\n', len - pos);
        if (!nl)
            break; /* torn tail */
        size_t ll = (size_t)(nl - (data + pos));
        const char *s = (const char *)data + pos;
        if (ll >= 9 && s[8] == ' ') {
            char hex[9];
            memcpy(hex, s, 8);
            hex[8] = 0;
            char *end;
            unsigned long crc = strtoul(hex, &end, 16);
            if (end == hex + 8 && crc == fr_crc32(s + 9, ll - 9)) {
                if (*n == cap) {
                    cap = cap ? cap * 2 : 64;
                    char **nw = realloc(out, cap * sizeof *nw);
                    if (!nw)
                        goto oom;
                    out = nw;
                }
                char *copy = malloc(ll - 9 + 1);
                if (!copy)
                    goto oom;
                memcpy(copy, s + 9, ll - 9);
                copy[ll - 9] = 0;
                out[(*n)++] = copy;
            }
        }
        pos += ll + 1;
    }
    free(data);
    *lines = out;
    return 0;
oom:
    free(data);
    fr_journal_lines_free(&out, *n);
    *n = 0;
    return fr_error(err, FR_E_NOMEM, "%s: out of memory", path);
}

void fr_journal_lines_free(char ***lines, size_t n)
{
    if (!lines || !*lines)
        return;
    for (size_t i = 0; i < n; i++)
        free((*lines)[i]);
    free(*lines);
    *lines = NULL;
}

/* points.csv columns: the registry in points_columns.c */


static const FrColumnDoc image_columns[] = {
    {"ordinal", "the point's ordinal (as in points.csv)", ""},
    {"id", "the point's id", ""},
    {"image", "0-based index of the image in the evaluated list (after dataset.limit)", ""},
    {"path", "the image file", ""},
    {"bits", "coded bits of this image (nan for the reference point)", ""},
    {"payload_bits", "bits of the coded sample streams", ""},
    {"side_bits", "side-information bits", ""},
    {"mse", "feature MSE (float domain) over the cut set", ""},
    {"psnr", "feature PSNR in dB, peak = max-min of the original", ""},
    {"mse_nbit", "feature MSE in the n-bit domain", ""},
    {"detections", "detection: boxes above det_thresh after NMS; else -1", ""},
    {"pred", "classification: argmax of the output; else -1", ""},
    {"label", "classification: the true class, -1 when unknown", ""},
    {"agree", "classification: 1 when pred equals the uncompressed network's argmax; dense: "
              "share of agreeing pixels; detection: nan", ""},
    {"encode_s", "timing: encode seconds", ""},
    {"decode_s", "timing: decode seconds", ""},
    {"back_s", "timing: back-half (anchors: whole network) seconds", ""},
};

const FrColumnDoc *fr_images_columns(int *n)
{
    *n = (int)(sizeof image_columns / sizeof image_columns[0]);
    return image_columns;
}

int fr_results_images_csv(const char *dir, int total, FrError *err)
{
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/images.d", dir);
    if (access(sub, F_OK))
        return 0;
    FrText t = {0};
    int nc;
    const FrColumnDoc *cols = fr_images_columns(&nc);
    for (int k = 0; k < nc; k++)
        fr_text_csv_field(&t, cols[k].name, k + 1 < nc ? ',' : '\n');
    int rc = 0;
    for (int i = 0; i < total && !rc; i++) {
        char p[4400];
        snprintf(p, sizeof p, "%s/%06d.csv", sub, i);
        if (access(p, R_OK))
            continue;
        uint8_t *data = NULL;
        size_t len = 0;
        rc = fr_read_file(p, &data, &len, err);
        if (!rc)
            fr_text_printf(&t, "%.*s", (int)len, (const char *)data);
        free(data);
    }
    if (!rc) {
        char path[4400];
        snprintf(path, sizeof path, "%s/images.csv", dir);
        rc = fr_text_write_atomic(&t, path, err);
    }
    fr_text_free(&t);
    return rc;
}


/* ---------------- merge ---------------- */

typedef struct Row {
    long ordinal;
    char *text; /* the CSV line without '\n' */
} Row;

static int cmp_row(const void *a, const void *b)
{
    const Row *x = a, *y = b;
    return (x->ordinal > y->ordinal) - (x->ordinal < y->ordinal);
}

/* Lines of a CSV file without the header, as text (points.csv has no
 * embedded newlines: every field is one line). */
static int read_csv_lines(const char *path, char **header, Row **rows, size_t *n, FrError *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = fr_read_file(path, &data, &len, err);
    if (rc)
        return rc;
    char *s = (char *)data;
    Row *out = NULL;
    size_t cnt = 0, cap = 0;
    size_t pos = 0;
    int first = 1;
    *header = NULL;
    while (pos < len) {
        char *nl = memchr(s + pos, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - (s + pos)) : len - pos;
        char *line = strndup(s + pos, ll);
        pos += ll + 1;
        if (!line)
            goto oom;
        if (first) {
            *header = line;
            first = 0;
            continue;
        }
        if (!*line) {
            free(line);
            continue;
        }
        if (cnt == cap) {
            cap = cap ? cap * 2 : 64;
            Row *nw = realloc(out, cap * sizeof *nw);
            if (!nw) {
                free(line);
                goto oom;
            }
            out = nw;
        }
        out[cnt].ordinal = strtol(line, NULL, 10);
        out[cnt].text = line;
        cnt++;
    }
    free(data);
    *rows = out;
    *n = cnt;
    return 0;
oom:
    free(data);
    for (size_t i = 0; i < cnt; i++)
        free(out[i].text);
    free(out);
    free(*header);
    *header = NULL;
    return fr_error(err, FR_E_NOMEM, "%s: out of memory", path);
}

/* Reads "points_total: N" from a manifest; -1 when absent. */
static long manifest_long(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[1024];
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

int fr_results_merge(const char *dir, FrError *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return fr_error(err, FR_E_NOENT, "%s: no such results directory", dir);
    int nshards = 0;
    char seen[4096] = {0}; /* shard indices found (up to 4096) */
    int nfound = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        int i, n;
        char tail[16];
        if (sscanf(de->d_name, "points.shard-%d-of-%d.%15s", &i, &n, tail) != 3 ||
            strcmp(tail, "csv"))
            continue;
        if (nshards && n != nshards) {
            closedir(d);
            return fr_error(err, FR_E_MISMATCH,
                            "%s: shards of different counts (%d and %d): remove the stale "
                            "points.shard-*-of-%d.* files",
                            dir, nshards, n, nshards < n ? nshards : n);
        }
        nshards = n;
        if (n > 4096 || i < 0 || i >= n) {
            closedir(d);
            return fr_error(err, FR_E_MISMATCH, "%s/%s: bad shard index", dir, de->d_name);
        }
        if (!seen[i]) {
            seen[i] = 1;
            nfound++;
        }
    }
    closedir(d);
    if (!nshards)
        return fr_error(err, FR_E_NOENT,
                        "%s: no points.shard-I-of-N.csv files: run `featrd run CONFIG --shard I/N` "
                        "for every I first",
                        dir);
    if (nfound != nshards) {
        for (int i = 0; i < nshards; i++)
            if (!seen[i])
                return fr_error(err, FR_E_MISMATCH,
                                "%s: shard %d of %d is missing (points.shard-%d-of-%d.csv): run "
                                "`featrd run CONFIG --shard %d/%d` and merge again",
                                dir, i, nshards, i, nshards, i, nshards);
    }
    uint64_t hash0 = 0;
    long total = -1;
    char *header0 = NULL;
    Row *all = NULL;
    size_t nall = 0;
    int rc = 0;
    char cfg0[4400] = "";
    for (int i = 0; i < nshards && !rc; i++) {
        char path[4400], man[4400];
        fr_results_name(man, sizeof man, dir, "manifest", "yaml", i, nshards);
        uint64_t h;
        int mr = fr_manifest_read_hash(man, &h, err);
        if (mr <= 0) {
            rc = mr < 0 ? mr
                        : fr_error(err, FR_E_MISMATCH, "%s: missing: shard %d of %d did not start",
                                   man, i, nshards);
            break;
        }
        char pid[32];
        if (shard_running(dir, i, nshards, pid, sizeof pid)) {
            rc = fr_error(err, FR_E_USAGE, "%s: shard %d of %d is still running (pid %s); merge "
                          "when it has finished", dir, i, nshards, pid[0] ? pid : "?");
            break;
        }
        long tot = manifest_long(man, "points_total");
        if (i == 0) {
            hash0 = h;
            total = tot;
            fr_results_name(cfg0, sizeof cfg0, dir, "config", "yaml", i, nshards);
        } else if (h != hash0 || tot != total) {
            rc = fr_error(err, FR_E_MISMATCH,
                          "%s: config hash %016llx differs from shard 0's %016llx: the shards "
                          "come from different configs; rerun them with one config",
                          man, (unsigned long long)h, (unsigned long long)hash0);
            break;
        }
        fr_results_name(path, sizeof path, dir, "points", "csv", i, nshards);
        char *header = NULL;
        Row *rows = NULL;
        size_t n = 0;
        rc = read_csv_lines(path, &header, &rows, &n, err);
        if (rc)
            break;
        if (!header0) {
            header0 = header;
        } else {
            if (strcmp(header, header0))
                rc = fr_error(err, FR_E_MISMATCH, "%s: header differs from shard 0's", path);
            free(header);
        }
        for (size_t k = 0; k < n; k++)
            if (rows[k].ordinal % nshards != i && !rc)
                rc = fr_error(err, FR_E_MISMATCH,
                              "%s: point %ld does not belong to shard %d of %d", path,
                              rows[k].ordinal, i, nshards);
        Row *nw = realloc(all, (nall + n) * sizeof *nw);
        if (!nw && nall + n) {
            for (size_t k = 0; k < n; k++)
                free(rows[k].text);
            free(rows);
            rc = fr_error(err, FR_E_NOMEM, "out of memory");
            break;
        }
        all = nw;
        memcpy(all + nall, rows, n * sizeof *rows);
        nall += n;
        free(rows);
    }
    if (!rc) {
        qsort(all, nall, sizeof *all, cmp_row);
        for (size_t k = 0; k < nall && !rc; k++) {
            if (k && all[k].ordinal == all[k - 1].ordinal)
                rc = fr_error(err, FR_E_MISMATCH, "%s: point %ld appears in two shards", dir,
                              all[k].ordinal);
            else if (all[k].ordinal != (long)k)
                rc = fr_error(err, FR_E_MISMATCH,
                              "%s: point %zu is missing: its shard (%zu of %d) did not finish; "
                              "rerun `featrd run CONFIG --shard %zu/%d` then merge",
                              dir, k, k % (size_t)nshards, nshards, k % (size_t)nshards, nshards);
        }
        if (!rc && total >= 0 && (long)nall != total)
            rc = fr_error(err, FR_E_MISMATCH,
                          "%s: %zu points in the shards, %ld expected: a shard did not finish", dir,
                          nall, total);
    }
    FrExperiment *e = NULL;
    if (!rc) {
        FrText t = {0};
        fr_text_printf(&t, "%s\n", header0);
        for (size_t k = 0; k < nall; k++)
            fr_text_printf(&t, "%s\n", all[k].text);
        char path[4400];
        fr_results_name(path, sizeof path, dir, "points", "csv", 0, 1);
        rc = fr_text_write_atomic(&t, path, err);
        fr_text_free(&t);
    }
    if (!rc)
        rc = fr_config_load(cfg0, NULL, 0, &e, err);
    if (!rc) {
        char path[4400], extra[128];
        snprintf(extra, sizeof extra, "points_total: %ld\nmerged_from: %d\n", total, nshards);
        fr_results_name(path, sizeof path, dir, "manifest", "yaml", 0, 1);
        rc = fr_manifest_write(path, e, 0, 1, NULL, extra, err);
        if (!rc) {
            fr_results_name(path, sizeof path, dir, "config", "yaml", 0, 1);
            rc = fr_results_write_config(path, e, err);
        }
        if (!rc)
            rc = fr_results_rescore(dir, err);
        if (!rc && e->n_bd)
            rc = fr_results_write_bd(dir, e, err);
        if (!rc)
            rc = fr_results_write_vs_reference(dir, e->bootstrap.level, err);
        if (!rc)
            rc = fr_results_images_csv(dir, (int)total, err);
    }
    fr_experiment_free(&e);
    for (size_t k = 0; k < nall; k++)
        free(all[k].text);
    free(all);
    free(header0);
    return rc;
}
