/* featrd/version.h: versions of featrd and of every library it links. */
#ifndef FEATRD_VERSION_H
#define FEATRD_VERSION_H

#include <stdio.h>

/* One "name: version" line per library, to f. The darknet line names the
 * shared object that was actually loaded. Used by `featrd version` and the
 * manifest of every run. */
void fr_versions_print(FILE *f, const char *indent);

/* The libraries' versions, each from its adapter. */
const char *fr_bd_gsl_version(void);      /* bd.c */
const char *fr_config_yaml_version(void); /* yaml_tree.c */
const char *fr_model_blas_version(void);  /* model.c: openblas_get_config() */
const char *fr_model_darknet_path(void);  /* model.c: the libdarknet.so in use */

#endif
