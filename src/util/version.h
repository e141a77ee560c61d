/* util/version.h: the library-internal part of module version: functions that other
 * modules of libfeatrd and the tests use, which are not part of the public
 * API (include/featrd/version.h) and are not installed. The CLI cannot include
 * this (it is built without -Isrc). */
#ifndef FR_INTERNAL_UTIL_VERSION_H
#define FR_INTERNAL_UTIL_VERSION_H

#include "featrd/version.h"

/* The libraries' versions, each from its adapter. */
const char *fr_bd_gsl_version(void);      /* bd.c */
const char *fr_config_yaml_version(void); /* yaml_tree.c */
const char *fr_model_blas_version(void);  /* model_blas.c: openblas_get_config() */
const char *fr_model_darknet_path(void);  /* model_dn.c: the libdarknet.so in use */

#endif
