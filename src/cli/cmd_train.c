/* cmd_train.c: `featrd train detector|classifier`: trains a demo model with
 * darknet's training code (see models/README.md for the recipes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: featrd train detector|classifier --cfg CFG --list TRAIN.list [--labels NAMES]\n"
    "                    [--weights W] [--out DIR] [--seed N] [--max-batches N]\n"
    "                    [--save-every N] [--quiet] [--fine-tune] [--device cpu|gpu]\n"
    "                    [--augment SPLIT --augment-qp 32,37,42 [--augment-prob P]\n"
    "                     [--augment-bits 8] [--augment-codec hevc]]\n"
    "Trains with darknet's own loop (load_data + train_network). Checkpoints go to\n"
    "DIR/<cfg base>.backup every N batches (default 100) and the result to\n"
    "DIR/<cfg base>.weights; run again with the same DIR to resume. Defaults:\n"
    "--out build/train --seed 1, --max-batches from the cfg. --labels (class names,\n"
    "one per line, each found in exactly one path) is required for classifiers.\n"
    "OPENBLAS_NUM_THREADS sets the GEMM threads. --fine-tune restarts the batch\n"
    "counter (and the cfg's learning-rate schedule) at 0 after loading --weights.\n"
    "--device gpu trains on the GPU as darknet does (bin-gpu/featrd; docs/gpu.md).\n"
    "--augment codes the output of layer SPLIT of every training image (with\n"
    "probability P, default 1) with the sweep's own feature path (Q-layer, tile\n"
    "packing, HEVC at a QP drawn from the list) and continues the forward on the\n"
    "decoded feature; the backward passes through the coding unchanged\n"
    "(straight-through), so both halves learn to live with it (seed 001 §3.3).\n";

int fr_cmd_train(int argc, char **argv)
{
    if (argc < 2 || fr_cli_is_help(argv[1])) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? fr_cli_fail("train", FR_E_USAGE, "say detector or classifier") : 0;
    }
    FrTrainSettings s;
    fr_train_defaults(&s);
    int qps[64], nqp = 0;
    if (!strcmp(argv[1], "detector"))
        s.kind = FR_TRAIN_DETECTOR;
    else if (!strcmp(argv[1], "classifier"))
        s.kind = FR_TRAIN_CLASSIFIER;
    else
        return fr_cli_fail("train", FR_E_USAGE, "unknown model kind \"%s\" (detector or classifier)",
                           argv[1]);
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
        if (!strcmp(a, "--fine-tune")) {
            s.reset_batches = 1;
            continue;
        }
        if (!v) {
            fputs(usage, stderr);
            return fr_cli_fail("train", FR_E_USAGE, "unknown option or missing value: %s", a);
        }
        char *end;
        long x = strtol(v, &end, 10);
        int num_ok = *v && !*end && x >= 0 && x <= 2147483647L;
        if (!strcmp(a, "--cfg"))
            s.cfg = v;
        else if (!strcmp(a, "--list"))
            s.train_list = v;
        else if (!strcmp(a, "--labels"))
            s.labels = v;
        else if (!strcmp(a, "--weights"))
            s.weights = v;
        else if (!strcmp(a, "--device")) {
            if (fr_cli_device(v, &s.device))
                return fr_cli_fail("train", FR_E_USAGE, "--device %s: expected cpu or gpu", v);
        }
        else if (!strcmp(a, "--out"))
            s.out_dir = v;
        else if (!strcmp(a, "--seed") && num_ok)
            s.seed = (unsigned)x;
        else if (!strcmp(a, "--max-batches") && num_ok)
            s.max_batches = (int)x;
        else if (!strcmp(a, "--save-every") && num_ok)
            s.save_every = (int)x;
        else if (!strcmp(a, "--augment"))
            s.augment_split = v;
        else if (!strcmp(a, "--augment-bits") && num_ok)
            s.augment.bits = (int)x;
        else if (!strcmp(a, "--augment-prob")) {
            double p = strtod(v, &end);
            if (*end || !(p >= 0 && p <= 1))
                return fr_cli_fail("train", FR_E_USAGE, "--augment-prob %s: a probability 0..1", v);
            s.augment_prob = p;
        } else if (!strcmp(a, "--augment-codec")) {
            FrError e2 = {0};
            if (fr_codec_from_name(v, &s.augment.codec, &e2))
                return fr_cli_fail("train", FR_E_USAGE, "--augment-codec: %s", e2.msg);
        } else if (!strcmp(a, "--augment-qp")) {
            if (fr_cli_qp_list(v, qps, 64, &nqp))
                return fr_cli_fail("train", FR_E_USAGE, "--augment-qp %s: a comma-separated "
                                   "list of the codec's QPs (hevc 0..51)", v);
            s.augment_qp = qps;
            s.n_augment_qp = nqp;
        }
        else {
            fputs(usage, stderr);
            return fr_cli_fail("train", FR_E_USAGE, "bad option or value: %s %s", a, v);
        }
        i++;
    }
    if (!s.cfg || !s.train_list)
        return fr_cli_fail("train", FR_E_USAGE, "--cfg and --list are required");
    FrError err = {0};
    int rc = fr_train_run(&s, &err);
    if (rc)
        return fr_cli_fail("train", rc, "%s", err.msg);
    if (s.augment_split && !s.quiet)
        fprintf(stderr, "featrd train: %lld features coded, %lld left uncompressed\n", s.coded,
                s.passed);
    return 0;
}
