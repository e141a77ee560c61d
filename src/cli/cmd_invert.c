/* cmd_invert.c: `featrd invert train`: trains the image decoder of a split
 * (featrd/invert.h) with darknet's own loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: featrd invert train --cfg MODEL.cfg --weights W --split S --list TRAIN.list\n"
    "                           [--decoder DEC.cfg] [--decoder-weights DW] [--out DIR]\n"
    "                           [--seed N] [--max-batches N] [--save-every N] [--limit N]\n"
    "                           [--loss l2|l1] [--quiet]\n"
    "                           [--code-qp 32,37,42 [--code-prob P] [--code-bits 8]\n"
    "                            [--code-codec hevc]]\n"
    "Trains a decoder that maps split S's feature of MODEL to the network input\n"
    "image (letterboxed, 0..1), with darknet's train_network and the decoder cfg's\n"
    "[cost] layer (sse = L2; --loss overrides). The decoder's input must be the\n"
    "split's output shape and its output the network input's. Default --decoder:\n"
    "MODEL-inv-S.cfg beside MODEL.cfg (models/fmnist-yolo-inv-max_5.cfg). Pairs\n"
    "are made batch by batch in memory: the front half of MODEL to S on images\n"
    "drawn from the list (the first --limit N), and with --code-qp the feature\n"
    "coded as the sweep codes it (Q-layer --code-bits, tile packing, HEVC at a QP\n"
    "drawn from the list, with probability P, default 1) so the decoder learns to\n"
    "undo coding noise. Checkpoints DIR/<decoder base>.backup every N batches\n"
    "(default 100), result DIR/<decoder base>.weights (default --out build/train);\n"
    "run again with the same DIR to resume. Use the weights in a sweep with the\n"
    "config's invert: section (docs/run.md).\n";

int fr_cmd_invert(int argc, char **argv)
{
    if (argc < 2 || fr_cli_is_help(argv[1])) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? fr_cli_fail("invert", FR_E_USAGE, "say train") : 0;
    }
    if (strcmp(argv[1], "train"))
        return fr_cli_fail("invert", FR_E_USAGE, "unknown invert command \"%s\" (train)", argv[1]);
    FrInvertTrainSettings s;
    fr_invert_train_defaults(&s);
    int qps[64], nqp = 0;
    char defcfg[4096];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (fr_cli_is_help(a)) {
            fputs(usage, stdout);
            return 0;
        }
        if (!strcmp(a, "--quiet")) {
            s.quiet = 1;
            continue;
        }
        if (!v) {
            fputs(usage, stderr);
            return fr_cli_fail("invert", FR_E_USAGE, "unknown option or missing value: %s", a);
        }
        char *end;
        long x = strtol(v, &end, 10);
        int num_ok = *v && !*end && x >= 0 && x <= 2147483647L;
        if (!strcmp(a, "--cfg"))
            s.model_cfg = v;
        else if (!strcmp(a, "--weights"))
            s.model_weights = v;
        else if (!strcmp(a, "--split"))
            s.split = v;
        else if (!strcmp(a, "--list"))
            s.train_list = v;
        else if (!strcmp(a, "--decoder"))
            s.decoder_cfg = v;
        else if (!strcmp(a, "--decoder-weights"))
            s.decoder_weights = v;
        else if (!strcmp(a, "--out"))
            s.out_dir = v;
        else if (!strcmp(a, "--seed") && num_ok)
            s.seed = (unsigned)x;
        else if (!strcmp(a, "--max-batches") && num_ok)
            s.max_batches = (int)x;
        else if (!strcmp(a, "--save-every") && num_ok)
            s.save_every = (int)x;
        else if (!strcmp(a, "--limit") && num_ok)
            s.limit = (int)x;
        else if (!strcmp(a, "--code-bits") && num_ok)
            s.code.bits = (int)x;
        else if (!strcmp(a, "--loss")) {
            if (!strcmp(v, "l2"))
                s.loss = FR_INVERT_LOSS_L2;
            else if (!strcmp(v, "l1"))
                s.loss = FR_INVERT_LOSS_L1;
            else
                return fr_cli_fail("invert", FR_E_USAGE, "--loss %s: l2 or l1", v);
        } else if (!strcmp(a, "--code-prob")) {
            double p = strtod(v, &end);
            if (*end || !(p >= 0 && p <= 1))
                return fr_cli_fail("invert", FR_E_USAGE, "--code-prob %s: a probability 0..1", v);
            s.code_prob = p;
        } else if (!strcmp(a, "--code-codec")) {
            FrError e2 = {0};
            if (fr_codec_from_name(v, &s.code.codec, &e2))
                return fr_cli_fail("invert", FR_E_USAGE, "--code-codec: %s", e2.msg);
        } else if (!strcmp(a, "--code-qp")) {
            if (fr_cli_qp_list(v, qps, 64, &nqp) || nqp == 0)
                return fr_cli_fail("invert", FR_E_USAGE, "--code-qp %s: a comma-separated list of "
                                   "the codec's QPs (hevc 0..51)", v);
            s.code_qp = qps;
            s.n_code_qp = nqp;
        } else {
            fputs(usage, stderr);
            return fr_cli_fail("invert", FR_E_USAGE, "bad option or value: %s %s", a, v);
        }
        i++;
    }
    if (!s.model_cfg || !s.split || !s.train_list)
        return fr_cli_fail("invert", FR_E_USAGE, "--cfg, --split and --list are required");
    if (!s.decoder_cfg) {
        if (fr_invert_default_path(s.model_cfg, s.split, ".cfg", defcfg, sizeof defcfg) >=
            (int)sizeof defcfg)
            return fr_cli_fail("invert", FR_E_USAGE, "--cfg: path too long");
        s.decoder_cfg = defcfg;
    }
    FrError err = {0};
    int rc = fr_invert_train(&s, &err);
    if (rc)
        return fr_cli_fail("invert", rc, "%s", err.msg);
    if (!s.quiet)
        fprintf(stderr, "featrd invert train: %.1f s, first loss %.2f, final average %.2f "
                "(MSE %.5f)\n", s.seconds, s.first_loss, s.last_avg_loss, s.last_mse);
    if (s.n_code_qp && !s.quiet)
        fprintf(stderr, "featrd invert train: %lld features coded, %lld left uncoded\n", s.coded,
                s.passed);
    return 0;
}
