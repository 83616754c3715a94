"""``landinglib predict`` for real flights: whole folders that survive bad files, any image size.

Per image it writes ``<stem>_overlay.png`` (the landing classes over the photo, with the best sites),
``<stem>_mask.png`` (full-resolution landing classes as a palette PNG: pixel values are class
indices, viewers show the class colours) and ``<stem>_sites.json``; every file is written to a
temporary name and renamed, and the JSON comes last, so an image whose JSON exists is complete.
A re-run skips complete images (``overwrite=True`` redoes them), so a killed run of a thousand
frames resumes where it stopped. A file that cannot be read is reported, not fatal: the run goes
on, and ``predict_report.json`` lists every image with its status and reason.
"""
from __future__ import annotations

import io
import json
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from . import classes
from .data import IMAGE_SUFFIXES
from .inference import WORKING_SIDE, predict_bounded, scale_for_gsd
from .landing import DEFAULT_GSD_M, sites_and_reason
from .runtime import fast_mode, write_atomic
from .safety import landing_mask
from .viz import draw_landing_sites, overlay
OUTPUT_SUFFIXES = ("_overlay.png", "_mask.png", "_sites.json")  # the JSON last: it marks a finished image
REPORT = "predict_report.json"


@dataclass
class FileResult:
    """One image of a run: ``status`` is "done", "skipped" (complete outputs found) or "failed"."""

    image: str
    status: str
    message: str = ""
    seconds: float = 0.0


def count_results(results: list[FileResult]) -> dict[str, int]:
    """How many images were done, skipped and failed."""
    return {s: sum(r.status == s for r in results) for s in ("done", "skipped", "failed")}


def list_images(source: str | os.PathLike) -> list[Path]:
    """The image files of a folder (sorted; by suffix, see ``data.IMAGE_SUFFIXES``), or one file."""
    source = Path(source)
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"no images in {source} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
        return files
    if source.is_file():
        return [source]
    raise FileNotFoundError(f"{source}: no such image or folder")


def _palette_png(mask: np.ndarray) -> bytes:
    """A palette PNG of class indices coloured with the landing palette (fast compression)."""
    image = Image.fromarray(mask, mode="P")
    image.putpalette(classes.LANDING.palette().ravel().tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def predict_file(model, path: Path, out: Path, stem: str, *, gsd_m: float | None = None, drone_radius_m: float = 0.5,
                 short_side: int = 256, train_gsd_m: float | None = None, flip_tta: bool = False,
                 working_side: int = WORKING_SIDE, safe_threshold: float | None = None) -> str:
    """Predict one image file and write its three outputs; returns a one-line summary.

    The network scale: with the image's ``gsd_m`` and the checkpoint's ``train_gsd_m`` known, the
    image is resized to the GSD the network was trained at (``inference.scale_for_gsd``); otherwise
    its short side becomes ``short_side``. The landing footprint uses ``gsd_m`` (``DEFAULT_GSD_M``
    when unknown, said in the JSON). Sites are searched at the working scale with the same physical
    footprint and reported in full-resolution pixels. ``safe_threshold``: Safe only where P(Safe) reaches
    it (``safety.landing_mask``; None = argmax), in the mask, the overlay and the sites alike."""
    scale = scale_for_gsd(gsd_m, train_gsd_m) if gsd_m and train_gsd_m else None
    assumed = gsd_m is None
    gsd_m = DEFAULT_GSD_M if assumed else gsd_m
    pred = predict_bounded(model, path, short_side=short_side, scale=scale, flip_tta=flip_tta, working_side=working_side)
    s = pred.working_scale
    work_mask = landing_mask(pred.working_probs, safe_threshold)
    sites, why = sites_and_reason(work_mask, gsd_m=gsd_m / s, drone_radius_m=drone_radius_m, probs=pred.working_probs)
    picture = draw_landing_sites(overlay(pred.working_image, work_mask, classes.LANDING, 0.45), sites)
    full_sites = [replace(site, center=pred.to_full(site.center), radius_px=site.radius_px / s,
                          area_px=int(round(site.area_px / s**2)), danger_distance_px=site.danger_distance_px / s)
                  for site in sites]
    mask = pred.full_mask(safe_threshold=safe_threshold)
    share = cv2.calcHist([mask], [0], None, [256], [0, 256]).ravel() / mask.size  # np.bincount would copy to int64
    write_atomic(out / f"{stem}_overlay.png", cv2.imencode(".png", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))[1].tobytes())
    write_atomic(out / f"{stem}_mask.png", _palette_png(mask))
    report = {"image": str(path), "size": list(pred.full_shape), "gsd_m": gsd_m, "gsd_assumed": assumed,
              "network_scale": round(pred.probs.shape[2] / pred.full_shape[1], 6), "drone_radius_m": drone_radius_m,
              "overlay_scale": round(s, 6), "safe_threshold": safe_threshold, "sites": [site.as_dict() for site in full_sites], "no_site_because": why,
              "class_share": {n: round(float(share[i]), 4) for i, n in enumerate(classes.LANDING.names)}}
    write_atomic(out / f"{stem}_sites.json", json.dumps(report, indent=2).encode())
    return f"best site at {full_sites[0].center}, score {full_sites[0].score:.2f}" if full_sites else f"no landing site: {why}"


def _stems(files: list[Path]) -> dict[Path, str]:
    """Output stems: the file's stem, or its whole name where two files share a stem (a.jpg, a.png)."""
    counts: dict[str, int] = {}
    for f in files:
        counts[f.stem] = counts.get(f.stem, 0) + 1
    return {f: f.stem if counts[f.stem] == 1 else f.name for f in files}


def _complete(out: Path, stem: str) -> bool:
    return all((out / f"{stem}{suffix}").is_file() for suffix in OUTPUT_SUFFIXES)


def predict_folder(model, source: str | os.PathLike, out: str | os.PathLike, *, overwrite: bool = False,
                   progress: bool = True, say=print, **options) -> list[FileResult]:
    """Predict every image of ``source`` (a folder or one file) into ``out``; see the module text.

    ``options`` go to ``predict_file`` (``gsd_m``, ``drone_radius_m``, ``short_side``, ``flip_tta``,
    ``safe_threshold``).
    Returns one ``FileResult`` per image and writes them to ``out/predict_report.json``."""
    files = list_images(source)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stems = _stems(files)
    results = []
    bar = None
    if progress and not fast_mode() and os.environ.get("LANDINGLIB_PROGRESS") != "off" and len(files) > 1:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(files), desc="predict", unit="image")
        say = bar.write
    for path in files:
        stem, start = stems[path], time.perf_counter()
        if not overwrite and _complete(out, stem):
            results.append(FileResult(str(path), "skipped", "outputs complete (--overwrite to redo)"))
        else:
            try:
                summary = predict_file(model, path, out, stem, **options)
                results.append(FileResult(str(path), "done", summary, time.perf_counter() - start))
            except (ValueError, OSError, cv2.error, MemoryError) as err:  # one bad file must not end the run
                results.append(FileResult(str(path), "failed", str(err), time.perf_counter() - start))
        r = results[-1]
        say(f"{path.name}: {r.message}" + (f" ({r.seconds:.2f} s)" if r.status == "done" else f" [{r.status}]"))
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    write_atomic(out / REPORT, json.dumps({"source": str(source), "counts": count_results(results),
                                            "images": [asdict(r) for r in results]}, indent=2).encode())
    return results
