/* featrd/alloc.h: per-channel QP allocation. Uniform QP (every channel at the
 * base QP, the anchor of seed 004) and the sensitivity-aware allocation of
 * seed 004 (Hu, Xia, Yang, Liu, Algorithm 1): degrade one channel at a time at
 * QP_base, measure the MSE it causes at a chosen layer of the back half,
 * min-max normalise, QP_i = QP_base - round(QP_range * S~_i), clipped to 0..51.
 * Also a cache of sensitivities keyed by (image, split, bits, QP_base, ...),
 * in memory and optionally on disk. Implemented in src/alloc/alloc.c (no outside
 * library headers). */
#ifndef FEATRD_ALLOC_H
#define FEATRD_ALLOC_H

#include <stddef.h>

#include "featrd/common.h"
#include "featrd/config.h"
#include "featrd/container.h"
#include "featrd/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* HEVC's QP range for 8-bit video; QPs are clipped to it. (Above 8 bits
 * HEVC allows negative QPs down to -6*(bitDepth-8); featrd, like x265's
 * CQP interface, stays at 0..51.) */
#define FR_QP_MIN 0
#define FR_QP_MAX 51
/* Seed 004 fixes QP_range to 5 throughout. */
#define FR_ALLOC_QP_RANGE_DEFAULT 5

/* The sweep axis (FrAllocation: an index in the allocators registry,
 * FR_ALLOC_UNIFORM = 0), the enums of the measurement layer (FrSensLayer:
 * FR_SENS_PENULTIMATE | FR_SENS_FINAL | FR_SENS_NAMED) and of the scope
 * (FrSensScope: FR_SENS_IMAGE | FR_SENS_DATASET), and their YAML spellings,
 * are owned by the config module (featrd/config.h). */

/* ---------------- the allocation formula (pure) ---------------- */

/* ---------------- sensitivity measurement (Algorithm 1) ---------------- */

/* ---------------- sensitivity cache ---------------- */

/* Cache key for one sensitivity vector. Every input that changes the values
 * is part of it: image (a path or id), split name, bits, QP_base, and a
 * free-form `extra` (packing, range mode, codec settings, measurement layer,
 * model path) that the caller builds; extra may be NULL. Writes a
 * NUL-terminated string into buf; returns the length needed (like snprintf),
 * so a return >= cap means it was cut (FR keys are compared whole, so use a
 * buffer of FR_SENS_KEY_MAX). */
#define FR_SENS_KEY_MAX 1024

/* A thread-safe map key -> (sensitivity vector, seconds it took). Opaque.
 * With a directory, entries are also written there (one small binary file per
 * key, named by a 64-bit hash of the key, the key stored inside and checked on
 * read) and found again by later runs. */
typedef struct FrSensCache FrSensCache;

/* ---------------- for the runner ---------------- */

/* ---------------- rdopt: Lagrangian per-channel QP (src/alloc/alloc_rdopt.c) ----------------
 *
 * For every channel i and every QP q_k of a small set, R_i(q_k) = bits of
 * channel i's frame when the feature is coded at uniform q_k (frames packing:
 * every frame intra, coded independently) and D_i(q_k) = the MSE at the
 * measurement layer with channel i alone degraded at q_k (Algorithm 1's
 * sensitivity at QP q_k, the same cache entries). Assuming additivity
 * (D(q_1..q_C) ~ sum_i D_i(q_i), R likewise), the Lagrangian allocation for
 * a slope lambda is q_i = argmin_k D_i(q_k) + lambda R_i(q_k), channel by
 * channel, which is the exact minimiser of sum D + lambda sum R over all
 * QP maps of the set. A curve's points are the lambdas whose allocation
 * spends the rate of uniform QP_base.
 *
 * Curves are row-major: R[i * nq + k], D[i * nq + k] for channel i, option k. */

/* What one allocation decided, for points.csv. */
typedef struct FrRdoptResult {
    double lambda;  /* the slope used */
    double rate;    /* model rate sum_i R_i(q_i), bits */
    double budget;  /* sum_i R_i(qp_base) - side_bits, bits */
    double dist;    /* predicted distortion sum_i D_i(q_i) */
} FrRdoptResult;

/* QP map for one point from curves over qps (which must hold qp_base): the
 * budget is uniform QP_base's rate less side_bits (what sending the map
 * costs: the container's QP list, 8 bits a channel, FR_RDOPT_MAP_BITS, so the
 * point as a whole spends no more than uniform QP_base), the allocation
 * fr_rdopt_for_rate's
 * (fill on). start (may be NULL): an initial map of QPs (Algorithm 1's) to
 * refine with fr_rdopt_refine instead, each QP taken to the nearest one of
 * qps (ties to the lower QP). out_qps[0..n-1] receives QPs. */
#define FR_RDOPT_MAP_BITS(n) (8.0 * (double)(n))

/* What an allocator is (the allocators registry, src/alloc/allocators.c:
 * one entry per `sweep.allocation` value). The config, the plan and the run
 * read what an allocator needs from it, never its name. */
typedef struct FrAllocInfo {
    const char *name;     /* the YAML value */
    int per_channel;      /* 1: a QP per channel (needs a codec with FR_CODEC_BLOCK_QP and
                             tile or frames packing; lossless entries do not get it) */
    int rate_from_base;   /* 1: the rate axis is sweep.qp_base (the curve's points), 0: the
                             codec entry's qp list */
    int rd_curves;        /* 1: measures each channel's rate and distortion over
                             sweep.rdopt.qps (needs packing frames; a map of one QP is sent
                             as that uniform QP; the points get rdopt_lambda, d_pred and
                             d_joint) */
    const char *summary;
} FrAllocInfo;

#ifdef __cplusplus
}
#endif
#endif
