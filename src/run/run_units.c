/* run_units.c: image-chunk work units (units_internal.h, `featrd submit`):
 * computing one unit's points over its chunk, and merging every unit's
 * files into points.csv as one run commits them. Part of the runner. */
#define _GNU_SOURCE
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run/run_internal.h"

/* ---------------- the merge of image-chunk units ---------------- */

/* Every chunk's file of point pt into res (and the image sizes). */
static int unit_load(Run *r, const FrPoint *pt, ImgRes *res, int *w, int *h, FrError *err)
{
    int rc = 0;
    for (int c = 0; c < r->up.chunks && !rc; c++)
        rc = fr_unit_res_read(r->dir, &r->up, pt, c, res, w, h, err);
    return rc;
}

/* Refuses the merge when a unit has not written every file it owes, naming
 * the units to rerun, or a file is corrupted or of another plan (before
 * anything is written). */
int fr_run_units_complete_(Run *r, FrError *err)
{
    unsigned char *miss = calloc((size_t)r->up.units + 1, 1);
    if (!miss)
        return fr_error(err, FR_E_NOMEM, "out of memory");
    int nmiss = 0;
    for (int i = 0; i < r->plan.n; i++) {
        const FrPoint *pt = &r->plan.points[i];
        int g = fr_unit_group(&r->up, pt);
        for (int c = 0; c < r->up.chunks; c++) {
            int u = g * r->up.chunks + c;
            if (!miss[u] && !fr_unit_res_exists(r->dir, pt->id, c, r->up.chunks)) {
                miss[u] = 1;
                nmiss++;
            }
        }
    }
    if (!nmiss) {
        free(miss);
        /* every file whole and of this plan, before anything is committed */
        for (int i = 0; i < r->plan.n; i++) {
            const FrPoint *pt = &r->plan.points[i];
            for (int c = 0; c < r->up.chunks; c++) {
                int rc = fr_unit_res_check(r->dir, &r->up, pt, c, err);
                if (rc)
                    return rc;
            }
        }
        return 0;
    }
    char list[1024] = "";
    int shown = 0;
    for (int u = 0; u < r->up.units && shown < 24; u++)
        if (miss[u]) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%d", shown ? "," : "", u);
            shown++;
        }
    free(miss);
    return fr_error(err, FR_E_MISMATCH,
                    "%s: %d of %d units are not finished (units %s%s): `featrd status %s` says "
                    "which are running; rerun the others (`featrd submit` again submits only "
                    "them, or `featrd run %s/units/config.yaml --chunks %d --unit U`)",
                    r->dir, nmiss, r->up.units, list, nmiss > shown ? ",..." : "", r->dir,
                    r->dir, r->up.chunks);
}

/* UNIT_COLLECT: the points of a `featrd submit` run from their units'
 * files, aggregated and committed exactly as one run commits them. */
int fr_run_collect_rd_(Run *r, FrError *err)
{
    const FrExperiment *e = r->e;
    int rc = 0;
    int *w = calloc(r->list.n + 1, sizeof *w), *h = calloc(r->list.n + 1, sizeof *h);
    ImgRes *res = fr_run_res_alloc_(r);
    if (!w || !h || !res) {
        free(w);
        free(h);
        free(res);
        return fr_error(err, FR_E_NOMEM, "out of memory");
    }
    const FrPoint *ref = &r->plan.points[0];
    fr_progress_note(r->prog, "merging %d units of %zu images", r->up.units, r->list.n);
    rc = unit_load(r, ref, res, w, h, err);
    for (size_t i = 0; i < r->list.n && !rc; i++) {
        r->info[i].w = w[i];
        r->info[i].h = h[i];
        rc = fr_run_read_gt_(r, i, err);
        if (!rc && r->task != FR_TASK_DETECTION && res[i].out.data) {
            FrTensor *t = &r->info[i].ref;
            rc = fr_tensor_alloc(t, res[i].out.c, res[i].out.h, res[i].out.w);
            if (!rc)
                memcpy(t->data, res[i].out.data, fr_tensor_size(t) * sizeof(float));
        }
    }
    if (!rc)
        rc = fr_run_read_labels_(r, err);
    if (!rc && fr_run_todo_(r, ref))
        rc = fr_run_commit_point_(r, ref, res, err);
    fr_run_res_free_(r, &res);
    for (int s = 0; s < e->sweep.n_split && !rc; s++) {
        int cut[FR_MODEL_MAX_CUTS], ncut = 0;
        size_t bytes = 0;
        int named = 0;
        for (int i = 1; i < r->plan.n && !rc; i++) {
            const FrPoint *pt = &r->plan.points[i];
            if (pt->kind != FR_POINT_FEATURE || pt->split_index != s || !fr_run_todo_(r, pt))
                continue;
            if (!named && (rc = fr_run_split_resolve_(r, s, cut, &ncut, &bytes, err)))
                break;
            if (!(res = fr_run_res_alloc_(r)))
                rc = fr_error(err, FR_E_NOMEM, "out of memory");
            if (!rc)
                rc = unit_load(r, pt, res, w, h, err);
            /* the units' thread-seconds: a split's front half once per image */
            for (size_t k = 0; k < r->list.n && !rc; k++) {
                r->tot_front += named ? 0 : res[k].t_front;
                r->tot_enc += res[k].t_enc;
                r->tot_dec += res[k].t_dec;
                r->tot_back += res[k].t_back;
            }
            named = 1;
            if (!rc)
                rc = fr_run_commit_point_(r, pt, res, err);
            fr_run_res_free_(r, &res);
        }
    }
    for (int i = 1; i < r->plan.n && !rc; i++) {
        const FrPoint *pt = &r->plan.points[i];
        if (pt->kind == FR_POINT_FEATURE || !fr_run_todo_(r, pt))
            continue;
        if (!(res = fr_run_res_alloc_(r)))
            rc = fr_error(err, FR_E_NOMEM, "out of memory");
        if (!rc)
            rc = unit_load(r, pt, res, w, h, err);
        for (size_t k = 0; k < r->list.n && !rc; k++)
            r->tot_anchor += res[k].t_enc + res[k].t_back;
        if (!rc)
            rc = fr_run_commit_point_(r, pt, res, err);
        fr_run_res_free_(r, &res);
    }
    free(w);
    free(h);
    return rc;
}


/* UNIT_COMPUTE (`featrd run --chunks C --unit U`): the unit's points over
 * its chunk of images, one file per point under units/; no points.csv,
 * journal or manifest (the merge writes them). The files are the commit:
 * a requeued or rerun unit skips the points whose file is there. */
int fr_run_unit_(Run *r, FrError *err)
{
    const FrExperiment *e = r->e;
    r->group = r->unit / r->up.chunks;
    r->chunk = r->unit % r->up.chunks;
    fr_unit_chunk_range(&r->up, r->chunk, &r->img_lo, &r->img_hi);
    int lock_fd = -1;
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = 0;
    int rc = fr_results_dir_prepare(r->dir, err);
    if (!rc)
        rc = fr_results_check_config(r->dir, e, 0, err);
    if (!rc)
        rc = fr_unit_plan_write(r->dir, &r->up, cwd, err);
    if (!rc)
        rc = fr_unit_lock(r->dir, r->unit, &lock_fd, err);
    if (rc)
        return rc;
    char cfgp[4300];
    snprintf(cfgp, sizeof cfgp, "%s/units/config.yaml", r->dir);
    if (access(cfgp, F_OK) != 0) { /* what the merge loads; every unit writes the same */
        rc = fr_results_write_config(cfgp, e, err);
    }
    r->unit_done = calloc((size_t)r->plan.n + 1, 1);
    if (!rc && !r->unit_done)
        rc = fr_error(err, FR_E_NOMEM, "out of memory");
    size_t already = 0;
    for (int i = 0; i < r->plan.n && !rc; i++) {
        const FrPoint *pt = &r->plan.points[i];
        if (!fr_run_mine_(r, pt))
            continue;
        r->total_mine++;
        if (fr_unit_res_exists(r->dir, pt->id, r->chunk, r->up.chunks)) {
            r->unit_done[i] = 1;
            already++;
        }
    }
    r->done_mine = already;
    if (!rc)
        rc = fr_unit_state_write(r->dir, r->unit, "running", (int)already, (int)r->total_mine,
                                 err);
    if (rc) {
        fr_results_unlock(&lock_fd);
        return rc;
    }
    char name[200];
    snprintf(name, sizeof name, "%s [unit %d/%d: group %d, images %zu..%zu]", e->name, r->unit,
             r->up.units, r->group, r->img_lo, r->img_hi);
    r->prog = fr_progress_create(r->o.progress, name, r->total_mine, already);
    double t0 = fr_now();
    if (already < r->total_mine && r->img_hi > r->img_lo)
        rc = fr_run_rd_(r, err);
    fr_progress_destroy(&r->prog);
    FrError se = {0};
    fr_unit_state_write(r->dir, r->unit,
                        !rc ? "done" : rc == FR_E_INTERRUPTED ? "interrupted" : "failed",
                        (int)r->done_mine, (int)r->total_mine, &se);
    if (!rc && r->o.progress != FR_PROGRESS_NONE)
        fprintf(stderr, "%s: %zu points in %.1f s, %zu done earlier; front %.1f s, back %.1f s, "
                "encode %.1f s, decode %.1f s, anchors %.1f s (thread seconds)\n",
                name, r->done_mine - already, fr_now() - t0, already, r->tot_front, r->tot_back,
                r->tot_enc, r->tot_dec, r->tot_anchor);
    fr_results_unlock(&lock_fd);
    return rc;
}
