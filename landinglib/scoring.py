"""How a trained stage is judged: its held-out splits scored next to the majority-class baseline
(``score_stage``), the landing model's Safe threshold earned on validation (``earn_safe``), and the
final results table of a run.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import data, distributed, metrics
from .evaluation import evaluate
from .model import set_safety
from .pipeline_config import PipelineConfig
from .safety import landing_table
from .stages import stage_taxonomy, training_gsd


@dataclass
class StageResult:
    stage: str
    epochs: int
    seconds: float
    val_loss: float
    val_miou: float
    test_miou: float
    test_iou: list
    class_names: list
    checkpoint: str
    unseen_miou: float | None = None  # stage 2: the unseen-style test (styles training never saw)
    unseen_iou: list | None = None
    landing: dict | None = None  # stage 2: the Safe threshold and the landing-aware figures (see ``earn_safe``)


def held_out_loaders(stage: int, cfg: PipelineConfig, test_loader) -> dict:
    """The splits a stage is scored on, name -> loader: "test" (``test_loader``, the stage's own test
    split) and, for stage 2 with ``cfg.unseen``, "unseen": the built-in unseen-style test (styles that
    training never sees; sharded under torchrun)."""
    splits = {"test": test_loader}
    if stage == 2 and cfg.unseen:
        loader = data.unseen_style_loader(size=cfg.size, batch_size=cfg.batch_size, num_workers=cfg.workers,
                                          limit=cfg.limit)
        splits["unseen"] = distributed.shard(loader, False)
    return splits


def score_stage(model, cfg: PipelineConfig, stage: int, splits: dict, *, device=None, gsd_m: float | None = None,
                **options) -> dict[str, dict]:
    """Score a trained stage-``stage`` model (a PyTorch model or an onnxruntime session) on each of
    ``splits`` (name -> loader, e.g. ``held_out_loaders``) with ``evaluation.evaluate``, in the stage's
    classes, as a landing model for stage 2. Returns ``{name: evaluate's result, ..., "baseline": the
    majority-class baseline of the first split}``.

    ``device``: where to run (default: where the weights are); ``gsd_m``: metres per pixel of the images as
    the loaders give them, for the landing sites (default: ``training_gsd``); ``options`` go to ``evaluate``
    (``safe_threshold`` for the decision rule instead of the argmax, ``safe_curve``, ``per_image``,
    ``reference``)."""
    num_classes = len(stage_taxonomy(stage, cfg))
    gsd = training_gsd(stage, cfg) if gsd_m is None else gsd_m
    scores = {name: evaluate(model, loader, num_classes, device=device, landing=stage == 2, gsd_m=gsd, **options)
              for name, loader in splits.items()}
    first = next(iter(scores.values()))
    scores["baseline"] = metrics.majority_baseline(np.array(first["confusion"]))
    return scores


def landing_summary(result: dict) -> dict:
    """The figures of a landing model's ``evaluate`` result that ``safety.landing_table`` prints: mIoU and
    the landing-aware figures."""
    return {"miou": result["miou"], **result["landing"]}


def earn_safe(model, val_loader, tests: dict, cfg: PipelineConfig, checkpoint: str | Path, device=None,
              argmax: dict | None = None) -> dict:
    """Choose the landing model's Safe threshold on **validation** and report what it does.

    The threshold is the smallest at which the validation false-safe rate and Danger called Safe both
    stay within ``cfg.false_safe_budget`` (``safety.SafeCurve.threshold_for``); it is recorded in
    ``checkpoint`` (``set_safety``) and set on ``model``. Then every split of ``tests`` (name -> loader,
    never used to choose) is scored with the plain argmax (``argmax``: name -> ``evaluate`` results
    already computed) and with the rule. Returns ``{"threshold", "budget", "<split>": {"argmax": figures,
    "rule": figures}}`` for "val" and every test split; figures are ``landing_summary``'s.
    ``device``: where to run (default: where the model's weights are)."""
    gsd = training_gsd(2, cfg)

    def figures(loader, threshold, **kw):
        result = evaluate(model, loader, 4, device=device, safe_threshold=threshold, gsd_m=gsd, **kw)
        return result, landing_summary(result)

    plain, val_plain = figures(val_loader, None, safe_curve=True)
    threshold = plain["safe_curve"].threshold_for(cfg.false_safe_budget)
    _, val = figures(val_loader, threshold)
    report = {"threshold": threshold, "budget": cfg.false_safe_budget, "val": {"argmax": val_plain, "rule": val}}
    if distributed.is_main():
        set_safety(checkpoint, {"threshold": threshold, "budget": cfg.false_safe_budget,
                                "rule": "Safe where Safe is the most likely class and P(Safe) >= threshold",
                                "chosen_on": "validation", "val": val})
    distributed.barrier()
    model.safe_threshold = threshold
    for name, loader in tests.items():
        plain = landing_summary(argmax[name]) if argmax and name in argmax else figures(loader, None)[1]
        report[name] = {"argmax": plain, "rule": figures(loader, threshold)[1]}
    return report


def format_table(results: list[StageResult]) -> str:
    """The final table: stage, epochs, time, val loss, val mIoU, test mIoU, unseen-style mIoU,
    per-class test IoU; then the robustness gap (test - unseen), the figure to shrink."""
    lines = [f"{'stage':<8} {'epochs':>6} {'time':>7} {'val loss':>8} {'val mIoU':>8} {'test mIoU':>9} "
             f"{'unseen mIoU':>11}  test IoU per class"]
    for r in results:
        per_class = ", ".join(f"{n} {iou:.2f}" for n, iou in zip(r.class_names, r.test_iou) if iou == iou)
        unseen = f"{r.unseen_miou:>11.3f}" if r.unseen_miou is not None else f"{'-':>11}"
        lines.append(f"{r.stage:<8} {r.epochs:>6} {r.seconds:>6.0f}s {r.val_loss:>8.3f} {r.val_miou:>8.3f} "
                     f"{r.test_miou:>9.3f} {unseen}  {per_class}")
    for r in results:
        if r.unseen_miou is not None:
            gap = r.test_miou - r.unseen_miou
            lines.append(f"{r.stage}: robustness gap (test - unseen-style test) = {gap:+.3f} mIoU")
    for r in results:
        if r.landing:
            lines += ["", landing_table(r.landing)]
    return "\n".join(lines)
