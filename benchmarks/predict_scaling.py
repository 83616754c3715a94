"""`landinglib predict` on ever larger photos: time and peak memory, bounded path vs full-size probabilities.

    python benchmarks/predict_scaling.py [--sizes 1 12 48 96] [--engines bounded tiled] [--checkpoint PATH]

For each size (megapixels, 4:3) a JPEG of a synthetic scene is written, then one fresh process per
(engine, size) predicts it and reports wall time and peak RSS (``ru_maxrss``, the process's whole
footprint including PyTorch, read from ``VmHWM`` in ``/proc/self/status``; Linux):

* ``bounded``: what the command does (``predict_folder.predict_file``: reduced decoding, network-scale
  probabilities, a uint8 mask brought to full size in strips, landing sites at the working scale);
* ``tiled``: the previous path (``read_image`` + ``predict_tiled`` at full size + argmax + sites and
  overlay at full size). Goals: bounded under 2 GB at any size, 96 MP in 10 s on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import cv2
import numpy as np

from landinglib.profiling import describe_machine

RUN = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    import numpy as np
    from landinglib import classes
    from landinglib.model import build_model, load_model
    engine, image, out, checkpoint = sys.argv[1:5]
    model = load_model(checkpoint, classes.LANDING) if checkpoint != "-" else build_model("fast", 4).eval()
    start = time.perf_counter()
    if engine == "bounded":
        from landinglib.predict_folder import predict_file
        predict_file(model, Path(image), Path(out), "frame", gsd_m=0.03, drone_radius_m=0.5)
    else:
        import cv2
        from landinglib.data import read_image
        from landinglib.inference import predict_tiled, scale_for
        from landinglib.landing import sites_and_reason
        from landinglib.viz import draw_landing_sites, overlay
        rgb = read_image(image)
        probs = predict_tiled(model, rgb, scale=scale_for(rgb.shape))
        mask = probs.argmax(0)
        sites, _ = sites_and_reason(mask, gsd_m=0.03, drone_radius_m=0.5, probs=probs)
        picture = draw_landing_sites(overlay(rgb, mask.astype("uint8"), classes.LANDING, 0.45), sites)
        cv2.imwrite(str(Path(out) / "frame_overlay.png"), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    # VmHWM: this process's own peak (ru_maxrss would include the parent's peak, kept across fork and exec)
    hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
    print(json.dumps({"seconds": time.perf_counter() - start, "peak_mb": hwm / 1024}))
""")


def scene(megapixels: float) -> np.ndarray:
    """A 4:3 RGB frame with roads, roofs and lawns: cheap to draw at any size."""
    h = int(round((megapixels * 1e6 * 3 / 4) ** 0.5))
    w = h * 4 // 3
    rng = np.random.default_rng(0)
    small = rng.integers(40, 220, (max(2, h // 400), max(2, w // 400), 3)).astype(np.uint8)
    image = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    cv2.randn(noise := np.empty_like(image, np.int16), 0, 8)
    return cv2.add(image, noise, dtype=cv2.CV_8U)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1, 12, 48, 96], help="megapixels")
    parser.add_argument("--engines", nargs="+", default=["bounded", "tiled"], choices=["bounded", "tiled"])
    parser.add_argument("--checkpoint", default="-", help="a landing checkpoint (default: an untrained fast network)")
    parser.add_argument("--tiled-max-mp", type=float, default=48, help="skip the tiled path above this size")
    args = parser.parse_args()
    print(describe_machine())
    print(f"{'MP':>5} {'pixels':>13} {'engine':>8} {'seconds':>8} {'peak RSS':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for mp in args.sizes:
            image = Path(tmp) / f"frame{mp:g}.jpg"
            frame = scene(mp)
            cv2.imwrite(str(image), frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
            shape = f"{frame.shape[1]}x{frame.shape[0]}"
            del frame
            for engine in args.engines:
                if engine == "tiled" and mp > args.tiled_max_mp:
                    print(f"{mp:>5g} {shape:>13} {engine:>8} {'skipped':>8} (--tiled-max-mp {args.tiled_max_mp:g})")
                    continue
                out = Path(tmp) / f"{engine}{mp:g}"
                out.mkdir()
                done = subprocess.run([sys.executable, "-c", RUN, engine, str(image), str(out), args.checkpoint],
                                      capture_output=True, text=True)
                if done.returncode:
                    print(f"{mp:>5g} {shape:>13} {engine:>8} failed: {done.stderr.strip().splitlines()[-1]}")
                    continue
                r = json.loads(done.stdout.strip().splitlines()[-1])
                print(f"{mp:>5g} {shape:>13} {engine:>8} {r['seconds']:>8.1f} {r['peak_mb']:>7.0f} MB", flush=True)


if __name__ == "__main__":
    main()
