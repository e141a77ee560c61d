/* model_blas.c: darknet's matrix multiplies. gemm_cpu is called by name
 * from libdarknet.so through the PLT; the definition here interposes (the
 * Makefile links libfeatrd.a whole) and sends it to OpenBLAS, or back to
 * darknet's own (model.gemm: darknet), per thread. The only file that
 * includes cblas.h; it needs nothing of darknet's. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include <cblas.h>

#include "featrd/model.h"
#include "model/model_internal.h"
#include "util/version.h"

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

void fr_dn_gemm_thread(FrGemm g);
void fr_dn_gemm_thread(FrGemm g)
{
    tl_gemm = g;
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

