/* main.c: bin/featrd entry point; dispatches to the subcommands. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"run", fr_cmd_run, "run an experiment config (sweep, resume, shards)"},
    {"layers", fr_cmd_layers, "list a model's layers: names, shapes, bytes, cut sets"},
    {"encode", fr_cmd_encode, "code a feature .npy into a .frd file"},
    {"decode", fr_cmd_decode, "decode a .frd file back to .npy"},
    {"features", fr_cmd_features, "write a split's cut tensors of every image as .npy"},
    {"frd", fr_cmd_frd, "frd extract: the raw HEVC Annex-B stream of a .frd file"},
    {"bd", fr_cmd_bd, "Bjontegaard deltas between two curves of a CSV"},
    {"plot", fr_cmd_plot, "plot a results directory with gnuplot (PNG + SVG)"},
    {"submit", fr_cmd_submit, "run a sweep as Slurm job array units plus a merge job"},
    {"status", fr_cmd_status, "how far a results directory's units and points are"},
    {"merge", fr_cmd_merge, "join shard or unit outputs into one points.csv"},
    {"score", fr_cmd_score, "merge task metrics computed elsewhere into points.csv"},
    {"train", fr_cmd_train, "train the built-in demo models with darknet"},
    {"invert", fr_cmd_invert, "invert train: a decoder from a split's feature to the input image"},
    {"data", fr_cmd_data, "generate the built-in Fashion-MNIST demo data sets"},
    {"weights", fr_cmd_weights, "RP / DoM coding of darknet weights files (seed 002)"},
    {"version", fr_cmd_version, "versions of featrd and every linked library"},
};

int fr_cli_is_help(const char *arg)
{
    return arg && (!strcmp(arg, "-h") || !strcmp(arg, "--help"));
}

int fr_cli_device(const char *v, FrDevice *d)
{
    if (v && !strcmp(v, "cpu"))
        *d = FR_DEVICE_CPU;
    else if (v && !strcmp(v, "gpu"))
        *d = FR_DEVICE_GPU;
    else
        return -1;
    return 0;
}

int fr_cli_qp_list(const char *v, int *qps, int cap, int *n)
{
    char *end;
    *n = 0;
    for (const char *p = v; *p && *n < cap;) {
        long q = strtol(p, &end, 10);
        if (end == p || q < 0 || q > 255 || (*end && *end != ','))
            return -1;
        qps[(*n)++] = (int)q;
        p = *end ? end + 1 : end;
    }
    return 0;
}

int fr_cli_fail(const char *cmd, int code, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "featrd %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return fr_exit_status(code);
}

/* featrd help codecs: the registry, and each codec's settings as the
 * docs/config.md table rows (tests/test_registry.c checks the docs). */
static int help_codecs(void)
{
    printf("codecs (sweep.codec names; `featrd encode --codec`):\n");
    for (int i = 0; i < fr_codec_count(); i++) {
        const FrCodec *c = fr_codec_at(i);
        printf("  %-14s id %d, %s%s%s%s%s, up to %d-bit pictures%s%s: %s\n", c->name, c->id,
               c->caps & FR_CODEC_LOSSY ? "lossy (qp)" : "lossless",
               c->caps & FR_CODEC_BLOCK_QP ? ", QP per block" : "",
               c->caps & FR_CODEC_FRAME_QP ? ", QP per frame" : "",
               c->caps & FR_CODEC_BYTES ? ", any bytes" : "",
               c->caps & FR_CODEC_ANNEXB ? ", Annex-B" : "", c->max_bits,
               c->alias ? ", also " : "", c->alias ? c->alias : "", c->summary);
        if (c->caps & FR_CODEC_LOSSY)
            printf("  %-14s qp %d..%d: %s\n", "", c->qp_lo, c->qp_hi, c->qp_doc ? c->qp_doc : "");
    }
    printf("\nsettings (keys of a sweep.codec entry; `featrd encode --set KEY=VALUE`):\n\n"
           "| codec | key | default | values | meaning |\n| --- | --- | --- | --- | --- |\n");
    for (int i = 0; i < fr_codec_count(); i++) {
        const FrCodec *c = fr_codec_at(i);
        for (int k = 0; k < c->settings->n_fields; k++) {
            const FrField *f = &c->settings->fields[k];
            char w[300], dv[64];
            fr_schema_describe(f, w, sizeof w);
            fr_schema_field_text(f, NULL, dv, sizeof dv);
            printf("| `%s` | `%s` | `%s` | %s | %s |\n", c->name, f->key, dv, w, f->doc);
        }
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: featrd <command> [options]   (featrd <command> --help for each)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "  help     featrd help COMMAND; featrd help codecs: the codecs and their settings\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || fr_cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version"))
        return fr_cmd_version(1, argv + 1);
    if (!strcmp(argv[1], "help")) { /* featrd help [COMMAND] */
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[2], "codecs"))
            return help_codecs();
        char *sub[] = {argv[2], "--help", NULL};
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
            if (!strcmp(argv[2], commands[i].name))
                return commands[i].fn(2, sub);
        fprintf(stderr, "featrd help: unknown command '%s'\n", argv[2]);
        usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "featrd: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
