"""Command line (also ``python -m landinglib ...``):

    landinglib data       generate and summarise the built-in data
    landinglib pretrain   stage 0: train a network on a large procedural world (once; the course ships the result)
    landinglib train      stages 0 -> 1 -> 2, results table
    landinglib evaluate   score a checkpoint on UDD6 (test split) next to a trivial baseline
    landinglib predict    overlay, full-size mask and landing-site JSON for an image or a folder (resumable)
    landinglib export     ONNX (checked) and static INT8 ONNX, with a JSON report
    landinglib sweep      hyperparameter search (Optuna): the guide's grid or TPE, resumable, shareable
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from . import classes, synthetic
from .cli_parser import build_parser, config_default, config_settings
from .devices import DeviceUnavailable
from .safety import check_threshold


def _data(args: argparse.Namespace) -> int:
    """Generate (or find) the built-in data and print what is there."""
    from .data import DroneDeployDataset, UDD6Dataset, class_pixel_counts, unseen_style_dataset

    start = time.perf_counter()
    roots = {style: synthetic.ensure_builtin(style, fast=args.fast) for style in ("dronedeploy", "udd6", "udd6-unseen")}
    print(f"built-in data ready in {time.perf_counter() - start:.1f} s")
    print(f"\n{'dataset':<12} {'split':<6} {'items':>6}  source")
    for split in ("train", "val", "test"):
        dd = DroneDeployDataset(roots["dronedeploy"], split, chip_size=args.chip_size)
        print(f"{'dronedeploy':<12} {split:<6} {len(dd):>6}  chips of {args.chip_size} px from {len(dd.scenes)} scenes")
    for split in ("train", "val", "test"):
        udd = UDD6Dataset(roots["udd6"], split)
        print(f"{'udd6':<12} {split:<6} {len(udd):>6}  frames")
    unseen = unseen_style_dataset(roots["udd6-unseen"], size=None)
    print(f"{'udd6-unseen':<12} {'test':<6} {len(unseen):>6}  frames in styles that training never sees")
    counts = class_pixel_counts(UDD6Dataset(roots["udd6"], "train"))
    share = counts / max(counts.sum(), 1)
    print("\nUDD6-style train pixels per landing class: "
          + ", ".join(f"{n} {s:.1%}" for n, s in zip(classes.LANDING.names, share)))
    for style, root in roots.items():
        info = json.loads((Path(root) / "GENERATED.json").read_text())
        print(f"{style}: {root} ({info['count']}, generated in {info['seconds']} s)")
    return 0


def _check_paths(args: argparse.Namespace, *names: str) -> None:
    """Each named path option that is given must exist: fail before any work starts."""
    for name in names:
        path = getattr(args, name, None)  # None: not given
        if path is not None and not Path(path).exists():
            raise FileNotFoundError(f"--{name.replace('_', '-')} {path}: no such file or folder")


def _train(args: argparse.Namespace) -> int:
    """Stages 0 -> 1 -> 2 with the given paths and settings; prints the results table."""
    from .pipeline import PipelineConfig, crop_fits, run

    _check_paths(args, "dronedeploy", "udd6", "stage1_data", "stage1_classes", "stage2_data", "classes")
    settings = config_settings(args)  # the options given; PipelineConfig (or its fast recipe) has the rest
    if settings.get("init") not in (None, "none"):
        _check_paths(args, "init")
    batch_size, size, crop = settings.get("batch_size"), settings.get("size"), settings.get("crop")
    if batch_size is not None and batch_size < 2:
        raise ValueError(f"--batch-size {batch_size}: BatchNorm needs at least 2 images per batch")
    if size is not None and size % 32:
        raise ValueError(f"--size {size}: the image scale must be a multiple of 32 (e.g. 256)")
    if crop is not None and crop != 0 and not crop_fits(crop):
        raise ValueError(f"--crop {crop}: training crops must be a multiple of 32 (or 0: whole images)")
    if crop == 0:
        settings["crop"] = None
    elif crop is None and size is not None:
        settings["crop"] = min(config_default("crop"), size)  # the default crop, never larger than the image scale
    cfg = PipelineConfig.fast(**settings) if args.fast else PipelineConfig(**settings)
    start = time.perf_counter()
    run(cfg, resume=args.resume)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"total {time.perf_counter() - start:.0f} s; checkpoints and results.json in {cfg.out}")
    return 0


def _pretrain(args: argparse.Namespace) -> int:
    """Stage 0 on the large procedural world; with ``--ship``, the weights and their card go to data/pretrained/."""
    from .pretrain import PretrainConfig, run_pretrain, ship

    settings = config_settings(args, PretrainConfig)
    cfg = PretrainConfig.fast(**settings) if args.fast else PretrainConfig(**settings)
    result = run_pretrain(cfg, resume=args.resume)
    if args.ship and int(os.environ.get("RANK", "0")) == 0:
        dest = ship(result, cfg, None if args.ship == "default" else args.ship)
        print(f"shipped {dest} ({dest.stat().st_size / 1e6:.2f} MB) with its card {dest.with_suffix('.json').name}")
    print(f"{result['wall_seconds_this_call'] / 60:.1f} min; checkpoints and pretrain.json in {cfg.out}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    """A resumable hyperparameter search (Optuna); prints the results table and the Pareto front."""
    from .pipeline import PipelineConfig
    from .sweep import GRID, MAX_ATTEMPTS, SweepConfig, pareto_front, point_rows, run_sweep, sweep_table, unfinished

    _check_paths(args, "stage2_data", "classes")
    base_settings = dict(stage2_data=args.stage2_data, classes=args.classes, device=args.device, workers=args.workers,
                         seed=args.seed)
    base = PipelineConfig.fast(**base_settings) if args.fast else PipelineConfig(**base_settings)
    grid = {"lr": args.lr or GRID["lr"], "batch_size": args.batch_size or GRID["batch_size"], "arch": args.arch or GRID["arch"]}
    cfg = SweepConfig(out=args.out, study=args.study, storage=args.storage, sampler=args.sampler, grid=grid,
                      trials=args.trials, base=base, epochs1=args.epochs1 or (1 if args.fast else None),
                      epochs2=args.epochs2 or (2 if args.fast else None), prune=not args.no_prune,
                      latency=not args.no_latency, seed=args.seed)
    start = time.perf_counter()
    rows = run_sweep(cfg)
    print(sweep_table(rows))
    front = pareto_front(rows)
    if front:
        print("Pareto front (no trial is both more accurate and faster): "
              + ", ".join(f"trial {r['trial']} ({r['arch']}, {r['val_miou']:.3f}, {r['latency_ms']:.1f} ms)" for r in front))
    print(f"{time.perf_counter() - start:.0f} s; table in {Path(args.out) / 'sweep.json'}, plots in {Path(args.out) / 'sweep.png'}")
    for r in point_rows(rows):
        if r["state"] in ("RUNNING", "WAITING"):
            print(f"{r['point']}: {r['state'].lower()} in another process")
    failed = unfinished(rows)
    for r in failed:
        left = MAX_ATTEMPTS - r["attempts"]
        print(f"failed: {r['point']} after {r['attempts']} attempt(s): {r.get('error') or 'its process died'}; "
              + (f"run the same command again to retry it ({left} attempt(s) left)" if left > 0 else "no attempts left"))
    return 1 if failed else 0


def _landing_model(path: str):
    """A 4-class landing model from a checkpoint, or a clear error for any other checkpoint."""
    from .model import WrongClassesError, load_model

    try:
        return load_model(path, classes.LANDING)
    except WrongClassesError as err:
        raise WrongClassesError(f"{err}: use a stage-2 checkpoint (runs/NAME/stage2/best.pt)") from None


def _evaluate(args: argparse.Namespace) -> int:
    """Print the metrics of a landing checkpoint on a UDD6 split, with the majority baseline, and its
    landing-aware figures with the plain argmax and with the checkpoint's Safe threshold (or one chosen
    on the validation split for ``--false-safe-budget``)."""
    from . import data, evaluation, metrics
    from .model import load_checkpoint
    from .pipeline import PipelineConfig, landing_summary, score_stage
    from .safety import landing_table

    model = _landing_model(args.checkpoint)
    state = load_checkpoint(args.checkpoint)
    gsd = (state.get("config") or {}).get("gsd_m")
    threshold, budget = model.safe_threshold, (state.get("safety") or {}).get("budget")
    root = args.udd6 or synthetic.ensure_builtin("udd6", fast=args.fast)
    loaders = data.make_loaders("udd6", root, size=args.size, batch_size=args.batch_size, num_workers=0)
    if args.false_safe_budget is not None:  # a new threshold, chosen on validation like the pipeline's
        curve = evaluation.evaluate(model, loaders.val, safe_curve=True, sites=False, gsd_m=gsd)["safe_curve"]
        threshold, budget = curve.threshold_for(args.false_safe_budget), args.false_safe_budget
    loader = getattr(loaders, args.split)
    # what this command reads, as a pipeline recipe; with udd6 set, training_gsd is None, so a checkpoint
    # that records no GSD is scored at evaluate's default, as before
    cfg = PipelineConfig(udd6=str(root), size=args.size, batch_size=args.batch_size, workers=0, crop=None, unseen=False)
    split = {args.split: loader}
    scores = score_stage(model, cfg, 2, split, gsd_m=gsd)
    table = {"model (argmax)": scores[args.split]}
    report = {"threshold": threshold, "budget": budget, args.split: {"argmax": landing_summary(scores[args.split])}}
    if threshold is not None:
        ruled = score_stage(model, cfg, 2, split, gsd_m=gsd, safe_threshold=threshold)[args.split]
        table[f"model (Safe >= {threshold:.3f})"] = ruled
        report[args.split]["rule"] = landing_summary(ruled)
    table["baseline: majority class"] = scores["baseline"]
    print(f"{args.checkpoint} on {len(loader.dataset)} UDD6 {args.split} images at {args.size} px (short side)")
    print(metrics.compare(table, classes.LANDING.names))
    print(landing_table(report))
    return 0


def _predict(args: argparse.Namespace) -> int:
    """Overlay, full-size mask and landing-site JSON per image; a bad file is reported, not fatal."""
    from .predict_folder import REPORT, count_results, list_images, predict_folder

    from .model import load_checkpoint

    list_images(args.images)  # a missing folder fails before the model is loaded
    model = _landing_model(args.checkpoint)
    threshold = model.safe_threshold if args.safe_threshold is None else check_threshold(args.safe_threshold)
    if threshold is None:
        print(f"{args.checkpoint} has no Safe threshold (written before the rule): Safe is the most likely class")
    train_gsd = (load_checkpoint(args.checkpoint).get("config") or {}).get("gsd_m")
    if args.gsd and not train_gsd:
        print(f"{args.checkpoint} does not record its training GSD: the short side is scaled to {args.short_side} px")
    results = predict_folder(model, args.images, args.out, overwrite=args.overwrite, gsd_m=args.gsd,
                             train_gsd_m=train_gsd, drone_radius_m=args.drone_radius, short_side=args.short_side,
                             flip_tta=args.tta, safe_threshold=threshold)
    failed = [r for r in results if r.status == "failed"]
    counts = count_results(results)
    print(f"{counts['done']} predicted, {counts['skipped']} skipped (already complete), {counts['failed']} failed; "
          f"report in {Path(args.out) / REPORT}")
    for r in failed:
        print(f"  FAILED {r.image}: {r.message}")
    return 1 if failed else 0


def _export(args: argparse.Namespace) -> int:
    """landing.onnx (+ landing.int8.onnx calibrated on UDD6 validation images) and export.json."""
    from . import data, evaluation, export

    model = _landing_model(args.checkpoint)
    out = Path(args.out)
    report = {"checkpoint": args.checkpoint, "safe_threshold": model.safe_threshold,
              "onnx": export.to_onnx(model, out / "landing.onnx", size=args.size)}
    print(f"wrote {out / 'landing.onnx'} ({report['onnx']['bytes'] / 1e6:.2f} MB), onnxruntime vs PyTorch: "
          f"max |diff| {report['onnx']['max_abs_diff']:.1e}, argmax agreement {report['onnx']['argmax_agreement']:.4f}")
    if args.int8:
        root = args.udd6 or synthetic.ensure_builtin("udd6", fast=args.fast)
        loaders = data.make_loaders("udd6", root, size=args.size, batch_size=1, num_workers=0)
        q = export.quantize_int8(out / "landing.onnx", loaders.val, out / "landing.int8.onnx",
                                 max_images=args.calibration_images)
        fp32, int8 = export.onnx_session(out / "landing.onnx"), export.onnx_session(out / "landing.int8.onnx")
        acc32 = evaluation.evaluate(fp32, loaders.test, len(classes.LANDING))
        acc8 = evaluation.evaluate(int8, loaders.test, len(classes.LANDING), reference=fp32)
        q.update({"test_miou_fp32": acc32["miou"], "test_miou_int8": acc8["miou"],
                  "test_argmax_agreement": acc8["argmax_agreement"], "test_images": len(loaders.test.dataset)})
        report["int8"] = q
        print(f"wrote {out / 'landing.int8.onnx'} ({q['int8_bytes'] / 1e6:.2f} MB, {q['size_ratio']:.1f}x smaller), "
              f"calibrated on {q['calibration_images']} validation images; test mIoU fp32 {acc32['miou']:.3f} / "
              f"INT8 {acc8['miou']:.3f}, argmax agreement {acc8['argmax_agreement']:.4f}")
    (out / "export.json").write_text(json.dumps(report, indent=2))
    return 0


COMMANDS = {"data": _data, "train": _train, "pretrain": _pretrain, "sweep": _sweep, "evaluate": _evaluate,
            "predict": _predict, "export": _export}


def main(argv: list[str] | None = None) -> int:
    """Run one command (see ``cli_parser.build_parser``); a user's mistake prints ``error: ...`` and returns 2."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (FileNotFoundError, ValueError, DeviceUnavailable, FloatingPointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
