"""The camera's own look, applied to a drawn frame: exposure, white balance, saturation, vignetting,
tone curve, lens distortion, blur, sensor noise and JPEG. Only the lens distortion moves labels, and
it warps the semantic and height maps with the image."""
from __future__ import annotations

import math

import cv2
import numpy as np

from . import styles as st
from .styles import Style


def develop(img: np.ndarray, sem: np.ndarray, hmap: np.ndarray, style: Style,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The camera's own look: exposure, white balance, saturation, vignetting, tone curve, lens,
    blur, noise and JPEG. Returns (image uint8, semantic, height); only the lens moves labels."""
    h, w = sem.shape
    u = rng.uniform
    gain = math.exp(rng.normal(0, st.EXPOSURE_SIGMA)) * rng.normal(1, st.WHITE_BALANCE_SIGMA, 3)
    sat = u(*st.SATURATION)
    colour = (np.eye(3) * sat + (1 - sat) / 3) * gain[:, None]  # saturation about the grey axis
    yy, xx = np.ogrid[0:h, 0:w]
    dx, dy = xx.astype(np.float32) - np.float32(w / 2), yy.astype(np.float32) - np.float32(h / 2)
    r2 = (dx * dx + dy * dy) / np.float32((w / 2) ** 2 + (h / 2) ** 2)
    vignette = 1 - u(*st.VIGNETTING) * r2
    x = cv2.transform(img, colour.astype(np.float32)) * vignette[..., None]
    x = cv2.convertScaleAbs(x)  # saturating cast to uint8
    gamma, contrast = u(*st.GAMMA), u(*st.CONTRAST)
    curve = np.clip(0.5 + ((np.arange(256) / 255) ** gamma - 0.5) * contrast, 0, 1)
    x = cv2.LUT(x, np.round(curve * 255).astype(np.uint8))
    k1 = u(*style.lens_k1) if style.lens_k1 != (0.0, 0.0) else 0.0
    if k1:  # barrel distortion; corners stay corners, the centre is magnified
        scale = (1 - k1 * r2) / (1 - k1)
        mx = (w / 2 + (xx - w / 2) * scale).astype(np.float32)
        my = (h / 2 + (yy - h / 2) * scale).astype(np.float32)
        x = cv2.remap(x, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        sem = cv2.remap(sem, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT)
        hmap = cv2.remap(hmap, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT)
    x = cv2.GaussianBlur(x, (0, 0), u(*st.BLUR_SIGMA_PX))
    if rng.random() < st.MOTION_BLUR_P:  # motion blur along a random direction
        n = st.count(rng, st.MOTION_BLUR_PX)
        k = np.zeros((n, n), np.float32)
        a = u(*st.MOTION_BLUR_ANGLE_RAD)
        cv2.line(k, (int(n / 2 - math.cos(a) * n / 2), int(n / 2 - math.sin(a) * n / 2)),
                 (int(n / 2 + math.cos(a) * n / 2), int(n / 2 + math.sin(a) * n / 2)), 1.0, 1)
        x = cv2.filter2D(x, -1, k / max(k.sum(), 1))
    cv2.setRNGSeed(int(rng.integers(1 << 31)))  # sensor noise from OpenCV's fast generator, seeded from ours
    noise = np.empty(x.shape, np.int16)
    cv2.randn(noise, 0, u(*st.SENSOR_NOISE_SIGMA))
    x = cv2.add(x, noise, dtype=cv2.CV_8U)
    q = int(rng.integers(style.jpeg_quality[0], style.jpeg_quality[1] + 1))
    ok, buf = cv2.imencode(".jpg", x[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
    out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()
    return out, sem, hmap
