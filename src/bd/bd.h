/* bd/bd.h: the library-internal part of module bd: functions that other
 * modules of libfeatrd and the tests use, which are not part of the public
 * API (include/featrd/bd.h) and are not installed. The CLI cannot include
 * this (it is built without -Isrc). */
#ifndef FR_INTERNAL_BD_BD_H
#define FR_INTERNAL_BD_BD_H

#include "featrd/bd.h"

/* The upper envelope (Pareto front) of a curve: sorted by rate, a point is
 * kept only if its quality beats every point of lower or equal rate (dir > 0:
 * higher is better; dir < 0: lower is better, e.g. MSE), so the result is
 * strictly monotone on both axes. out owns new arrays (rate, quality, line,
 * CIs and replicates follow their points). *dropped = points left out. */
int fr_bd_envelope(const FrBdCurve *in, int dir, FrBdCurve *out, size_t *dropped, FrError *err);

/* The quality direction of a curve: +1 if quality at its highest rate
 * exceeds that at its lowest, else -1. */
int fr_bd_direction(const FrBdCurve *c);

/* Percentile interval of the finite values of v (numpy's default linear
 * interpolation between order statistics): lo at (1-level)/2, hi at
 * (1+level)/2. NaN when no value is finite. v is not modified. */
void fr_ci_percentile(const double *v, size_t n, double level, double *lo, double *hi);

#endif
