/* metric_recon.c: image-reconstruction metrics of the registry (invert:,
 * issue 24): the picture a point yields against the network input as the
 * 8-bit images the recon/ PNGs hold. */
#include "featrd.h"
#include "metrics/metrics.h"

static double psnr8(const FrMetricPicture *p)
{
    return fr_image_psnr8(p->rec, p->input, p->w, p->h, p->c);
}

static double ssim8(const FrMetricPicture *p)
{
    return fr_image_ssim8(p->rec, p->input, p->w, p->h, p->c);
}

static const char *needs_invert(const FrExperiment *e)
{
    return e->invert.cfg ? NULL : "needs an invert: section (a decoder that reconstructs the image)";
}

const FrMetricDef fr_metric_recon_psnr = {
    .info = {"recon_psnr", "recon_psnr", FR_TASK_AUTO, 1,
             "PSNR of the reconstructed (anchors: decoded) image against the network input, "
             "8-bit RGB, peak 255"},
    .unit = "dB",
    .picture = psnr8,
    .unusable = needs_invert,
};

const FrMetricDef fr_metric_recon_ssim = {
    .info = {"recon_ssim", "recon_ssim", FR_TASK_AUTO, 1,
             "SSIM (luma, 11x11 Gaussian window) of the reconstructed image against the input"},
    .unit = "",
    .picture = ssim8,
    .unusable = needs_invert,
};
