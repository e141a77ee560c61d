/* fuzz_picture.c: raw streams → every picture coder's own decoder
 * (fr_picture_decode: x265/libde265, libaom, libjxl, OpenJPEG, CharLS), with
 * no container and no CRC in the way. Input: byte 0 picks the coder among
 * those with a picture decoder, bytes 1..4 the geometry (width and height
 * 1..64, frames 1..4, bit depth 1..the coder's maximum), the rest is the
 * stream (a frame coder's LEB128-joined frames, as fr_frames_encode writes
 * them). A decoder that never returns shows as a libFuzzer timeout: what
 * fr_picture_decode_contained (featrd decode's path) exists to contain. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "featrd.h"
#include "codec/codec.h"
#include "codec/pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The i-th coder (mod their number) with a picture decoder of its own. */
static const FrCodec *picture_coder(unsigned i)
{
    int n = 0;
    for (int k = 0; k < fr_codec_count(); k++)
        n += fr_codec_at(k)->decode != NULL;
    if (!n)
        return NULL;
    int want = (int)(i % (unsigned)n);
    for (int k = 0; k < fr_codec_count(); k++)
        if (fr_codec_at(k)->decode && want-- == 0)
            return fr_codec_at(k);
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    const FrCodec *c = picture_coder(data[0]);
    if (!c)
        return 0;
    int w = data[1] % 64 + 1, h = data[2] % 64 + 1, frames = data[3] % 4 + 1;
    int bits = data[4] % (c->max_bits > 0 ? c->max_bits : 8) + 1;
    FrPicture p;
    FrError err;
    if (fr_picture_decode((FrCodecKind)c->id, data + 5, size - 5, w, h, frames, bits, &p, &err) ==
        0) {
        /* a decoder's success is a picture of the asked geometry */
        if (p.width != w || p.height != h || p.frames != frames || !p.samples)
            abort();
        fr_picture_free(&p);
    }
    return 0;
}
