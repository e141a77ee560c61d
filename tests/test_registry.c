/* test_registry.c: the codec registry and the settings schemas: stable ids,
 * consistent capabilities, every setting reaching its coder, curve names that
 * tell every setting apart, one validation, and each outside library's
 * header included by its adapter only. */
#include "testutil.h"

#include <dirent.h>
#include <limits.h>

#include "run/points_internal.h"
#include "run/units_internal.h"
#include "run/results_internal.h"
#include "alloc/alloc.h"
#include "codec/codec.h"
#include "codec/pack.h"
#include "config/config.h"
#include "kinds/experiments.h"
#include "metrics/metrics.h"
#include "model/backend.h"
#include "model/model.h"
#include "run/run.h"
#include "util/csv.h"
#include "util/schema.h"

/* A whole file as a NUL-terminated string (caller frees); the test fails
 * when it cannot be read. */
static char *read_text(const char *path)
{
    uint8_t *data;
    size_t n;
    assert_int_equal(fr_read_file(path, &data, &n, NULL), 0);
    char *s = malloc(n + 1);
    assert_non_null(s);
    memcpy(s, data, n);
    s[n] = 0;
    free(data);
    return s;
}

/* ids are written into .frd and RP files: they must never change */
static void test_codec_ids_stable(void **st)
{
    (void)st;
    static const struct { const char *name; int id; unsigned caps; } want[] = {
        {"hevc", 0, FR_CODEC_LOSSY | FR_CODEC_BLOCK_QP | FR_CODEC_FRAME_QP | FR_CODEC_ANNEXB |
                        FR_CODEC_X265_QP},
        {"hevc-lossless", 1, FR_CODEC_LOSSLESS | FR_CODEC_ANNEXB},
        {"zlib", 2, FR_CODEC_LOSSLESS | FR_CODEC_BYTES},
        {"gzip", 3, FR_CODEC_LOSSLESS | FR_CODEC_BYTES},
        {"bzip2", 4, FR_CODEC_LOSSLESS | FR_CODEC_BYTES},
        {"lzma", 5, FR_CODEC_LOSSLESS | FR_CODEC_BYTES},
        {"zstd", 6, FR_CODEC_LOSSLESS | FR_CODEC_BYTES},
        {"av1", 7, FR_CODEC_LOSSY | FR_CODEC_FRAME_QP},
        {"av1-lossless", 8, FR_CODEC_LOSSLESS},
        {"jxl", 9, FR_CODEC_LOSSY | FR_CODEC_FRAME_QP},
        {"jxl-lossless", 10, FR_CODEC_LOSSLESS},
        {"j2k", 11, FR_CODEC_LOSSY | FR_CODEC_FRAME_QP},
        {"j2k-lossless", 12, FR_CODEC_LOSSLESS},
        {"jpegls", 13, FR_CODEC_LOSSY | FR_CODEC_FRAME_QP},
        {"jpegls-lossless", 14, FR_CODEC_LOSSLESS},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const FrCodec *c = fr_codec_find(want[i].name);
        assert_non_null(c);
        assert_int_equal(c->id, want[i].id);
        assert_int_equal(c->caps, want[i].caps);
        assert_ptr_equal(fr_codec_by_id(want[i].id), c);
    }
    assert_ptr_equal(fr_codec_find("xz"), fr_codec_find("lzma"));
    assert_null(fr_codec_find("h266"));
    assert_null(fr_codec_by_id(15)); /* the next free id */
    /* every registered codec: unique id and names */
    int n = fr_codec_count();
    assert_true(n >= 7);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++) {
            const FrCodec *a = fr_codec_at(i), *b = fr_codec_at(j);
            assert_int_not_equal(a->id, b->id);
            assert_string_not_equal(a->name, b->name);
            if (a->alias)
                assert_null(fr_codec_find(a->alias) != a ? fr_codec_find(a->alias) : NULL);
        }
    FrError e;
    const FrCodec *c;
    assert_int_equal(fr_codec_lookup("hevx", &c, &e), FR_E_USAGE);
    tu_assert_contains(e.msg, "zstd");
}

/* What each capability promises is there, defaults validate, and each codec
 * codes a picture at its deepest and at 8 bits: lossless ones back exactly,
 * lossy ones to what their encoder reconstructed. */
static void test_codec_contracts(void **st)
{
    (void)st;
    for (int i = 0; i < fr_codec_count(); i++) {
        const FrCodec *c = fr_codec_at(i);
        assert_non_null(c->settings);
        assert_non_null(c->summary);
        assert_non_null(c->version);
        assert_true(strlen(c->version()) > 0);
        assert_true(!(c->caps & FR_CODEC_LOSSY) != !(c->caps & FR_CODEC_LOSSLESS));
        if (c->caps & FR_CODEC_LOSSY)
            assert_true(c->qp_lo >= 0 && c->qp_hi > c->qp_lo);
        if (c->caps & FR_CODEC_BLOCK_QP)
            assert_true(c->caps & FR_CODEC_LOSSY);
        if (c->caps & FR_CODEC_BYTES)
            assert_true(c->encode_bytes && c->decode_bytes);
        else
            assert_true(c->encode && c->decode);
        void *s = fr_codec_settings_new(c);
        assert_non_null(s);
        assert_int_equal(fr_schema_validate(c->settings, s, NULL), 0);
        int depths[] = {8, c->max_bits};
        for (int d = 0; d < 2; d++) {
            FrPicture pic, rec, dec;
            assert_int_equal(fr_picture_alloc(&pic, 40, 24, 2, depths[d]), 0);
            uint32_t x = 7;
            for (int k = 0; k < 40 * 24 * 2; k++) {
                x = x * 1103515245u + 12345u;
                pic.samples[k] = (uint16_t)(((k % 40) * 5 + (x >> 28)) & ((1u << depths[d]) - 1));
            }
            FrQpMap qp = {c->caps & FR_CODEC_LOSSY ? 30 : 0, NULL, NULL};
            uint8_t *code;
            size_t nc;
            FrError e;
            int rc = fr_picture_encode((FrCodecKind)c->id, &pic, &qp, s, &code, &nc, &rec, &e);
            if (rc)
                print_error("%s: %s\n", c->name, e.msg);
            assert_int_equal(rc, 0);
            assert_int_equal(fr_picture_decode((FrCodecKind)c->id, code, nc, 40, 24, 2, depths[d],
                                               &dec, &e),
                             0);
            assert_memory_equal(dec.samples, rec.samples, 40 * 24 * 2 * sizeof(uint16_t));
            if (c->caps & FR_CODEC_LOSSLESS)
                assert_memory_equal(dec.samples, pic.samples, 40 * 24 * 2 * sizeof(uint16_t));
            free(code);
            fr_picture_free(&pic);
            fr_picture_free(&rec);
            fr_picture_free(&dec);
        }
        free(s);
    }
}

/* Bytes with structure (runs, a ramp, noise) so levels make a difference. */
static uint8_t *sample_bytes(size_t n)
{
    uint8_t *p = malloc(n);
    uint32_t x = 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        p[i] = (i / 64) % 3 == 0 ? 0 : (uint8_t)((i % 251) ^ ((x >> 29) & 3));
    }
    return p;
}

static void set_level(const FrCodec *c, void *s, int level)
{
    char kv[32];
    snprintf(kv, sizeof kv, "level=%d", level);
    assert_int_equal(fr_schema_set_text(c->settings, s, kv, NULL), 0);
}

/* `level` reaches every general coder: -1 gives the library's documented
 * default byte for byte, the lowest level gives another stream, and every
 * stream decodes back. (The config once parsed, hashed and dumped the level
 * and never passed it on.) */
static void test_level_reaches_coder(void **st)
{
    (void)st;
    static const struct { const char *name; int def, lo; } cases[] = {
        {"zlib", 6, 1}, {"gzip", 6, 1}, {"bzip2", 9, 1}, {"lzma", 6, 0}, {"zstd", 3, 1},
    };
    size_t n = 200000;
    uint8_t *in = sample_bytes(n);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const FrCodec *c = fr_codec_find(cases[i].name);
        void *s = fr_codec_settings_new(c);
        uint8_t *o[3], *back;
        size_t on[3], bn;
        int levels[3] = {-1, cases[i].def, cases[i].lo};
        for (int k = 0; k < 3; k++) {
            set_level(c, s, levels[k]);
            assert_int_equal(fr_lossless_encode_with((FrCodecKind)c->id, s, in, n, &o[k], &on[k],
                                                     NULL),
                             0);
            assert_int_equal(fr_lossless_decode((FrCodecKind)c->id, o[k], on[k], &back, &bn, NULL), 0);
            assert_int_equal(bn, n);
            assert_memory_equal(back, in, n);
            free(back);
        }
        if (on[0] != on[1] || memcmp(o[0], o[1], on[0]))
            fail_msg("%s: level -1 differs from level %d", c->name, cases[i].def);
        if (on[0] == on[2] && !memcmp(o[0], o[2], on[0]))
            fail_msg("%s: level %d gives the default stream: the level did not reach the coder",
                     c->name, cases[i].lo);
        FrError e;
        assert_int_equal(fr_schema_set_text(c->settings, s, "level=99", &e), FR_E_USAGE);
        tu_assert_contains(e.msg, "level");
        for (int k = 0; k < 3; k++)
            free(o[k]);
        free(s);
    }
    free(in);
}

/* Every HEVC key changes what x265 does (rdoq level 2, deblocking, SAO,
 * psy, tskip, ctu), and the decoder still reproduces the encoder's
 * reconstruction exactly. */
static void test_hevc_settings_reach_x265(void **st)
{
    (void)st;
    FrPicture pic;
    assert_int_equal(fr_picture_alloc(&pic, 64, 64, 1, 8), 0);
    uint32_t x = 3;
    for (int k = 0; k < 64 * 64; k++) {
        x = x * 1103515245u + 12345u;
        pic.samples[k] = (uint16_t)((((k % 64) / 8 + (k / 512)) * 20 + (x >> 27)) & 255);
    }
    const char *sets[] = {"rdoq=1", "rdoq=2", "deblock=false", "sao=false", "psy=true",
                          "tskip=true", "ctu=32", "min_cu=16"};
    FrHevcSettings def;
    fr_hevc_defaults(&def);
    FrQpMap qp = {37, NULL, NULL};
    uint8_t *base;
    size_t bn;
    assert_int_equal(fr_picture_encode(FR_CODEC_HEVC, &pic, &qp, &def, &base, &bn, NULL, NULL), 0);
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        FrHevcSettings h = def;
        assert_int_equal(fr_schema_set_text(&fr_hevc_schema, &h, sets[i], NULL), 0);
        uint8_t *code;
        size_t n;
        FrPicture rec, dec;
        assert_int_equal(fr_picture_encode(FR_CODEC_HEVC, &pic, &qp, &h, &code, &n, &rec, NULL), 0);
        if (n == bn && !memcmp(code, base, n))
            fail_msg("hevc %s gives the default stream", sets[i]);
        assert_int_equal(fr_picture_decode(FR_CODEC_HEVC, code, n, 64, 64, 1, 8, &dec, NULL), 0);
        assert_memory_equal(dec.samples, rec.samples, 64 * 64 * sizeof(uint16_t));
        free(code);
        fr_picture_free(&rec);
        fr_picture_free(&dec);
    }
    free(base);
    fr_picture_free(&pic);
    FrError e;
    FrHevcSettings h = def;
    assert_int_equal(fr_schema_set_text(&fr_hevc_schema, &h, "rdoq=3", &e), FR_E_USAGE);
    tu_assert_contains(e.msg, "hevc.rdoq is 3: use 0..2");
    assert_int_equal(fr_schema_set_text(&fr_hevc_schema, &h, "ctu=24", &e), FR_E_USAGE);
    tu_assert_contains(e.msg, "16, 32 or 64");
    assert_int_equal(fr_schema_set_text(&fr_hevc_schema, &h, "cabac=1", &e), FR_E_USAGE);
    tu_assert_contains(e.msg, "hevc has no setting 'cabac': use ctu, min_cu, rdoq");
}

static void test_codec_labels(void **st)
{
    (void)st;
    char buf[200];
    FrHevcSettings h;
    fr_hevc_defaults(&h);
    fr_codec_label(fr_codec_find("hevc"), &h, buf, sizeof buf);
    assert_string_equal(buf, "hevc");
    h.ctu = 32;
    h.rdoq = 2;
    h.sao = 0;
    snprintf(h.preset, sizeof h.preset, "slow");
    fr_codec_label(fr_codec_find("hevc"), &h, buf, sizeof buf);
    assert_string_equal(buf, "hevc+ctu=32+rdoq=2+sao=false+preset=slow");
    const FrCodec *z = fr_codec_find("zstd");
    void *s = fr_codec_settings_new(z);
    fr_codec_label(z, s, buf, sizeof buf);
    assert_string_equal(buf, "zstd");
    set_level(z, s, 19);
    fr_codec_label(z, s, buf, sizeof buf);
    assert_string_equal(buf, "zstd+level=19");
    free(s);
}

static FrExperiment *load(const char *sweep_tail, int want_rc, FrError *err)
{
    char y[2048];
    snprintf(y, sizeof y, "model: {cfg: a.cfg}\ndataset: {images: i.txt}\nsweep:\n  split: [max_1]\n%s",
             sweep_tail);
    FrExperiment *e = NULL;
    int rc = fr_config_load_string(y, "t.yaml", NULL, 0, &e, err);
    if (rc != want_rc)
        fail_msg("load gave %d (want %d): %s", rc, want_rc, err->msg);
    return e;
}

static int count_curve(const FrPlan *p, const char *curve)
{
    int n = 0;
    for (int i = 0; i < p->n; i++)
        n += p->points[i].curve && !strcmp(p->points[i].curve, curve);
    return n;
}

/* Different settings are different curves and ids; equal settings spelled
 * twice are refused (they merged silently into one curve before). */
static void test_curve_names_distinct(void **st)
{
    (void)st;
    FrError err;
    FrExperiment *e = load("  qp: [30, 40]\n  codec:\n    - {name: hevc, ctu: 16}\n"
                           "    - {name: hevc, ctu: 64, rdoq: 2}\n    - {name: hevc, deblock: false}\n"
                           "    - {name: zstd, level: 1}\n    - {name: zstd, level: 19}\n    - zstd\n",
                           0, &err);
    FrPlan p;
    assert_int_equal(fr_plan_build(e, &p, &err), 0);
    const char *pre = "split=max_1,bits=8,range=tensor,packing=tile,codec=";
    const char *want[][2] = {{"hevc", "2"}, {"hevc+ctu=64+rdoq=2", "2"}, {"hevc+deblock=false", "2"},
                             {"zstd+level=1", "1"}, {"zstd+level=19", "1"}, {"zstd", "1"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char c[300];
        snprintf(c, sizeof c, "%s%s,alloc=uniform", pre, want[i][0]);
        if (count_curve(&p, c) != atoi(want[i][1]))
            fail_msg("curve %s: %d points, want %s", c, count_curve(&p, c), want[i][1]);
    }
    for (int i = 0; i < p.n; i++)
        for (int j = 0; j < i; j++)
            assert_string_not_equal(p.points[i].id, p.points[j].id);
    fr_plan_free(&p);
    /* the settings reach the dump, and the dump reloads to the same settings */
    char *d = fr_experiment_dump_string(e);
    tu_assert_contains(d, "{name: \"zstd\", level: 19}");
    tu_assert_contains(d, "ctu: 64, min_cu: 8, rdoq: 2, psy: false, sao: true, deblock: true");
    FrExperiment *f = NULL;
    assert_int_equal(fr_config_load_string(d, "d.yaml", NULL, 0, &f, &err), 0);
    assert_true(fr_experiment_hash(e) == fr_experiment_hash(f));
    free(d);
    fr_experiment_free(&f);
    fr_experiment_free(&e);

    e = load("  codec:\n    - hevc\n    - {name: hevc, ctu: 16}\n", 0, &err);
    assert_int_equal(fr_plan_build(e, &p, &err), FR_E_CONFIG);
    tu_assert_contains(err.msg, "sweep.codec[1]");
    tu_assert_contains(err.msg, "twice (sweep.codec[0] and this entry");
    fr_experiment_free(&e);
}

/* Validation in one place: what the config accepts the run accepts. */
static void test_one_validation(void **st)
{
    (void)st;
    FrError err;
    FrExperiment *e;
    /* the schema says which field a failure blames, range or cross-field rule */
    FrHevcSettings hs;
    fr_hevc_defaults(&hs);
    const char *blamed = "x";
    assert_int_equal(fr_schema_validate_key(&fr_hevc_schema, &hs, &blamed, NULL), 0);
    assert_null(blamed);
    hs.rdoq = 3;
    assert_int_equal(fr_schema_validate_key(&fr_hevc_schema, &hs, &blamed, &err), FR_E_USAGE);
    assert_string_equal(blamed, "rdoq");
    hs.rdoq = 0;
    hs.min_cu = 32;
    assert_int_equal(fr_schema_validate_key(&fr_hevc_schema, &hs, &blamed, &err), FR_E_USAGE);
    assert_string_equal(blamed, "min_cu");
    tu_assert_contains(err.msg, "hevc.min_cu is 32: use at most hevc.ctu (16)");
    /* every documented hevc key is a key */
    e = load("  codec: [{name: hevc, psy: true, deblock: false, intra: false, tskip: true, wpp: true,"
             " rdoq: 2, preset: fast}]\n", 0, &err);
    const FrCodecSpec *cs = &e->sweep.codec[0];
    const FrHevcSettings *h = cs->settings;
    assert_int_equal(h->psy, 1);
    assert_int_equal(h->deblock, 0);
    assert_int_equal(h->intra, 0);
    assert_int_equal(h->tskip, 1);
    assert_int_equal(h->wpp, 1);
    assert_int_equal(h->rdoq, 2);
    assert_string_equal(h->preset, "fast");
    fr_experiment_free(&e);
    /* anchors inherit every field of the first lossy hevc entry */
    e = load("  codec: [hevc-lossless, {name: hevc, deblock: false, rdoq: 2}]\n"
             "anchors: [{name: a}, {name: b, rdoq: 0}]\n", 0, &err);
    assert_int_equal(e->anchors[0].hevc.deblock, 0);
    assert_int_equal(e->anchors[0].hevc.rdoq, 2);
    assert_int_equal(e->anchors[1].hevc.deblock, 0);
    assert_int_equal(e->anchors[1].hevc.rdoq, 0);
    fr_experiment_free(&e);
    static const struct { const char *tail, *msg; } bad[] = {
        {"  codec: [{name: zstd, level: 20}]\n", "sweep.codec[0].level: expected 1..19 or -1"},
        {"  codec: [{name: zstd, ctu: 32}]\n", "sweep.codec[0].ctu: unknown key; known keys here: name, split, level"},
        {"  codec: [{name: hevc, rdoq: 3}]\n", "sweep.codec[0].rdoq: expected 0..2"},
        {"  codec: [{name: hevc-lossless, qp: [22]}]\n", "hevc-lossless is lossless and has no QP"},
        {"  codec: [{name: hevc, ctu: 16, min_cu: 32}]\n", "sweep.codec[0].min_cu: hevc.min_cu is 32"},
        {"kind: lossless\nlossless: {coders: [hevc-lossless]}\n", "lossless.coders"},
        {"jobs: 65\n", "jobs: expected an integer from 1 to 64"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char y[1024];
        snprintf(y, sizeof y, "model: {cfg: a.cfg}\ndataset: {images: i.txt}\n%s%s",
                 strncmp(bad[i].tail, "  ", 2) ? "" : "sweep:\n  split: [max_1]\n", bad[i].tail);
        e = NULL;
        int rc = fr_config_load_string(y, "t.yaml", NULL, 0, &e, &err);
        if (rc != FR_E_CONFIG)
            fail_msg("case %zu: rc %d, want a config error", i, rc);
        tu_assert_contains(err.msg, bad[i].msg);
    }
}

/* docs/config.md lists every key of every codec's settings, with its
 * default (the table is checked against the schemas). */
static void test_docs_list_codec_keys(void **st)
{
    (void)st;
    char *d = read_text("docs/config.md");
    for (int i = 0; i < fr_codec_count(); i++) {
        const FrCodec *c = fr_codec_at(i);
        const FrSchema *s = c->settings;
        for (int k = 0; k < s->n_fields; k++) {
            const FrField *f = &s->fields[k];
            char row[200], dv[64];
            if (f->type == FR_FIELD_CHOICE)
                snprintf(dv, sizeof dv, "%s", f->def_str);
            else if (f->type == FR_FIELD_BOOL)
                snprintf(dv, sizeof dv, "%s", f->def ? "true" : "false");
            else
                snprintf(dv, sizeof dv, "%d", f->def);
            snprintf(row, sizeof row, "| `%s` | `%s` | `%s` |", c->name, f->key, dv);
            if (!strstr(d, row))
                fail_msg("docs/config.md has no row starting \"%s\"", row);
        }
    }
    free(d);
}

/* Each outside library's header is included by its adapter only. */
static const struct { const char *header; const char *files; } ADAPTERS[] = {
    {"<x265.h>", "codec_x265.c"},
    {"<libde265/", "codec_de265.c"},
    {"<zlib.h>", "codec_zlib.c"},
    {"<bzlib.h>", "codec_bzip2.c"},
    {"<lzma.h>", "codec_lzma.c"},
    {"<zstd.h>", "codec_zstd.c"},
    {"<aom/", "codec_av1.c"},
    {"<dav1d/", "test_codec_av1.c"},
    {"<jxl/", "codec_jxl.c"},
    {"<openjpeg.h>", "codec_j2k.c"},
    {"<charls/", "codec_jpegls.c"},
    {"<yaml.h>", "yaml_tree.c"},
    {"<gsl/", "bd.c"},
    {"<darknet.h>", "model_dn.h train.c kernels.h"},
    {"<cblas.h>", "model_blas.c"},
};

static int scan(const char *dir, char *bad, size_t cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *de;
    int files = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat sb;
        if (stat(p, &sb))
            continue;
        if (S_ISDIR(sb.st_mode)) {
            files += scan(p, bad, cap);
            continue;
        }
        size_t l = strlen(de->d_name);
        if (l < 3 || (strcmp(de->d_name + l - 2, ".c") && strcmp(de->d_name + l - 2, ".h")))
            continue;
        files++;
        FILE *f = fopen(p, "r");
        char line[512];
        while (f && fgets(line, sizeof line, f)) {
            if (strncmp(line, "#include", 8))
                continue;
            for (size_t k = 0; k < sizeof ADAPTERS / sizeof ADAPTERS[0]; k++) {
                if (!strstr(line, ADAPTERS[k].header))
                    continue;
                const char *hit = strstr(ADAPTERS[k].files, de->d_name);
                int ok = hit && (hit == ADAPTERS[k].files || hit[-1] == ' ') &&
                         (hit[l] == 0 || hit[l] == ' ');
                if (!ok && strlen(bad) + strlen(p) + 64 < cap)
                    snprintf(bad + strlen(bad), cap - strlen(bad), "%s includes %s; ", p,
                             ADAPTERS[k].header);
            }
        }
        if (f)
            fclose(f);
    }
    closedir(d);
    return files;
}

static void test_adapters_only(void **st)
{
    (void)st;
    char bad[4096] = "";
    int n = 0;
    const char *dirs[] = {"src", "include", "tests", "bench", "fuzz"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        n += scan(dirs[i], bad, sizeof bad);
    assert_true(n > 40); /* it did look at the tree */
    if (bad[0])
        fail_msg("outside headers outside their adapters: %s", bad);
}

/* Demo data and training are not in the core library (issue #15): no core
 * source file includes their headers, and libfeatrd.a (beside this test's
 * build directory) neither defines nor needs any of their functions, so a
 * program that links the core alone gets the whole pipeline. */
static void test_core_without_training(void **st)
{
    (void)st;
    char *out = NULL;
    int rc = tu_sh(&out, "grep -rlE '#include \"(demo|train)/|#include \"featrd/(demo|invert)\\.h\"' src "
                         "--include='*.[ch]' | grep -vE '^src/(cli|demo|train)/'");
    if (rc == 0)
        fail_msg("core files include demo/training headers:\n%s", out);
    free(out);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    assert_non_null(slash);
    *slash = 0; /* BUILD/tests */
    char lib[PATH_MAX + 32], tlib[PATH_MAX + 32];
    snprintf(lib, sizeof lib, "%s/../libfeatrd.a", exe);
    snprintf(tlib, sizeof tlib, "%s/../libfeatrd-train.a", exe);
    assert_int_equal(access(lib, R_OK), 0);
    assert_int_equal(access(tlib, R_OK), 0);
    const char *pat = "fr_(train|fmnist|demo|invert_train|invert_default)_?";
    rc = tu_sh(&out, "nm -g '%s' | grep -E ' [TUD] %s'", lib, pat);
    if (rc == 0)
        fail_msg("libfeatrd.a defines or needs training/demo symbols:\n%s", out);
    free(out);
    /* and the training library does hold them (the check above looks at the right names) */
    assert_int_equal(tu_sh(&out, "nm -g '%s' | grep -cE ' T %s'", tlib, pat), 0);
    assert_true(atoi(out) >= 8);
    free(out);
}

/* The metrics registry: ids in order, names round-trip through the config's
 * spelling, each column is documented in docs/run.md's points.csv table. */
static void test_metric_registry(void **st)
{
    (void)st;
    char *d = read_text("docs/run.md");
    /* the built-in constants name their registry places */
    static const struct { int id; const char *name; } builtin[] = {
        {FR_METRIC_MAP07, "map07"}, {FR_METRIC_MAP, "map"}, {FR_METRIC_TOP1, "top1"},
        {FR_METRIC_TOP5, "top5"}, {FR_METRIC_FIDELITY, "fidelity"},
        {FR_METRIC_PIXEL_AGREEMENT, "pixel_agreement"},
        {FR_METRIC_FEATURE_PSNR_NBIT, "feature_psnr_nbit"}, {FR_METRIC_FEATURE_MSE, "feature_mse"},
        {FR_METRIC_FEATURE_PSNR, "feature_psnr"}, {FR_METRIC_FEATURE_SQNR, "feature_sqnr"},
        {FR_METRIC_RECON_PSNR, "recon_psnr"}, {FR_METRIC_RECON_SSIM, "recon_ssim"}};
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        assert_string_equal(fr_metric_info(builtin[i].id)->name, builtin[i].name);
    assert_true(fr_metric_count() >= 12 && fr_metric_count() <= FR_METRIC_MAX);
    assert_null(fr_metric_info(fr_metric_count()));
    assert_null(fr_metric_info(-1));
    for (int i = 0; i < fr_metric_count(); i++) {
        const FrMetricInfo *m = fr_metric_info((FrMetric)i);
        assert_non_null(m);
        assert_ptr_equal(fr_metric_find(m->name), m);
        assert_int_equal(fr_metric_from_name(m->name), i);
        assert_string_equal(fr_metric_name(i), m->name);
        /* exactly one way to a value */
        const FrMetricDef *md = fr_metric_def(i);
        int ways = !!md->feature + !!md->picture + !!md->output + !!md->set_open;
        if (ways != 1)
            fail_msg("metric %s has %d ways to its value", m->name, ways);
        assert_true(!md->set_open || (md->set_eval && md->set_close));
        /* its column is in the registry's columns and written under its name */
        int c = fr_metric_column_of(i);
        assert_string_equal(fr_metric_column_name(c), m->column);
        assert_int_equal(fr_metric_column_find(m->column), c);
        if (m->task != FR_TASK_AUTO)
            assert_int_equal(fr_metric_for_column(c, m->task), i);
        char row[64];
        snprintf(row, sizeof row, "| `%s` |", m->column);
        if (!strstr(d, row))
            fail_msg("docs/run.md documents no column %s (metric %s)", m->column, m->name);
    }
    free(d);
    assert_null(fr_metric_find("map50"));
    /* a metric's task is checked against model.task at load */
    FrError err;
    FrExperiment *e = NULL;
    assert_int_equal(fr_config_load_string("model: {cfg: a.cfg, task: detection}\n"
                                           "dataset: {images: i.txt}\nsweep: {split: [x]}\n"
                                           "metrics: [top5]\n", "t.yaml", NULL, 0, &e, &err),
                     FR_E_CONFIG);
    tu_assert_contains(err.msg, "top5 needs task classification, but model.task is detection");
    /* and its own rule (unusable): image metrics need a decoder */
    assert_int_equal(fr_config_load_string("model: {cfg: a.cfg}\n"
                                           "dataset: {images: i.txt}\nsweep: {split: [x]}\n"
                                           "metrics: [map07, recon_ssim]\n", "t.yaml", NULL, 0,
                                           &e, &err),
                     FR_E_CONFIG);
    tu_assert_contains(err.msg, "metrics[1]");
    tu_assert_contains(err.msg, "recon_ssim needs an invert: section");
}

/* points.csv: the header and each row come from one column registry, so
 * every value lands under its own name (a row was once positional against a
 * list of names in another file). */
#define MC(name) fr_metric_column_find(name)
static void test_points_columns(void **st)
{
    (void)st;
    FrPoint pt;
    memset(&pt, 0, sizeof pt);
    pt.ordinal = 7;
    snprintf(pt.id, sizeof pt.id, "p0007-deadbeef");
    pt.kind = FR_POINT_FEATURE;
    pt.curve = "split=max_5,bits=10,range=tensor,packing=tile,codec=hevc,alloc=uniform";
    pt.desc = "split=max_5,bits=10,range=tensor,packing=tile,codec=hevc,alloc=uniform,qp=37";
    pt.split = "max_5";
    pt.bits = 10;
    pt.packing = FR_PACK_QUILT;
    pt.codec = "hevc";
    pt.allocation = FR_ALLOC_UNIFORM;
    pt.qp = 37;
    pt.quality = -1;
    FrPointAgg a;
    double *v = (double *)&a;
    for (size_t k = 0; k < sizeof a / sizeof(double); k++)
        v[k] = 1000.0 + (double)k; /* every field its own value */
    FrPointCtx c = {"max_5", "max_5", "tensor", 300};
    char *row = fr_point_row(&c, &pt, &a);
    assert_non_null(row);
    int nc;
    const FrColumnDoc *cols = fr_points_columns(&nc);
    char text[8192] = "";
    size_t k = 0;
    for (int i = 0; i < nc; i++)
        k += (size_t)snprintf(text + k, sizeof text - k, "%s%c", cols[i].name, i + 1 < nc ? ',' : '\n');
    snprintf(text + k, sizeof text - k, "%s\n", row);
    free(row);
    FrCsv *csv = NULL;
    assert_int_equal(fr_csv_parse(text, strlen(text), "row", &csv, NULL), 0);
    assert_int_equal(fr_csv_ncols(csv), nc);
    static const struct { const char *col; double want; } num[] = {
        {"ordinal", 7}, {"bits", 10}, {"qp", 37}, {"quality", -1}, {"images", 300},
    };
    for (size_t i = 0; i < sizeof num / sizeof num[0]; i++) {
        double x;
        assert_int_equal(fr_csv_get_double(csv, 0, fr_csv_col(csv, num[i].col), &x, NULL), 0);
        tu_assert_near(x, num[i].want, 0);
    }
    const struct { const char *col; double want; } agg[] = {
        {"elements", a.elements}, {"bits_mean", a.bits_mean}, {"bits_std", a.bits_std},
        {"kbpi", a.bits_mean / 1000}, {"payload_bits", a.payload}, {"side_bits", a.side},
        {"bits_per_element", a.bits_mean / a.elements}, {"map07", a.mval[MC("map07")]},
        {"map", a.mval[MC("map")]}, {"top1", a.mval[MC("top1")]}, {"top5", a.mval[MC("top5")]},
        {"fidelity", a.mval[MC("fidelity")]}, {"mse", a.mval[MC("mse")]},
        {"psnr", a.mval[MC("psnr")]}, {"mse_nbit", a.mraw[MC("psnr_nbit")]},
        {"psnr_nbit", a.mval[MC("psnr_nbit")]},
        {"front_s", a.front}, {"encode_s", a.enc}, {"decode_s", a.dec}, {"back_s", a.back},
        {"sens_s", a.sens}, {"kbpi_paper", a.paper / 1000}, {"kbpi_lo", a.kbpi_lo},
        {"kbpi_hi", a.kbpi_hi}, {"map07_lo", a.mlo[MC("map07")]}, {"map_hi", a.mhi[MC("map")]},
        {"top5_lo", a.mlo[MC("top5")]}, {"fidelity_hi", a.mhi[MC("fidelity")]},
        {"psnr_nbit_lo", a.mlo[MC("psnr_nbit")]}, {"psnr_nbit_hi", a.mhi[MC("psnr_nbit")]},
        {"sqnr", a.mval[MC("sqnr")]}, {"mse_lo", a.mlo[MC("mse")]}, {"psnr_hi", a.mhi[MC("psnr")]},
        {"sqnr_lo", a.mlo[MC("sqnr")]}, {"recon_psnr", a.mval[MC("recon_psnr")]},
        {"recon_ssim_hi", a.mhi[MC("recon_ssim")]},
    };
    for (size_t i = 0; i < sizeof agg / sizeof agg[0]; i++) {
        double x;
        int ci = fr_csv_col(csv, agg[i].col);
        assert_true(ci >= 0);
        assert_int_equal(fr_csv_get_double(csv, 0, ci, &x, NULL), 0);
        if (fabs(x - agg[i].want) > 1e-9 * fabs(agg[i].want))
            fail_msg("column %s holds %.17g, want %.17g", agg[i].col, x, agg[i].want);
    }
    assert_string_equal(fr_csv_get(csv, 0, fr_csv_col(csv, "packing")), "quilt");
    assert_string_equal(fr_csv_get(csv, 0, fr_csv_col(csv, "kind")), "feature");
    assert_string_equal(fr_csv_get(csv, 0, fr_csv_col(csv, "range")), "tensor");
    for (int i = 0; i < nc; i++)
        assert_non_null(cols[i].unit);
    tu_assert_near(strcmp(cols[fr_csv_col(csv, "encode_s")].unit, "s"), 0, 0);
    fr_csv_destroy(&csv);
}

/* A work unit's file (featrd submit) carries every registry metric's
 * per-image value bit for bit, and a file written by a featrd with other
 * metrics is refused instead of being read into the wrong slots. */
static void test_unit_metric_values(void **st)
{
    (void)st;
    char dir[4096], path[4700];
    snprintf(dir, sizeof dir, "%s/unit-metrics", tu_tmpdir());
    mkdir(dir, 0777);
    FrUnitPlan u = {1, 1, 2, 1, 2, 3, 0x1234abcdULL};
    FrPoint pt;
    memset(&pt, 0, sizeof pt);
    pt.kind = FR_POINT_ANCHOR;
    pt.ordinal = 5;
    snprintf(pt.id, sizeof pt.id, "p0005-cafebabe");
    FrImgRes res[3], back[3];
    memset(res, 0, sizeof res);
    memset(back, 0, sizeof back);
    for (int i = 0; i < 3; i++)
        for (int m = 0; m < FR_METRIC_MAX; m++)
            res[i].mv[m] = m == 1 ? NAN : m == 2 ? INFINITY : (double)m / 3.0 + i * 1e-13;
    int w[3] = {1, 2, 3}, h[3] = {4, 5, 6}, w2[3], h2[3];
    FrError err;
    assert_int_equal(fr_unit_res_write(dir, &u, &pt, 0, res, w, h, &err), 0);
    assert_int_equal(fr_unit_res_read(dir, &u, &pt, 0, back, w2, h2, &err), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(w2[i], w[i]);
        for (int m = 0; m < fr_metric_count(); m++)
            if (memcmp(&back[i].mv[m], &res[i].mv[m], sizeof(double)))
                fail_msg("image %d metric %s: %.17g read back as %.17g", i,
                         fr_metric_info(m)->name, res[i].mv[m], back[i].mv[m]);
        free(back[i].dets);
        free(back[i].out.data);
    }
    /* the same file claiming one metric fewer, with a valid CRC */
    fr_unit_res_path(path, sizeof path, dir, pt.id, 0, 1);
    size_t len;
    uint8_t *b = NULL;
    assert_int_equal(fr_read_file(path, &b, &len, &err), 0);
    size_t at = 8 + 8 + 4 + 4 + 4 + 8 + 8; /* magic, hash, point, chunk, chunks, lo, hi */
    b[at] = (uint8_t)(b[at] - 1);
    uint32_t crc = fr_crc32(b, len - 4);
    for (int k = 0; k < 4; k++)
        b[len - 4 + k] = (uint8_t)(crc >> (8 * k));
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
    free(b);
    memset(back, 0, sizeof back);
    assert_int_equal(fr_unit_res_read(dir, &u, &pt, 0, back, w2, h2, &err), FR_E_MISMATCH);
    tu_assert_contains(err.msg, "written by a featrd with other metrics");
}

/* The kinds registry: names, the sections each owns, the image list rule
 * and the run function come from one row per kind. */
static void test_kind_registry(void **st)
{
    (void)st;
    static const char *const names[] = {"rd", "lossless", "model", "features"};
    assert_int_equal(fr_kind_count(), 4);
    for (int i = 0; i < 4; i++) {
        const FrKindInfo *k = fr_kind_info((FrExperimentKind)i);
        assert_non_null(k);
        assert_int_equal((int)k->id, i);
        assert_string_equal(k->name, names[i]);
        assert_ptr_equal(fr_kind_find(names[i]), k);
        assert_string_equal(fr_kind_name(k->id), names[i]);
        assert_non_null(k->run);
        /* a section belongs to its first kind; a later kind may share it */
        for (const char *const *sec = k->sections; *sec; sec++) {
            assert_true(fr_kind_reads_section(k, *sec));
            const FrKindInfo *first = fr_kind_of_section(*sec);
            assert_true(first == k || (first->id < k->id && fr_kind_reads_section(first, *sec)));
        }
    }
    /* features shares the rd kind's coding sections, not its anchors */
    const FrKindInfo *fk = fr_kind_info(FR_KIND_FEATURES);
    assert_true(fr_kind_reads_section(fk, "sweep") && fr_kind_reads_section(fk, "bd"));
    assert_false(fr_kind_reads_section(fk, "anchors"));
    assert_false(fr_kind_reads_section(fr_kind_info(FR_KIND_RD), "features"));
    assert_true(fr_kind_reads_section(fk, "dataset")); /* nobody owns it */
    assert_int_equal(fk->needs_model, 0);
    assert_int_equal(fr_kind_info(FR_KIND_RD)->needs_model, 1);
    assert_ptr_equal(fk->run, fr_run_features);
    assert_ptr_equal(fr_kind_of_section("sweep"), fr_kind_info(FR_KIND_RD));
    assert_ptr_equal(fr_kind_of_section("bootstrap"), fr_kind_info(FR_KIND_RD));
    assert_ptr_equal(fr_kind_of_section("model_compression"), fr_kind_info(FR_KIND_MODEL));
    assert_null(fr_kind_of_section("dataset"));
    assert_ptr_equal(fr_kind_info(FR_KIND_RD)->run, fr_run_rd);
    assert_ptr_equal(fr_kind_info(FR_KIND_LOSSLESS)->run, fr_run_lossless);
    assert_ptr_equal(fr_kind_info(FR_KIND_MODEL)->run, fr_run_modelcomp);
    FrError err;
    FrExperiment *e = NULL;
    assert_int_equal(fr_config_load_string("kind: lossless\nmodel: {cfg: a.cfg}\n"
                                           "dataset: {images: i.txt}\nbootstrap: {replicates: 9}\n",
                                           "t.yaml", NULL, 0, &e, &err),
                     FR_E_CONFIG);
    tu_assert_contains(err.msg, "t.yaml:4:1: bootstrap: only used with kind: rd or features (this "
                                "experiment is kind: lossless)");
    /* kind model needs no image list, the others do */
    assert_int_equal(fr_config_load_string("kind: model\nmodel: {cfg: a.cfg}\n", "t.yaml", NULL, 0,
                                           &e, &err),
                     0);
    fr_experiment_free(&e);
    assert_int_equal(fr_config_load_string("kind: lossless\nmodel: {cfg: a.cfg}\n", "t.yaml", NULL,
                                           0, &e, &err),
                     FR_E_CONFIG);
    tu_assert_contains(err.msg, "dataset.images: required for kind lossless");

    /* a kind's own section (FrKindInfo.section): found as its own, parsed,
     * checked and dumped by the config through the kind's schema, its rules
     * and files through the kind's functions */
    int with_section = 0;
    for (int i = 0; i < fr_kind_count(); i++) {
        const FrKindInfo *k = fr_kind_info((FrExperimentKind)i);
        if (!k->section)
            continue;
        with_section++;
        assert_int_equal(k->section->type, FR_FIELD_SECTION);
        assert_non_null(k->section->sub);
        assert_ptr_equal(fr_kind_of_section(k->section->key), k);
        assert_true(fr_kind_reads_section(k, k->section->key));
    }
    assert_true(with_section >= 1);
    const FrKindInfo *mk = fr_kind_info(FR_KIND_MODEL);
    assert_ptr_equal(mk->section, &fr_modelcomp_section);
    assert_ptr_equal(mk->validate, fr_modelcomp_validate);
    assert_ptr_equal(mk->check_files, fr_modelcomp_check_files);
    assert_int_equal(fr_config_load_string("kind: rd\nmodel: {cfg: a.cfg}\nmodel_compression: "
                                           "{coder: zstd}\n",
                                           "t.yaml", NULL, 0, &e, &err),
                     FR_E_CONFIG);
    tu_assert_contains(err.msg, "t.yaml:3:1: model_compression: only used with kind: model");
    assert_int_equal(fr_config_load_string("kind: model\nmodel: {cfg: a.cfg}\nmodel_compression: "
                                           "{coder: zstd, bogus: 1}\n",
                                           "t.yaml", NULL, 0, &e, &err),
                     FR_E_CONFIG);
    tu_assert_contains(err.msg, "model_compression.bogus: unknown key; known keys here: "
                                "precision, coder, rounding, dom");
    assert_int_equal(fr_config_load_string("kind: model\nmodel: {cfg: a.cfg}\nmodel_compression:\n"
                                           "  dom: {base: a.weights}\n",
                                           "t.yaml", NULL, 0, &e, &err),
                     FR_E_CONFIG);
    tu_assert_contains(err.msg, "model_compression.dom: needs both base and target weights");
    assert_int_equal(fr_config_load_string("kind: model\nmodel: {cfg: a.cfg}\nmodel_compression: "
                                           "{coder: zstd, precision: [3]}\n",
                                           "t.yaml", NULL, 0, &e, &err),
                     0);
    const FrModelCompressionSpec *mc = fr_experiment_kind_settings(e);
    assert_int_equal(mc->coder, FR_MODEL_CODER_ZSTD);
    assert_int_equal(mc->n_precision, 1);
    assert_int_equal(mc->rounding, FR_MODEL_ROUND_TRUNCATE);
    char *dump = fr_experiment_dump_string(e);
    const char *sec = strstr(dump, "\nmodel_compression:\n  precision: [3]\n  coder: zstd\n"
                                   "  dom: {base: ~, target: ~}\n  rounding: truncate\noutput:\n");
    if (!sec)
        fail_msg("the dump has no model_compression section before output:\n%s", dump);
    free(dump);
    uint64_t h = fr_experiment_hash(e);
    fr_experiment_free(&e);
    assert_int_equal(fr_config_load_string("kind: model\nmodel: {cfg: a.cfg}\nmodel_compression: "
                                           "{coder: zstd, precision: [4]}\n",
                                           "t.yaml", NULL, 0, &e, &err),
                     0);
    assert_true(fr_experiment_hash(e) != h); /* the section is hashed */
    fr_experiment_free(&e);
}

/* The allocators registry: names and what each needs, read by the plan. */
static void test_alloc_registry(void **st)
{
    (void)st;
    assert_int_equal(fr_alloc_count(), 4);
    for (int i = 0; i < fr_alloc_count(); i++) {
        const FrAllocator *a = fr_allocator(i);
        assert_non_null(a);
        assert_ptr_equal(fr_alloc_info(i), &a->info);
        assert_string_equal(fr_allocation_name(i), a->info.name);
        assert_int_equal(fr_alloc_find(a->info.name), i);
        /* a per-channel allocator computes maps in both scopes; uniform none */
        assert_int_equal(a->image_qps != NULL, a->info.per_channel);
        assert_int_equal(a->dataset_qps != NULL, a->info.per_channel);
        assert_true(!a->info.rd_curves || a->info.per_channel);
    }
    assert_null(fr_allocator(fr_alloc_count()));
    assert_null(fr_allocator(-1));
    assert_int_equal(fr_alloc_find("nope"), -1);
    assert_string_equal(fr_allocation_name(FR_ALLOC_UNIFORM), "uniform");
    assert_int_equal(fr_alloc_info(FR_ALLOC_UNIFORM)->per_channel, 0);
    assert_int_equal(fr_alloc_info(fr_alloc_find("sensitivity"))->per_channel, 1);
    assert_int_equal(fr_alloc_info(fr_alloc_find("sensitivity"))->rd_curves, 0);
    assert_int_equal(fr_alloc_info(fr_alloc_find("rdopt"))->per_channel, 1);
    assert_int_equal(fr_alloc_info(fr_alloc_find("rdopt"))->rate_from_base, 1);
    assert_int_equal(fr_alloc_info(fr_alloc_find("rdopt-refine"))->rd_curves, 1);
    /* a lossless entry gets no per-channel allocation; a lossy one gets one
     * point per qp_base under sensitivity and one per qp under uniform */
    FrError err;
    FrExperiment *e = load("  qp: [30, 35, 40]\n  codec: [hevc, zstd]\n"
                           "  allocation: [uniform, sensitivity]\n  qp_base: [36, 40]\n", 0, &err);
    FrPlan p;
    assert_int_equal(fr_plan_build(e, &p, &err), 0);
    const char *pre = "split=max_1,bits=8,range=tensor,packing=tile,codec=";
    char c[200];
    snprintf(c, sizeof c, "%shevc,alloc=uniform", pre);
    assert_int_equal(count_curve(&p, c), 3);
    snprintf(c, sizeof c, "%shevc,alloc=sensitivity", pre);
    assert_int_equal(count_curve(&p, c), 2);
    snprintf(c, sizeof c, "%szstd,alloc=uniform", pre);
    assert_int_equal(count_curve(&p, c), 1);
    snprintf(c, sizeof c, "%szstd,alloc=sensitivity", pre);
    assert_int_equal(count_curve(&p, c), 0);
    assert_int_equal(p.n, 1 + 3 + 2 + 1);
    fr_plan_free(&p);
    fr_experiment_free(&e);
}

/* The model-backend registry: names unique, every operation there, the
 * default found by NULL and "", an unknown name refused by fr_model_open
 * with the names it has, and a model opened through it keeps its backend
 * (fr_model_open_shared of another backend's model is not possible). */
static void test_model_backend_registry(void **st)
{
    (void)st;
    assert_true(fr_model_backend_count() >= 1);
    assert_string_equal(fr_model_backend_at(0)->name, "darknet");
    assert_ptr_equal(fr_model_backend_find(NULL), fr_model_backend_at(0));
    assert_ptr_equal(fr_model_backend_find(""), fr_model_backend_at(0));
    assert_null(fr_model_backend_find("Darknet"));
    assert_null(fr_model_backend_at(fr_model_backend_count()));
    for (int i = 0; i < fr_model_backend_count(); i++) {
        const FrModelBackend *b = fr_model_backend_at(i);
        assert_ptr_equal(fr_model_backend_find(b->name), b);
        assert_non_null(b->doc);
        /* every operation set: the struct is all function pointers after name and doc */
        void (*const *ops)(void) = (void (*const *)(void))(const void *)&b->open;
        size_t nops = (sizeof *b - offsetof(FrModelBackend, open)) / sizeof(void (*)(void));
        assert_int_equal(nops, 24);
        for (size_t k = 0; k < nops; k++)
            if (!ops[k])
                fail_msg("backend %s: operation %zu is NULL", b->name, k);
    }
    FrModelSettings ms;
    fr_model_defaults(&ms);
    ms.cfg = "models/fmnist-vgg.cfg";
    ms.backend = "onnx";
    FrModel *m = (FrModel *)1;
    FrError err;
    assert_int_equal(fr_model_open(&m, &ms, &err), FR_E_USAGE);
    assert_null(m);
    tu_assert_contains(err.msg, "unknown model backend 'onnx'; featrd has darknet");
    ms.backend = "darknet";
    ms.quiet = 1;
    assert_int_equal(fr_model_open(&m, &ms, &err), 0);
    assert_ptr_equal(m->be, fr_model_backend_at(0));
    assert_int_equal(fr_model_layer_count(m), 15);
    FrModel *m2 = NULL;
    assert_int_equal(fr_model_open_shared(&m2, m, 1, &err), 0);
    assert_ptr_equal(m2->be, m->be);
    assert_true(fr_model_shares_params(m, m2) > 0);
    fr_model_close(&m);
    assert_int_equal(fr_model_layer_count(m2), 15); /* the base's parameters live on */
    fr_model_close(&m2);
    assert_null(m2);
    assert_int_equal(fr_model_layer_count(NULL), 0);
}

/* Every public header compiles on its own (it includes what it uses), and
 * none needs an internal header or an outside library's. */
static void test_public_headers_alone(void **st)
{
    (void)st;
    DIR *d = opendir("include/featrd");
    assert_non_null(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 3 || strcmp(de->d_name + l - 2, ".h"))
            continue;
        char *out = NULL;
        int rc = tu_sh(&out, "printf '#include \"featrd/%s\"\\nint main(void) { return 0; }\\n' | "
                             "cc -std=c11 -Wall -Wextra -Werror -fsyntax-only -Iinclude -x c -",
                       de->d_name);
        if (rc != 0)
            fail_msg("featrd/%s does not compile alone:\n%s", de->d_name, out ? out : "");
        free(out);
        n++;
    }
    closedir(d);
    assert_true(n >= 17);
}

/* docs/api.md lists the public API: every function the public headers
 * declare (a line that starts a declaration at column 0) is there, and every
 * `fr_...` the page names is declared, so the public API grows only on
 * purpose and the page never lists a function that moved inside. */
static void test_public_api_listed(void **st)
{
    (void)st;
    char *decl = NULL, *doc = NULL;
    assert_int_equal(tu_sh(&decl, "grep -hE '^[A-Za-z]' include/featrd/*.h | "
                                  "grep -vE '^(typedef|extern|struct|enum|union)' | "
                                  "grep -oE '\\bfr_[a-z0-9_]+\\(' | tr -d '(' | sort -u"),
                     0);
    assert_int_equal(tu_sh(&doc, "grep -oE '`fr_[a-z0-9_]+(\\(\\))?`' docs/api.md | "
                                 "tr -d '`()' | sort -u"),
                     0);
    int n = 0;
    for (char *p = decl, *e; p && *p; p = e + 1) {
        e = strchr(p, '\n');
        if (!e)
            break;
        *e = 0;
        char pat[128];
        snprintf(pat, sizeof pat, "%s\n", p);
        if (!strstr(doc, pat))
            fail_msg("%s is declared in include/featrd/ but not listed in docs/api.md", p);
        *e = '\n';
        n++;
    }
    for (char *p = doc, *e; p && *p; p = e + 1) {
        e = strchr(p, '\n');
        if (!e)
            break;
        *e = 0;
        char pat[128];
        snprintf(pat, sizeof pat, "%s\n", p);
        if (!strstr(decl, pat))
            fail_msg("docs/api.md names %s, which no public header declares", p);
        *e = '\n';
    }
    /* the count the page states is the count declared */
    char *page = read_text("docs/api.md"), want[64];
    snprintf(want, sizeof want, "\n%d functions in ", n);
    if (!strstr(page, want))
        fail_msg("docs/api.md does not say \"%d functions in\"", n);
    assert_true(n >= 100 && n <= 160);
    free(page);
    free(decl);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_ids_stable),
        cmocka_unit_test(test_codec_contracts),
        cmocka_unit_test(test_level_reaches_coder),
        cmocka_unit_test(test_hevc_settings_reach_x265),
        cmocka_unit_test(test_codec_labels),
        cmocka_unit_test(test_curve_names_distinct),
        cmocka_unit_test(test_one_validation),
        cmocka_unit_test(test_docs_list_codec_keys),
        cmocka_unit_test(test_adapters_only),
        cmocka_unit_test(test_core_without_training),
        cmocka_unit_test(test_metric_registry),
        cmocka_unit_test(test_unit_metric_values),
        cmocka_unit_test(test_points_columns),
        cmocka_unit_test(test_kind_registry),
        cmocka_unit_test(test_alloc_registry),
        cmocka_unit_test(test_model_backend_registry),
        cmocka_unit_test(test_public_headers_alone),
        cmocka_unit_test(test_public_api_listed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
