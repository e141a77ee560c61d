#!/usr/bin/env python3
# ssim_ref.py: an independent reference for fr_image_ssim8 / fr_image_psnr8
# (tests/test_metrics.c hard-codes what this prints). Pure Python, written
# from Wang et al. 2004 and MATLAB's ssim_index.m: 11x11 Gaussian window
# sigma 1.5 (normalised), K1 0.01, K2 0.03, L 255, 'valid' windows, on luma
# Y = 0.299 R + 0.587 G + 0.114 B. Images: 24x20 RGB from a 32-bit LCG; b is
# a plus LCG noise of +-20, clamped.
import math

W, H = 24, 20
state = 12345
def lcg():
    global state
    state = (state * 1103515245 + 12345) & 0xffffffff
    return state >> 16

a = [lcg() % 256 for _ in range(W * H * 3)]
b = [min(255, max(0, v + lcg() % 41 - 20)) for v in a]

def luma(p):
    return [0.299 * p[3*i] + 0.587 * p[3*i+1] + 0.114 * p[3*i+2] for i in range(W * H)]

def ssim(p, q):
    g = [math.exp(-((i - 5) ** 2) / (2 * 1.5 ** 2)) for i in range(11)]
    s = sum(g)
    g = [v / s for v in g]
    x, y = luma(p), luma(q)
    C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    tot, n = 0.0, 0
    for r in range(H - 10):
        for c in range(W - 10):
            mx = my = sxx = syy = sxy = 0.0
            for i in range(11):
                for j in range(11):
                    w = g[i] * g[j]
                    u, v = x[(r+i)*W + c+j], y[(r+i)*W + c+j]
                    mx += w*u; my += w*v; sxx += w*u*u; syy += w*v*v; sxy += w*u*v
            vx, vy, cxy = sxx - mx*mx, syy - my*my, sxy - mx*my
            tot += ((2*mx*my + C1) * (2*cxy + C2)) / ((mx*mx + my*my + C1) * (vx + vy + C2))
            n += 1
    return tot / n

mse = sum((u - v) ** 2 for u, v in zip(a, b)) / len(a)
print("psnr %.12f" % (10 * math.log10(255 ** 2 / mse)))
print("ssim %.12f" % ssim(a, b))
print("ssim_self %.12f" % ssim(a, a))
