/* model_parse.c: getting a cfg and its weights into darknet safely: the
 * cfg probed in a forked child (darknet aborts, divides by zero or runs out
 * of memory on cfgs the text checks of cfg_check.c do not foresee), the
 * parse under parse_lock, the weights file checked against the network
 * before load_weights reads it, the seeded initialisation, and
 * save_weights written to a temporary name and renamed into place. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "featrd/model.h"
#include "model/model_internal.h"
#include "model/model.h"
#include "model/model_dn.h"

/* ---------------------------------------------------- probe in a child -- */

/* darknet's parser aborts (error() → assert), divides by zero, overflows its
 * heap or uses a NULL it got from calloc on cfgs featrd's checks above do not
 * foresee. None of that can be caught safely in this process (an abort raised
 * inside malloc leaves its lock held), so each distinct cfg text is first
 * parsed in a forked child with an address-space limit and a deadline; its
 * fate (signal, exit, allocation it could not get, workspace size) decides
 * whether this process parses it. Successes are remembered per process. */
#define PROBE_SECONDS 300
#define PROBE_CACHE 64

typedef struct ProbeResult {
    int magic;
    int nlayers;
    int ws_layer;       /* layer with the largest workspace */
    int null_layer;     /* first layer whose output darknet could not allocate */
    int null_ws;        /* the shared workspace could not be allocated */
    long long ws;       /* largest workspace, bytes */
} ProbeResult;

static uint64_t probed[PROBE_CACHE];
static int nprobed;

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

static long long phys_bytes(void)
{
    long pg = sysconf(_SC_PHYS_PAGES), sz = sysconf(_SC_PAGESIZE);
    return pg > 0 && sz > 0 ? (long long)pg * sz : 8LL << 30;
}

static _Noreturn void probe_child(const char *tmp, uint64_t seed, int capfd, int resfd)
{
    /* the child's fate is its default one: handlers inherited from the
     * caller (a fuzzer's, a runner's) must not catch darknet's abort */
    static const int fatal[] = {SIGABRT, SIGSEGV, SIGFPE, SIGBUS, SIGILL, SIGINT, SIGTERM};
    for (size_t k = 0; k < sizeof fatal / sizeof fatal[0]; k++)
        signal(fatal[k], SIG_DFL);
    dup2(capfd, 2);
    int nul = open("/dev/null", O_WRONLY);
    if (nul >= 0)
        dup2(nul, 1);
    /* what is mapped already (sanitizer shadow, valgrind) plus half the RAM:
     * a huge calloc then returns NULL instead of swapping the machine */
    long long vm = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%lld", &vm) != 1)
            vm = 0;
        fclose(f);
    }
    struct rlimit rl;
    long long allow = phys_bytes() / 2;
    const char *cap = getenv("FEATRD_PROBE_MEM_MB"); /* e.g. 1024 while fuzzing */
    if (cap && atoll(cap) > 0 && atoll(cap) < allow >> 20)
        allow = atoll(cap) << 20;
    rl.rlim_cur = rl.rlim_max = (rlim_t)(vm * sysconf(_SC_PAGESIZE) + allow);
    if (vm > 0)
        setrlimit(RLIMIT_AS, &rl);
    srand((unsigned)(seed ^ (seed >> 32)));
    /* host buffers only: CUDA must not be used in a child forked from a
     * process that may have a context */
    fr_dn_set_gpu_index(FR_DEVICE_CPU);
    network *net = parse_network_cfg((char *)tmp);
    ProbeResult r;
    memset(&r, 0, sizeof r); /* padding included: the bytes go through a pipe */
    r.magic = 0x46524450;
    r.nlayers = net ? net->n : -1;
    r.ws_layer = r.null_layer = -1;
    for (int i = 0; net && i < net->n; i++) {
        const layer *l = &net->layers[i];
        if ((long long)l->workspace_size > r.ws) {
            r.ws = (long long)l->workspace_size;
            r.ws_layer = i;
        }
        if (l->outputs > 0 && !l->output && r.null_layer < 0)
            r.null_layer = i;
    }
    r.null_ws = net && r.ws > 0 && !net->workspace;
    if (write(resfd, &r, sizeof r) != (ssize_t)sizeof r)
        _exit(3);
    _exit(0);
}

/* darknet's last complaint in the child's stderr: the line before assert's
 * "Assertion `0' failed" is error()'s perror. Sanitizer reports are passed
 * on to this process's stderr. */
static void probe_message(FILE *cap, char *msg, size_t msgcap)
{
    char line[512], last[512] = "";
    int relay = 0;
    rewind(cap);
    while (fgets(line, sizeof line, cap)) {
        if (strstr(line, "Sanitizer") || strstr(line, "runtime error:"))
            relay = 1;
        if (relay)
            fputs(line, stderr);
        line[strcspn(line, "\n")] = 0;
        char *as = strstr(line, ": Assertion `");
        if (as && !relay && strncmp(as, ": Assertion `0'", 15)) {
            /* "file.c:360: parse_region: Assertion `l.outputs == params.inputs' failed." */
            char *q = strchr(as + 13, '\'');
            *as = 0;
            char *fn = strrchr(line, ' ');
            if (q)
                *q = 0;
            snprintf(last, sizeof last, "%.200s: %.200s does not hold", fn ? fn + 1 : line, as + 13);
            continue;
        }
        char *t = line + strspn(line, " 0123456789"); /* the table's "%5d " prefix */
        char *colon = strrchr(t, ':');
        if (colon && colon[1] == ' ' && !strstr(t, "Assertion") && !strstr(t, "Using default") && !relay) {
            *colon = 0; /* perror's ": <strerror>" says nothing here */
            snprintf(last, sizeof last, "%s", t);
        }
    }
    snprintf(msg, msgcap, "%s", last);
}

/* Called under fr_dn_parse_lock. cfg and lines name the user's file for messages. */
static int probe_cfg(const char *tmp, const FrCfgText *text, const FrCfgInfo *ci, const FrModelSettings *s,
                     FrError *err)
{
    uint64_t h = fnv1a(text->p, text->n);
    for (int k = 0; k < nprobed; k++)
        if (probed[k] == h)
            return FR_OK;
    int res[2];
    FILE *cap = tmpfile();
    if (!cap || pipe(res) != 0) {
        if (cap)
            fclose(cap);
        return fr_error(err, FR_E_IO, "%s: cannot set up the cfg check: %s", s->cfg, strerror(errno));
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        fclose(cap);
        close(res[0]);
        close(res[1]);
        return fr_error(err, FR_E_IO, "%s: cannot fork to check the cfg: %s", s->cfg, strerror(e));
    }
    if (pid == 0)
        probe_child(tmp, s->seed, fileno(cap), res[1]);
    close(res[1]);
    int st = 0, waited = 0;
    struct timespec t0, now, nap = {0, 2000000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            st = -1;
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec >= PROBE_SECONDS) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            waited = 1;
            break;
        }
        nanosleep(&nap, NULL);
        if (nap.tv_nsec < 50000000)
            nap.tv_nsec *= 2;
    }
    ProbeResult r = {0};
    ssize_t got = read(res[0], &r, sizeof r);
    close(res[0]);
    char dnmsg[512] = "";
    probe_message(cap, dnmsg, sizeof dnmsg);
    fclose(cap);
    const char *hint = s->width ? ", or choose an input size the network divides evenly (multiples of 32 for YOLO)" : "";
    if (waited)
        return fr_error(err, FR_E_FORMAT, "%s: darknet did not finish building the network in %d s (stopped); check the layer sizes%s", s->cfg, PROBE_SECONDS, hint);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || got != (ssize_t)sizeof r || r.magic != 0x46524450) {
        char fate[96];
        if (st != -1 && WIFSIGNALED(st))
            snprintf(fate, sizeof fate, "%s", strsignal(WTERMSIG(st)));
        else if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) != 0)
            snprintf(fate, sizeof fate, "exit status %d", WEXITSTATUS(st));
        else
            snprintf(fate, sizeof fate, "it exited without a network");
        return fr_error(err, FR_E_FORMAT, "%s: darknet stopped building the network (%s%s%s); check the layer parameters%s", s->cfg, fate, dnmsg[0] ? ": " : "", dnmsg, hint);
    }
    if (r.nlayers != ci->nlayers)
        return fr_error(err, FR_E_MODEL, "%s: darknet could not build the network", s->cfg);
    long long lim = phys_bytes() / 2;
    if (r.ws_layer >= 0 && (r.ws > lim || r.null_ws))
        return fr_error(err, FR_E_FORMAT, "%s:%d: layer %d needs a %.2f GiB convolution workspace, more than half of this machine's %.1f GiB%s; use a smaller kernel, fewer channels or a smaller input", s->cfg, ci->line[r.ws_layer], r.ws_layer, r.ws / 1073741824.0, phys_bytes() / 1073741824.0, r.null_ws ? " (darknet could not allocate it)" : "");
    if (r.null_layer >= 0)
        return fr_error(err, FR_E_NOMEM, "%s:%d: darknet could not allocate the output of layer %d (too large for this machine); use a smaller input or fewer channels", s->cfg, ci->line[r.null_layer], r.null_layer);
    if (nprobed < PROBE_CACHE)
        probed[nprobed++] = h;
    return FR_OK;
}

/* Probes the cfg in a child, then parses it here under fr_dn_parse_lock with
 * darknet's printing hidden. */
network *fr_dn_checked_parse(const char *tmp, const FrCfgText *text, const FrCfgInfo *ci,
                              const FrModelSettings *s, FrError *err, int *rc)
{
    network *net = NULL;
    pthread_mutex_lock(&fr_dn_parse_lock);
    *rc = probe_cfg(tmp, text, ci, s, err);
    if (*rc == FR_OK) {
        DnModel tmpm = {.device = s->device};
        FILE *saved = fr_dn_quiet_begin();
        srand((unsigned)(s->seed ^ (s->seed >> 32)));
        fr_dn_set_gpu_index(s->device);
        fr_dn_gpu_begin(&tmpm);
        net = parse_network_cfg((char *)tmp);
        fr_dn_gpu_end(&tmpm);
        fr_dn_quiet_end(saved);
    }
    pthread_mutex_unlock(&fr_dn_parse_lock);
    return net;
}

/* ------------------------------------------------------ weights sizes -- */

/* Floats darknet's load_weights reads for the net (mode 0) or save_weights
 * writes (mode 1); -1 and *bad = layer for layers neither can do here. */
static int64_t weight_floats(const network *net, int save, int *bad)
{
    int64_t total = 0;
    for (int i = 0; i < net->n; i++) {
        const layer *l = &net->layers[i];
        if ((!save && l->dontload) || (save && l->dontsave))
            continue;
        switch (l->type) {
        case CONVOLUTIONAL: {
            int n = (!save && l->numload) ? l->numload : l->n;
            int groups = l->groups > 0 ? l->groups : 1;
            total += n;
            if (l->batch_normalize && (save || !l->dontloadscales))
                total += 3 * (int64_t)n;
            total += save ? (int64_t)l->nweights : (int64_t)(l->c / groups) * n * l->size * l->size;
            break;
        }
        case CONNECTED:
            total += l->outputs + (int64_t)l->outputs * l->inputs;
            if (l->batch_normalize && (save || !l->dontloadscales))
                total += 3 * (int64_t)l->outputs;
            break;
        case BATCHNORM:
            total += 3 * (int64_t)l->c;
            break;
        case LOCAL:
            if (save) { /* save_weights does not write local layers */
                break;
            }
            total += l->outputs + (int64_t)l->size * l->size * l->c * l->n * l->out_w * l->out_h;
            break;
        case DECONVOLUTIONAL: /* load_convolutional_weights' layout, groups set to 1 (deconv_groups) */
            total += l->n + (int64_t)l->c * l->n * l->size * l->size;
            if (l->batch_normalize && (save || !l->dontloadscales))
                total += 3 * (int64_t)l->n;
            break;
        case RNN:
        case GRU:
        case LSTM:
        case CRNN:
            *bad = i;
            return -1;
        default:
            break;
        }
    }
    return total;
}

int fr_dn_check_weights(const DnModel *m, const char *path, FrError *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return fr_error(err, FR_E_NOENT, "%s: no such weights file (for %s); leave weights unset for a seeded random initialisation", path, m->cfg);
    if (!S_ISREG(st.st_mode))
        return fr_error(err, FR_E_FORMAT, "%s: not a regular file", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return fr_error(err, FR_E_IO, "%s: cannot open: %s", path, strerror(errno));
    int32_t hdr[3] = {0, 0, 0};
    size_t got = fread(hdr, 4, 3, f);
    fclose(f);
    if (got != 3 || st.st_size < 16)
        return fr_error(err, FR_E_FORMAT, "%s: %lld bytes, too short for a darknet weights header (truncated?)", path, (long long)st.st_size);
    int major = hdr[0], minor = hdr[1];
    /* load_weights reads `seen` as a size_t from version 0.2 on, else an int
     * (its major*10+minor overflows for huge majors: no real file has one) */
    if (major < 0 || minor < 0 || hdr[2] < 0 || major >= 1000 || minor >= 1000)
        return fr_error(err, FR_E_FORMAT, "%s: bad darknet weights header (version %d.%d.%d): corrupt, or not darknet weights", path, major, minor, hdr[2]);
    long long header = 12 + ((major * 10 + minor) >= 2 ? 8 : 4);
    if (major < 0 || minor < 0 || hdr[2] < 0)
        return fr_error(err, FR_E_FORMAT, "%s: bad darknet weights header (version %d.%d.%d)", path, major, minor, hdr[2]);
    int bad = -1;
    int64_t need = weight_floats(m->net, 0, &bad);
    if (need < 0)
        return fr_error(err, FR_E_USAGE, "%s: layer %d (%s) of %s: loading weights for this layer type is not supported", path, bad, m->names[bad], m->cfg);
    long long payload = (long long)st.st_size - header;
    long long want = header + 4 * (long long)need;
    if (payload < 0 || payload % 4)
        return fr_error(err, FR_E_FORMAT, "%s: %lld bytes is not a %lld-byte header plus whole float32s: the file is truncated or not darknet weights (%s needs %lld bytes)", path, (long long)st.st_size, header, m->cfg, want);
    if (payload / 4 < need)
        return fr_error(err, FR_E_FORMAT, "%s: %lld bytes, but %s needs %lld (%lld-byte header + 4 × %lld parameters): the weights are truncated, or were saved for another cfg", path, (long long)st.st_size, m->cfg, want, header, (long long)need);
    if (payload / 4 > need)
        return fr_error(err, FR_E_MISMATCH, "%s: %lld bytes, but %s needs %lld (%lld-byte header + 4 × %lld parameters): these weights belong to another cfg", path, (long long)st.st_size, m->cfg, want, header, (long long)need);
    return FR_OK;
}

/* ----------------------------------------------------- seeded init -- */

typedef struct Rng {
    uint64_t s;
    int have;
    double spare;
} Rng;

static uint64_t rng_next(Rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double rng_uniform(Rng *r) /* (0, 1) */
{
    return ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(Rng *r)
{
    if (r->have) {
        r->have = 0;
        return r->spare;
    }
    double u = rng_uniform(r), v = rng_uniform(r);
    double m = sqrt(-2.0 * log(u));
    r->spare = m * sin(2 * M_PI * v);
    r->have = 1;
    return m * cos(2 * M_PI * v);
}

static void fill(float *x, int64_t n, float v)
{
    for (int64_t i = 0; x && i < n; i++)
        x[i] = v;
}

/* The initialisation darknet's layer constructors use (He normal for conv,
 * scaled uniform for connected), but from a per-model generator; batch norm
 * made the identity (rolling variance 1: darknet leaves it 0 → x/0.001). */
void fr_dn_seeded_init(network *net, uint64_t seed)
{
    for (int i = 0; i < net->n; i++) {
        layer *l = &net->layers[i];
        Rng r = {seed * 0x2545F4914F6CDD1Dull + (uint64_t)i * 0x9E3779B97F4A7C15ull + 1, 0, 0};
        int nout = 0;
        if (l->type == CONVOLUTIONAL || l->type == DECONVOLUTIONAL) {
            int groups = l->groups > 0 ? l->groups : 1;
            double sc = sqrt(2.0 / ((double)l->size * l->size * l->c / groups));
            for (int64_t k = 0; k < l->nweights; k++)
                l->weights[k] = (float)(sc * rng_normal(&r));
            fill(l->biases, l->n, 0);
            nout = l->n;
        } else if (l->type == CONNECTED) {
            double sc = sqrt(2.0 / l->inputs);
            for (int64_t k = 0; k < (int64_t)l->inputs * l->outputs; k++)
                l->weights[k] = (float)(sc * (2 * rng_uniform(&r) - 1));
            fill(l->biases, l->outputs, 0);
            nout = l->outputs;
        } else if (l->type == BATCHNORM) {
            nout = l->c;
        } else if (l->type == LOCAL) {
            double sc = sqrt(2.0 / ((double)l->size * l->size * l->c));
            int64_t nw = (int64_t)l->size * l->size * l->c * l->n * l->out_w * l->out_h;
            for (int64_t k = 0; k < nw; k++)
                l->weights[k] = (float)(sc * (2 * rng_uniform(&r) - 1));
            fill(l->biases, l->outputs, 0);
        }
        if (nout && (l->batch_normalize || l->type == BATCHNORM)) {
            fill(l->scales, nout, 1);
            fill(l->rolling_mean, nout, 0);
            fill(l->rolling_variance, nout, 1);
        }
    }
}

/* Host weights → device after featrd changed them (seeded_init); load_weights
 * pushes by itself. gpu_lock held. */
void fr_dn_push_weights(DnModel *m)
{
#ifdef GPU
    for (int i = 0; i < m->n; i++) {
        layer l = m->net->layers[i];
        switch (l.type) {
        case CONVOLUTIONAL: push_convolutional_layer(l); break;
        case CONNECTED: push_connected_layer(l); break;
        case BATCHNORM: push_batchnorm_layer(l); break;
        case LOCAL: push_local_layer(l); break;
        case DECONVOLUTIONAL: push_deconvolutional_layer(l); break;
        default: break;
        }
    }
#else
    (void)m;
#endif
}


int dn_model_save_weights(DnModel *m, const char *path, FrError *err)
{
    if (!m || !path || !path[0])
        return fr_error(err, FR_E_USAGE, "no weights path");
    int bad = -1;
    int64_t nfl = weight_floats(m->net, 1, &bad);
    if (nfl < 0)
        return fr_error(err, FR_E_USAGE, "%s: layer %d (%s): saving weights for this layer type is not supported", m->cfg, bad, m->names[bad]);
    static int counter;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d.%d", path, (int)getpid(), __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return fr_error(err, FR_E_IO, "%s: cannot write: %s", tmp, strerror(errno));
    fclose(f);
    pthread_mutex_lock(&fr_dn_parse_lock);
    FILE *saved = fr_dn_quiet_begin();
    fr_dn_set_gpu_index(m->device); /* save_weights pulls from the device when >= 0 */
    fr_dn_gpu_begin(m);
    save_weights(m->net, tmp);
    fr_dn_gpu_end(m);
    fr_dn_quiet_end(saved);
    pthread_mutex_unlock(&fr_dn_parse_lock);
    struct stat st;
    long long want = 20 + 4 * (long long)nfl;
    if (stat(tmp, &st) != 0 || st.st_size != want) {
        unlink(tmp);
        return fr_error(err, FR_E_IO, "%s: darknet wrote %lld of %lld bytes (disk full?)", path, (long long)st.st_size, want);
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return fr_error(err, FR_E_IO, "%s: cannot rename the written weights into place: %s", path, strerror(e));
    }
    return FR_OK;
}

