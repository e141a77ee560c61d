/* version.c: the version of featrd and of every linked library, each asked
 * through the one file that includes that library's header (the codec
 * registry for the coders, bd.c for GSL, yaml_tree.c for libyaml, model_blas.c / model_dn.c for
 * darknet and OpenBLAS). */
#include <string.h>

#include "featrd.h"

#include "codec/codec_internal.h"
#include "model/model.h"
#include "util/version.h"

void fr_versions_print(FILE *f, const char *ind)
{
    fprintf(f, "%sfeatrd: %s\n", ind, FR_VERSION_STRING);
    fprintf(f, "%sdarknet: %s (Debian darknet, 2018 snapshot; %s)\n", ind, fr_model_darknet_path(),
            fr_gpu_compiled() ? "built from its source with CUDA by make darknet-gpu" : "CPU");
    /* one line per library, in registry order (hevc and hevc-lossless share one) */
    const char *seen[32];
    int nseen = 0;
    for (int i = 0; i < fr_codec_count(); i++) {
        const FrCodec *c = fr_codec_at(i);
        int dup = 0;
        for (int k = 0; k < nseen; k++)
            dup |= !strcmp(seen[k], c->library);
        if (dup || !c->version)
            continue;
        if (nseen < 32)
            seen[nseen++] = c->library;
        fprintf(f, "%s%s: %s\n", ind, c->library, c->version());
    }
    fprintf(f, "%sgsl: %s\n", ind, fr_bd_gsl_version());
    fprintf(f, "%slibyaml: %s\n", ind, fr_config_yaml_version());
    fprintf(f, "%sopenblas: %s\n", ind, fr_model_blas_version());
}
