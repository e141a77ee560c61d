/* version.c: asks every linked library for its version. It includes their
 * headers only to call their version functions; all other use of each library
 * stays in that library's adapter. */
#define _GNU_SOURCE
#include "featrd.h"

#include <bzlib.h>
#include <cblas.h>
#include <dlfcn.h>
#include <gsl/gsl_version.h>
#include <libde265/de265.h>
#include <lzma.h>
#include <x265.h>
#include <yaml.h>
#include <zlib.h>
#include <zstd.h>

static const char *darknet_path(void)
{
    void *sym = dlsym(RTLD_DEFAULT, "parse_network_cfg");
    Dl_info info;
    if (sym && dladdr(sym, &info) && info.dli_fname)
        return info.dli_fname;
    return "not loaded";
}

void fr_versions_print(FILE *f, const char *ind)
{
    fprintf(f, "%sfeatrd: %s\n", ind, FR_VERSION_STRING);
    fprintf(f, "%sdarknet: %s (Debian darknet, 2018 snapshot; CPU)\n", ind, darknet_path());
    fprintf(f, "%sx265: %s (bit depths 8/10/12 via x265_api_get)\n", ind, x265_version_str);
    fprintf(f, "%slibde265: %s\n", ind, de265_get_version());
    fprintf(f, "%sgsl: %s\n", ind, gsl_version);
    fprintf(f, "%slibyaml: %s\n", ind, yaml_get_version_string());
    fprintf(f, "%szlib: %s\n", ind, zlibVersion());
    fprintf(f, "%sbzip2: %s\n", ind, BZ2_bzlibVersion());
    fprintf(f, "%sliblzma: %s\n", ind, lzma_version_string());
    fprintf(f, "%szstd: %s\n", ind, ZSTD_versionString());
    fprintf(f, "%sopenblas: %s\n", ind, openblas_get_config());
}
