/* model.c: the darknet adapter (with src/model/train.c, the only file that includes
 * darknet.h). Owns: cfg pre-checks and rewriting (batch 1, input size, crop
 * size, data file paths), weights-file checks, seeded initialisation, layer
 * names and stage aliases, cut sets, front/back passes over a layer range,
 * image loading and preparation, detections, the JPEG anchor, and the
 * gemm_cpu override that sends darknet's matrix multiplies to OpenBLAS.
 *
 * darknet global state met here, and how it is handled:
 * - stderr: parse_network_cfg / load_weights / save_weights print tables and
 *   notes; the stdio stream stderr (not fd 2, so sanitizer reports still
 *   show) is pointed at /dev/null around them, under parse_lock (other
 *   threads' stderr is lost for that moment).
 * - crashes: darknet trusts its cfg (anchors vs num, kernel sizes, calloc
 *   results). The cfg's layer options are range-checked first, then each
 *   distinct cfg text is parsed once in a forked child whose fate decides
 *   whether this process parses it; no signal handler is ever installed.
 * - rand(): the parser's random init (rand_normal keeps a static spare) and
 *   the crop layer call it. Parsing runs under parse_lock after srand(seed),
 *   and the weights are then re-initialised from a per-model generator, so
 *   results do not depend on what ran before. The crop layer's rand() values
 *   are unused at inference (centre crop).
 * - exit(): darknet exits on missing files and aborts on malformed cfgs; the
 *   cfg, the files it names and the weights are checked before darknet sees
 *   them.
 * - gemm_cpu is called by name from libdarknet.so through the PLT; the
 *   definition below interposes (the Makefile links libfeatrd.a whole) and
 *   the choice of GEMM is per thread, set at the start of each pass.
 * - gpu_index (GPU build, make GPU=1): darknet's layer constructors,
 *   load_weights and save_weights read this global, not the network's own
 *   field. It is set under parse_lock around each of them: -1 for a CPU
 *   model and for the cfg probe's child (no device buffers, thanks to
 *   tools/darknet-gpu/0002), 0 for a GPU one.
 * - CUDA (GPU build): one context per process (the runtime's primary
 *   context on device 0). darknet keeps its cuBLAS handle and curand
 *   generator in unguarded statics and runs every kernel on the default
 *   stream, so GPU work of all models takes turns under gpu_lock (lock
 *   order: parse_lock, then gpu_lock). darknet aborts on any CUDA error
 *   (check_error → assert), device out of memory included. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>
#include <darknet.h>

#include "featrd/model.h"
#include "featrd/version.h"
#include "model/model_internal.h"
#include "model/model.h"
#include "util/version.h"

/* stb_image is compiled into libdarknet.so and exported; darknet.h does not
 * declare it. Used to check an image is readable before darknet's loader,
 * which on failure appends to ./bad.list and returns a 10×10 image. */
int stbi_info(char const *filename, int *x, int *y, int *comp);
const char *stbi_failure_reason(void);

#ifdef GPU
/* darknet's host → device weight copies, exported by the CUDA libdarknet
 * but declared only in its src/ headers. */
void push_convolutional_layer(layer l);
void push_connected_layer(layer l);
void push_batchnorm_layer(layer l);
void push_local_layer(layer l);
void push_deconvolutional_layer(layer l);
#endif

/* ---------------------------------------------------------------- GEMM -- */

typedef void (*GemmFn)(int, int, int, int, int, float, float *, int, float *, int, float,
                       float *, int);

static _Thread_local int tl_gemm = FR_GEMM_OPENBLAS;
static _Thread_local int tl_gemm_clock; /* fr_model_gemm_clock: add up sgemm's CPU time */
static _Thread_local double tl_gemm_cpu;

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double fr_model_gemm_clock(int on)
{
    double t = tl_gemm_cpu;
    tl_gemm_clock = on;
    tl_gemm_cpu = 0;
    return t;
}
static GemmFn darknet_gemm;
static pthread_once_t gemm_once = PTHREAD_ONCE_INIT;

static void find_darknet_gemm(void)
{
    darknet_gemm = (GemmFn)(uintptr_t)dlsym(RTLD_NEXT, "gemm_cpu");
}

/* Replaces libdarknet's gemm_cpu (same signature, row-major, C = ALPHA·op(A)·op(B)
 * + BETA·C). Not fr_-prefixed: the name is darknet's. */
void gemm_cpu(int TA, int TB, int M, int N, int K, float ALPHA, float *A, int lda, float *B,
              int ldb, float BETA, float *C, int ldc);
void gemm_cpu(int TA, int TB, int M, int N, int K, float ALPHA, float *A, int lda, float *B,
              int ldb, float BETA, float *C, int ldc)
{
    if (tl_gemm == FR_GEMM_DARKNET) {
        pthread_once(&gemm_once, find_darknet_gemm);
        if (darknet_gemm && darknet_gemm != gemm_cpu) {
            darknet_gemm(TA, TB, M, N, K, ALPHA, A, lda, B, ldb, BETA, C, ldc);
            return;
        }
    }
    double t0 = tl_gemm_clock ? thread_cpu() : 0;
    cblas_sgemm(CblasRowMajor, TA ? CblasTrans : CblasNoTrans, TB ? CblasTrans : CblasNoTrans, M,
                N, K, ALPHA, A, lda, B, ldb, BETA, C, ldc);
    if (tl_gemm_clock)
        tl_gemm_cpu += thread_cpu() - t0;
}

/* ------------------------------------------------------------ the model -- */

#define MAX_NAME 32

struct FrModel {
    network *net;
    char *cfg;
    int n;
    FrGemm gemm;
    FrKernels kernels;
    int quiet;
    int random_init;
    uint64_t seed;
    FrTask task;
    int out_layer;            /* last layer other than cost */
    int has_recurrent;        /* rnn/gru/lstm/crnn: state crosses any cut */
    int *owner;               /* layer whose buffer holds layer i's output (dropout aliases) */
    char (*names)[MAX_NAME];  /* darknet names */
    char (*aliases)[MAX_NAME];
    int *cfg_line;            /* line of each layer's section in the cfg */
    FrDevice device;
    int width, height;        /* input size asked at open (0: the cfg's) */
    char *weights;            /* weights file opened (NULL: seeded) */
    FrModel *base;            /* parameters are base's (fr_model_open_shared); holds a reference */
    atomic_int refs;          /* 1 + the models sharing this one's parameters */
};

static pthread_mutex_t parse_lock = PTHREAD_MUTEX_INITIALIZER;
#ifdef GPU
static pthread_mutex_t gpu_lock = PTHREAD_MUTEX_INITIALIZER;
#endif

/* The network runs on the GPU (always 0 in the CPU build). */
static int on_gpu(const FrModel *m)
{
#ifdef GPU
    return m->device == FR_DEVICE_GPU;
#else
    (void)m;
    return 0;
#endif
}

static void gpu_begin(const FrModel *m)
{
#ifdef GPU
    if (on_gpu(m)) {
        pthread_mutex_lock(&gpu_lock);
        cudaSetDevice(0); /* per host thread; workers start on device 0 anyway */
    }
#else
    (void)m;
#endif
}

static void gpu_end(const FrModel *m)
{
#ifdef GPU
    if (on_gpu(m))
        pthread_mutex_unlock(&gpu_lock);
#else
    (void)m;
#endif
}

/* darknet's gpu_index for what is parsed, loaded or saved next (parse_lock held). */
static void set_gpu_index(FrDevice d)
{
#ifdef GPU
    gpu_index = d == FR_DEVICE_GPU ? 0 : -1;
#else
    (void)d;
#endif
}

void fr_model_defaults(FrModelSettings *s)
{
    memset(s, 0, sizeof *s);
    s->seed = 1;
    s->gemm = FR_GEMM_OPENBLAS;
}

static const char *type_name(LAYER_TYPE t)
{
    switch (t) {
    case CONVOLUTIONAL: return "conv";
    case DECONVOLUTIONAL: return "deconv";
    case CONNECTED: return "connected";
    case MAXPOOL: return "max";
    case SOFTMAX: return "softmax";
    case DETECTION: return "detection";
    case DROPOUT: return "dropout";
    case CROP: return "crop";
    case ROUTE: return "route";
    case COST: return "cost";
    case NORMALIZATION: return "normalization";
    case AVGPOOL: return "avg";
    case LOCAL: return "local";
    case SHORTCUT: return "shortcut";
    case ACTIVE: return "activation";
    case RNN: return "rnn";
    case GRU: return "gru";
    case LSTM: return "lstm";
    case CRNN: return "crnn";
    case BATCHNORM: return "batchnorm";
    case NETWORK: return "network";
    case XNOR: return "xnor";
    case REGION: return "region";
    case YOLO: return "yolo";
    case ISEG: return "iseg";
    case REORG: return "reorg";
    case UPSAMPLE: return "upsample";
    case LOGXENT: return "logistic";
    case L2NORM: return "l2norm";
    default: return "blank";
    }
}

/* ------------------------------------------------------ quiet darknet -- */

/* darknet prints its tables through the stdio stream `stderr`; pointing that
 * stream (not fd 2) at /dev/null hides them while sanitizer reports, which
 * write to fd 2 directly, still show. Other threads' stderr is lost for that
 * moment. */
static FILE *quiet_begin(void)
{
    fflush(stderr);
    FILE *nul = fopen("/dev/null", "w");
    if (!nul)
        return NULL;
    FILE *saved = stderr;
    stderr = nul;
    return saved;
}

static void quiet_end(FILE *saved)
{
    if (!saved)
        return;
    FILE *nul = stderr;
    stderr = saved;
    fclose(nul);
}

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
    set_gpu_index(FR_DEVICE_CPU);
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

/* Called under parse_lock. cfg and lines name the user's file for messages. */
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

/* Probes the cfg in a child, then parses it here under parse_lock with
 * darknet's printing hidden. */
static network *checked_parse(const char *tmp, const FrCfgText *text, const FrCfgInfo *ci,
                              const FrModelSettings *s, FrError *err, int *rc)
{
    network *net = NULL;
    pthread_mutex_lock(&parse_lock);
    *rc = probe_cfg(tmp, text, ci, s, err);
    if (*rc == FR_OK) {
        FrModel tmpm = {.device = s->device};
        FILE *saved = quiet_begin();
        srand((unsigned)(s->seed ^ (s->seed >> 32)));
        set_gpu_index(s->device);
        gpu_begin(&tmpm);
        net = parse_network_cfg((char *)tmp);
        gpu_end(&tmpm);
        quiet_end(saved);
    }
    pthread_mutex_unlock(&parse_lock);
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

static int check_weights(const FrModel *m, const char *path, FrError *err)
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
static void seeded_init(network *net, uint64_t seed)
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
static void push_weights(FrModel *m)
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

/* ------------------------------------------------------- names, aliases -- */

static void out_shape(const layer *l, int *c, int *h, int *w)
{
    if ((int64_t)l->out_c * l->out_h * l->out_w == l->outputs && l->outputs > 0) {
        *c = l->out_c;
        *h = l->out_h;
        *w = l->out_w;
    } else {
        *c = l->outputs;
        *h = 1;
        *w = 1;
    }
}

static int is_pool(LAYER_TYPE t)
{
    return t == MAXPOOL || t == AVGPOOL;
}

static const char alias_rule[] =
    "Stage aliases (classification and dense networks; after Table I of Chen et al. 2018): "
    "layers are grouped into stages by output resolution (H×W > 1), a new stage starting at "
    "each change of resolution. convK = the last layer of stage K that is not a pooling, "
    "dropout or crop layer and whose cut set is its own output alone (so in ResNets the "
    "end of the last residual block at that resolution); poolK = the max/avg pooling layer that ends stage K (the first "
    "layer of the next resolution, or the global pooling to 1×1); fcK = the K-th connected "
    "layer (or 1×1 convolution on a 1×1 input). Detection networks get no aliases.";

const char *fr_model_alias_rule(void)
{
    return alias_rule;
}

/* True when a split after layer i cuts only i's own output (the end of a
 * residual block, not a conv in the middle of one). */
static int clean_cut(const FrModel *m, int i)
{
    int idx[FR_MODEL_MAX_CUTS], n = 0;
    if (fr_model_cut_set_err(m, i, idx, FR_MODEL_MAX_CUTS, &n, NULL) != FR_OK)
        return 1;
    return n == 1 && idx[0] == i;
}

static void make_aliases(FrModel *m)
{
    const network *net = m->net;
    int stage = 0, cur_h = 0, cur_w = 0, nfc = 0, spatial_done = 0;
    int conv_last[256];
    for (int k = 0; k < 256; k++)
        conv_last[k] = -1;
    for (int i = 0; i < net->n; i++) {
        const layer *l = &net->layers[i];
        int c, h, w;
        out_shape(l, &c, &h, &w);
        if (h * w > 1 && !spatial_done) {
            if (h != cur_h || w != cur_w) {
                if (is_pool(l->type) && stage > 0)
                    snprintf(m->aliases[i], MAX_NAME, "pool%d", stage);
                if (stage < 255)
                    stage++;
                cur_h = h;
                cur_w = w;
            }
            if (!is_pool(l->type) && l->type != DROPOUT && l->type != CROP && clean_cut(m, i))
                conv_last[stage] = i;
        } else if (h * w == 1) {
            if (!spatial_done && stage > 0 && is_pool(l->type))
                snprintf(m->aliases[i], MAX_NAME, "pool%d", stage);
            spatial_done = 1;
            int in1 = l->type == CONVOLUTIONAL && l->h * l->w == 1;
            if (l->type == CONNECTED || in1)
                snprintf(m->aliases[i], MAX_NAME, "fc%d", ++nfc);
        }
    }
    for (int k = 1; k <= stage && k < 256; k++)
        if (conv_last[k] >= 0 && !m->aliases[conv_last[k]][0])
            snprintf(m->aliases[conv_last[k]], MAX_NAME, "conv%d", k);
}

static FrTask detect_task(const network *net, int out)
{
    const layer *l = &net->layers[out];
    if (l->type == REGION || l->type == YOLO || l->type == DETECTION)
        return FR_TASK_DETECTION;
    int c, h, w;
    out_shape(l, &c, &h, &w);
    if (l->type == SOFTMAX || h * w == 1)
        return FR_TASK_CLASSIFICATION;
    return FR_TASK_DENSE;
}

/* ------------------------------------------------------------ open/close -- */

/* ------------------------------------------------------ shared weights -- */

/* The parameter arrays load_weights (and seeded_init) fill for layer l: the
 * pointer fields a model opened with fr_model_open_shared takes from its
 * base. Writes their addresses into slot and returns how many. */
static int param_slots(layer *l, float **slot[5])
{
    int n = 0;
    switch (l->type) {
    case CONVOLUTIONAL:
    case DECONVOLUTIONAL:
    case CONNECTED:
    case BATCHNORM:
        slot[n++] = &l->weights; /* NULL in a batchnorm layer */
        slot[n++] = &l->biases;
        slot[n++] = &l->scales;
        slot[n++] = &l->rolling_mean;
        slot[n++] = &l->rolling_variance;
        break;
    case LOCAL:
        slot[n++] = &l->weights;
        slot[n++] = &l->biases;
        break;
    default:
        break;
    }
    return n;
}

/* Whether m's parameters can be aliased: inference on the host reads them
 * and nothing else. Binary and xnor layers derive per-model copies from
 * them at every pass, recurrent layers keep theirs in sub-layers, a GPU
 * model holds device copies: those get a model of their own. */
static int shareable(const FrModel *m)
{
    if (on_gpu(m) || m->has_recurrent)
        return 0;
    for (int i = 0; i < m->n; i++) {
        const layer *l = &m->net->layers[i];
        if (l->binary || l->xnor)
            return 0;
    }
    return 1;
}

/* Points m's parameter arrays at base's (same cfg and input size, so the
 * same layers and sizes) and frees m's own. */
static int share_params(FrModel *m, FrModel *base, FrError *err)
{
    if (m->n != base->n)
        return fr_error(err, FR_E_MODEL, "%s: a shared model has %d layers, its base %d", m->cfg, m->n, base->n);
    for (int i = 0; i < m->n; i++) {
        layer *l = &m->net->layers[i], *b = &base->net->layers[i];
        float **sl[5], **sb[5];
        int n = param_slots(l, sl);
        param_slots(b, sb);
        if (l->type != b->type || l->outputs != b->outputs || l->inputs != b->inputs ||
            l->nweights != b->nweights || l->n != b->n)
            return fr_error(err, FR_E_MODEL, "%s: layer %d of a shared model differs from its base", m->cfg, i);
        for (int k = 0; k < n; k++)
            if ((*sl[k] == NULL) != (*sb[k] == NULL))
                return fr_error(err, FR_E_MODEL, "%s: layer %d of a shared model differs from its base", m->cfg, i);
    }
    for (int i = 0; i < m->n; i++) {
        float **sl[5], **sb[5];
        int n = param_slots(&m->net->layers[i], sl);
        param_slots(&base->net->layers[i], sb);
        for (int k = 0; k < n; k++) {
            free(*sl[k]);
            *sl[k] = *sb[k];
        }
    }
#ifdef __GLIBC__
    /* the parser's random init touched the copies just freed; below the
     * mmap threshold they sit in the heap, and would stay resident */
    malloc_trim(0);
#endif
    m->base = base;
    atomic_fetch_add(&base->refs, 1);
    return FR_OK;
}

static int open_model(FrModel **mp, const FrModelSettings *s, FrModel *base, FrError *err);

int fr_model_open_shared(FrModel **mp, FrModel *base, int quiet, FrError *err)
{
    if (!mp)
        return fr_error(err, FR_E_USAGE, "fr_model_open_shared: no output pointer");
    *mp = NULL;
    if (!base)
        return fr_error(err, FR_E_USAGE, "fr_model_open_shared: no base model");
    if (base->base)
        base = base->base;
    FrModelSettings s;
    fr_model_defaults(&s);
    s.cfg = base->cfg;
    s.weights = base->weights;
    s.seed = base->seed;
    s.width = base->width;
    s.height = base->height;
    s.gemm = base->gemm;
    s.device = base->device;
    s.kernels = base->kernels;
    s.quiet = quiet;
    return open_model(mp, &s, shareable(base) ? base : NULL, err);
}

int fr_model_shares_params(const FrModel *a, const FrModel *b)
{
    if (!a || !b || a->n != b->n)
        return 0;
    int shared = 0;
    for (int i = 0; i < a->n; i++) {
        float **sa[5], **sb[5];
        int n = param_slots(&a->net->layers[i], sa);
        param_slots(&b->net->layers[i], sb);
        for (int k = 0; k < n; k++) {
            if (*sa[k] != *sb[k])
                return 0;
            shared += *sa[k] != NULL;
        }
    }
    return shared;
}

int fr_model_open(FrModel **mp, const FrModelSettings *s, FrError *err)
{
    return open_model(mp, s, NULL, err);
}

/* Opens a model; with base, its parameters are base's instead of loaded. */
static int open_model(FrModel **mp, const FrModelSettings *s, FrModel *base, FrError *err)
{
    if (!mp)
        return fr_error(err, FR_E_USAGE, "fr_model_open: no output pointer");
    *mp = NULL;
    if (!s || !s->cfg || !s->cfg[0])
        return fr_error(err, FR_E_USAGE, "no model cfg given");
    if (s->width < 0 || s->height < 0 || s->width > 16384 || s->height > 16384 ||
        (!s->width) != (!s->height))
        return fr_error(err, FR_E_USAGE, "%s: bad input size %dx%d (give both, 1..16384, or 0 for the cfg's)", s->cfg, s->width, s->height);
    if (s->gemm != FR_GEMM_OPENBLAS && s->gemm != FR_GEMM_DARKNET)
        return fr_error(err, FR_E_USAGE, "%s: unknown gemm %d", s->cfg, (int)s->gemm);
    if (s->device != FR_DEVICE_CPU && s->device != FR_DEVICE_GPU)
        return fr_error(err, FR_E_USAGE, "%s: unknown device %d", s->cfg, (int)s->device);
    if (s->kernels != FR_KERNELS_FAST && s->kernels != FR_KERNELS_DARKNET)
        return fr_error(err, FR_E_USAGE, "%s: unknown kernels %d", s->cfg, (int)s->kernels);
    if (s->device == FR_DEVICE_GPU) {
        int grc = fr_gpu_check(err);
        if (grc != FR_OK)
            return grc;
    }
    if (strlen(s->cfg) > 3000 || (s->weights && strlen(s->weights) > 3000))
        return fr_error(err, FR_E_USAGE, "model path too long");

    FrCfgText text = {0};
    FrCfgInfo ci = {0};
    int rc = fr_cfg_rewrite(s->cfg, s->width, s->height, &text, &ci, err);
    if (rc != FR_OK) {
        free(text.p);
        return rc;
    }
    FrModel *m = calloc(1, sizeof *m);
    if (!m) {
        free(text.p);
        free(ci.line);
        return fr_error(err, FR_E_NOMEM, "out of memory opening %s", s->cfg);
    }
    m->cfg = strdup(s->cfg);
    m->cfg_line = ci.line;
    m->gemm = s->gemm;
    m->kernels = s->kernels;
    m->quiet = s->quiet;
    m->seed = s->seed;
    m->device = s->device;
    m->width = s->width;
    m->height = s->height;
    atomic_init(&m->refs, 1);
    if (!m->cfg || (s->weights && !(m->weights = strdup(s->weights)))) {
        free(text.p);
        fr_model_close(&m);
        return fr_error(err, FR_E_NOMEM, "out of memory opening %s", s->cfg);
    }

    /* darknet parses a path: an anonymous memory file (/proc/self/fd/N)
     * leaves nothing behind when the process is killed; a file in TMPDIR
     * only where memfd_create is missing */
    char tmp[4096];
    int fd = memfd_create("featrd-cfg", MFD_CLOEXEC), memfd = fd >= 0;
    if (memfd) {
        snprintf(tmp, sizeof tmp, "/proc/self/fd/%d", fd);
    } else {
        const char *tmpdir = getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp";
        snprintf(tmp, sizeof tmp, "%s/featrd-cfg-XXXXXX", tmpdir);
        fd = mkstemp(tmp);
    }
    if (fd < 0) {
        rc = fr_error(err, FR_E_IO, "%s: cannot create a temporary cfg: %s", tmp, strerror(errno));
        goto error;
    }
    size_t off = 0;
    while (off < text.n) {
        ssize_t k = write(fd, text.p + off, text.n - off);
        if (k <= 0) {
            close(fd);
            if (!memfd)
                unlink(tmp);
            rc = fr_error(err, FR_E_IO, "%s: cannot write a temporary cfg: %s", tmp, strerror(errno));
            goto error;
        }
        off += (size_t)k;
    }
    if (!memfd)
        close(fd);

    m->net = checked_parse(tmp, &text, &ci, s, err, &rc);
    if (memfd)
        close(fd);
    else
        unlink(tmp);
    if (rc != FR_OK)
        goto error;
    if (!m->net || m->net->n != ci.nlayers) {
        rc = fr_error(err, FR_E_MODEL, "%s: darknet could not build the network", s->cfg);
        goto error;
    }
    FILE *saved;
    network *net = m->net;
    m->n = net->n;
    net->train = 0;
    m->owner = calloc((size_t)m->n, sizeof *m->owner);
    m->names = calloc((size_t)m->n, sizeof *m->names);
    m->aliases = calloc((size_t)m->n, sizeof *m->aliases);
    if (!m->owner || !m->names || !m->aliases) {
        rc = fr_error(err, FR_E_NOMEM, "out of memory opening %s", s->cfg);
        goto error;
    }
    m->out_layer = m->n - 1;
    while (m->out_layer > 0 && net->layers[m->out_layer].type == COST)
        m->out_layer--;
    for (int i = 0; i < m->n; i++) {
        layer *l = &net->layers[i];
        snprintf(m->names[i], MAX_NAME, "%s_%d", type_name(l->type), i);
        m->owner[i] = (l->type == DROPOUT && i > 0) ? m->owner[i - 1] : i;
        if (l->type == RNN || l->type == GRU || l->type == LSTM || l->type == CRNN)
            m->has_recurrent = 1;
        /* the parser leaves a region layer's temperature 0 and the CPU
         * tree softmax divides by it */
        if (l->type == REGION && l->temperature == 0)
            l->temperature = 1;
        int bad_reorg = l->type == REORG && !l->reverse && l->stride > 0 &&
                        (l->w % l->stride || l->h % l->stride);
        if (l->outputs <= 0 || bad_reorg) {
            rc = fr_error(err, FR_E_USAGE, "%s:%d: layer %d (%s) %s at input %dx%d; choose an input size the network divides evenly (multiples of 32 for YOLO)", s->cfg, m->cfg_line[i], i, m->names[i], bad_reorg ? "cannot reorganise its odd-sized input" : "gets inputs of different sizes", net->w, net->h);
            goto error;
        }
        if (!l->output || (l->workspace_size > 0 && !net->workspace)) {
            rc = fr_error(err, FR_E_NOMEM, "%s:%d: darknet could not allocate layer %d (%s) at input %dx%d; use a smaller input or fewer channels", s->cfg, m->cfg_line[i], i, m->names[i], net->w, net->h);
            goto error;
        }
        if (!l->forward) {
            rc = fr_error(err, FR_E_FORMAT, "%s:%d: darknet built layer %d without a forward pass", s->cfg, m->cfg_line[i], i);
            goto error;
        }
#ifdef GPU
        if (on_gpu(m) && (!l->forward_gpu || !l->output_gpu)) {
            rc = fr_error(err, FR_E_USAGE, "%s:%d: darknet has no GPU forward for layer %d (%s); use device cpu for this network", s->cfg, m->cfg_line[i], i, m->names[i]);
            goto error;
        }
#endif
    }
    if (m->kernels == FR_KERNELS_FAST && !on_gpu(m))
        fr_kernels_drop_training_copies(net); /* inference: batch norm never writes them */
    m->task = detect_task(net, m->out_layer);
    if (m->task != FR_TASK_DETECTION)
        make_aliases(m);

    /* darknet loads a deconvolutional layer with the convolutional reader,
     * which divides by groups, left 0 by make_deconvolutional_layer */
    for (int i = 0; i < net->n; i++)
        if (net->layers[i].type == DECONVOLUTIONAL && net->layers[i].groups <= 0)
            net->layers[i].groups = 1;
    if (base) {
        if ((rc = share_params(m, base, err)) != FR_OK)
            goto error;
        m->random_init = base->random_init;
    } else if (s->weights) {
        if ((rc = check_weights(m, s->weights, err)) != FR_OK)
            goto error;
        pthread_mutex_lock(&parse_lock);
        saved = quiet_begin();
        set_gpu_index(m->device); /* load_weights pushes to the device when >= 0 */
        gpu_begin(m);
        load_weights(net, (char *)s->weights);
        gpu_end(m);
        quiet_end(saved);
        pthread_mutex_unlock(&parse_lock);
    } else {
        m->random_init = 1;
        seeded_init(net, s->seed);
        if (on_gpu(m)) {
            gpu_begin(m);
            push_weights(m);
            gpu_end(m);
        }
        if (!s->quiet)
            fprintf(stderr, "featrd: %s: no weights given; seeded random initialisation (seed %llu)\n", s->cfg, (unsigned long long)s->seed);
    }
    free(text.p);
    *mp = m;
    return FR_OK;

error:
    free(text.p);
    fr_model_close(&m);
    return rc;
}

/* Frees m; a model sharing another's parameters gives them back first and
 * then drops its reference to that base. */
static void free_model(FrModel *m)
{
    FrModel *base = m->base;
    if (m->net) {
        if (base)
            for (int i = 0; i < m->n; i++) {
                float **sl[5];
                int n = param_slots(&m->net->layers[i], sl);
                for (int k = 0; k < n; k++)
                    *sl[k] = NULL; /* base's: free_network must not free them */
            }
        gpu_begin(m);
        free_network(m->net);
        gpu_end(m);
    }
    free(m->cfg);
    free(m->weights);
    free(m->owner);
    free(m->names);
    free(m->aliases);
    free(m->cfg_line);
    free(m);
    if (base && atomic_fetch_sub(&base->refs, 1) == 1)
        free_model(base);
}

void fr_model_close(FrModel **mp)
{
    if (!mp || !*mp)
        return;
    FrModel *m = *mp;
    *mp = NULL;
    /* a base shared by others lives on until the last of them closes */
    if (atomic_fetch_sub(&m->refs, 1) == 1)
        free_model(m);
}

/* ------------------------------------------------------------ queries -- */

int fr_model_layer_count(const FrModel *m)
{
    return m ? m->n : 0;
}

int fr_model_layer_info(const FrModel *m, int i, FrLayerInfo *info)
{
    if (!m || !info || i < 0 || i >= m->n)
        return FR_E_USAGE;
    const layer *l = &m->net->layers[i];
    info->index = i;
    info->type = type_name(l->type);
    info->name = m->names[i];
    info->alias = m->aliases[i];
    out_shape(l, &info->c, &info->h, &info->w);
    info->bytes = 4 * (size_t)info->c * (size_t)info->h * (size_t)info->w;
    return FR_OK;
}

void fr_model_input_size(const FrModel *m, int *c, int *h, int *w)
{
    *c = m->net->c;
    *h = m->net->h;
    *w = m->net->w;
}

const char *fr_model_cfg_path(const FrModel *m)
{
    return m ? m->cfg : "";
}

FrTask fr_model_task(const FrModel *m)
{
    return m->task;
}

int fr_model_classes(const FrModel *m)
{
    for (int i = m->n - 1; i >= 0; i--) {
        const layer *l = &m->net->layers[i];
        if (l->type == REGION || l->type == YOLO || l->type == DETECTION)
            return l->classes;
    }
    return m->net->layers[m->out_layer].outputs;
}

void fr_model_set_gemm(FrModel *m, FrGemm g)
{
    if (m && (g == FR_GEMM_OPENBLAS || g == FR_GEMM_DARKNET))
        m->gemm = g;
}

void fr_model_set_kernels(FrModel *m, FrKernels k)
{
    if (m && (k == FR_KERNELS_FAST || k == FR_KERNELS_DARKNET))
        m->kernels = k;
}

FrGemm fr_model_get_gemm(const FrModel *m)
{
    return m->gemm;
}

static int name_matches_type(const char *word, LAYER_TYPE t)
{
    static const struct {
        const char *w;
        LAYER_TYPE t;
    } syn[] = {
        {"convolutional", CONVOLUTIONAL}, {"maxpool", MAXPOOL}, {"avgpool", AVGPOOL},
        {"conn", CONNECTED},              {"soft", SOFTMAX},    {"deconvolutional", DECONVOLUTIONAL},
        {"lrn", NORMALIZATION},
    };
    if (!strcasecmp(word, type_name(t)))
        return 1;
    for (size_t i = 0; i < sizeof syn / sizeof syn[0]; i++)
        if (syn[i].t == t && !strcasecmp(word, syn[i].w))
            return 1;
    return 0;
}

int fr_model_find_layer(const FrModel *m, const char *name, int *index, FrError *err)
{
    if (!m || !name || !index)
        return fr_error(err, FR_E_USAGE, "no layer name given");
    const char *p = name;
    while (isspace((unsigned char)*p))
        p++;
    char nm[64];
    snprintf(nm, sizeof nm, "%s", p);
    for (size_t k = strlen(nm); k > 0 && isspace((unsigned char)nm[k - 1]); k--)
        nm[k - 1] = 0;
    if (nm[0] && strspn(nm, "0123456789") == strlen(nm)) {
        long v = strtol(nm, NULL, 10);
        if (v >= 0 && v < m->n) {
            *index = (int)v;
            return FR_OK;
        }
        return fr_error(err, FR_E_USAGE, "%s: layer index %s out of range (the network has layers 0..%d)", m->cfg, nm, m->n - 1);
    }
    for (int i = 0; i < m->n; i++)
        if (!strcasecmp(nm, m->names[i]) || (m->aliases[i][0] && !strcasecmp(nm, m->aliases[i]))) {
            *index = i;
            return FR_OK;
        }
    /* long section names: maxpool_3, convolutional_6 */
    char *us = strrchr(nm, '_');
    if (us && us[1] && strspn(us + 1, "0123456789") == strlen(us + 1)) {
        long v = strtol(us + 1, NULL, 10);
        *us = 0;
        if (v >= 0 && v < m->n && name_matches_type(nm, m->net->layers[v].type)) {
            *index = (int)v;
            return FR_OK;
        }
        *us = '_';
    }
    char ex[512] = "";
    size_t len = 0;
    int shown = 0;
    for (int i = 0; i < m->n && shown < 4; i++, shown++)
        len += (size_t)snprintf(ex + len, sizeof ex - len, "%s, ", m->names[i]);
    int na = 0;
    for (int i = 0; i < m->n && na < 3 && len < sizeof ex - 40; i++)
        if (m->aliases[i][0]) {
            len += (size_t)snprintf(ex + len, sizeof ex - len, "%s, ", m->aliases[i]);
            na++;
        }
    if (len < sizeof ex - 40)
        snprintf(ex + len, sizeof ex - len, "... %s, or an index 0..%d", m->names[m->n - 1], m->n - 1);
    return fr_error(err, FR_E_USAGE, "%s: no layer named '%s'; valid names look like %s (`featrd layers %s` lists them all)", m->cfg, nm, ex, m->cfg);
}

/* --------------------------------------------------------------- cut set -- */

int fr_model_cut_set_err(const FrModel *m, int split, int *layers, int max, int *n, FrError *err)
{
    if (!m || !n)
        return fr_error(err, FR_E_USAGE, "fr_model_cut_set: no model");
    *n = 0;
    if (split < 0 || split >= m->n)
        return fr_error(err, FR_E_USAGE, "%s: split %d is not a layer (0..%d)", m->cfg, split, m->n - 1);
    if (split >= m->out_layer)
        return fr_error(err, FR_E_USAGE, "%s: a split after %s (%d) leaves no back half; split at or before %s", m->cfg, m->names[split], split, m->out_layer > 0 ? m->names[m->out_layer - 1] : "(none)");
    if (m->has_recurrent)
        return fr_error(err, FR_E_USAGE, "%s: recurrent layers keep state across passes; splitting this network is not supported", m->cfg);
    const network *net = m->net;
    char *need = calloc((size_t)split + 1, 1);
    if (!need)
        return fr_error(err, FR_E_NOMEM, "out of memory");
    for (int j = split + 1; j < m->n; j++) {
        const layer *l = &net->layers[j];
        int src[64], ns = 0;
        if (l->type == ROUTE) {
            for (int k = 0; k < l->n && ns < 64; k++)
                src[ns++] = l->input_layers[k];
        } else {
            src[ns++] = j - 1;
            if (l->type == SHORTCUT)
                src[ns++] = l->index;
        }
        for (int k = 0; k < ns; k++) {
            if (src[k] < 0 || src[k] >= m->n)
                continue;
            int o = m->owner[src[k]];
            if (o <= split)
                need[o] = 1;
        }
    }
    /* yolov3's earlier yolo layers are outputs too: the detection decoder
     * reads them after the back half */
    for (int i = 0; i <= split; i++) {
        LAYER_TYPE t = net->layers[i].type;
        if (t == REGION || t == YOLO || t == DETECTION)
            need[m->owner[i]] = 1;
    }
    int cnt = 0;
    for (int i = 0; i <= split; i++)
        if (need[i]) {
            if (layers && cnt < max)
                layers[cnt] = i;
            cnt++;
        }
    free(need);
    *n = cnt;
    if (layers && cnt > max)
        return fr_error(err, FR_E_USAGE, "%s: the cut after %s holds %d tensors, more than the %d given room", m->cfg, m->names[split], cnt, max);
    return FR_OK;
}

int fr_model_cut_set(const FrModel *m, int split, int *layers, int max, int *n)
{
    return fr_model_cut_set_err(m, split, layers, max, n, NULL);
}

/* ---------------------------------------------------------------- passes -- */

#ifdef GPU
/* The GPU twin of run_range: the layers' forward_gpu on device buffers, the
 * input of layer `from` already on the device. gpu_lock held. */
static void run_range_gpu(FrModel *m, int from, int to)
{
    network net = *m->net;
    if (from == 0) {
        net.input = m->net->input;
        net.input_gpu = m->net->input_gpu;
    } else {
        net.input = m->net->layers[from - 1].output;
        net.input_gpu = m->net->layers[from - 1].output_gpu;
    }
    for (int i = from; i <= to; i++) {
        net.index = i;
        layer l = net.layers[i];
        l.forward_gpu(l, net);
        net.input = l.output;
        net.input_gpu = l.output_gpu;
        if (l.truth) {
            net.truth = l.output;
            net.truth_gpu = l.output_gpu;
        }
    }
}

/* Device → host for layer i's output. gpu_lock held. */
static void pull_layer(const FrModel *m, int i)
{
    const layer *l = &m->net->layers[i];
    cuda_pull_array(l->output_gpu, l->output, (size_t)l->outputs * l->batch);
}

/* After a GPU pass over from..to: what the task reads on the host (the
 * output layer, and the detection layers the box decoder reads; region and
 * yolo pull themselves at inference, detection does not). */
static void pull_outputs(FrModel *m, int from, int to)
{
    for (int i = from; i <= to; i++) {
        LAYER_TYPE t = m->net->layers[i].type;
        if (i == m->out_layer || t == REGION || t == YOLO || t == DETECTION)
            pull_layer(m, i);
    }
}
#endif

static void run_range(FrModel *m, int from, int to)
{
#ifdef GPU
    if (on_gpu(m)) { /* input of `from` on the device already; gpu_lock held */
        run_range_gpu(m, from, to);
        pull_outputs(m, from, to);
        return;
    }
#endif
    network net = *m->net;
    tl_gemm = m->gemm;
    fr_kernels_set_thread(m->kernels);
    if (from == 0)
        net.input = m->net->input;
    else
        net.input = m->net->layers[from - 1].output;
    for (int i = from; i <= to; i++) {
        net.index = i;
        layer l = net.layers[i];
        l.forward(l, net);
        net.input = l.output;
        if (l.truth)
            net.truth = l.output;
    }
}

static int set_input(FrModel *m, const FrTensor *in, FrError *err)
{
    const network *net = m->net;
    if (!in || !in->data)
        return fr_error(err, FR_E_USAGE, "%s: no input tensor", m->cfg);
    if (in->c != net->c || in->h != net->h || in->w != net->w)
        return fr_error(err, FR_E_MISMATCH, "%s: input is %d×%d×%d (C×H×W), the network takes %d×%d×%d; use fr_model_prepare_input", m->cfg, in->c, in->h, in->w, net->c, net->h, net->w);
    memcpy(net->input, in->data, fr_tensor_size(in) * sizeof(float));
#ifdef GPU
    if (on_gpu(m)) /* gpu_lock held */
        cuda_push_array(net->input_gpu, net->input, fr_tensor_size(in));
#endif
    return FR_OK;
}

int fr_model_forward(FrModel *m, const FrTensor *input, FrError *err)
{
    if (!m)
        return fr_error(err, FR_E_USAGE, "no model");
    gpu_begin(m);
    int rc = set_input(m, input, err);
    if (rc == FR_OK)
        run_range(m, 0, m->n - 1);
    gpu_end(m);
    return rc;
}

static int copy_layer(const FrModel *m, int i, FrTensor *out)
{
    int c, h, w;
    out_shape(&m->net->layers[i], &c, &h, &w);
    int rc = fr_tensor_alloc(out, c, h, w);
    if (rc != FR_OK)
        return rc;
#ifdef GPU
    if (on_gpu(m)) { /* the device holds the pass's values of every layer */
        gpu_begin(m);
        pull_layer(m, i);
        gpu_end(m);
    }
#endif
    memcpy(out->data, m->net->layers[i].output, fr_tensor_size(out) * sizeof(float));
    return FR_OK;
}

int fr_model_front(FrModel *m, const FrTensor *input, int split, FrTensor *cuts, int *ncuts,
                   FrError *err)
{
    if (!m || !cuts || !ncuts)
        return fr_error(err, FR_E_USAGE, "fr_model_front: missing argument");
    *ncuts = 0;
    int idx[FR_MODEL_MAX_CUTS], n = 0;
    int rc = fr_model_cut_set_err(m, split, idx, FR_MODEL_MAX_CUTS, &n, err);
    if (rc != FR_OK)
        return rc;
    gpu_begin(m);
    rc = set_input(m, input, err);
    if (rc == FR_OK)
        run_range(m, 0, split);
    gpu_end(m);
    if (rc != FR_OK)
        return rc;
    /* copy_layer pulls each cut tensor from the device on the GPU */
    for (int k = 0; k < n; k++) {
        if ((rc = copy_layer(m, idx[k], &cuts[k])) != FR_OK) {
            for (int j = 0; j < k; j++)
                fr_tensor_free(&cuts[j]);
            return fr_error(err, rc, "%s: out of memory copying the cut tensors", m->cfg);
        }
    }
    *ncuts = n;
    return FR_OK;
}

int fr_model_forward_cuts(FrModel *m, const FrTensor *input, const int *splits, int n,
                          FrTensor *cuts, int *ncuts, double *t_front, FrError *err)
{
    if (!m || n < 0 || (n && (!splits || !cuts || !ncuts)))
        return fr_error(err, FR_E_USAGE, "fr_model_forward_cuts: missing argument");
    int idx[FR_MODEL_MAX_CUTS * 8], nidx[8];
    if (n > 8)
        return fr_error(err, FR_E_USAGE, "fr_model_forward_cuts: at most 8 splits, %d given", n);
    for (int j = 0; j < n; j++) {
        ncuts[j] = 0;
        int rc = fr_model_cut_set_err(m, splits[j], idx + j * FR_MODEL_MAX_CUTS,
                                      FR_MODEL_MAX_CUTS, &nidx[j], err);
        if (rc != FR_OK)
            return rc;
    }
    /* copy_layer takes the GPU lock itself: held per step, not across */
    gpu_begin(m);
    int rc = set_input(m, input, err);
    gpu_end(m);
    double t0 = fr_now();
    int done = -1; /* layers 0..done have run */
    for (int left = n; rc == FR_OK && left > 0;) {
        int next = m->n; /* the shallowest split not yet copied */
        for (int j = 0; j < n; j++)
            if (!ncuts[j] && splits[j] < next)
                next = splits[j];
        if (next > done) {
            gpu_begin(m);
            run_range(m, done + 1, next);
            gpu_end(m);
            done = next;
        }
        for (int j = 0; j < n && rc == FR_OK; j++) {
            if (ncuts[j] || splits[j] != next)
                continue;
            for (int k = 0; k < nidx[j] && rc == FR_OK; k++)
                rc = copy_layer(m, idx[j * FR_MODEL_MAX_CUTS + k], &cuts[j * FR_MODEL_MAX_CUTS + k]);
            if (rc != FR_OK) {
                for (int k = 0; k < nidx[j]; k++)
                    fr_tensor_free(&cuts[j * FR_MODEL_MAX_CUTS + k]);
                rc = fr_error(err, rc, "%s: out of memory copying the cut tensors", m->cfg);
                break;
            }
            ncuts[j] = nidx[j];
            if (t_front)
                t_front[j] = fr_now() - t0;
            left--;
        }
    }
    if (rc == FR_OK && done < m->n - 1) {
        gpu_begin(m);
        run_range(m, done + 1, m->n - 1);
        gpu_end(m);
    }
    if (rc != FR_OK)
        for (int j = 0; j < n; j++) {
            for (int k = 0; k < ncuts[j]; k++)
                fr_tensor_free(&cuts[j * FR_MODEL_MAX_CUTS + k]);
            ncuts[j] = 0;
        }
    return rc;
}

int fr_model_back(FrModel *m, int split, const FrTensor *cuts, int ncuts, FrError *err)
{
    return fr_model_back_to(m, split, cuts, ncuts, -1, err);
}

int fr_model_back_to(FrModel *m, int split, const FrTensor *cuts, int ncuts, int last,
                     FrError *err)
{
    if (!m || (!cuts && ncuts))
        return fr_error(err, FR_E_USAGE, "fr_model_back: missing argument");
    int idx[FR_MODEL_MAX_CUTS], n = 0;
    int rc = fr_model_cut_set_err(m, split, idx, FR_MODEL_MAX_CUTS, &n, err);
    if (rc != FR_OK)
        return rc;
    if (ncuts != n)
        return fr_error(err, FR_E_MISMATCH, "%s: the cut after %s needs %d tensors, %d given", m->cfg, m->names[split], n, ncuts);
    for (int k = 0; k < n; k++) {
        int c, h, w;
        out_shape(&m->net->layers[idx[k]], &c, &h, &w);
        if (!cuts[k].data || cuts[k].c != c || cuts[k].h != h || cuts[k].w != w)
            return fr_error(err, FR_E_MISMATCH, "%s: cut tensor %d (%s) is %d×%d×%d (C×H×W), the layer outputs %d×%d×%d", m->cfg, k, m->names[idx[k]], cuts[k].c, cuts[k].h, cuts[k].w, c, h, w);
    }
    /* in place: route and shortcut read net.layers[j].output (on the GPU
     * output_gpu) directly */
    gpu_begin(m);
    for (int k = 0; k < n; k++) {
        memcpy(m->net->layers[idx[k]].output, cuts[k].data, fr_tensor_size(&cuts[k]) * sizeof(float));
#ifdef GPU
        if (on_gpu(m))
            cuda_push_array(m->net->layers[idx[k]].output_gpu, m->net->layers[idx[k]].output, fr_tensor_size(&cuts[k]));
#endif
    }
    /* the layers after `last` do not feed it: stop there when asked */
    run_range(m, split + 1, last > split && last < m->n ? last : m->n - 1);
    gpu_end(m);
    return FR_OK;
}

int fr_model_output(FrModel *m, FrTensor *out)
{
    if (!m || !out)
        return FR_E_USAGE;
    return copy_layer(m, m->out_layer, out);
}

int fr_model_layer_output(FrModel *m, int layer, FrTensor *out)
{
    if (!m || !out || layer < 0 || layer >= m->n)
        return FR_E_USAGE;
    return copy_layer(m, layer, out);
}

/* ------------------------------------------------------------ detections -- */

int fr_model_detections(FrModel *m, int orig_w, int orig_h, float thresh, float nms,
                        FrDetection **dets, int *n)
{
    if (!m || !dets || !n || orig_w <= 0 || orig_h <= 0 || m->task != FR_TASK_DETECTION)
        return FR_E_USAGE;
    *dets = NULL;
    *n = 0;
    /* the tree softmax's hierarchy_predictions rewrites the region output in
     * place; keep it so repeated calls and fr_model_output see the pass's values */
    float *keep[8] = {0};
    int keep_layer[8], nkeep = 0;
    /* in the im2col workspace, idle between passes and already resident
     * (yolo9000@544: a 31 MiB region output in an 81 MiB workspace), else
     * in a buffer of its own */
    size_t need = 0, ws = 0;
    for (int i = 0; i < m->n; i++) {
        const layer *l = &m->net->layers[i];
        if (l->workspace_size > ws)
            ws = l->workspace_size;
        if ((l->type == REGION || l->type == YOLO || l->type == DETECTION) && nkeep < 8)
            keep_layer[nkeep++] = i;
    }
    for (int k = 0; k < nkeep; k++)
        need += (size_t)m->net->layers[keep_layer[k]].outputs * sizeof(float);
    float *in_ws = !on_gpu(m) && m->net->workspace && need <= ws ? m->net->workspace : NULL;
    for (int k = 0, off = 0; k < nkeep; k++) {
        const layer *l = &m->net->layers[keep_layer[k]];
        keep[k] = in_ws ? in_ws + off : malloc((size_t)l->outputs * sizeof(float));
        off += l->outputs;
        if (!keep[k]) {
            for (int j = 0; j < k && !in_ws; j++)
                free(keep[j]);
            return FR_E_NOMEM;
        }
        memcpy(keep[k], l->output, (size_t)l->outputs * sizeof(float));
    }
    int nb = 0;
    detection *d = get_network_boxes(m->net, orig_w, orig_h, thresh, 0.5f, NULL, 0, &nb);
    for (int k = 0; k < nkeep; k++) {
        const layer *l = &m->net->layers[keep_layer[k]];
        memcpy(l->output, keep[k], (size_t)l->outputs * sizeof(float));
        if (!in_ws)
            free(keep[k]);
    }
    if (!d && nb)
        return FR_E_NOMEM;
    int classes = 0;
    for (int i = m->n - 1; i >= 0 && !classes; i--) {
        const layer *l = &m->net->layers[i];
        if (l->type == REGION || l->type == YOLO || l->type == DETECTION)
            classes = l->classes;
    }
    if (nms > 0 && nb > 0)
        do_nms_sort(d, nb, classes, nms);
    size_t cnt = 0;
    for (int i = 0; i < nb; i++)
        for (int j = 0; j < classes; j++)
            if (d[i].prob[j] > thresh)
                cnt++;
    FrDetection *out = cnt ? malloc(cnt * sizeof *out) : NULL;
    if (cnt && !out) {
        free_detections(d, nb);
        return FR_E_NOMEM;
    }
    size_t k = 0;
    for (int i = 0; i < nb; i++) {
        box b = d[i].bbox;
        float x1 = b.x - b.w / 2, x2 = b.x + b.w / 2, y1 = b.y - b.h / 2, y2 = b.y + b.h / 2;
        /* darknet's validate_detector clamps the same way (1-based there) */
        if (x1 < 0) x1 = 0;
        if (y1 < 0) y1 = 0;
        if (x2 > orig_w - 1) x2 = (float)(orig_w - 1);
        if (y2 > orig_h - 1) y2 = (float)(orig_h - 1);
        for (int j = 0; j < classes; j++)
            if (d[i].prob[j] > thresh) {
                out[k].cls = j;
                out[k].score = d[i].prob[j];
                out[k].x1 = x1;
                out[k].y1 = y1;
                out[k].x2 = x2;
                out[k].y2 = y2;
                k++;
            }
    }
    free_detections(d, nb);
    *dets = out;
    *n = (int)k;
    return FR_OK;
}

void fr_detections_free(FrDetection **dets)
{
    if (dets) {
        free(*dets);
        *dets = NULL;
    }
}

/* ---------------------------------------------------------------- images -- */

static int image_to_tensor(image im, FrTensor *t)
{
    int rc = fr_tensor_alloc(t, im.c, im.h, im.w);
    if (rc == FR_OK)
        memcpy(t->data, im.data, fr_tensor_size(t) * sizeof(float));
    return rc;
}

int fr_model_load_image(FrModel *m, const char *path, FrTensor *rgb, FrError *err)
{
    (void)m;
    if (!path || !rgb)
        return fr_error(err, FR_E_USAGE, "no image path");
    memset(rgb, 0, sizeof *rgb);
    if (access(path, F_OK) != 0)
        return fr_error(err, FR_E_NOENT, "%s: no such image file", path);
    int w = 0, h = 0, c = 0;
    if (!stbi_info(path, &w, &h, &c) || w <= 0 || h <= 0)
        return fr_error(err, FR_E_FORMAT, "%s: not an image darknet can read (%s); use JPEG, PNG, BMP, GIF, TGA, PSD or PNM", path, stbi_failure_reason() ? stbi_failure_reason() : "unknown format");
    /* the header's size is allocated as 3 floats per pixel before any pixel
     * is read: a 100-byte file may claim 60000×60000 */
    if ((int64_t)w * h > ((int64_t)1 << 26))
        return fr_error(err, FR_E_FORMAT, "%s: corrupt or too large: the header says %dx%d pixels (at most 2^26, e.g. 8192x8192); scale it down first", path, w, h);
    image im = load_image_color((char *)path, 0, 0);
    if (!im.data || im.w != w || im.h != h || im.c != 3) {
        free_image(im);
        return fr_error(err, FR_E_FORMAT, "%s: the %dx%d image header could not be decoded (corrupt file?)", path, w, h);
    }
    int rc = image_to_tensor(im, rgb);
    free_image(im);
    if (rc != FR_OK)
        return fr_error(err, rc, "%s: out of memory for a %dx%d image", path, w, h);
    return FR_OK;
}

int fr_model_prepare_input(FrModel *m, const FrTensor *rgb, FrTensor *input)
{
    if (!m || !rgb || !input || !rgb->data || rgb->c != 3 || rgb->h <= 0 || rgb->w <= 0)
        return FR_E_USAGE;
    memset(input, 0, sizeof *input);
    const network *net = m->net;
    if (net->c != 3 && net->c != 1)
        return FR_E_USAGE;
    image src = {rgb->w, rgb->h, rgb->c, rgb->data};
    image sized;
    if (m->task == FR_TASK_DETECTION) {
        sized = letterbox_image(src, net->w, net->h);
    } else {
        /* scale so the image covers the input, then cut out the centre */
        double sx = (double)net->w / src.w, sy = (double)net->h / src.h;
        double sc = sx > sy ? sx : sy;
        int rw = (int)(src.w * sc + 0.5), rh = (int)(src.h * sc + 0.5);
        if (rw < net->w) rw = net->w;
        if (rh < net->h) rh = net->h;
        image r = (rw == src.w && rh == src.h) ? copy_image(src) : resize_image(src, rw, rh);
        sized = crop_image(r, (rw - net->w) / 2, (rh - net->h) / 2, net->w, net->h);
        free_image(r);
    }
    if (net->c == 1) {
        image g = grayscale_image(sized);
        free_image(sized);
        sized = g;
    }
    int rc = image_to_tensor(sized, input);
    free_image(sized);
    return rc;
}

int fr_image_jpeg_code(const FrTensor *rgb, int quality, size_t *bytes, FrTensor *decoded,
                       FrError *err)
{
    if (!rgb || !rgb->data || rgb->c != 3 || !bytes || !decoded)
        return fr_error(err, FR_E_USAGE, "JPEG anchor: needs a 3-channel image");
    if (quality < 1 || quality > 100)
        return fr_error(err, FR_E_USAGE, "JPEG quality %d out of range 1..100", quality);
    memset(decoded, 0, sizeof *decoded);
    const char *tmpdir = getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp";
    char base[256];
    if (snprintf(base, sizeof base - 8, "%s/featrd-jpg-XXXXXX", tmpdir) >= (int)sizeof base - 8)
        return fr_error(err, FR_E_USAGE, "TMPDIR %s too long for darknet's image writer", tmpdir);
    int fd = mkstemp(base);
    if (fd < 0)
        return fr_error(err, FR_E_IO, "%s: cannot create a temporary file: %s", base, strerror(errno));
    close(fd);
    char file[272];
    snprintf(file, sizeof file, "%s.jpg", base);
    /* save_image_options truncates 255·x to a byte without clamping */
    image im = make_image(rgb->w, rgb->h, 3);
    size_t sz = fr_tensor_size(rgb);
    for (size_t i = 0; i < sz; i++) {
        float v = rgb->data[i];
        im.data[i] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
    save_image_options(im, base, JPG, quality);
    free_image(im);
    unlink(base);
    struct stat st;
    int rc = FR_OK;
    if (stat(file, &st) != 0 || st.st_size <= 0) {
        rc = fr_error(err, FR_E_IO, "%s: darknet's JPEG writer failed", file);
    } else {
        *bytes = (size_t)st.st_size;
        rc = fr_model_load_image(NULL, file, decoded, err);
    }
    unlink(file);
    return rc;
}

int fr_model_save_weights(FrModel *m, const char *path, FrError *err)
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
    pthread_mutex_lock(&parse_lock);
    FILE *saved = quiet_begin();
    set_gpu_index(m->device); /* save_weights pulls from the device when >= 0 */
    gpu_begin(m);
    save_weights(m->net, tmp);
    gpu_end(m);
    quiet_end(saved);
    pthread_mutex_unlock(&parse_lock);
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

const char *fr_model_blas_version(void)
{
    return openblas_get_config();
}

int fr_model_blas_threads(int n)
{
    int was = openblas_get_num_threads();
    if (n > 0)
        openblas_set_num_threads(n);
    return was;
}

const char *fr_model_darknet_path(void)
{
    void *sym = dlsym(RTLD_DEFAULT, "parse_network_cfg");
    Dl_info info;
    if (sym && dladdr(sym, &info) && info.dli_fname)
        return info.dli_fname;
    return "not loaded";
}

/* ------------------------------------------------------------------ GPU -- */

int fr_gpu_compiled(void)
{
#ifdef GPU
    return 1;
#else
    return 0;
#endif
}

#ifdef GPU
static pthread_once_t gpu_once = PTHREAD_ONCE_INIT;
static int gpu_count;
static cudaError_t gpu_status;

static void count_gpus(void)
{
    gpu_status = cudaGetDeviceCount(&gpu_count);
    if (gpu_status != cudaSuccess)
        gpu_count = 0;
    cudaGetLastError(); /* darknet's check_error must not see this one */
}
#endif

int fr_gpu_check(FrError *err)
{
#ifdef GPU
    pthread_once(&gpu_once, count_gpus);
    if (gpu_status != cudaSuccess || gpu_count <= 0)
        return fr_error(err, FR_E_USAGE, "device gpu: no CUDA device on this machine (cudaGetDeviceCount: %s); run on a machine with an NVIDIA GPU and its driver, or use device cpu (--device cpu, or model.device: cpu)",
                        gpu_status != cudaSuccess ? cudaGetErrorString(gpu_status) : "0 devices");
    return FR_OK;
#else
    return fr_error(err, FR_E_USAGE, "device gpu: this featrd is built without GPU support (Debian's darknet is CPU-only); build bin-gpu/featrd with `make darknet-gpu && make GPU=1` where CUDA is installed (docs/gpu.md), or use device cpu (--device cpu, or model.device: cpu)");
#endif
}

const char *fr_gpu_describe(char *buf, size_t cap, const char *ind)
{
    if (!buf || !cap)
        return "";
    buf[0] = 0;
    if (!ind)
        ind = "";
#ifdef GPU
    size_t n = 0;
#define PUT(...) \
    do { \
        if (n < cap) \
            n += (size_t)snprintf(buf + n, cap - n, __VA_ARGS__); \
    } while (0)
    int rt = 0, drv = 0;
    cudaRuntimeGetVersion(&rt);
    cudaDriverGetVersion(&drv); /* 0 without a driver */
    cudaGetLastError();
    PUT("%scompiled: yes (CUDA libdarknet %s)\n", ind, fr_model_darknet_path());
    PUT("%scuda_runtime: %d.%d\n", ind, rt / 1000, rt % 1000 / 10);
    if (drv)
        PUT("%scuda_driver: %d.%d\n", ind, drv / 1000, drv % 1000 / 10);
    else
        PUT("%scuda_driver: none\n", ind);
#ifdef CUDNN
    size_t dv = cudnnGetVersion();
    PUT("%scudnn: %zu.%zu.%zu\n", ind, dv / 10000, dv % 10000 / 100, dv % 100);
#else
    PUT("%scudnn: no\n", ind);
#endif
    pthread_once(&gpu_once, count_gpus);
    if (gpu_status == cudaSuccess && gpu_count > 0) {
        struct cudaDeviceProp p;
        if (cudaGetDeviceProperties(&p, 0) == cudaSuccess)
            PUT("%sdevice: \"%s\" (device 0 of %d, sm_%d%d, %.1f GiB)\n", ind, p.name, gpu_count,
                p.major, p.minor, p.totalGlobalMem / 1073741824.0);
        cudaGetLastError();
    } else {
        PUT("%sdevice: none (cudaGetDeviceCount: %s)\n", ind,
            gpu_status != cudaSuccess ? cudaGetErrorString(gpu_status) : "0 devices");
    }
#undef PUT
#else
    snprintf(buf, cap, "%scompiled: no (Debian's CPU darknet; `make darknet-gpu && make GPU=1` builds bin-gpu/featrd, docs/gpu.md)\n", ind);
#endif
    return buf;
}
