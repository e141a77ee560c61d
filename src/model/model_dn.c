/* model_dn.c: darknet's process-wide state, kept in one place: the parse
 * and GPU locks, gpu_index, the stderr stream darknet prints to, layer type
 * names and shapes, and what `featrd version` reports of the device. See
 * model.c for how each piece of darknet's global state is handled. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "featrd/model.h"
#include "model/model_internal.h"
#include "util/version.h"
#include "model/model.h"
#include "model/model_dn.h"

pthread_mutex_t fr_dn_parse_lock = PTHREAD_MUTEX_INITIALIZER;
#ifdef GPU
static pthread_mutex_t gpu_lock = PTHREAD_MUTEX_INITIALIZER;
#endif

/* The network runs on the GPU (always 0 in the CPU build). */
int fr_dn_on_gpu(const DnModel *m)
{
#ifdef GPU
    return m->device == FR_DEVICE_GPU;
#else
    (void)m;
    return 0;
#endif
}

void fr_dn_gpu_begin(const DnModel *m)
{
#ifdef GPU
    if (fr_dn_on_gpu(m)) {
        pthread_mutex_lock(&gpu_lock);
        cudaSetDevice(0); /* per host thread; workers start on device 0 anyway */
    }
#else
    (void)m;
#endif
}

void fr_dn_gpu_end(const DnModel *m)
{
#ifdef GPU
    if (fr_dn_on_gpu(m))
        pthread_mutex_unlock(&gpu_lock);
#else
    (void)m;
#endif
}

/* darknet's gpu_index for what is parsed, loaded or saved next (fr_dn_parse_lock held). */
void fr_dn_set_gpu_index(FrDevice d)
{
#ifdef GPU
    gpu_index = d == FR_DEVICE_GPU ? 0 : -1;
#else
    (void)d;
#endif
}


const char *fr_dn_type_name(LAYER_TYPE t)
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
FILE *fr_dn_quiet_begin(void)
{
    fflush(stderr);
    FILE *nul = fopen("/dev/null", "w");
    if (!nul)
        return NULL;
    FILE *saved = stderr;
    stderr = nul;
    return saved;
}

void fr_dn_quiet_end(FILE *saved)
{
    if (!saved)
        return;
    FILE *nul = stderr;
    stderr = saved;
    fclose(nul);
}


void fr_dn_out_shape(const layer *l, int *c, int *h, int *w)
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

