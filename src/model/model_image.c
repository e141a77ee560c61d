/* model_image.c: images through darknet's loader (checked with stb_image
 * first: darknet's loader appends failures to ./bad.list and returns a
 * 10×10 image), the network's input preparation (letterbox for detectors,
 * cover-and-centre-crop for classifiers), and the JPEG anchor's coding. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "featrd/model.h"
#include "model/model_internal.h"
#include "model/model.h"
#include "model/model_dn.h"

/* stb_image is compiled into libdarknet.so and exported; darknet.h does not
 * declare it. Used to check an image is readable before darknet's loader,
 * which on failure appends to ./bad.list and returns a 10×10 image. */
int stbi_info(char const *filename, int *x, int *y, int *comp);
const char *stbi_failure_reason(void);

/* ---------------------------------------------------------------- images -- */

static int image_to_tensor(image im, FrTensor *t)
{
    int rc = fr_tensor_alloc(t, im.c, im.h, im.w);
    if (rc == FR_OK)
        memcpy(t->data, im.data, fr_tensor_size(t) * sizeof(float));
    return rc;
}

int fr_model_load_image(FrModel *m, const char *path, FrTensor *rgb, FrError *err)
{
    (void)m;
    if (!path || !rgb)
        return fr_error(err, FR_E_USAGE, "no image path");
    memset(rgb, 0, sizeof *rgb);
    if (access(path, F_OK) != 0)
        return fr_error(err, FR_E_NOENT, "%s: no such image file", path);
    int w = 0, h = 0, c = 0;
    if (!stbi_info(path, &w, &h, &c) || w <= 0 || h <= 0)
        return fr_error(err, FR_E_FORMAT, "%s: not an image darknet can read (%s); use JPEG, PNG, BMP, GIF, TGA, PSD or PNM", path, stbi_failure_reason() ? stbi_failure_reason() : "unknown format");
    /* the header's size is allocated as 3 floats per pixel before any pixel
     * is read: a 100-byte file may claim 60000×60000 */
    if ((int64_t)w * h > ((int64_t)1 << 26))
        return fr_error(err, FR_E_FORMAT, "%s: corrupt or too large: the header says %dx%d pixels (at most 2^26, e.g. 8192x8192); scale it down first", path, w, h);
    image im = load_image_color((char *)path, 0, 0);
    if (!im.data || im.w != w || im.h != h || im.c != 3) {
        free_image(im);
        return fr_error(err, FR_E_FORMAT, "%s: the %dx%d image header could not be decoded (corrupt file?)", path, w, h);
    }
    int rc = image_to_tensor(im, rgb);
    free_image(im);
    if (rc != FR_OK)
        return fr_error(err, rc, "%s: out of memory for a %dx%d image", path, w, h);
    return FR_OK;
}

int dn_model_prepare_input(DnModel *m, const FrTensor *rgb, FrTensor *input)
{
    if (!m || !rgb || !input || !rgb->data || rgb->c != 3 || rgb->h <= 0 || rgb->w <= 0)
        return FR_E_USAGE;
    memset(input, 0, sizeof *input);
    const network *net = m->net;
    if (net->c != 3 && net->c != 1)
        return FR_E_USAGE;
    image src = {rgb->w, rgb->h, rgb->c, rgb->data};
    image sized;
    if (m->task == FR_TASK_DETECTION) {
        sized = letterbox_image(src, net->w, net->h);
    } else {
        /* scale so the image covers the input, then cut out the centre */
        double sx = (double)net->w / src.w, sy = (double)net->h / src.h;
        double sc = sx > sy ? sx : sy;
        int rw = (int)(src.w * sc + 0.5), rh = (int)(src.h * sc + 0.5);
        if (rw < net->w) rw = net->w;
        if (rh < net->h) rh = net->h;
        image r = (rw == src.w && rh == src.h) ? copy_image(src) : resize_image(src, rw, rh);
        sized = crop_image(r, (rw - net->w) / 2, (rh - net->h) / 2, net->w, net->h);
        free_image(r);
    }
    if (net->c == 1) {
        image g = grayscale_image(sized);
        free_image(sized);
        sized = g;
    }
    int rc = image_to_tensor(sized, input);
    free_image(sized);
    return rc;
}

int fr_image_jpeg_code(const FrTensor *rgb, int quality, size_t *bytes, FrTensor *decoded,
                       FrError *err)
{
    if (!rgb || !rgb->data || rgb->c != 3 || !bytes || !decoded)
        return fr_error(err, FR_E_USAGE, "JPEG anchor: needs a 3-channel image");
    if (quality < 1 || quality > 100)
        return fr_error(err, FR_E_USAGE, "JPEG quality %d out of range 1..100", quality);
    memset(decoded, 0, sizeof *decoded);
    const char *tmpdir = getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp";
    char base[256];
    if (snprintf(base, sizeof base - 8, "%s/featrd-jpg-XXXXXX", tmpdir) >= (int)sizeof base - 8)
        return fr_error(err, FR_E_USAGE, "TMPDIR %s too long for darknet's image writer", tmpdir);
    int fd = mkstemp(base);
    if (fd < 0)
        return fr_error(err, FR_E_IO, "%s: cannot create a temporary file: %s", base, strerror(errno));
    close(fd);
    char file[272];
    snprintf(file, sizeof file, "%s.jpg", base);
    /* save_image_options truncates 255·x to a byte without clamping */
    image im = make_image(rgb->w, rgb->h, 3);
    size_t sz = fr_tensor_size(rgb);
    for (size_t i = 0; i < sz; i++) {
        float v = rgb->data[i];
        im.data[i] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
    save_image_options(im, base, JPG, quality);
    free_image(im);
    unlink(base);
    struct stat st;
    int rc = FR_OK;
    if (stat(file, &st) != 0 || st.st_size <= 0) {
        rc = fr_error(err, FR_E_IO, "%s: darknet's JPEG writer failed", file);
    } else {
        *bytes = (size_t)st.st_size;
        rc = fr_model_load_image(NULL, file, decoded, err);
    }
    unlink(file);
    return rc;
}

int fr_model_write_png(const char *path, const uint8_t *pix, int w, int h, int c, FrError *err)
{
    if (!path || !pix || w <= 0 || h <= 0 || (c != 1 && c != 3))
        return fr_error(err, FR_E_USAGE, "fr_model_write_png: bad arguments");
    char tmp[256];
    /* darknet formats "<name>.png" into a 256-byte buffer */
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp - 8)
        return fr_error(err, FR_E_USAGE, "%s: path too long for darknet's image writer", path);
    image im = make_image(w, h, c);
    if (!im.data)
        return fr_error(err, FR_E_NOMEM, "out of memory");
    /* save_image_options truncates 255·v: centre each byte so it comes back exactly */
    for (int k = 0; k < c; k++)
        for (int i = 0; i < w * h; i++)
            im.data[k * w * h + i] = ((float)pix[i * c + k] + 0.5f) / 255.0f;
    save_image_options(im, tmp, PNG, 0);
    free_image(im);
    char written[300];
    snprintf(written, sizeof written, "%s.png", tmp);
    if (rename(written, path) != 0) {
        int e = errno;
        unlink(written);
        return fr_error(err, FR_E_IO, "%s: cannot write image: %s", path, strerror(e));
    }
    return 0;
}
