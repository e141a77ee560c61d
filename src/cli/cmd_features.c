/* cmd_features.c: `featrd features`: the cut tensors of a split for every
 * image of an experiment's data set, as .npy files, so a feature can be
 * checked or coded by other tools (numpy.load reads them). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: featrd features CONFIG.yaml --split S --out DIR [-o key=value ...] [--device cpu|gpu]\n"
            "Runs the config's model up to split S (a layer name, index or alias) on each\n"
            "image of dataset.images (dataset.limit / seed apply) and writes every tensor\n"
            "of the split's cut set, float32 C×H×W, to\n"
            "  DIR/NNNNNN_<image>.<layer>.npy   (NNNNNN: position in the list)\n"
            "and DIR/features.txt: one line per file (file, image path, layer, C H W),\n"
            "after a line '# split: S (layer L)'. `kind: features` (features.dir: DIR)\n"
            "codes them without the model.\n"
            "The tensors are exactly what featrd run quantizes and codes at that split\n"
            "(--device gpu: on the GPU, as featrd run --device gpu; bin-gpu/featrd).\n");
}

static int run_features(const FrExperiment *e, const char *split, const char *out, FrError *err)
{
    FrImageList list = {0};
    FrModel *m = NULL;
    FILE *idx = NULL;
    int rc = fr_experiment_check_files(e, err);
    if (!rc)
        rc = fr_experiment_images(e, &list, err);
    if (rc)
        goto done;
    FrModelSettings ms;
    fr_model_spec_settings(&e->model, &ms);
    ms.quiet = 1;
    if ((rc = fr_model_open(&m, &ms, err)))
        goto done;
    int li, cut[FR_MODEL_MAX_CUTS], ncut;
    if ((rc = fr_model_find_layer(m, split, &li, err)) ||
        (rc = fr_model_cut_set_err(m, li, cut, FR_MODEL_MAX_CUTS, &ncut, err)))
        goto done;
    /* mkdir -p: the parents first */
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", out);
    for (char *q = parent + 1; *q; q++)
        if (*q == '/') {
            *q = 0;
            mkdir(parent, 0777);
            *q = '/';
        }
    if (mkdir(out, 0777) != 0) {
        struct stat st;
        if (stat(out, &st) != 0 || !S_ISDIR(st.st_mode)) {
            rc = fr_error(err, FR_E_USAGE, "--out %s: cannot create the directory", out);
            goto done;
        }
    }
    char path[4600];
    snprintf(path, sizeof path, "%s/features.txt", out);
    if (!(idx = fopen(path, "w"))) {
        rc = fr_error(err, FR_E_IO, "%s: cannot write", path);
        goto done;
    }
    FrLayerInfo sinfo;
    fr_model_layer_info(m, li, &sinfo);
    /* the second line names the split for `kind: features` (its curve names) */
    fprintf(idx, "# file image layer C H W (featrd features, split %s of %s)\n# split: %s "
            "(layer %s)\n", split, e->model.cfg, split, sinfo.name);
    for (size_t i = 0; i < list.n && !rc; i++) {
        FrTensor rgb = {0}, in = {0}, cuts[FR_MODEL_MAX_CUTS];
        int nc = 0;
        rc = fr_model_load_image(m, list.items[i].path, &rgb, err);
        if (!rc)
            rc = fr_model_prepare_input(m, &rgb, &in);
        if (!rc)
            rc = fr_model_front(m, &in, li, cuts, &nc, err);
        const char *p = list.items[i].path, *base = strrchr(p, '/');
        base = base ? base + 1 : p;
        const char *dot = strrchr(base, '.');
        int bl = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
        for (int k = 0; k < nc; k++) {
            FrLayerInfo info;
            fr_model_layer_info(m, cut[k], &info);
            char name[600];
            snprintf(name, sizeof name, "%06zu_%.*s.%s.npy", i, bl, base, info.name);
            snprintf(path, sizeof path, "%s/%s", out, name);
            if (!rc)
                rc = fr_npy_write(path, &cuts[k], err);
            if (!rc)
                fprintf(idx, "%s %s %s %d %d %d\n", name, p, info.name, cuts[k].c, cuts[k].h,
                        cuts[k].w);
            fr_tensor_free(&cuts[k]);
        }
        fr_tensor_free(&rgb);
        fr_tensor_free(&in);
    }
    if (!rc)
        printf("%s: %zu images, split %s (cut set of %d tensor%s), listed in %s/features.txt\n",
               out, list.n, split, ncut, ncut == 1 ? "" : "s", out);
done:
    if (idx && fclose(idx) != 0 && !rc)
        rc = fr_error(err, FR_E_IO, "%s/features.txt: write failed", out);
    fr_model_close(&m);
    fr_image_list_free(&list);
    return rc;
}

int fr_cmd_features(int argc, char **argv)
{
    const char *config = NULL, *split = NULL, *out = NULL;
    const char **ovr = calloc((size_t)argc + 1, sizeof *ovr);
    int novr = 0;
    if (!ovr)
        return fr_cli_fail("features", FR_E_NOMEM, "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (fr_cli_is_help(a)) {
            usage(stdout);
            free(ovr);
            return 0;
        }
        if (!strcmp(a, "-o") || !strcmp(a, "--split") || !strcmp(a, "--out") ||
            !strcmp(a, "--device")) {
            if (i + 1 >= argc) {
                free(ovr);
                return fr_cli_fail("features", FR_E_USAGE, "%s needs a value (featrd features "
                                   "--help)", a);
            }
            const char *v = argv[++i];
            FrDevice d;
            if (!strcmp(a, "-o")) {
                ovr[novr++] = v;
            } else if (!strcmp(a, "--device")) {
                if (fr_cli_device(v, &d)) {
                    free(ovr);
                    return fr_cli_fail("features", FR_E_USAGE, "--device %s: expected cpu or gpu", v);
                }
                ovr[novr++] = d == FR_DEVICE_GPU ? "model.device=gpu" : "model.device=cpu";
            } else if (!strcmp(a, "--split"))
                split = v;
            else
                out = v;
        } else if (a[0] == '-' && a[1]) {
            free(ovr);
            return fr_cli_fail("features", FR_E_USAGE, "unknown option %s (featrd features --help)",
                               a);
        } else if (!config) {
            config = a;
        } else {
            free(ovr);
            return fr_cli_fail("features", FR_E_USAGE, "unexpected argument '%s'", a);
        }
    }
    if (!config || !split || !out) {
        usage(stderr);
        free(ovr);
        return fr_cli_fail("features", FR_E_USAGE, "needs CONFIG.yaml, --split S and --out DIR");
    }
    FrError err = {0};
    FrExperiment *e = NULL;
    int rc = fr_config_load(config, ovr, novr, &e, &err);
    if (!rc && e->model.device == FR_DEVICE_GPU) /* before any file is looked at */
        rc = fr_gpu_check(&err);
    /* The tensors must be the ones `featrd run` codes, and it runs OpenBLAS
     * single-threaded (cmd_run.c): threaded sgemm sums in another order, so
     * the floats differ in the last bits (and kind features' rates with
     * them). One thread through OpenBLAS's API, unless the user set
     * OPENBLAS_NUM_THREADS. */
    if (!rc && !getenv("OPENBLAS_NUM_THREADS"))
        fr_model_blas_threads(1);
    if (!rc)
        rc = run_features(e, split, out, &err);
    free(ovr);
    fr_experiment_free(&e);
    if (rc)
        return fr_cli_fail("features", rc, "%s", err.msg[0] ? err.msg : fr_strerror(rc));
    return 0;
}
