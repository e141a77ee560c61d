/* test_cluster.c: image-chunk work units (`featrd run --chunks C --unit U`,
 * `featrd merge`, `featrd submit`, `featrd status`) on the demo detector,
 * and a real one-node Slurm cluster (Debian's slurm-wlm + munge, started
 * and stopped here) running `featrd submit`: an array of 6 tasks, one
 * pre-empted (scontrol requeue) and one cancelled (scancel) mid-run, then
 * submitted again. In every case the merged points.csv must equal a single
 * local run's in every column but the timings, and bd.csv, vs_reference.csv
 * and the bootstrap replicates byte for byte. */
#include "testutil.h"

#include <signal.h>
#include <time.h>

#define NIMG 24

static char g_dir[256], g_root[1024], g_cfg[600], g_ref[600];

static char *slurp(const char *path)
{
    uint8_t *t = NULL;
    size_t n = 0;
    if (fr_read_file(path, &t, &n, NULL))
        return NULL;
    char *s = realloc(t, n + 1);
    s[n] = 0;
    return s;
}

/* CSV fields of one line (quotes kept), at most cap. */
static int split_csv(char *line, char **f, int cap)
{
    int n = 0, q = 0;
    f[n++] = line;
    for (char *p = line; *p; p++) {
        if (*p == '"')
            q = !q;
        else if (*p == ',' && !q && n < cap) {
            *p = 0;
            f[n++] = p + 1;
        }
    }
    return n;
}

/* points.csv of a and b equal in every column not ending in _s. */
static void assert_points_equal(const char *a_dir, const char *b_dir)
{
    char pa[700], pb[700];
    snprintf(pa, sizeof pa, "%s/points.csv", a_dir);
    snprintf(pb, sizeof pb, "%s/points.csv", b_dir);
    char *a = slurp(pa), *b = slurp(pb);
    assert_non_null(a);
    if (!b)
        fail_msg("%s is missing", pb);
    char *sa, *sb, *la = strtok_r(a, "\n", &sa), *lb = strtok_r(b, "\n", &sb);
    static char *fa[512], *fb[512], *hdr[512];
    char *header = strdup(la);
    int nh = split_csv(header, hdr, 512), rows = 0;
    while (la && lb) {
        int na = split_csv(la, fa, 512), nb = split_csv(lb, fb, 512);
        assert_int_equal(na, nb);
        assert_int_equal(na, nh);
        for (int k = 0; k < na; k++) {
            size_t l = strlen(hdr[k]);
            if (l > 2 && !strcmp(hdr[k] + l - 2, "_s"))
                continue;
            if (strcmp(fa[k], fb[k]))
                fail_msg("row %d column %s: %s vs %s", rows, hdr[k], fa[k], fb[k]);
        }
        rows++;
        la = strtok_r(NULL, "\n", &sa);
        lb = strtok_r(NULL, "\n", &sb);
    }
    assert_null(la);
    assert_null(lb);
    assert_true(rows > 10);
    free(header);
    free(a);
    free(b);
}

static void assert_files_equal(const char *a_dir, const char *b_dir, const char *name)
{
    char *out = NULL;
    int rc = tu_sh(&out, "cmp '%s/%s' '%s/%s' && diff -r '%s/boot' '%s/boot'", a_dir, name,
                   b_dir, name, a_dir, b_dir);
    if (rc)
        fail_msg("%s differs: %s", name, out);
    free(out);
}

static void assert_merged_equal(const char *dir)
{
    assert_points_equal(g_ref, dir);
    assert_files_equal(g_ref, dir, "bd.csv");
    assert_files_equal(g_ref, dir, "vs_reference.csv");
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "%s", tu_tmpdir());
    if (!getcwd(g_root, sizeof g_root))
        return -1;
    char *out = NULL;
    if (tu_sh(&out, "'%s' data --out '%s/data' --det-train 0 --det-test %d --cls-train 0 "
                    "--cls-test 0 --quiet", tu_bin(), g_dir, NIMG)) {
        print_error("%s\n", out);
        free(out);
        return -1;
    }
    free(out);
    char text[4096];
    snprintf(g_cfg, sizeof g_cfg, "%s/cl.yaml", g_dir);
    snprintf(text, sizeof text,
             "name: cl\n"
             "model: {cfg: '%s/models/fmnist-yolo.cfg', weights: '%s/models/fmnist-yolo.weights',\n"
             "        task: detection, names: '%s/data/fmnist-det/fmnist.names'}\n"
             "dataset: {images: '%s/data/fmnist-det/test.list'}\n"
             "sweep:\n"
             "  split: [max_5, max_7]\n"
             "  bits: [8, 10]\n"
             "  codec:\n"
             "    - {name: hevc, qp: [27, 32, 37]}\n"
             "anchors:\n"
             "  - {name: cloud-hevc, codec: hevc, qp: [27, 37]}\n"
             "bd:\n"
             "  - {anchor: cloud-hevc, test: '*bits=8*', rate: kbpi, quality: map07}\n"
             "bootstrap: {replicates: 200, seed: 2}\n"
             "output: {dir: '%s/single', plots: false}\n",
             g_root, g_root, g_dir, g_dir, g_dir);
    tu_write(g_cfg, text);
    snprintf(g_ref, sizeof g_ref, "%s/single", g_dir);
    if (tu_sh(&out, "OPENBLAS_NUM_THREADS=1 '%s' run '%s' --quiet", tu_bin(), g_cfg)) {
        print_error("%s\n", out);
        free(out);
        return -1;
    }
    free(out);
    return 0;
}

static int run_units(const char *dir, int chunks, int units, int skip)
{
    for (int u = 0; u < units; u++) {
        if (u == skip)
            continue;
        char *out = NULL;
        int rc = tu_sh(&out, "'%s' run '%s' -o output.dir='%s' --chunks %d --unit %d --quiet",
                       tu_bin(), g_cfg, dir, chunks, u);
        if (rc) {
            print_error("unit %d: %s\n", u, out);
            free(out);
            return rc;
        }
        free(out);
    }
    return 0;
}

/* Units run by hand, in any order, then merged: one run's results. A unit
 * run again computes nothing (its files are the commit). */
static void test_units_merge_equals_single_run(void **state)
{
    (void)state;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/byhand", g_dir);
    /* 3 groups (whole network, max_5, max_7) x 3 chunks */
    assert_int_equal(run_units(dir, 3, 9, -1), 0);
    char *out = NULL;
    assert_int_equal(tu_sh(&out, "'%s' run '%s' -o output.dir='%s' --chunks 3 --unit 4", tu_bin(),
                           g_cfg, dir), 0);
    assert_non_null(strstr(out, "0 points in"));
    assert_non_null(strstr(out, "6 done earlier")); /* max_5: 2 bits x 3 QPs */
    free(out);
    assert_int_equal(tu_sh(&out, "'%s' merge '%s' --no-plots", tu_bin(), dir), 0);
    assert_non_null(strstr(out, "9 units (3 chunks of 24 images) merged"));
    free(out);
    assert_merged_equal(dir);
    assert_int_equal(tu_sh(&out, "'%s' status '%s'", tu_bin(), dir), 0);
    assert_non_null(strstr(out, "9 units (3 groups x 3 chunks of 24 images): 9 done, 0 running"));
    free(out);
}

/* Without OPENBLAS_NUM_THREADS, featrd sets one OpenBLAS thread itself
 * (its API, no restart): the floats are the single-threaded ones, so the
 * points equal the reference run's (made with the variable set to 1). */
static void test_blas_threads_without_env(void **state)
{
    (void)state;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/noenv", g_dir);
    char *out = NULL;
    int rc = tu_sh(&out, "env -u OPENBLAS_NUM_THREADS '%s' run '%s' "
                         "-o output.dir='%s' --quiet", tu_bin(), g_cfg, dir);
    if (rc)
        fail_msg("%s", out);
    free(out);
    assert_merged_equal(dir);
    char p[700];
    snprintf(p, sizeof p, "%s/manifest.yaml", dir);
    char *m = slurp(p);
    assert_non_null(m);
    assert_non_null(strstr(m, "  blas_threads: 1\n"));
    free(m);
    /* a value the user set is kept */
    rc = tu_sh(&out, "OPENBLAS_NUM_THREADS=2 '%s' run '%s' -o output.dir='%s2' --quiet --no-plots",
               tu_bin(), g_cfg, dir);
    if (rc)
        fail_msg("%s", out);
    free(out);
    snprintf(p, sizeof p, "%s2/manifest.yaml", dir);
    m = slurp(p);
    assert_non_null(m);
    assert_non_null(strstr(m, "  blas_threads: 2\n"));
    free(m);
}

/* A unit not finished, a corrupted unit file, one of another plan: the merge
 * refuses, names the unit and exits 2, and writes no points.csv. */
static void test_merge_refuses_incomplete_and_foreign(void **state)
{
    (void)state;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/partial", g_dir);
    assert_int_equal(run_units(dir, 2, 6, 3), 0); /* unit 3: max_5, images 12..24 */
    char *out = NULL;
    assert_int_equal(tu_sh(&out, "'%s' merge '%s'", tu_bin(), dir), 2);
    if (!strstr(out, "1 of 6 units are not finished (units 3)"))
        fail_msg("%s", out);
    free(out);
    char p[700];
    snprintf(p, sizeof p, "%s/points.csv", dir);
    assert_int_not_equal(access(p, F_OK), 0);
    assert_int_equal(tu_sh(&out, "'%s' status '%s'", tu_bin(), dir), 0);
    assert_non_null(strstr(out, "5 done, 0 running, 0 interrupted, 0 failed, 1 not started"));
    free(out);
    assert_int_equal(tu_sh(NULL, "'%s' run '%s' -o output.dir='%s' --chunks 2 --unit 3 --quiet",
                           tu_bin(), g_cfg, dir), 0);
    /* one byte of a unit file flipped */
    assert_int_equal(tu_sh(&out, "f=$(ls '%s'/units/p0001-*/c000001-of-000002.res) && "
                                 "printf '\\377' | dd of=\"$f\" bs=1 seek=60 conv=notrunc "
                                 "2>/dev/null && '%s' merge '%s'", dir, tu_bin(), dir), 2);
    if (!strstr(out, "corrupted") || !strstr(out, "rerun unit 3"))
        fail_msg("%s", out);
    free(out);
    /* a unit file of a 3-chunk plan in its place */
    char other[600];
    snprintf(other, sizeof other, "%s/byhand", g_dir);
    assert_int_equal(tu_sh(&out, "f=$(ls '%s'/units/p0001-*/c000001-of-000002.res) && "
                                 "cp \"$(ls '%s'/units/p0001-*/c000001-of-000003.res)\" \"$f\" && "
                                 "'%s' merge '%s'", dir, other, tu_bin(), dir), 2);
    if (!strstr(out, "another config or plan"))
        fail_msg("%s", out);
    free(out);
    assert_int_not_equal(access(p, F_OK), 0);
    /* a unit number the plan does not have */
    assert_int_equal(tu_sh(&out, "'%s' run '%s' -o output.dir='%s' --chunks 2 --unit 6", tu_bin(),
                           g_cfg, dir), 2);
    assert_non_null(strstr(out, "use 0..5"));
    free(out);
    /* another chunk count in the same directory */
    assert_int_equal(tu_sh(&out, "'%s' run '%s' -o output.dir='%s' --chunks 3 --unit 0", tu_bin(),
                           g_cfg, dir), 2);
    assert_non_null(strstr(out, "planned as 2 chunks"));
    free(out);
}

/* featrd submit --local: the same units as local processes, then the merge. */
static void test_submit_local(void **state)
{
    (void)state;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/local", g_dir);
    char *out = NULL;
    int rc = tu_sh(&out, "'%s' submit '%s' -o output.dir='%s' --local --jobs 2 --tasks 12 "
                         "--no-plots --quiet", tu_bin(), g_cfg, dir);
    if (rc)
        fail_msg("%s", out);
    /* --tasks 12 over 3 groups: 4 chunks */
    assert_non_null(strstr(out, "12 units (3 groups x 4 chunks of 24 images) ran here (12 now)"));
    free(out);
    assert_merged_equal(dir);
    /* submitting again: nothing to run, the merge is rewritten the same */
    assert_int_equal(tu_sh(&out, "'%s' submit '%s' -o output.dir='%s' --local --tasks 12 "
                                 "--no-plots --quiet", tu_bin(), g_cfg, dir), 0);
    assert_non_null(strstr(out, "ran here (0 now)"));
    free(out);
    assert_merged_equal(dir);
}

/* --dry-run: the scripts and sbatch lines, arrays split at MaxArraySize
 * with the offset of each, the throttle, and only the units not done. */
static void test_submit_dry_run(void **state)
{
    (void)state;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/byhand", g_dir); /* every unit done: only the merge */
    char *out = NULL;
    assert_int_equal(tu_sh(&out, "'%s' submit '%s' -o output.dir='%s/fresh' --chunks 3 --dry-run "
                                 "--max-array 4 --throttle 2 --partition gpu --gres gpu:1 "
                                 "--sbatch=--account=vcm --setup 'module load x'",
                           tu_bin(), g_cfg, g_dir), 0);
    const char *want[] = {"sbatch --parsable --array=0-3%2 ", "unit.sh 0\n",
                          "sbatch --parsable --array=0-3%2 ", "unit.sh 4\n",
                          "sbatch --parsable --array=0%2 ", "unit.sh 8\n",
                          "#SBATCH --gres=gpu:1\n", "#SBATCH --account=vcm\n",
                          "#SBATCH --partition=gpu\n", "module load x\n", "--requeue",
                          "--chunks 3 --unit $((SLURM_ARRAY_TASK_ID + ${1:-0}))",
                          "--kill-on-invalid-dep=yes"};
    const char *at = out;
    for (size_t i = 6; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(out, want[i]))
            fail_msg("missing '%s' in:\n%s", want[i], out);
    for (size_t i = 0; i < 6; i++) {
        const char *p = strstr(at, want[i]);
        if (!p)
            fail_msg("missing '%s' (in order) in:\n%s", want[i], out);
        at = p + strlen(want[i]);
    }
    /* the merge job carries no --gres: it needs no GPU */
    const char *merge = strstr(out, "merge.sh\n#!/bin/sh");
    assert_non_null(merge);
    assert_null(strstr(merge, "--gres"));
    free(out);
    assert_int_equal(tu_sh(&out, "'%s' submit '%s' -o output.dir='%s' --chunks 3 --dry-run", tu_bin(),
                           g_cfg, dir), 0);
    assert_non_null(strstr(out, "9 units (3 groups x 3 chunks of 24 images), 0 to run"));
    assert_null(strstr(out, "--array="));
    free(out);
    /* the config's cluster: section, under the command line's options; not
     * in the hash, so the units done in dir are still this config's */
    char cfg2[700];
    snprintf(cfg2, sizeof cfg2, "%s/cl_cluster.yaml", g_dir);
    tu_write(cfg2, "include: cl.yaml\n"
                   "cluster: {chunks: 3, throttle: 5, partition: cpu, sbatch: [--account=vcm]}\n");
    assert_int_equal(tu_sh(&out, "'%s' submit '%s' -o output.dir='%s' --dry-run --partition gpu "
                                 "--sbatch=--qos=high", tu_bin(), cfg2, dir), 0);
    const char *want2[] = {"9 units (3 groups x 3 chunks of 24 images), 0 to run",
                           "#SBATCH --partition=gpu\n#SBATCH --account=vcm\n#SBATCH --qos=high\n"};
    for (size_t i = 0; i < 2; i++)
        if (!strstr(out, want2[i]))
            fail_msg("missing '%s' in:\n%s", want2[i], out);
    free(out);
    assert_int_equal(tu_sh(&out, "'%s' submit '%s' -o output.dir='%s/fresh2' --dry-run", tu_bin(),
                           cfg2, g_dir), 0);
    assert_non_null(strstr(out, "--array=0-8%5 "));
    assert_non_null(strstr(out, "#SBATCH --partition=cpu\n"));
    free(out);
}

/* ---------------- a real Slurm cluster ---------------- */

static char g_sl[256];
static int g_slurm; /* 1: the cluster is up */
static char g_skip[256];

static int sh_ok(const char *fmt, const char *arg)
{
    char *out = NULL;
    int rc = tu_sh(&out, fmt, arg, arg, arg, arg);
    free(out);
    return rc == 0;
}

static void slurm_stop(void)
{
    if (!g_sl[0])
        return;
    char *out = NULL;
    tu_sh(&out, "scancel --full -u root 2>/dev/null; for p in slurmd slurmctld munged; do "
                "[ -f '%s'/$p.pid ] && kill $(cat '%s'/$p.pid) 2>/dev/null; done; sleep 1; true",
          g_sl, g_sl);
    free(out);
}

static int slurm_setup(void **state)
{
    (void)state;
    if (getuid() != 0) {
        snprintf(g_skip, sizeof g_skip, "not root: slurmctld and slurmd need root here");
        return 0;
    }
    if (!sh_ok("command -v slurmctld && command -v slurmd && command -v sbatch && "
               "command -v munged %s", "")) {
        snprintf(g_skip, sizeof g_skip, "slurm-wlm and munge are not installed (make test "
                 "installs them when it can: apt-get install slurm-wlm munge)");
        return 0;
    }
    snprintf(g_sl, sizeof g_sl, "%s", tu_tmpdir());
    int port = 20000 + (int)(getpid() % 20000) * 2;
    char conf[4096], p[400];
    snprintf(conf, sizeof conf,
             "ClusterName=featrdtest\nSlurmctldHost=localhost(127.0.0.1)\n"
             "AuthType=auth/munge\nAuthInfo=socket=%s/munge.socket\nCredType=cred/munge\n"
             "SlurmUser=root\nSlurmdUser=root\nSlurmctldPort=%d\nSlurmdPort=%d\n"
             "StateSaveLocation=%s/state\nSlurmdSpoolDir=%s/spool\n"
             "SlurmctldPidFile=%s/slurmctld.pid\nSlurmdPidFile=%s/slurmd.pid\n"
             "SlurmctldLogFile=%s/slurmctld.log\nSlurmdLogFile=%s/slurmd.log\n"
             "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
             "SchedulerType=sched/backfill\nSelectType=select/cons_tres\n"
             "SelectTypeParameters=CR_Core\nReturnToService=2\nMpiDefault=none\n"
             "JobAcctGatherType=jobacct_gather/none\nAccountingStorageType=accounting_storage/none\n"
             "SwitchType=switch/none\nMaxArraySize=1001\nKillWait=5\n"
             "NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN\n"
             "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP "
             "OverSubscribe=NO\n",
             g_sl, port, port + 1, g_sl, g_sl, g_sl, g_sl, g_sl, g_sl);
    snprintf(p, sizeof p, "%s/slurm.conf", g_sl);
    tu_write(p, conf);
    setenv("SLURM_CONF", p, 1);
    char *out = NULL;
    int rc = tu_sh(&out,
                   "cd '%s' && mkdir -p state spool && dd if=/dev/urandom of=munge.key bs=1024 "
                   "count=1 2>/dev/null && chmod 400 munge.key && "
                   "munged -f --key-file=munge.key --socket=%s/munge.socket "
                   "--pid-file=%s/munged.pid --log-file=%s/munged.log --seed-file=%s/munge.seed && "
                   "slurmctld -c && slurmd -c -N localhost && "
                   "for i in $(seq 1 100); do sinfo -h -o %%t 2>/dev/null | grep -q idle && exit 0; "
                   "sleep 0.2; done; echo 'the node never became idle'; cat slurmctld.log "
                   "slurmd.log | tail -20; exit 1",
                   g_sl, g_sl, g_sl, g_sl, g_sl);
    if (rc) {
        slurm_stop();
        snprintf(g_skip, sizeof g_skip, "could not start a local Slurm cluster");
        print_error("%s\n", out);
        free(out);
        return -1; /* installed but broken: a failure, not a skip */
    }
    free(out);
    g_slurm = 1;
    return 0;
}

static int slurm_teardown(void **state)
{
    (void)state;
    slurm_stop();
    return 0;
}

/* squeue's lines for the jobs (ids "J_i" of arrays, plain for the merge). */
static char *queue(void)
{
    char *out = NULL;
    tu_sh(&out, "squeue -h -o '%%i %%T'");
    return out;
}

static int wait_queue_empty(int seconds)
{
    for (int i = 0; i < seconds * 5; i++) {
        char *q = queue();
        int empty = q && !q[0];
        free(q);
        if (empty)
            return 1;
        usleep(200000);
    }
    return 0;
}

/* An array task in state RUNNING other than `not` ("J_i"), or 0. */
static int running_task(char *id, size_t cap, const char *not)
{
    char *q = queue();
    int found = 0;
    char *save, *line = q ? strtok_r(q, "\n", &save) : NULL;
    for (; line && !found; line = strtok_r(NULL, "\n", &save)) {
        char jid[64], st[32];
        if (sscanf(line, "%63s %31s", jid, st) == 2 && !strcmp(st, "RUNNING") && strchr(jid, '_') &&
            strcmp(jid, not)) {
            snprintf(id, cap, "%s", jid);
            found = 1;
        }
    }
    free(q);
    return found;
}

static void test_slurm_submit_requeue_cancel_resubmit(void **state)
{
    (void)state;
    if (!g_slurm) {
        printf("[  SKIPPED ] Slurm: %s\n", g_skip);
        skip();
    }
    char dir[600];
    snprintf(dir, sizeof dir, "%s/slurm", g_dir);
    char *out = NULL;
    double t0 = (double)time(NULL);
    int rc = tu_sh(&out, "'%s' submit '%s' -o output.dir='%s' --chunks 2 --cpus 1 --no-plots",
                   tu_bin(), g_cfg, dir);
    if (rc)
        fail_msg("%s", out);
    assert_non_null(strstr(out, "6 of 6 units (3 groups x 2 chunks of 24 images) submitted as 1 "
                                "job array(s)"));
    free(out);
    /* pre-empt one running task (what a pre-empting partition does: requeue
     * it), cancel another one mid-run */
    char pre[64] = "", can[64] = "";
    for (int i = 0; i < 600 && (!pre[0] || !can[0]); i++) {
        if (!pre[0] && running_task(pre, sizeof pre, "-")) {
            /* a requeued job waits ~2 min before it may start again (Slurm's
             * rule); StartTime=now lifts that */
            assert_int_equal(tu_sh(&out, "scontrol requeue %s && sleep 0.5 && "
                                         "scontrol update JobId=%s StartTime=now", pre, pre), 0);
            free(out);
        } else if (pre[0] && !can[0] && running_task(can, sizeof can, pre)) {
            assert_int_equal(tu_sh(NULL, "scancel %s", can), 0);
        }
        usleep(50000);
    }
    if (!pre[0] || !can[0])
        fail_msg("no running tasks seen (pre-empted '%s', cancelled '%s')", pre, can);
    /* the cancelled task leaves the merge's afterok unsatisfiable: it is
     * killed (--kill-on-invalid-dep) and nothing is merged */
    if (!wait_queue_empty(240))
        fail_msg("jobs still queued after 240 s:\n%s", queue());
    char p[700];
    snprintf(p, sizeof p, "%s/points.csv", dir);
    assert_int_not_equal(access(p, F_OK), 0);
    /* the pre-empted task ran again (SLURM_RESTART_COUNT 1) and finished */
    int pre_unit = atoi(strchr(pre, '_') + 1), can_unit = atoi(strchr(can, '_') + 1);
    snprintf(p, sizeof p, "%s/units/state/u%06d.yaml", dir, pre_unit);
    char *st = slurp(p);
    assert_non_null(st);
    if (!strstr(st, "state: done") || !strstr(st, "slurm_restarts: 1"))
        fail_msg("pre-empted unit %d: %s", pre_unit, st);
    free(st);
    assert_int_equal(tu_sh(&out, "'%s' status '%s'", tu_bin(), dir), 0);
    /* the cancelled unit is interrupted, or not started when the signal came
     * before featrd took over SIGTERM */
    if (!strstr(out, "5 done, 0 running"))
        fail_msg("%s", out);
    free(out);
    /* submitting again runs the one unit left and the merge */
    rc = tu_sh(&out, "'%s' submit '%s' -o output.dir='%s' --chunks 2 --cpus 1 --no-plots",
               tu_bin(), g_cfg, dir);
    if (rc || !strstr(out, "1 of 6 units"))
        fail_msg("%s", out);
    free(out);
    if (!wait_queue_empty(240))
        fail_msg("jobs still queued after 240 s:\n%s", queue());
    assert_merged_equal(dir);
    printf("Slurm: 6 array tasks, unit %d pre-empted and unit %d cancelled, resubmitted and "
           "merged equal to one run in %.0f s\n", pre_unit, can_unit, (double)time(NULL) - t0);
}

int main(void)
{
    /* one group: tests/run_tests.sh reads one cmocka summary per binary */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units_merge_equals_single_run),
        cmocka_unit_test(test_merge_refuses_incomplete_and_foreign),
        cmocka_unit_test(test_submit_local),
        cmocka_unit_test(test_blas_threads_without_env),
        cmocka_unit_test(test_submit_dry_run),
        cmocka_unit_test_setup_teardown(test_slurm_submit_requeue_cancel_resubmit, slurm_setup,
                                        slurm_teardown),
    };
    return cmocka_run_group_tests_name("cluster", tests, setup, NULL);
}
