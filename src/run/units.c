/* units.c: image-chunk work units (units_internal.h): the plan file, the
 * per-point result files a unit writes and the merge reads, unit state
 * files and locks. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "run/results_internal.h"
#include "run/units_internal.h"

#define RES_MAGIC "FRDUNIT3" /* 2: recon_psnr, recon_ssim (issue 24); 3: the metrics
                                registry's per-image values, by name hash */
#define MAX_DETS 1000000
#define MAX_OUT (1u << 28)

void fr_unit_plan_init(FrUnitPlan *u, const FrExperiment *e, int chunks, size_t images)
{
    memset(u, 0, sizeof *u);
    u->splits = e->sweep.n_split > 0 ? e->sweep.n_split : 1;
    u->weight_sets = e->sweep.n_weights > 0 ? e->sweep.n_weights : 1;
    u->groups = 1 + u->splits * u->weight_sets;
    if (chunks < 1)
        chunks = 1;
    if (images > 0 && (size_t)chunks > images)
        chunks = (int)images;
    u->chunks = chunks;
    u->units = u->groups * u->chunks;
    u->images = images;
    u->hash = fr_experiment_hash(e);
}

int fr_unit_group(const FrUnitPlan *u, const FrPoint *pt)
{
    if (pt->kind != FR_POINT_FEATURE)
        return 0;
    int w = pt->weights < 0 ? 0 : pt->weights;
    return 1 + w * u->splits + pt->split_index;
}

void fr_unit_chunk_range(const FrUnitPlan *u, int chunk, size_t *lo, size_t *hi)
{
    size_t n = u->images, c = (size_t)u->chunks;
    *lo = n * (size_t)chunk / c;
    *hi = n * (size_t)(chunk + 1) / c;
}

static int units_mkdir(const char *dir, const char *sub, char *path, size_t cap, FrError *err)
{
    snprintf(path, cap, "%s/units", dir);
    if (mkdir(path, 0777) && errno != EEXIST)
        return fr_error(err, FR_E_IO, "%s: cannot create the directory (%s)", path,
                        strerror(errno));
    if (sub) {
        size_t l = strlen(path);
        snprintf(path + l, cap - l, "/%s", sub);
        if (mkdir(path, 0777) && errno != EEXIST)
            return fr_error(err, FR_E_IO, "%s: cannot create the directory (%s)", path,
                            strerror(errno));
    }
    return 0;
}

/* ---------------- the plan ---------------- */

int fr_unit_plan_read(const char *dir, FrUnitPlan *u, char *cwd, size_t cwd_cap, FrError *err)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/units/plan.yaml", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return fr_error(err, FR_E_NOENT, "%s: no unit plan (not a `featrd submit` or "
                            "`featrd run --chunks` directory)", path);
        return fr_error(err, FR_E_IO, "%s: cannot open (%s)", path, strerror(errno));
    }
    memset(u, 0, sizeof *u);
    if (cwd && cwd_cap)
        cwd[0] = 0;
    char line[4400];
    int have = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        unsigned long long h;
        long long v;
        if (sscanf(line, "config_hash: %llx", &h) == 1) {
            u->hash = h;
            have |= 1;
        } else if (sscanf(line, "chunks: %lld", &v) == 1) {
            u->chunks = (int)v;
            have |= 2;
        } else if (sscanf(line, "groups: %lld", &v) == 1) {
            u->groups = (int)v;
            have |= 4;
        } else if (sscanf(line, "images: %lld", &v) == 1) {
            u->images = (size_t)v;
            have |= 8;
        } else if (sscanf(line, "splits: %lld", &v) == 1) {
            u->splits = (int)v;
            have |= 16;
        } else if (sscanf(line, "weight_sets: %lld", &v) == 1) {
            u->weight_sets = (int)v;
            have |= 32;
        } else if (!strncmp(line, "cwd: ", 5) && cwd) {
            snprintf(cwd, cwd_cap, "%s", line + 5);
        }
    }
    fclose(f);
    if (have != 63 || u->chunks < 1 || u->splits < 1 || u->weight_sets < 1 ||
        u->groups != 1 + u->splits * u->weight_sets)
        return fr_error(err, FR_E_FORMAT, "%s: not a featrd unit plan (keys missing or "
                        "inconsistent); remove the directory's units/ and submit again", path);
    u->units = u->groups * u->chunks;
    return 0;
}

int fr_unit_plan_write(const char *dir, const FrUnitPlan *u, const char *cwd, FrError *err)
{
    FrUnitPlan old;
    FrError e2 = {0};
    char path[4400];
    int rc = fr_unit_plan_read(dir, &old, NULL, 0, &e2);
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/units/plan.yaml", dir);
        if (old.hash != u->hash)
            return fr_error(err, FR_E_MISMATCH,
                            "%s: its units belong to another config (hash %016" PRIx64
                            ", this one %016" PRIx64 "): use another output.dir, or --force "
                            "to discard them",
                            path, old.hash, u->hash);
        if (old.chunks != u->chunks || old.images != u->images || old.groups != u->groups)
            return fr_error(err, FR_E_MISMATCH,
                            "%s: planned as %d chunks of %zu images in %d groups, not %d chunks "
                            "of %zu in %d: keep --chunks %d (featrd status %s), or --force to "
                            "discard the units",
                            path, old.chunks, old.images, old.groups, u->chunks, u->images,
                            u->groups, old.chunks, dir);
        return 0;
    }
    if (rc != FR_E_NOENT) {
        if (err)
            *err = e2;
        return rc;
    }
    if ((rc = units_mkdir(dir, NULL, path, sizeof path, err)))
        return rc;
    FrText t = {0};
    fr_text_printf(&t,
                   "# featrd work units (featrd submit, featrd run --chunks C --unit U); "
                   "featrd status DIR reads it\n"
                   "config_hash: %016" PRIx64 "\nchunks: %d\ngroups: %d\nunits: %d\n"
                   "images: %zu\nsplits: %d\nweight_sets: %d\ncwd: %s\n",
                   u->hash, u->chunks, u->groups, u->units, u->images, u->splits,
                   u->weight_sets, cwd ? cwd : "");
    snprintf(path, sizeof path, "%s/units/plan.yaml", dir);
    rc = fr_text_write_atomic(&t, path, err);
    fr_text_free(&t);
    return rc;
}

/* ---------------- result files ---------------- */

void fr_unit_res_path(char *buf, size_t cap, const char *dir, const char *point_id, int chunk,
                      int chunks)
{
    snprintf(buf, cap, "%s/units/%s/c%06d-of-%06d.res", dir, point_id, chunk, chunks);
}

int fr_unit_res_exists(const char *dir, const char *point_id, int chunk, int chunks)
{
    char p[4600];
    fr_unit_res_path(p, sizeof p, dir, point_id, chunk, chunks);
    return access(p, F_OK) == 0;
}

typedef struct Buf {
    uint8_t *p;
    size_t len, cap;
    int oom;
} Buf;

static void put(Buf *b, const void *d, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 4096;
        while (nc < b->len + n)
            nc *= 2;
        uint8_t *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

/* Little-endian on every host, so a file moves between machines. */
static void put_u32(Buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}

static void put_u64(Buf *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_f64(Buf *b, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    put_u64(b, v);
}

static void put_f32(Buf *b, float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    put_u32(b, v);
}

typedef struct Rd {
    const uint8_t *p;
    size_t len, pos;
    int bad;
} Rd;

static uint32_t get_u32(Rd *r)
{
    if (r->pos + 4 > r->len) {
        r->bad = 1;
        return 0;
    }
    const uint8_t *x = r->p + r->pos;
    r->pos += 4;
    return (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 | (uint32_t)x[3] << 24;
}

static uint64_t get_u64(Rd *r)
{
    uint64_t lo = get_u32(r);
    return lo | (uint64_t)get_u32(r) << 32;
}

static double get_f64(Rd *r)
{
    uint64_t v = get_u64(r);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

static float get_f32(Rd *r)
{
    uint32_t v = get_u32(r);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

/* The doubles of a record, in file order; the registry's per-image metric
 * values follow them (fr_metric_count of them, the file's header says how
 * many and which). */
#define N_VALS 13
static void vals(const FrImgRes *x, double **a)
{
    FrImgRes *m = (FrImgRes *)x;
    double *v[N_VALS] = {&m->bits,    &m->payload, &m->side,   &m->elements, &m->paper,
                         &m->t_front, &m->t_enc,   &m->t_dec,  &m->t_back,   &m->t_sens,
                         &m->lambda,  &m->d_pred,  &m->d_joint};
    memcpy(a, v, sizeof v);
}

/* FNV-1a of the registry's metric names: a file of a featrd with other
 * metrics is refused instead of read into the wrong slots. */
static uint64_t metrics_hash(void)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int m = 0; m < fr_metric_count(); m++)
        for (const char *p = fr_metric_info(m)->name;; p++) {
            h ^= (unsigned char)*p;
            h *= 0x100000001b3ULL;
            if (!*p)
                break;
        }
    return h;
}

int fr_unit_res_write(const char *dir, const FrUnitPlan *u, const FrPoint *pt, int chunk,
                      const FrImgRes *res, const int *w, const int *h, FrError *err)
{
    size_t lo, hi;
    fr_unit_chunk_range(u, chunk, &lo, &hi);
    Buf b = {0};
    put(&b, RES_MAGIC, 8);
    put_u64(&b, u->hash);
    put_u32(&b, (uint32_t)pt->ordinal);
    put_u32(&b, (uint32_t)chunk);
    put_u32(&b, (uint32_t)u->chunks);
    put_u64(&b, lo);
    put_u64(&b, hi);
    put_u32(&b, (uint32_t)fr_metric_count());
    put_u64(&b, metrics_hash());
    for (size_t i = lo; i < hi; i++) {
        const FrImgRes *x = &res[i];
        put_u32(&b, (uint32_t)w[i]);
        put_u32(&b, (uint32_t)h[i]);
        double *v[N_VALS];
        vals(x, v);
        for (int k = 0; k < N_VALS; k++)
            put_f64(&b, *v[k]);
        for (int m = 0; m < fr_metric_count(); m++)
            put_f64(&b, x->mv[m]);
        put_u32(&b, (uint32_t)x->ndet);
        for (int k = 0; k < x->ndet; k++) {
            const FrDetection *d = &x->dets[k];
            put_u32(&b, (uint32_t)d->cls);
            put_f32(&b, d->score);
            put_f32(&b, d->x1);
            put_f32(&b, d->y1);
            put_f32(&b, d->x2);
            put_f32(&b, d->y2);
        }
        put_u32(&b, (uint32_t)x->out.c);
        put_u32(&b, (uint32_t)x->out.h);
        put_u32(&b, (uint32_t)x->out.w);
        size_t no = x->out.data ? fr_tensor_size(&x->out) : 0;
        for (size_t k = 0; k < no; k++)
            put_f32(&b, x->out.data[k]);
    }
    if (!b.oom)
        put_u32(&b, fr_crc32(b.p, b.len));
    if (b.oom) {
        free(b.p);
        return fr_error(err, FR_E_NOMEM, "out of memory");
    }
    char path[4600];
    int rc = units_mkdir(dir, pt->id, path, sizeof path, err);
    if (!rc) {
        fr_unit_res_path(path, sizeof path, dir, pt->id, chunk, u->chunks);
        rc = fr_write_file_atomic(path, b.p, b.len, err);
    }
    free(b.p);
    return rc;
}

int fr_unit_res_check(const char *dir, const FrUnitPlan *u, const FrPoint *pt, int chunk,
                      FrError *err)
{
    return fr_unit_res_read(dir, u, pt, chunk, NULL, NULL, NULL, err);
}

int fr_unit_res_read(const char *dir, const FrUnitPlan *u, const FrPoint *pt, int chunk,
                     FrImgRes *res, int *w, int *h, FrError *err)
{
    char path[4600];
    fr_unit_res_path(path, sizeof path, dir, pt->id, chunk, u->chunks);
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = fr_read_file(path, &data, &len, err);
    if (rc)
        return rc;
    int unit = fr_unit_group(u, pt) * u->chunks + chunk;
    Rd r = {data, len, 0, 0};
    size_t lo, hi;
    fr_unit_chunk_range(u, chunk, &lo, &hi);
    if (len < 8 + 4 || memcmp(data, RES_MAGIC, 8) ||
        fr_crc32(data, len - 4) != (r.pos = len - 4, get_u32(&r))) {
        free(data);
        return fr_error(err, FR_E_FORMAT,
                        "%s: truncated or corrupted (magic or CRC): delete it and rerun unit %d "
                        "(featrd run CONFIG --chunks %d --unit %d)",
                        path, unit, u->chunks, unit);
    }
    r.len = len - 4;
    r.pos = 8;
    uint64_t hash = get_u64(&r);
    uint32_t ord = get_u32(&r), ch = get_u32(&r), nch = get_u32(&r);
    uint64_t flo = get_u64(&r), fhi = get_u64(&r);
    uint32_t nmet = get_u32(&r);
    uint64_t mhash = get_u64(&r);
    if (nmet != (uint32_t)fr_metric_count() || mhash != metrics_hash()) {
        free(data);
        return fr_error(err, FR_E_MISMATCH,
                        "%s: written by a featrd with other metrics (%u, expected %d): delete "
                        "it and rerun unit %d with this featrd",
                        path, nmet, fr_metric_count(), unit);
    }
    if (hash != u->hash || ord != (uint32_t)pt->ordinal || ch != (uint32_t)chunk ||
        nch != (uint32_t)u->chunks || flo != lo || fhi != hi) {
        free(data);
        return fr_error(err, FR_E_MISMATCH,
                        "%s: written for another config or plan (hash %016" PRIx64 ", point %u, "
                        "chunk %u of %u, images %" PRIu64 "..%" PRIu64 "; expected %016" PRIx64
                        ", %d, %d of %d, %zu..%zu): delete it and rerun unit %d",
                        path, hash, ord, ch, nch, flo, fhi, u->hash, pt->ordinal, chunk,
                        u->chunks, lo, hi, unit);
    }
    if (!res) { /* fr_unit_res_check: header and CRC */
        free(data);
        return 0;
    }
    for (size_t i = lo; i < hi && !r.bad && !rc; i++) {
        FrImgRes *x = &res[i];
        w[i] = (int)get_u32(&r);
        h[i] = (int)get_u32(&r);
        double *v[N_VALS];
        vals(x, v);
        for (int k = 0; k < N_VALS; k++)
            *v[k] = get_f64(&r);
        for (int m = 0; m < fr_metric_count(); m++)
            x->mv[m] = get_f64(&r);
        uint32_t nd = get_u32(&r);
        if (nd > MAX_DETS || (size_t)nd * 24 > r.len - r.pos) {
            r.bad = 1;
            break;
        }
        if (nd) {
            x->dets = malloc(nd * sizeof *x->dets);
            if (!x->dets) {
                rc = fr_error(err, FR_E_NOMEM, "out of memory");
                break;
            }
        }
        x->ndet = (int)nd;
        for (uint32_t k = 0; k < nd; k++) {
            FrDetection *d = &x->dets[k];
            d->cls = (int)get_u32(&r);
            d->score = get_f32(&r);
            d->x1 = get_f32(&r);
            d->y1 = get_f32(&r);
            d->x2 = get_f32(&r);
            d->y2 = get_f32(&r);
        }
        uint32_t oc = get_u32(&r), oh = get_u32(&r), ow = get_u32(&r);
        uint64_t no = (uint64_t)oc * oh * ow;
        if (no > MAX_OUT || no * 4 > r.len - r.pos) {
            r.bad = 1;
            break;
        }
        if (no) {
            if ((rc = fr_tensor_alloc(&x->out, (int)oc, (int)oh, (int)ow)))
                break;
            for (uint64_t k = 0; k < no; k++)
                x->out.data[k] = get_f32(&r);
        }
    }
    if (!rc && (r.bad || r.pos != r.len))
        rc = fr_error(err, FR_E_FORMAT, "%s: its records do not parse: delete it and rerun unit %d",
                      path, unit);
    free(data);
    return rc;
}

/* ---------------- state and locks ---------------- */

int fr_unit_state_write(const char *dir, int unit, const char *state, int points_done,
                        int points_total, FrError *err)
{
    char path[4600];
    int rc = units_mkdir(dir, "state", path, sizeof path, err);
    if (rc)
        return rc;
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    const char *job = getenv("SLURM_JOB_ID"), *arr = getenv("SLURM_ARRAY_JOB_ID"),
               *task = getenv("SLURM_ARRAY_TASK_ID"), *restarts = getenv("SLURM_RESTART_COUNT");
    FrText t = {0};
    fr_text_printf(&t, "unit: %d\nstate: %s\npoints_done: %d\npoints_total: %d\nhost: \"%s\"\n"
                       "pid: %ld\ntime: %ld\n",
                   unit, state, points_done, points_total, host, (long)getpid(), (long)time(NULL));
    if (job)
        fr_text_printf(&t, "slurm_job: \"%s\"\n", job);
    if (arr && task)
        fr_text_printf(&t, "slurm_array: \"%s_%s\"\n", arr, task);
    if (restarts)
        fr_text_printf(&t, "slurm_restarts: %s\n", restarts);
    snprintf(path, sizeof path, "%s/units/state/u%06d.yaml", dir, unit);
    rc = fr_text_write_atomic(&t, path, err);
    fr_text_free(&t);
    return rc;
}

int fr_unit_lock(const char *dir, int unit, int *fd, FrError *err)
{
    char path[4600];
    int rc = units_mkdir(dir, "lock", path, sizeof path, err);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/units/lock/u%06d.lock", dir, unit);
    char who[300];
    int busy = fr_flock_try(path, fd, who, sizeof who, err);
    if (busy < 0)
        return busy;
    if (busy)
        return fr_error(err, FR_E_USAGE,
                        "unit %d of %s is being computed by another featrd (%s); wait for it "
                        "(featrd status %s)",
                        unit, dir, who[0] ? who : "?", dir);
    char host[256] = "", me[320];
    gethostname(host, sizeof host - 1);
    int n = snprintf(me, sizeof me, "pid %ld on %s\n", (long)getpid(), host);
    if (ftruncate(*fd, 0) == 0 && pwrite(*fd, me, (size_t)n, 0) < 0) {
        /* the holder's name is a courtesy; the flock is the lock */
    }
    return 0;
}

int fr_unit_locked(const char *dir, int unit)
{
    char path[4600];
    snprintf(path, sizeof path, "%s/units/lock/u%06d.lock", dir, unit);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    if (!held)
        flock(fd, LOCK_UN);
    close(fd);
    return held;
}

/* ---------------- status (featrd/run.h) ---------------- */

const char *fr_unit_state_name(FrUnitState s)
{
    static const char *const n[] = {"missing", "running", "done", "failed", "interrupted"};
    return (unsigned)s < 5 ? n[s] : "?";
}

void fr_units_status_free(FrUnitsStatus *st)
{
    free(st->state);
    free(st->points_done);
    free(st->points_total);
    st->state = NULL;
    st->points_done = st->points_total = NULL;
}

int fr_units_status(const char *dir, FrUnitsStatus *st, FrError *err)
{
    memset(st, 0, sizeof *st);
    FrUnitPlan u;
    int rc = fr_unit_plan_read(dir, &u, st->cwd, sizeof st->cwd, err);
    if (rc)
        return rc;
    st->chunks = u.chunks;
    st->groups = u.groups;
    st->units = u.units;
    st->images = u.images;
    snprintf(st->config, sizeof st->config, "%s/units/config.yaml", dir);
    st->state = calloc((size_t)u.units, sizeof *st->state);
    st->points_done = calloc((size_t)u.units, sizeof *st->points_done);
    st->points_total = calloc((size_t)u.units, sizeof *st->points_total);
    if (!st->state || !st->points_done || !st->points_total) {
        fr_units_status_free(st);
        return fr_error(err, FR_E_NOMEM, "out of memory");
    }
    for (int k = 0; k < u.units; k++) {
        char path[4600], line[512], state[32] = "";
        int done = -1, total = -1;
        snprintf(path, sizeof path, "%s/units/state/u%06d.yaml", dir, k);
        FILE *f = fopen(path, "r");
        while (f && fgets(line, sizeof line, f)) {
            sscanf(line, "state: %31s", state);
            sscanf(line, "points_done: %d", &done);
            sscanf(line, "points_total: %d", &total);
        }
        if (f)
            fclose(f);
        FrUnitState s = FR_UNIT_MISSING;
        if (fr_unit_locked(dir, k))
            s = FR_UNIT_RUNNING;
        else if (!strcmp(state, "done"))
            s = FR_UNIT_DONE;
        else if (!strcmp(state, "failed"))
            s = FR_UNIT_FAILED;
        else if (state[0]) /* "running" with no live holder: killed or pre-empted */
            s = FR_UNIT_INTERRUPTED;
        st->state[k] = s;
        st->points_done[k] = done;
        st->points_total[k] = total;
        st->count[s]++;
    }
    return 0;
}
