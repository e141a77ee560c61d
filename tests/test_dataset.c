/* test_dataset.c: names files, image lists (relative paths, comments,
 * `path label`, errors with file:line), darknet label paths and boxes, VOC
 * XML (difficult, parts), classification labels, seeded subsets. */
#include "testutil.h"
#include "data/dataset.h"

#include <math.h>

static void mkdirs(const char *d, const char *sub)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", d, sub);
    mkdir(p, 0755);
}

static void touch(const char *d, const char *rel)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", d, rel);
    tu_write(p, "x");
}

static void test_names(void **state)
{
    (void)state;
    const char *d = tu_tmpdir();
    char p[600];
    snprintf(p, sizeof p, "%s/voc.names", d);
    tu_write(p, "aeroplane\r\nbicycle  \n\nbird\n");
    FrNames n;
    FrError err;
    assert_int_equal(fr_names_read(p, &n, &err), 0);
    assert_int_equal(n.n, 3);
    assert_string_equal(n.names[1], "bicycle");
    assert_int_equal(fr_names_find(&n, "bird"), 2);
    assert_int_equal(fr_names_find(&n, "cat"), -1);
    fr_names_free(&n);
    assert_null(n.names);
    tu_write(p, "a\nb\na\n");
    assert_int_equal(fr_names_read(p, &n, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "voc.names:3: class name 'a' appears twice");
    tu_write(p, "\n\n");
    assert_int_equal(fr_names_read(p, &n, &err), FR_E_FORMAT);
    assert_int_equal(fr_names_read("/nonexistent.names", &n, &err), FR_E_NOENT);
}

static void test_image_list(void **state)
{
    (void)state;
    const char *d = tu_tmpdir();
    mkdirs(d, "images");
    touch(d, "images/dog_1.jpg");
    touch(d, "images/cat_2.jpg");
    touch(d, "images/with space.png");
    char list[600], text[2048];
    snprintf(list, sizeof list, "%s/list.txt", d);
    snprintf(text, sizeof text,
             "# a comment\n"
             "images/dog_1.jpg\n"
             "\n"
             "   %s/images/cat_2.jpg  \r\n"
             "images/with space.png\n"
             "images/dog_1.jpg\tcat\n",
             d);
    tu_write(list, text);
    FrImageList l;
    FrError err;
    assert_int_equal(fr_image_list_read(list, &l, &err), 0);
    assert_int_equal(l.n, 4);
    char want[700];
    snprintf(want, sizeof want, "%s/images/dog_1.jpg", d);
    assert_string_equal(l.items[0].path, want);
    assert_string_equal(l.items[0].given, "images/dog_1.jpg");
    assert_int_equal(l.items[0].line, 2);
    assert_null(l.items[0].label);
    snprintf(want, sizeof want, "%s/images/cat_2.jpg", d);
    assert_string_equal(l.items[1].path, want); /* absolute, trimmed */
    assert_int_equal(l.items[1].line, 4);
    snprintf(want, sizeof want, "%s/images/with space.png", d);
    assert_string_equal(l.items[2].path, want); /* a space in the name is no label */
    assert_null(l.items[2].label);
    assert_string_equal(l.items[3].label, "cat");
    assert_string_equal(l.items[3].given, "images/dog_1.jpg");

    /* labels: darknet's class name in the path, or the explicit column */
    FrNames names = {0};
    char np[600];
    snprintf(np, sizeof np, "%s/labels.txt", d);
    tu_write(np, "cat\ndog\nbird\n");
    assert_int_equal(fr_names_read(np, &names, &err), 0);
    long lab;
    assert_int_equal(fr_image_label(&l, 0, &names, &lab, &err), 0);
    assert_int_equal(lab, 1);
    assert_int_equal(fr_image_label(&l, 1, &names, &lab, &err), 0);
    assert_int_equal(lab, 0);
    assert_int_equal(fr_image_label(&l, 3, &names, &lab, &err), 0);
    assert_int_equal(lab, 0); /* explicit label wins over 'dog' in the path */
    assert_int_equal(fr_image_label(&l, 2, &names, &lab, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "list.txt:5: none of the class names occurs");
    free(l.items[3].label);
    l.items[3].label = strdup("2");
    assert_int_equal(fr_image_label(&l, 3, &names, &lab, &err), 0);
    assert_int_equal(lab, 2);
    free(l.items[3].label);
    l.items[3].label = strdup("7");
    assert_int_equal(fr_image_label(&l, 3, &names, &lab, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "list.txt:6: label '7'");
    fr_names_free(&names);
    fr_image_list_free(&l);

    /* a missing image names the list and the line */
    tu_write(list, "images/dog_1.jpg\n# x\nimages/nope.jpg\n");
    assert_int_equal(fr_image_list_read(list, &l, &err), FR_E_NOENT);
    tu_assert_contains(err.msg, "list.txt:3: image 'images/nope.jpg' not found");
    assert_null(l.items);
    tu_write(list, "# only comments\n\n");
    assert_int_equal(fr_image_list_read(list, &l, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "empty");
}

static void test_subset(void **state)
{
    (void)state;
    /* splitmix64 reference outputs for seed 0 (Vigna's splitmix64.c) */
    uint64_t s = 0;
    assert_true(fr_splitmix64(&s) == 0xe220a8397b1dcdafull);
    assert_true(fr_splitmix64(&s) == 0x6e789e6aa1b965f4ull);
    assert_true(fr_splitmix64(&s) == 0x06c45d188009454full);

    const char *d = tu_tmpdir();
    char list[600], text[1024] = "";
    for (int i = 0; i < 10; i++) {
        char rel[32];
        snprintf(rel, sizeof rel, "im%d.jpg", i);
        touch(d, rel);
        strcat(text, rel);
        strcat(text, "\n");
    }
    snprintf(list, sizeof list, "%s/l.txt", d);
    tu_write(list, text);
    /* expected subsets from an independent Python implementation of the
     * same partial Fisher–Yates over splitmix64 */
    struct {
        size_t limit;
        uint64_t seed;
        int want[5];
    } cases[3] = {{3, 42, {2, 3, 4}}, {3, 43, {0, 8, 9}}, {5, 42, {2, 3, 4, 5, 8}}};
    for (int c = 0; c < 3; c++) {
        FrImageList l;
        assert_int_equal(fr_image_list_read(list, &l, NULL), 0);
        assert_int_equal(fr_image_list_subset(&l, cases[c].limit, cases[c].seed, NULL), 0);
        assert_int_equal(l.n, cases[c].limit);
        for (size_t i = 0; i < l.n; i++) {
            char want[40];
            snprintf(want, sizeof want, "im%d.jpg", cases[c].want[i]);
            assert_string_equal(l.items[i].given, want);
        }
        fr_image_list_free(&l);
    }
    FrImageList l;
    assert_int_equal(fr_image_list_read(list, &l, NULL), 0);
    assert_int_equal(fr_image_list_subset(&l, 0, 1, NULL), 0);
    assert_int_equal(l.n, 10);
    assert_int_equal(fr_image_list_subset(&l, 99, 1, NULL), 0);
    assert_int_equal(l.n, 10);
    fr_image_list_free(&l);
    /* fr_rand_below stays in range and hits every value */
    int seen[7] = {0};
    s = 5;
    for (int i = 0; i < 700; i++) {
        uint64_t v = fr_rand_below(&s, 7);
        assert_true(v < 7);
        seen[v]++;
    }
    for (int i = 0; i < 7; i++)
        assert_true(seen[i] > 50);
}

static void test_darknet_labels(void **state)
{
    (void)state;
    char out[512];
    FrError err;
    assert_int_equal(fr_darknet_label_path("/d/VOC2007/images/0001.jpg", out, sizeof out, &err), 0);
    assert_string_equal(out, "/d/VOC2007/labels/0001.txt");
    assert_int_equal(fr_darknet_label_path("/d/VOCdevkit/VOC2007/JPEGImages/0001.jpg", out, sizeof out, &err), 0);
    assert_string_equal(out, "/d/VOCdevkit/VOC2007/labels/0001.txt");
    /* the last 'images' component, not an earlier one */
    assert_int_equal(fr_darknet_label_path("/images/set/images/a.b.png", out, sizeof out, &err), 0);
    assert_string_equal(out, "/images/set/labels/a.b.txt");
    /* darknet's fallback: the first 'images' substring */
    assert_int_equal(fr_darknet_label_path("data/trainimages/x.jpg", out, sizeof out, &err), 0);
    assert_string_equal(out, "data/trainlabels/x.txt");
    assert_int_equal(fr_darknet_label_path("/d/pics/x.jpg", out, sizeof out, &err), FR_E_USAGE);
    assert_int_equal(fr_darknet_label_path("/d/images/x.jpg", out, 8, &err), FR_E_USAGE);
    assert_int_equal(fr_voc_annotation_path("/v/VOC2007/JPEGImages/000005.jpg", out, sizeof out, &err), 0);
    assert_string_equal(out, "/v/VOC2007/Annotations/000005.xml");

    const char *d = tu_tmpdir();
    char p[600];
    snprintf(p, sizeof p, "%s/x.txt", d);
    tu_write(p, "1 0.5 0.5 0.2 0.4\n\n0 0.25 0.1 0.5 0.2\r\n");
    FrGtBox *b;
    size_t n;
    assert_int_equal(fr_gt_read_darknet(p, 100, 50, 20, &b, &n, &err), 0);
    assert_int_equal(n, 2);
    /* cx .5 w .2 of 100 px -> 40..60; cy .5 h .4 of 50 px -> 15..35 */
    assert_int_equal(b[0].cls, 1);
    assert_true(fabs(b[0].box.x1 - 40) < 1e-9 && fabs(b[0].box.x2 - 60) < 1e-9);
    assert_true(fabs(b[0].box.y1 - 15) < 1e-9 && fabs(b[0].box.y2 - 35) < 1e-9);
    assert_true(fabs(b[1].box.x1 - 0) < 1e-9 && fabs(b[1].box.x2 - 50) < 1e-9);
    assert_true(fabs(b[1].box.y1 - 0) < 1e-9 && fabs(b[1].box.y2 - 10) < 1e-9);
    assert_int_equal(b[1].difficult, 0);
    free(b);
    tu_write(p, "1 0.5 0.5 0.2 0.4\n3 0.5 0.5 x 0.4\n");
    assert_int_equal(fr_gt_read_darknet(p, 100, 50, 20, &b, &n, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "x.txt:2: expected 'class cx cy w h'");
    assert_null(b);
    tu_write(p, "25 0.5 0.5 0.2 0.4\n");
    assert_int_equal(fr_gt_read_darknet(p, 100, 50, 20, &b, &n, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "class 25 outside 0..19");
    snprintf(p, sizeof p, "%s/none.txt", d);
    assert_int_equal(fr_gt_read_darknet(p, 100, 50, 20, &b, &n, &err), FR_E_NOENT);
}

static void test_voc_xml(void **state)
{
    (void)state;
    const char *d = tu_tmpdir();
    char np[600], xp[600];
    snprintf(np, sizeof np, "%s/voc.names", d);
    tu_write(np, "dog\nperson\nchair\n");
    FrNames names;
    assert_int_equal(fr_names_read(np, &names, NULL), 0);
    snprintf(xp, sizeof xp, "%s/000005.xml", d);
    tu_write(xp,
             "<annotation>\n"
             "  <folder>VOC2007</folder>\n"
             "  <size><width>500</width><height>375</height><depth>3</depth></size>\n"
             "  <object>\n"
             "    <name>chair</name><pose>Rear</pose><truncated>0</truncated>\n"
             "    <difficult>0</difficult>\n"
             "    <bndbox><xmin>263</xmin><ymin>211</ymin><xmax>324</xmax><ymax>339</ymax></bndbox>\n"
             "  </object>\n"
             "  <object>\n"
             "    <name>person</name>\n"
             "    <part><name>hand</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></part>\n"
             "    <bndbox>\n      <xmin> 5 </xmin>\n      <ymin>237</ymin>\n      <xmax>48</xmax>\n      <ymax>374</ymax>\n    </bndbox>\n"
             "    <difficult>1</difficult>\n"
             "  </object>\n"
             "</annotation>\n");
    FrGtBox *b;
    size_t n;
    int w, h;
    FrError err;
    assert_int_equal(fr_gt_read_voc_xml(xp, &names, &b, &n, &w, &h, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(w, 500);
    assert_int_equal(h, 375);
    assert_int_equal(b[0].cls, 2);
    assert_int_equal(b[0].difficult, 0);
    /* 1-based VOC corners become 0-based */
    assert_true(b[0].box.x1 == 262 && b[0].box.y1 == 210 && b[0].box.x2 == 323 && b[0].box.y2 == 338);
    assert_int_equal(b[1].cls, 1);
    assert_int_equal(b[1].difficult, 1);
    assert_true(b[1].box.x1 == 4 && b[1].box.y1 == 236 && b[1].box.x2 == 47 && b[1].box.y2 == 373);
    free(b);

    tu_write(xp, "<annotation>\n<object>\n<name>cat</name>\n<bndbox><xmin>1</xmin><ymin>1</ymin>"
                 "<xmax>2</xmax><ymax>2</ymax></bndbox>\n</object>\n</annotation>\n");
    assert_int_equal(fr_gt_read_voc_xml(xp, &names, &b, &n, NULL, NULL, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "000005.xml:2: object name 'cat' is not in the names file");
    tu_write(xp, "<annotation>\n<object>\n<name>dog</name>\n<bndbox><xmin>1</xmin><ymin>1</ymin>"
                 "<xmax>2</xmax></bndbox>\n</object>\n</annotation>\n");
    assert_int_equal(fr_gt_read_voc_xml(xp, &names, &b, &n, NULL, NULL, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "object 'dog': <ymax> missing");
    tu_write(xp, "<html></html>");
    assert_int_equal(fr_gt_read_voc_xml(xp, &names, &b, &n, NULL, NULL, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "not a VOC annotation");
    fr_names_free(&names);
}

/* Model classes -> data set classes: the shipped YOLO9000 -> VOC map on the
 * real 9k.names (names repeat: read as a model's), identity and mismatch. */
static void test_class_map(void **state)
{
    (void)state;
    FrNames k9 = {0}, voc = {0}, two = {0};
    FrError err = {0};
    const char *k9p = "/usr/share/darknet/data/9k.names", *vocp = "/usr/share/darknet/data/voc.names";
    assert_int_equal(fr_names_read(k9p, &k9, &err), FR_E_FORMAT); /* "car" twice */
    assert_int_equal(fr_names_read_model(k9p, &k9, &err), 0);
    assert_int_equal(k9.n, 9418);
    assert_int_equal(fr_names_read(vocp, &voc, &err), 0);
    assert_int_equal(voc.n, 20);
    int *to = NULL;
    if (fr_class_map_build(&k9, k9p, &voc, vocp, "configs/9k-voc.map", &to, &err))
        fail_msg("%s", err.msg);
    int mapped = 0, hit[20] = {0};
    for (int i = 0; i < k9.n; i++)
        if (to[i] >= 0) {
            mapped++;
            hit[to[i]]++;
        }
    assert_int_equal(mapped, 20);
    for (int c = 0; c < 20; c++)
        assert_int_equal(hit[c], 1); /* every VOC class from exactly one WordTree class */
    /* darknet's coco9k.map indices: airplane, motorcycle, dining table, display */
    assert_int_equal(to[4107], fr_names_find(&voc, "aeroplane"));
    assert_string_equal(k9.names[4107], "airplane");
    assert_int_equal(to[3800], fr_names_find(&voc, "motorbike"));
    assert_int_equal(to[2505], fr_names_find(&voc, "diningtable"));
    assert_int_equal(to[3499], fr_names_find(&voc, "tvmonitor"));
    assert_int_equal(to[0], -1); /* "thing" */
    free(to);

    /* no map: the lists must agree name by name */
    assert_int_equal(fr_class_map_build(&voc, "a.names", &voc, "b.names", NULL, &to, &err), 0);
    for (int c = 0; c < 20; c++)
        assert_int_equal(to[c], c);
    free(to);
    assert_int_equal(fr_class_map_build(&k9, k9p, &voc, vocp, NULL, &to, &err), FR_E_MISMATCH);
    assert_null(to);
    tu_assert_contains(err.msg, "class 0 of the model is 'thing'");
    tu_assert_contains(err.msg, "'aeroplane'");
    tu_assert_contains(err.msg, "dataset.class_map");
    /* same first names, different lengths */
    const char *d = tu_tmpdir();
    char p2[512], pm[512];
    snprintf(p2, sizeof p2, "%s/two.names", d);
    tu_write(p2, "aeroplane\nbicycle\n");
    assert_int_equal(fr_names_read(p2, &two, &err), 0);
    assert_int_equal(fr_class_map_build(&two, p2, &voc, vocp, NULL, &to, &err), FR_E_MISMATCH);
    tu_assert_contains(err.msg, "the model has 2 classes");
    tu_assert_contains(err.msg, "'bird' is only in the data set's");
    /* bad maps name file:line */
    snprintf(pm, sizeof pm, "%s/x.map", d);
    static const struct {
        const char *text, *want;
        int code;
    } bad[] = {
        {"aeroplane bird\n", "x.map:1: expected 'MODEL<TAB>DATASET'", FR_E_FORMAT},
        {"# c\n\n@4107:car\taeroplane\n", "x.map:3: model class 4107 is 'airplane', not 'car'",
         FR_E_MISMATCH},
        {"@9418\taeroplane\n", "x.map:1: '@9418': expected @INDEX", FR_E_FORMAT},
        {"car\tcar\n", "'car' names 3 model classes", FR_E_FORMAT},
        {"airplane\tplane\n", "x.map:1: 'plane' is not a class of the data set", FR_E_FORMAT},
        {"nothere\tcar\n", "'nothere' is not a class of the model", FR_E_FORMAT},
        {"airplane\taeroplane\n@4107\tbird\n", "x.map:2: model class 4107 ('airplane') is mapped twice",
         FR_E_FORMAT},
        {"# nothing\n", "maps no class", FR_E_FORMAT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tu_write(pm, bad[i].text);
        assert_int_equal(fr_class_map_build(&k9, k9p, &voc, vocp, pm, &to, &err), bad[i].code);
        assert_null(to);
        tu_assert_contains(err.msg, bad[i].want);
    }
    /* names with spaces map by name */
    tu_write(pm, "dining table\tdiningtable\n");
    assert_int_equal(fr_class_map_build(&k9, k9p, &voc, vocp, pm, &to, &err), 0);
    assert_int_equal(to[2505], fr_names_find(&voc, "diningtable"));
    free(to);
    fr_names_free(&k9);
    fr_names_free(&voc);
    fr_names_free(&two);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_image_list),
        cmocka_unit_test(test_subset),
        cmocka_unit_test(test_darknet_labels),
        cmocka_unit_test(test_voc_xml),
        cmocka_unit_test(test_class_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
