/* run/run.h: the library-internal part of module run: functions that other
 * modules of libfeatrd and the tests use, which are not part of the public
 * API (include/featrd/run.h) and are not installed. The CLI cannot include
 * this (it is built without -Isrc). */
#ifndef FR_INTERNAL_RUN_RUN_H
#define FR_INTERNAL_RUN_RUN_H

#include "featrd/run.h"

/* Expands e's sweep (kind rd) into points: first the reference point, then
 * split × bits × packing × codec entry × allocation × QP (lossless codecs
 * one point), then each anchor × its QP/quality list. Errors: FR_E_CONFIG
 * (empty sweep). Free with fr_plan_free. */
int fr_plan_build(const struct FrExperiment *e, FrPlan *plan, FrError *err);
void fr_plan_free(FrPlan *plan);

#endif
