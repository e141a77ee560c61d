/* cmd_layers.c: `featrd layers MODEL.cfg [--weights W] [--input WxH] [--split S]`: every
 * layer's index, darknet name, stage alias, type, output shape, float32
 * bytes, and the cut set of a split after it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: featrd layers MODEL.cfg|CONFIG.yaml [--weights W] [--input WxH] [--seed N] [--split NAME]\n"
            "                     [--device cpu|gpu]\n"
            "(an experiment CONFIG.yaml stands for its model.cfg, model.weights and input size)\n"
            "\n"
            "Lists the layers of a darknet network: index, darknet name (<type>_<index>),\n"
            "stage alias, type, output W×H×C, float32 bytes, and the cut set of a split\n"
            "after the layer: every earlier output a later layer reads (all of it is coded\n"
            "and counted when splitting there), with its total bytes.\n"
            "\n"
            "  --weights W   darknet .weights to check against the cfg (default: none,\n"
            "                seeded random initialisation; shapes do not depend on it)\n"
            "  --input WxH   network input size (default: the cfg's width and height)\n"
            "  --seed N      seed of the random initialisation (default 1)\n"
            "  --split NAME  only that split: its layer and each tensor of its cut set\n"
            "  --device D    open the network on cpu (default) or gpu (bin-gpu/featrd)\n"
            "\n"
            "A split is named by the darknet name (max_11), the index (11) or the alias\n"
            "(pool2) everywhere featrd takes one.\n");
}

static void human(size_t b, char *out, size_t cap)
{
    if (b >= (size_t)1 << 20)
        snprintf(out, cap, "%.2f MiB", (double)b / (1 << 20));
    else if (b >= 1024)
        snprintf(out, cap, "%.1f KiB", (double)b / 1024);
    else
        snprintf(out, cap, "%zu B", b);
}

static const char *task_str(FrTask t)
{
    return t == FR_TASK_DETECTION ? "detection" : t == FR_TASK_CLASSIFICATION ? "classification" : "dense";
}

static void print_row(const FrLayerInfo *li, const char *extra)
{
    char shape[64];
    snprintf(shape, sizeof shape, "%dx%dx%d", li->w, li->h, li->c);
    printf("%5d  %-14s %-7s %-13s %-18s %12zu  %s\n", li->index, li->name, li->alias[0] ? li->alias : "-",
           li->type, shape, li->bytes, extra);
}

/* --split NAME: the split's layer, then one row per cut tensor. Closes m. */
static int one_split(FrModel *m, const char *name)
{
    FrError err = {0};
    int split = -1, idx[FR_MODEL_MAX_CUTS], nc = 0;
    int rc = fr_model_find_layer(m, name, &split, &err);
    if (rc == FR_OK)
        rc = fr_model_cut_set_err(m, split, idx, FR_MODEL_MAX_CUTS, &nc, &err);
    if (rc != FR_OK) {
        fr_model_close(&m);
        return fr_cli_fail("layers", rc, "%s", err.msg);
    }
    FrLayerInfo li;
    size_t total = 0;
    printf("%5s  %-14s %-7s %-13s %-18s %12s\n", "index", "name", "alias", "type", "output W×H×C", "bytes");
    fr_model_layer_info(m, split, &li);
    print_row(&li, "split");
    for (int k = 0; k < nc; k++) {
        fr_model_layer_info(m, idx[k], &li);
        total += li.bytes;
        print_row(&li, "crosses the cut");
    }
    char hb[32];
    human(total, hb, sizeof hb);
    printf("cut set after %s: %d tensor%s, %zu bytes (%s)\n", name, nc, nc == 1 ? "" : "s", total, hb);
    fr_model_close(&m);
    return 0;
}

/* The layer table (or one split's cut set) of the model s opens. */
static int show(const FrModelSettings *s, const char *split_name)
{
    FrModel *m = NULL;
    FrError err = {0};
    int rc = fr_model_open(&m, s, &err);
    if (rc != FR_OK)
        return fr_cli_fail("layers", rc, "%s", err.msg);

    if (split_name)
        return one_split(m, split_name);
    int c, h, w, n = fr_model_layer_count(m);
    fr_model_input_size(m, &c, &h, &w);
    printf("# %s: %d layers, input %dx%dx%d (W×H×C), task %s, weights %s\n", s->cfg, n, w, h, c,
           task_str(fr_model_task(m)), s->weights ? s->weights : "none (seeded random)");
    printf("# %s\n", fr_model_alias_rule());
    printf("%5s  %-14s %-7s %-13s %-18s %12s  %s\n", "index", "name", "alias", "type",
           "output W×H×C", "bytes", "cut set after this layer");
    for (int i = 0; i < n; i++) {
        FrLayerInfo li;
        fr_model_layer_info(m, i, &li);
        char cut[2048];
        int idx[FR_MODEL_MAX_CUTS], nc = 0;
        FrError cerr = {0};
        if (fr_model_cut_set_err(m, i, idx, FR_MODEL_MAX_CUTS, &nc, &cerr) != FR_OK) {
            snprintf(cut, sizeof cut, "-");
        } else {
            size_t len = 0, total = 0;
            for (int k = 0; k < nc; k++) {
                FrLayerInfo ci;
                fr_model_layer_info(m, idx[k], &ci);
                total += ci.bytes;
                len += (size_t)snprintf(cut + len, sizeof cut - len, "%s%s", k ? "+" : "", ci.name);
                if (len >= sizeof cut - 64)
                    break;
            }
            char hb[32];
            human(total, hb, sizeof hb);
            snprintf(cut + len, sizeof cut - len, " (%zu bytes, %s)", total, hb);
        }
        print_row(&li, cut);
    }
    fr_model_close(&m);
    return 0;
}

int fr_cmd_layers(int argc, char **argv)
{
    FrModelSettings s;
    fr_model_defaults(&s);
    s.quiet = 1;
    const char *split_name = NULL;
    int device_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (fr_cli_is_help(a)) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--weights") || !strcmp(a, "--input") || !strcmp(a, "--seed") ||
            !strcmp(a, "--split") || !strcmp(a, "--device")) {
            if (i + 1 >= argc)
                return fr_cli_fail("layers", FR_E_USAGE, "%s needs a value (featrd layers --help)", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--weights")) {
                s.weights = v;
            } else if (!strcmp(a, "--device")) {
                if (fr_cli_device(v, &s.device))
                    return fr_cli_fail("layers", FR_E_USAGE, "--device %s: expected cpu or gpu", v);
                device_given = 1;
            } else if (!strcmp(a, "--split")) {
                split_name = v;
            } else if (!strcmp(a, "--seed")) {
                char *end;
                unsigned long long x = strtoull(v, &end, 10);
                if (!*v || *end)
                    return fr_cli_fail("layers", FR_E_USAGE, "--seed %s: not a non-negative integer", v);
                s.seed = x;
            } else {
                int w = 0, h = 0;
                char x = 0, tail = 0;
                if (sscanf(v, "%d%c%d%c", &w, &x, &h, &tail) != 3 || (x != 'x' && x != 'X') ||
                    w <= 0 || h <= 0 || w > 16384 || h > 16384)
                    return fr_cli_fail("layers", FR_E_USAGE, "--input %s: expected WxH, e.g. 416x416", v);
                s.width = w;
                s.height = h;
            }
        } else if (a[0] == '-' && a[1]) {
            return fr_cli_fail("layers", FR_E_USAGE, "unknown option %s (featrd layers --help)", a);
        } else if (!s.cfg) {
            s.cfg = a;
        } else {
            return fr_cli_fail("layers", FR_E_USAGE, "one model cfg only (got %s and %s)", s.cfg, a);
        }
    }
    if (!s.cfg) {
        usage(stderr);
        return 2;
    }
    FrError err = {0};
    /* an experiment YAML stands for its model: model.cfg, model.weights
     * and the input size it runs at (options given here still win) */
    FrExperiment *e = NULL;
    size_t cl = strlen(s.cfg);
    if ((cl > 5 && !strcmp(s.cfg + cl - 5, ".yaml")) || (cl > 4 && !strcmp(s.cfg + cl - 4, ".yml"))) {
        int rc = fr_config_load(s.cfg, NULL, 0, &e, &err);
        if (rc)
            return fr_cli_fail("layers", rc, "%s", err.msg);
        if (!e->model.cfg) {
            fr_experiment_free(&e);
            return fr_cli_fail("layers", FR_E_USAGE, "%s has no model.cfg (kind features has no "
                               "network); give a darknet .cfg", s.cfg);
        }
        s.cfg = e->model.cfg;
        s.backend = e->model.backend;
        if (!s.weights)
            s.weights = e->model.weights;
        if (!s.width && !s.height) {
            s.width = e->model.input_w;
            s.height = e->model.input_h;
        }
        if (s.seed == 1)
            s.seed = e->model.seed;
        if (!device_given)
            s.device = e->model.device;
    }
    int rc = show(&s, split_name);
    fr_experiment_free(&e);
    return rc;
}
