/* submit.c: `featrd submit` (featrd/run.h fr_submit): the units of an
 * experiment (units_internal.h) as one Slurm job array plus a merge job that
 * depends on it, or run here by local processes and merged. Programs are
 * started with posix_spawnp and argument vectors, never through a shell;
 * the batch scripts quote every path they hold. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "featrd.h"
#include "run/points_internal.h"
#include "run/results_internal.h"
#include "run/units_internal.h"
#include "config/config.h"
#include "run/run.h"

extern char **environ;

void fr_submit_options_defaults(FrSubmitOptions *o)
{
    memset(o, 0, sizeof *o);
    o->local_jobs = 1;
    o->plots = -1;
    o->progress = FR_PROGRESS_AUTO;
}

/* 'text' for sh, with ' written as '\'' */
static void sh_quote(FrText *t, const char *s)
{
    fr_text_printf(t, "'");
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            fr_text_printf(t, "'\\''");
        else
            fr_text_printf(t, "%c", *p);
    }
    fr_text_printf(t, "'");
}

static int image_count(const FrExperiment *e, size_t *n, FrError *err)
{
    FrImageList list = {0};
    int rc = fr_experiment_images(e, &list, err);
    *n = list.n;
    fr_image_list_free(&list);
    return rc;
}

/* MaxArraySize of the cluster (`scontrol show config`), else Slurm's default. */
static int max_array_size(void)
{
    char *argv[] = {"scontrol", "show", "config", NULL};
    static char out[1 << 16];
    if (fr_spawn_capture(argv, 0, out, sizeof out) != 0)
        return 1001;
    const char *p = strstr(out, "MaxArraySize");
    int v = 0;
    if (p && (p = strchr(p, '=')) && sscanf(p + 1, "%d", &v) == 1 && v > 0)
        return v;
    return 1001;
}

/* Appends the units u in [lo, hi) with todo[u] as an --array list of
 * indices u - lo ("0-3,7,9-12"); returns how many. */
static int array_spec(FrText *t, const unsigned char *todo, int lo, int hi)
{
    int n = 0;
    for (int u = lo; u < hi;) {
        if (!todo[u]) {
            u++;
            continue;
        }
        int v = u;
        while (v + 1 < hi && todo[v + 1])
            v++;
        if (v > u)
            fr_text_printf(t, "%s%d-%d", n ? "," : "", u - lo, v - lo);
        else
            fr_text_printf(t, "%s%d", n ? "," : "", u - lo);
        n += v - u + 1;
        u = v + 1;
    }
    return n;
}

static void sbatch_header(FrText *t, const FrSubmitOptions *o, const char *name, int cpus,
                          int gres)
{
    fr_text_printf(t, "#SBATCH --job-name=%s\n", name);
    fr_text_printf(t, "#SBATCH --cpus-per-task=%d\n", cpus);
    if (o->partition)
        fr_text_printf(t, "#SBATCH --partition=%s\n", o->partition);
    if (o->time)
        fr_text_printf(t, "#SBATCH --time=%s\n", o->time);
    if (gres && o->gres)
        fr_text_printf(t, "#SBATCH --gres=%s\n", o->gres);
    for (int i = 0; i < o->n_sbatch; i++)
        fr_text_printf(t, "#SBATCH %s\n", o->sbatch[i]);
}

static int write_script(const char *path, const FrText *t, FrError *err)
{
    int rc = fr_text_write_atomic(t, path, err);
    if (!rc && chmod(path, 0755))
        rc = fr_error(err, FR_E_IO, "%s: cannot make it executable (%s)", path, strerror(errno));
    return rc;
}

/* Starts `featrd run CONFIG --chunks C --unit U --jobs 1 --quiet`, its
 * output to log. */
static int spawn_unit(const char *featrd, const char *config, int chunks, int unit,
                      const char *log, pid_t *pid)
{
    char cs[32], us[32];
    snprintf(cs, sizeof cs, "%d", chunks);
    snprintf(us, sizeof us, "%d", unit);
    char *argv[] = {(char *)featrd, "run", (char *)config, "--chunks", cs, "--unit", us,
                    "--jobs", "1", NULL};
    posix_spawn_file_actions_t fa;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc)
        return rc;
    if (!(rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) &&
        !(rc = posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND,
                                                0644)) &&
        !(rc = posix_spawn_file_actions_adddup2(&fa, 1, 2)))
        rc = posix_spawn(pid, featrd, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

/* --local: the units todo[] here, at most jobs processes at a time. */
static int run_local(const char *dir, const char *featrd, const char *config,
                     const FrUnitPlan *u, const unsigned char *todo, int n, const FrSubmitOptions *o,
                     const char *name, FrError *err)
{
    char logdir[4400];
    snprintf(logdir, sizeof logdir, "%s/units/log", dir);
    if (mkdir(logdir, 0777) && errno != EEXIST)
        return fr_error(err, FR_E_IO, "%s: cannot create (%s)", logdir, strerror(errno));
    /* the units set their own thread count; OpenBLAS's would only spin */
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
    int jobs = o->local_jobs > 0 ? o->local_jobs : 1;
    pid_t *pids = calloc((size_t)u->units, sizeof *pids);
    if (!pids)
        return fr_error(err, FR_E_NOMEM, "out of memory");
    FrProgress *prog = fr_progress_create(o->progress, name, (size_t)n, 0);
    int next = 0, running = 0, failed = -1, fail_status = 0, rc = 0;
    for (;;) {
        while (running < jobs && failed < 0 && !rc) {
            while (next < u->units && !todo[next])
                next++;
            if (next >= u->units)
                break;
            char log[4500];
            snprintf(log, sizeof log, "%s/local-u%06d.log", logdir, next);
            int e = spawn_unit(featrd, config, u->chunks, next, log, &pids[next]);
            if (e) {
                rc = fr_error(err, FR_E_IO, "%s: cannot start (%s)", featrd, strerror(e));
                break;
            }
            running++;
            next++;
        }
        if (!running)
            break;
        int st;
        pid_t w = wait(&st);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int k = 0; k < u->units; k++)
            if (pids[k] == w) {
                pids[k] = 0;
                running--;
                int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
                if (!ok && failed < 0) {
                    failed = k;
                    fail_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                }
                char label[64];
                snprintf(label, sizeof label, "unit %d", k);
                fr_progress_step(prog, label, ok ? "" : "failed", NULL, NULL);
            }
    }
    fr_progress_destroy(&prog);
    free(pids);
    if (!rc && failed >= 0)
        rc = fr_error(err, fail_status == 2 ? FR_E_USAGE : FR_E_IO,
                      "unit %d failed (exit status %d; its log: %s/local-u%06d.log); the other "
                      "units' results are kept: fix the cause and submit again", failed,
                      fail_status, logdir, failed);
    return rc;
}

static int submit(const FrExperiment *e, const FrSubmitOptions *op, FrSubmitReport *rep,
                  FrError *err);

int fr_submit(const FrExperiment *e, const FrSubmitOptions *o_in, FrSubmitReport *rep,
              FrError *err)
{
    FrSubmitOptions o;
    if (o_in)
        o = *o_in;
    else
        fr_submit_options_defaults(&o);
    FrSubmitReport rp;
    memset(&rp, 0, sizeof rp);
    /* the config's cluster: section, under what the command line gave */
    const FrClusterSpec *cl = &e->cluster;
    if (!o.chunks && !o.tasks) {
        o.chunks = cl->chunks;
        o.tasks = cl->tasks;
    }
    if (!o.throttle)
        o.throttle = cl->throttle;
    if (!o.cpus)
        o.cpus = cl->cpus;
    if (!o.partition)
        o.partition = cl->partition;
    if (!o.time)
        o.time = cl->time;
    if (!o.gres)
        o.gres = cl->gres;
    const char **sb = calloc((size_t)(cl->n_sbatch + o.n_sbatch) + 1, sizeof *sb),
               **su = calloc((size_t)(cl->n_setup + o.n_setup) + 1, sizeof *su);
    if (!sb || !su) {
        free(sb);
        free(su);
        return fr_error(err, FR_E_NOMEM, "out of memory");
    }
    int nsb = 0, nsu = 0;
    for (int i = 0; i < cl->n_sbatch; i++)
        sb[nsb++] = cl->sbatch[i];
    for (int i = 0; i < o.n_sbatch; i++)
        sb[nsb++] = o.sbatch[i];
    for (int i = 0; i < cl->n_setup; i++)
        su[nsu++] = cl->setup[i];
    for (int i = 0; i < o.n_setup; i++)
        su[nsu++] = o.setup[i];
    o.sbatch = sb;
    o.n_sbatch = nsb;
    o.setup = su;
    o.n_setup = nsu;
    int rc = submit(e, &o, &rp, err);
    free(sb);
    free(su);
    if (rep)
        *rep = rp;
    return rc;
}

/* fr_submit with the options resolved. */
static int submit(const FrExperiment *e, const FrSubmitOptions *op, FrSubmitReport *rep,
                  FrError *err)
{
    FrSubmitOptions o = *op;
    FrSubmitReport rp = *rep;
    if (e->kind != FR_KIND_RD)
        return fr_error(err, FR_E_USAGE,
                        "featrd submit runs kind rd in units; kind %s runs as one job: "
                        "sbatch --wrap 'featrd run CONFIG.yaml'", fr_kind_name(e->kind));
    const char *dir = e->output.dir;
    char featrd[PATH_MAX];
    if (o.featrd) {
        snprintf(featrd, sizeof featrd, "%s", o.featrd);
    } else {
        ssize_t k = readlink("/proc/self/exe", featrd, sizeof featrd - 1);
        if (k <= 0)
            return fr_error(err, FR_E_IO, "cannot find this featrd's path; give --featrd PATH");
        featrd[k] = 0;
    }
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return fr_error(err, FR_E_IO, "cannot read the working directory (%s)", strerror(errno));
    int rc = fr_experiment_check_files(e, err);
    FrPlan plan = {0};
    if (!rc)
        rc = fr_plan_build(e, &plan, err);
    if (!rc)
        rc = fr_plan_check_bd(e, &plan, err);
    size_t images = 0;
    if (!rc)
        rc = image_count(e, &images, err);
    if (rc) {
        fr_plan_free(&plan);
        return rc;
    }
    FrUnitPlan u;
    fr_unit_plan_init(&u, e, 1, images);
    int chunks = o.chunks > 0 ? o.chunks : o.tasks > 0 ? o.tasks / u.groups : 4;
    fr_unit_plan_init(&u, e, chunks < 1 ? 1 : chunks, images);
    rp.groups = u.groups;
    rp.chunks = u.chunks;
    rp.units = u.units;
    rp.images = images;
    if (!o.dry_run || o.force) {
        rc = fr_results_dir_prepare(dir, err);
        if (!rc)
            rc = fr_results_check_config(dir, e, o.force && !o.dry_run, err);
    }
    if (!rc && o.force && !o.dry_run) {
        /* another chunk count: the old units cannot be kept */
        FrUnitPlan old;
        FrError e2 = {0};
        if (fr_unit_plan_read(dir, &old, NULL, 0, &e2) == 0 &&
            (old.chunks != u.chunks || old.hash != u.hash || old.images != u.images)) {
            char p[4400];
            snprintf(p, sizeof p, "%s/units", dir);
            char *argv[] = {"rm", "-rf", "--", p, NULL};
            char out[256];
            if (fr_spawn_capture(argv, 1, out, sizeof out) != 0)
                rc = fr_error(err, FR_E_IO, "%s: cannot remove (%s)", p, out);
        }
    }
    if (!rc && !o.dry_run)
        rc = fr_unit_plan_write(dir, &u, cwd, err);
    char cfgp[4400];
    snprintf(cfgp, sizeof cfgp, "%s/units/config.yaml", dir);
    if (!rc && !o.dry_run) {
        rc = fr_results_write_config(cfgp, e, err);
    }
    unsigned char *todo = calloc((size_t)u.units + 1, 1);
    if (!rc && !todo)
        rc = fr_error(err, FR_E_NOMEM, "out of memory");
    /* the units whose files are not all there and that nobody is computing */
    for (int k = 0; k < u.units && !rc; k++) {
        if (fr_unit_locked(dir, k))
            continue;
        int g = k / u.chunks, c = k % u.chunks;
        for (int i = 0; i < plan.n && !todo[k]; i++)
            if (fr_unit_group(&u, &plan.points[i]) == g &&
                !fr_unit_res_exists(dir, plan.points[i].id, c, u.chunks))
                todo[k] = 1;
        rp.submitted += todo[k];
    }
    fr_plan_free(&plan);
    int cpus = o.cpus > 0 ? o.cpus : e->jobs > 0 ? e->jobs : 1;
    char name[128];
    snprintf(name, sizeof name, "featrd-%s", e->name);
    for (char *p = name; *p; p++)
        if (!(*p == '-' || *p == '_' || *p == '.' || (*p >= '0' && *p <= '9') ||
              (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            *p = '_';
    if (!rc && o.local) {
        rc = run_local(dir, featrd, cfgp, &u, todo, rp.submitted, &o, name, err);
        if (!rc) {
            FrRunOptions ro;
            fr_run_options_defaults(&ro);
            ro.chunks = u.chunks;
            ro.collect = 1;
            ro.plots = o.plots;
            ro.progress = o.progress;
            rc = fr_run(e, &ro, err);
        }
        free(todo);
        if (rep)
            *rep = rp;
        return rc;
    }
    /* Slurm: the scripts */
    snprintf(rp.script_dir, sizeof rp.script_dir, "%s/units/slurm", dir);
    char absdir[PATH_MAX];
    if (!rc && !o.dry_run) {
        char logd[4400];
        snprintf(logd, sizeof logd, "%s/units/log", dir);
        mkdir(logd, 0777);
        if (mkdir(rp.script_dir, 0777) && errno != EEXIST)
            rc = fr_error(err, FR_E_IO, "%s: cannot create (%s)", rp.script_dir, strerror(errno));
    }
    if (!rc && !realpath(dir, absdir))
        snprintf(absdir, sizeof absdir, "%.2000s%s%.2000s", dir[0] == '/' ? "" : cwd,
                 dir[0] == '/' ? "" : "/", dir);
    FrText us = {0}, ms = {0};
    char abscfg[PATH_MAX + 32], unit_sh[4600], merge_sh[4600];
    snprintf(abscfg, sizeof abscfg, "%s/units/config.yaml", absdir);
    snprintf(unit_sh, sizeof unit_sh, "%s/unit.sh", rp.script_dir);
    snprintf(merge_sh, sizeof merge_sh, "%s/merge.sh", rp.script_dir);
    fr_text_printf(&us, "#!/bin/sh\n# featrd submit: one work unit per array task; argument 1 "
                        "is the array's first unit (docs/cluster.md)\n");
    sbatch_header(&us, &o, name, cpus, 1);
    fr_text_printf(&us, "#SBATCH --requeue\n#SBATCH --open-mode=append\n#SBATCH --output=");
    fr_text_printf(&us, "%s/units/log/%%A_%%a.log\n", absdir);
    fr_text_printf(&us, "set -e\ncd ");
    sh_quote(&us, cwd);
    fr_text_printf(&us, "\n");
    for (int i = 0; i < o.n_setup; i++)
        fr_text_printf(&us, "%s\n", o.setup[i]);
    fr_text_printf(&us, "export OPENBLAS_NUM_THREADS=1\nexec ");
    sh_quote(&us, featrd);
    fr_text_printf(&us, " run ");
    sh_quote(&us, abscfg);
    fr_text_printf(&us, " --chunks %d --unit $((SLURM_ARRAY_TASK_ID + ${1:-0})) --jobs %d\n",
                   u.chunks, cpus);
    fr_text_printf(&ms, "#!/bin/sh\n# featrd submit: merges the units into points.csv, bd.csv "
                        "and the plots once every array task has succeeded\n");
    char mname[160];
    snprintf(mname, sizeof mname, "%s-merge", name);
    sbatch_header(&ms, &o, mname, 1, 0);
    fr_text_printf(&ms, "#SBATCH --output=%s/units/log/merge-%%j.log\nset -e\ncd ", absdir);
    sh_quote(&ms, cwd);
    fr_text_printf(&ms, "\n");
    for (int i = 0; i < o.n_setup; i++)
        fr_text_printf(&ms, "%s\n", o.setup[i]);
    fr_text_printf(&ms, "exec ");
    sh_quote(&ms, featrd);
    fr_text_printf(&ms, " merge ");
    sh_quote(&ms, absdir);
    fr_text_printf(&ms, "%s\n", o.plots == 0 ? " --no-plots" : "");
    if (!rc && !o.dry_run)
        rc = write_script(unit_sh, &us, err);
    if (!rc && !o.dry_run)
        rc = write_script(merge_sh, &ms, err);
    int M = o.max_array > 0 ? o.max_array : (o.dry_run ? 1001 : max_array_size());
    if (!rc && o.dry_run)
        printf("# %s: %d units (%d groups x %d chunks of %zu images), %d to run\n"
               "# ---- %s\n%s# ---- %s\n%s",
               e->name, u.units, u.groups, u.chunks, images, rp.submitted, unit_sh, us.s,
               merge_sh, ms.s);
    if (!rc && !o.dry_run) {
        /* sbatch must be there before anything is submitted */
        char *vargv[] = {"sbatch", "--version", NULL};
        char out[256];
        if (fr_spawn_capture(vargv, 1, out, sizeof out) != 0)
            rc = fr_error(err, FR_E_USAGE, "sbatch is not available here (Slurm's client): "
                          "submit from a login node, or run the units here with --local "
                          "--jobs N");
    }
    for (int lo = 0; lo < u.units && !rc; lo += M) {
        int hi = lo + M < u.units ? lo + M : u.units;
        FrText spec = {0};
        fr_text_printf(&spec, "--array=");
        int n = array_spec(&spec, todo, lo, hi);
        if (o.throttle > 0)
            fr_text_printf(&spec, "%%%d", o.throttle);
        char off[32];
        snprintf(off, sizeof off, "%d", lo);
        if (n && o.dry_run) {
            printf("sbatch --parsable %s %s %s\n", spec.s, unit_sh, off);
            rp.arrays++;
        } else if (n) {
            char *argv[] = {"sbatch", "--parsable", spec.s, unit_sh, off, NULL};
            char out[4096];
            int st = fr_spawn_capture(argv, 1, out, sizeof out);
            long id = st == 0 ? strtol(out, NULL, 10) : 0;
            if (id <= 0)
                rc = fr_error(err, FR_E_IO, "sbatch %s %s %s failed (status %d): %s", spec.s,
                              unit_sh, off, st, out);
            else {
                size_t l = strlen(rp.jobs);
                snprintf(rp.jobs + l, sizeof rp.jobs - l, "%s%ld", l ? ":" : "", id);
                rp.arrays++;
            }
        }
        fr_text_free(&spec);
    }
    if (!rc) {
        char dep[600] = "";
        if (rp.jobs[0])
            snprintf(dep, sizeof dep, "--dependency=afterok:%s", rp.jobs);
        if (o.dry_run) {
            printf("sbatch --parsable %s%s--kill-on-invalid-dep=yes %s\n", dep, dep[0] ? " " : "",
                   merge_sh);
        } else {
            char *argv[] = {"sbatch", "--parsable", "--kill-on-invalid-dep=yes", merge_sh, NULL,
                            NULL};
            if (dep[0]) {
                argv[3] = dep;
                argv[4] = merge_sh;
            }
            char out[4096];
            int st = fr_spawn_capture(argv, 1, out, sizeof out);
            long id = st == 0 ? strtol(out, NULL, 10) : 0;
            if (id <= 0)
                rc = fr_error(err, FR_E_IO, "sbatch of the merge job failed (status %d): %s; "
                              "the units run: merge later with `featrd merge %s`", st, out, dir);
            else
                snprintf(rp.merge_job, sizeof rp.merge_job, "%ld", id);
        }
    }
    fr_text_free(&us);
    fr_text_free(&ms);
    free(todo);
    if (rep)
        *rep = rp;
    return rc;
}
