/* quant.c: the Q-layer (seed 001 eq. 2-3) and range side information. */
#include "featrd/quant.h"
#include "codec/quant.h"

#include <math.h>
#include <string.h>

const char *fr_range_name(FrRangeMode m)
{
    switch (m) {
    case FR_RANGE_TENSOR: return "tensor";
    case FR_RANGE_CHANNEL: return "channel";
    }
    return NULL;
}

int fr_range_from_name(const char *name, FrRangeMode *out, FrError *err)
{
    if (name && !strcmp(name, "tensor")) {
        *out = FR_RANGE_TENSOR;
        return 0;
    }
    if (name && !strcmp(name, "channel")) {
        *out = FR_RANGE_CHANNEL;
        return 0;
    }
    return fr_error(err, FR_E_USAGE, "range '%s' is unknown: use tensor or channel",
                    name ? name : "(null)");
}

static int check_args(const FrTensor *t, int bits, FrRangeMode m, FrError *err)
{
    if (!t || !t->data || t->c <= 0 || t->h <= 0 || t->w <= 0)
        return fr_error(err, FR_E_USAGE, "quantize: empty tensor");
    if (bits < 1 || bits > 16)
        return fr_error(err, FR_E_USAGE, "quantize: bits %d is out of range: use 1..16", bits);
    if (m != FR_RANGE_TENSOR && m != FR_RANGE_CHANNEL)
        return fr_error(err, FR_E_USAGE, "quantize: unknown range mode %d", (int)m);
    return 0;
}

int fr_quant_ranges(const FrTensor *t, FrRangeMode m, int relu_min0, float *mins, float *maxs,
                    FrError *err)
{
    int rc = check_args(t, 8, m, err);
    if (rc)
        return rc;
    size_t plane = (size_t)t->h * (size_t)t->w;
    int nr = fr_quant_nranges(m, t->c);
    for (int r = 0; r < nr; r++) {
        const float *p = t->data + (m == FR_RANGE_CHANNEL ? (size_t)r * plane : 0);
        size_t n = m == FR_RANGE_CHANNEL ? plane : fr_tensor_size(t);
        float lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(p[i]))
                return fr_error(err, FR_E_FORMAT,
                                "quantize: the tensor holds a non-finite value (NaN or inf) at "
                                "index %zu; check the network's weights and input",
                                (size_t)(p - t->data) + i);
            lo = p[i] < lo ? p[i] : lo;
            hi = p[i] > hi ? p[i] : hi;
        }
        if (relu_min0) {
            lo = 0.0f;
            hi = hi < 0.0f ? 0.0f : hi;
        }
        mins[r] = lo;
        maxs[r] = hi;
    }
    return 0;
}

int fr_quantize(const FrTensor *t, int bits, FrRangeMode m, const float *mins, const float *maxs,
                uint16_t *q, FrError *err)
{
    int rc = check_args(t, bits, m, err);
    if (rc)
        return rc;
    size_t plane = (size_t)t->h * (size_t)t->w;
    double levels = (double)((1u << bits) - 1u);
    for (int ch = 0; ch < t->c; ch++) {
        int r = m == FR_RANGE_CHANNEL ? ch : 0;
        double lo = mins[r], span = (double)maxs[r] - (double)mins[r];
        double scale = span > 0 ? levels / span : 0.0;
        const float *x = t->data + (size_t)ch * plane;
        uint16_t *o = q + (size_t)ch * plane;
        for (size_t i = 0; i < plane; i++) {
            double v = ((double)x[i] - lo) * scale;
            v = v < 0 ? 0 : v > levels ? levels : v;
            o[i] = (uint16_t)floor(v + 0.5);
        }
    }
    return 0;
}

int fr_dequantize(const uint16_t *q, int bits, FrRangeMode m, const float *mins, const float *maxs,
                  FrTensor *out, FrError *err)
{
    int rc = check_args(out, bits, m, err);
    if (rc)
        return rc;
    size_t plane = (size_t)out->h * (size_t)out->w;
    double levels = (double)((1u << bits) - 1u);
    for (int ch = 0; ch < out->c; ch++) {
        int r = m == FR_RANGE_CHANNEL ? ch : 0;
        double lo = mins[r], span = (double)maxs[r] - (double)mins[r];
        const uint16_t *s = q + (size_t)ch * plane;
        float *x = out->data + (size_t)ch * plane;
        for (size_t i = 0; i < plane; i++) {
            /* Returning maxs[r] itself at the top level keeps max exact despite
             * rounding in lo + span. */
            x[i] = s[i] >= levels ? maxs[r] : (float)((double)s[i] / levels * span + lo);
        }
    }
    return 0;
}
