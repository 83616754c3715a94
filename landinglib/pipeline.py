"""The staged pipeline end to end: stage 0 -> stage 1 (DroneDeploy) -> stage 2 (UDD6 -> landing).

Stage 0 is the start: by default the network the course ships pretrained on a large procedural world
(``pretrain``; ``data/pretrained/stage0-<arch>.pt``), else any checkpoint / state dict given with
``init``, or random weights (``init="none"``).
Stage 1 adapts to aerial imagery (6 classes + ignore), stage 2 swaps the classifier for the
4 landing classes and fine-tunes on UDD6. Each stage starts from the previous stage's *best*
checkpoint (chosen on validation); the held-out test split is only used to report. The landing
model then earns its Safe: the threshold of the decision rule (``safety``) is chosen on validation
for the false-safe budget and recorded in its checkpoint.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from . import classes, data, distributed, synthetic
from .devices import resolve_device
from .evaluation import evaluate
from .model import build_model, load_checkpoint, load_weights, save_checkpoint, set_safety
from .pretrain import shipped_stage0
from .runtime import fast_mode, pretrained_dir, set_seed
from .safety import FALSE_SAFE_BUDGET, landing_table
from .train import TrainConfig, fit


EPOCHS = {"ultra-fast": (6, 8), "fast": (12, 24), "accurate": (6, 8)}
"""(stage 1, stage 2) epochs per architecture when none are given: about 4 minutes in all on 2 AVX2
cores for ``ultra-fast`` and ``fast`` (``fast`` trains ~3x more images per second, so it gets
more epochs in the same time); ``accurate`` takes far longer (a GPU is advised)."""
PROBE_SHARE = 3
"""A stage first trains only its new classifier for 1/PROBE_SHARE of its epochs (linear probing, then
fine-tuning: a random classifier's first gradients do not wreck the pretrained features)."""


@dataclass
class PipelineConfig:
    """The recipe of ``landinglib train``: the ``fast`` network, batch 6, epochs from ``EPOCHS``,
    lr 1e-3 then 5e-4; images seen at a short side of ``size`` = 256 px, trained on ``crop`` = 128 px
    crops cut at that scale.

    Measured on 2 cores (README): ``fast`` and ``ultra-fast`` (the reference the notebooks teach) both
    run the pipeline in about 4 minutes on AVX2, ``fast`` with 12 + 24 epochs against 6 + 8. On the
    realistic built-in world ``fast`` scores as high or higher on the test (0.435 / 0.440 against
    0.431 / 0.375, seeds 0 / 1) and on the unseen-style test (0.376 / 0.325 against 0.324 / 0.304):
    its receptive field spans a whole roof, while the reference sees 33 px, not enough to tell a
    concrete roof from a concrete plaza. And its exported model answers in under 5 ms.
    ``arch="ultra-fast"`` is the reference network; ``crop=None`` trains on 25-100 % of each image
    resized to ``size`` (the recipe of landinglib 0.1).
    """

    dronedeploy: str | None = None  # None = built-in data
    udd6: str | None = None
    stage1_data: str | None = None  # your own stage-1 data (a folder, see data.find_folders) instead of DroneDeploy
    stage1_classes: str | None = None  # its class file (classes.read_class_file): the stage-1 classes
    stage2_data: str | None = None  # your own stage-2 data instead of UDD6, trained as landing classes
    classes: str | None = None  # its class file, with a landing column
    out: str = "runs/default"
    arch: str = "fast"  # "fast" (the default, under 5 ms), "ultra-fast" (the reference), "accurate" (BiSeNetV2)
    init: str | None = None  # stage 0: None = the shipped stage 0 of arch; "none" = random weights; or a file
    epochs1: int | None = None  # None = EPOCHS[arch]
    epochs2: int | None = None
    lr1: float = 1e-3
    lr2: float = 5e-4
    batch_size: int = 6
    size: int = 256
    chip_size: int = 512
    crop: int | None = 128  # training crops: crop x crop px at the evaluation scale; None = whole-image crops
    udd6_repeat: int = 3  # random crops per UDD6 frame per epoch
    device: str = "auto"
    workers: int | None = None
    seed: int = 0
    class_weights: bool = True
    augment: str = "light"  # training augmentation: "light" or "strong" (see data.train_transform)
    unseen: bool = True  # also score stage 2 on the built-in unseen-style test
    false_safe_budget: float = FALSE_SAFE_BUDGET  # the Safe threshold keeps false-safe and Danger->Safe within it (validation)
    probe1: int | None = None  # stage 1 / 2: first epochs that train only the new classifier
    probe2: int | None = None  # (train.TrainConfig.probe_epochs); None = a third of the stage's epochs (probe_epochs())
    limit: int | None = None  # items per split (quick runs)
    max_steps: int | None = None  # steps per epoch (quick runs)
    progress: bool = True

    def __post_init__(self):
        for data_path, class_file, what in ((self.stage1_data, self.stage1_classes, "stage1_classes"),
                                            (self.stage2_data, self.classes, "classes")):
            if data_path and not class_file:
                raise ValueError(f"your own data {data_path} needs its class file ({what}: name, r, g, b, landing)")
        if self.stage1_data and self.dronedeploy or self.stage2_data and self.udd6:
            raise ValueError("give one dataset per stage: dronedeploy or stage1_data, udd6 or stage2_data")
        if not 0.0 <= self.false_safe_budget <= 1.0:
            raise ValueError(f"false_safe_budget {self.false_safe_budget}: a share of pixels in [0, 1] (e.g. 0.02)")
        if self.arch not in EPOCHS:
            raise ValueError(f"unknown architecture {self.arch!r}; choose one of {sorted(EPOCHS)}")
        if self.crop is not None and not (32 <= self.crop <= self.size and self.crop % 32 == 0):
            raise ValueError(f"crop {self.crop}: training crops must be a multiple of 32 and at most size {self.size} "
                             "(or None: whole-image crops)")
        default1, default2 = EPOCHS[self.arch]
        self.epochs1 = default1 if self.epochs1 is None else self.epochs1
        self.epochs2 = default2 if self.epochs2 is None else self.epochs2
        for probe, epochs, n in ((self.probe1, self.epochs1, 1), (self.probe2, self.epochs2, 2)):
            if probe is not None and (probe < 0 or (epochs and probe >= epochs)):
                raise ValueError(f"probe{n} {probe} with epochs{n} {epochs}: the classifier-only epochs must be fewer "
                                 "than the stage's epochs, or the whole network never learns")

    @classmethod
    def fast(cls, **overrides) -> PipelineConfig:
        """Tiny settings for tests and ``LANDINGLIB_FAST=1``: a few steps on a few images."""
        return cls(**{**dict(epochs1=1, epochs2=2, limit=12, max_steps=3, batch_size=4, size=128, crop=128,
                              udd6_repeat=1),
                      **overrides})


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


PRETRAINED = {"accurate": "bisenetv2_city.pth"}
"""Stage-0 files you bring, looked for in ``data/pretrained/`` when the course ships none for the
architecture (see its README)."""


def stage_taxonomy(stage: int, cfg: PipelineConfig) -> classes.Taxonomy:
    """The classes a stage learns: stage 1 the DroneDeploy six (or your ``stage1_classes``), stage 2
    the four landing classes."""
    if stage == 1 and cfg.stage1_data:
        return classes.read_class_file(cfg.stage1_classes).taxonomy
    return classes.DRONEDEPLOY if stage == 1 else classes.LANDING


def stage_dataset(stage: int, cfg: PipelineConfig, split: str, transform=None):
    """One split of a stage's data as a dataset, raw arrays unless a ``transform`` is given (to look
    at frames, or predict them whole): the built-in data, the real dataset, or your own folder."""
    if stage == 1 and cfg.stage1_data:
        return data.FolderDataset(*data.find_folders(cfg.stage1_data), cfg.stage1_classes, split, transform)
    if stage == 1:
        root = cfg.dronedeploy or synthetic.ensure_builtin("dronedeploy")
        return data.DroneDeployDataset(root, split, transform=transform, chip_size=cfg.chip_size)
    if cfg.stage2_data:
        return data.FolderDataset(*data.find_folders(cfg.stage2_data), cfg.classes, split, transform, target="landing")
    return data.UDD6Dataset(cfg.udd6 or synthetic.ensure_builtin("udd6"), split, target="landing", transform=transform)


def loaders_for(stage: int, cfg: PipelineConfig) -> data.Loaders:
    """The loaders of stage 1 (DroneDeploy chips, or your ``stage1_data``) or stage 2 (UDD6, or your
    ``stage2_data``, as landing classes); under torchrun each process gets its shard (and its share
    of the batch)."""
    common = dict(size=cfg.size, batch_size=cfg.batch_size, num_workers=cfg.workers, limit=cfg.limit, seed=cfg.seed,
                  augment=cfg.augment, crop=cfg.crop)
    if stage == 1 and cfg.stage1_data:
        loaders = data.make_loaders("folder", cfg.stage1_data, classes=cfg.stage1_classes, target="own", **common)
    elif stage == 1:
        loaders = data.make_loaders("dronedeploy", cfg.dronedeploy, chip_size=cfg.chip_size, **common)
    elif cfg.stage2_data:
        loaders = data.make_loaders("folder", cfg.stage2_data, classes=cfg.classes, target="landing",
                                    repeat=cfg.udd6_repeat, **common)
    else:
        loaders = data.make_loaders("udd6", cfg.udd6, target="landing", repeat=cfg.udd6_repeat, **common)
    return data.Loaders(distributed.shard(loaders.train, True, cfg.seed), distributed.shard(loaders.val, False),
                        distributed.shard(loaders.test, False))


def _say(*args) -> None:
    if distributed.is_main():
        print(*args)


def stage0_source(cfg: PipelineConfig) -> str | None:
    """The stage-0 file a run starts from, or None for random weights: ``cfg.init`` when it is a path;
    for ``init=None`` the course's shipped stage 0 of ``cfg.arch`` (``pretrain.shipped_stage0``, its hash
    checked against its card), else for "accurate" the BiSeNetV2 Cityscapes checkpoint when it is in
    ``data/pretrained/``; for ``init="none"`` nothing."""
    if cfg.init == "none":
        return None
    if cfg.init:
        return cfg.init
    shipped = shipped_stage0(cfg.arch)
    if shipped is not None:
        return str(shipped)
    if cfg.arch in PRETRAINED and (pretrained_dir() / PRETRAINED[cfg.arch]).exists():
        return str(pretrained_dir() / PRETRAINED[cfg.arch])
    return None


def stage0(cfg: PipelineConfig, num_classes: int = 6):
    """The starting model: the weights of ``stage0_source`` transferred with ``load_weights`` (the
    classifier re-initialised for ``num_classes``), or random weights (seeded)."""
    set_seed(cfg.seed)
    model = build_model(cfg.arch, num_classes)
    init = stage0_source(cfg)
    report = None
    if init:
        report = load_weights(model, init)
        _say(f"stage 0: weights from {data._shown(Path(init))}: {report}")  # relative: outputs name no home folder
    else:
        why = "--init none" if cfg.init == "none" else f"the course ships no stage 0 for {cfg.arch}" + (
            f" and there is no {data._shown(pretrained_dir() / PRETRAINED[cfg.arch])} (see data/pretrained/README.md)"
            if cfg.arch in PRETRAINED else "")
        _say(f"stage 0: {cfg.arch} with random weights (seed {cfg.seed}): {why}")
    return model, report


def stage2_start(cfg: PipelineConfig, stage1_checkpoint: str):
    """The stage-2 model: the stage-1 weights with a fresh 4-class classifier (seeded)."""
    set_seed(cfg.seed)
    model = build_model(cfg.arch, len(classes.LANDING))
    report = load_weights(model, stage1_checkpoint)
    _say(f"stage 2 starts from {stage1_checkpoint}: {report}")
    return model, report


def training_gsd(stage: int, cfg: PipelineConfig) -> float | None:
    """Ground sampling distance (m/px) of a stage's training images as the network sees them, for
    the built-in data (None for a user's dataset, whose GSD the course cannot know): DroneDeploy-style
    chips are 10 cm/px orthomosaic cut to ``chip_size`` and resized to ``size``; UDD6-style frames
    span 5-22 cm/px (log-uniform, the median is taken) at 540 px short side, resized to ``size``."""
    if stage == 1:
        if cfg.dronedeploy or cfg.stage1_data:
            return None
        lo, hi = synthetic.DRONEDEPLOY_STYLE.gsd_m
        return math.sqrt(lo * hi) * cfg.chip_size / cfg.size
    if cfg.udd6 or cfg.stage2_data:
        return None
    lo, hi = synthetic.UDD6_STYLE.gsd_m
    return math.sqrt(lo * hi) * min(synthetic.UDD6_STYLE.frame) / cfg.size


def stage_config(stage: int, cfg: PipelineConfig, class_weights=None, out_dir: str | None = None) -> TrainConfig:
    """The ``TrainConfig`` of stage 1 or 2: its epochs and learning rate, the given class weights,
    checkpoints in ``{cfg.out}/stage{N}`` (or ``out_dir``) — what ``train_stage`` and the notebooks use."""
    if stage not in (1, 2):
        raise ValueError(f"stage must be 1 or 2, got {stage}")
    weights = class_weights.tolist() if hasattr(class_weights, "tolist") else class_weights
    return TrainConfig(epochs=cfg.epochs1 if stage == 1 else cfg.epochs2, lr=cfg.lr1 if stage == 1 else cfg.lr2,
                       class_weights=weights, device=cfg.device, seed=cfg.seed,
                       out_dir=out_dir or str(Path(cfg.out) / f"stage{stage}"), max_steps=cfg.max_steps,
                       progress=cfg.progress, gsd_m=training_gsd(stage, cfg),
                       probe_epochs=probe_epochs(stage, cfg))


def probe_epochs(stage: int, cfg: PipelineConfig) -> int:
    """The first epochs of ``stage`` that train only its new classifier: ``probe1``/``probe2`` when given,
    otherwise a third of the stage's epochs (so a shorter stage, e.g. a sweep trial's, probes less)."""
    probe, epochs = (cfg.probe1, cfg.epochs1) if stage == 1 else (cfg.probe2, cfg.epochs2)
    return epochs // PROBE_SHARE if probe is None else probe


def train_stage(stage: int, model, cfg: PipelineConfig, *, resume: bool = False, on_epoch=None) -> StageResult:
    """Fit one stage, then score its best checkpoint on the held-out test split."""
    taxonomy = stage_taxonomy(stage, cfg)
    loaders = loaders_for(stage, cfg)
    weights = None
    if cfg.class_weights:
        weights = data.class_weights(data.class_pixel_counts(loaders.train.dataset)).tolist()
    out = Path(cfg.out) / f"stage{stage}"
    config = stage_config(stage, cfg, weights)
    start = time.perf_counter()
    history = fit(model, loaders.train, loaders.val, config, class_names=taxonomy.names, resume=resume,
                  on_epoch=(lambda epoch, row: on_epoch(stage, epoch, row)) if on_epoch else None)
    seconds = time.perf_counter() - start
    if all("epoch_seconds" in h for h in history):  # the whole stage, also when part of it ran before a resume
        seconds = sum(h["epoch_seconds"] for h in history)
    best = load_checkpoint(out / "best.pt")
    model.load_state_dict(best["model"])
    device = resolve_device(cfg.device)
    landing = stage == 2
    tests = {"test": loaders.test}
    if landing and cfg.unseen:
        loader = data.unseen_style_loader(size=cfg.size, batch_size=cfg.batch_size, num_workers=cfg.workers,
                                          limit=cfg.limit)
        tests["unseen"] = distributed.shard(loader, False)
    gsd = training_gsd(stage, cfg)
    scored = {name: evaluate(model, loader, len(taxonomy), device=device, landing=landing, gsd_m=gsd)
              for name, loader in tests.items()}
    test, unseen = scored["test"], scored.get("unseen", {})
    report = earn_safe(model, loaders.val, tests, cfg, out / "best.pt", device, argmax=scored) if landing else None
    row = history[best["epoch"] - 1]
    return StageResult(f"stage {stage}", len(history), seconds, row["val_loss"], row["val_miou"],
                       test["miou"], test["iou"], list(taxonomy.names), str(out / "best.pt"),
                       unseen.get("miou"), unseen.get("iou"), report)


def earn_safe(model, val_loader, tests: dict, cfg: PipelineConfig, checkpoint: str | Path, device=None,
              argmax: dict | None = None) -> dict:
    """Choose the landing model's Safe threshold on **validation** and report what it does.

    The threshold is the smallest at which the validation false-safe rate and Danger called Safe both
    stay within ``cfg.false_safe_budget`` (``safety.SafeCurve.threshold_for``); it is recorded in
    ``checkpoint`` (``set_safety``) and set on ``model``. Then every split of ``tests`` (name -> loader,
    never used to choose) is scored with the plain argmax (``argmax``: name -> ``evaluate`` results
    already computed) and with the rule. Returns ``{"threshold", "budget", "<split>": {"argmax": figures,
    "rule": figures}}`` for "val" and every test split; figures are ``evaluate``'s ``landing`` plus ``miou``.
    ``device``: where to run (default: where the model's weights are)."""
    gsd = training_gsd(2, cfg)

    def figures(loader, threshold, **kw):
        result = evaluate(model, loader, 4, device=device, safe_threshold=threshold, gsd_m=gsd, **kw)
        return result, summary(result)

    def summary(result):
        return {"miou": result["miou"], **result["landing"]}

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
        plain = summary(argmax[name]) if argmax and name in argmax else figures(loader, None)[1]
        report[name] = {"argmax": plain, "rule": figures(loader, threshold)[1]}
    return report


def run(cfg: PipelineConfig, resume: bool = False, on_epoch=None) -> list[StageResult]:
    """Stages 0 -> 1 -> 2; prints and writes ``results.json`` in ``cfg.out``; returns the rows.
    ``on_epoch(stage, epoch, row)`` is called after every epoch (see ``train.fit``)."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    resolve_device(cfg.device)  # fail early on --device cuda without CUDA
    device = distributed.setup(cfg.device)  # joins the process group under torchrun
    success = False
    try:
        if device is not None:
            cfg = PipelineConfig(**{**asdict(cfg), "device": str(device)})
            _say(f"distributed: {distributed.world()[1]} processes, backend {distributed.dist.get_backend()}")
            if distributed.is_main():  # rank 0 generates and caches the data; the others wait for it
                loaders_for(1, cfg), loaders_for(2, cfg)
                if cfg.unseen:
                    data.unseen_style_dataset()
            distributed.barrier()
        stage1_classes = stage_taxonomy(1, cfg)
        model, report = stage0(cfg, num_classes=len(stage1_classes))
        start = {"init": stage0_source(cfg) or "random weights", "transfer": str(report) if report else None}
        if distributed.is_main():
            save_checkpoint(out / "stage0" / "init.pt", model, config=asdict(cfg), class_names=stage1_classes.names)
        results = [train_stage(1, model, cfg, resume=resume, on_epoch=on_epoch)]
        stage2_model, _ = stage2_start(cfg, results[0].checkpoint)
        results.append(train_stage(2, stage2_model, cfg, resume=resume, on_epoch=on_epoch))
        _say(format_table(results))
        if distributed.is_main():
            (out / "results.json").write_text(json.dumps(
                {"config": asdict(cfg), "fast_mode": fast_mode(), "processes": distributed.world()[1],
                 "stage0": start, "stages": [asdict(r) for r in results]}, indent=2))
        success = True
    finally:
        distributed.cleanup(success)
    return results


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

