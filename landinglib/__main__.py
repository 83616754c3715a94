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
from .devices import DeviceUnavailable
from .runtime import fast_mode
from .safety import FALSE_SAFE_BUDGET, check_threshold


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
        path = getattr(args, name)
        if path is not None and not Path(path).exists():
            raise FileNotFoundError(f"--{name.replace('_', '-')} {path}: no such file or folder")


def _train(args: argparse.Namespace) -> int:
    """Stages 0 -> 1 -> 2 with the given paths and settings; prints the results table."""
    from .pipeline import PipelineConfig, run

    _check_paths(args, "dronedeploy", "udd6", "stage1_data", "stage1_classes", "stage2_data", "classes")
    if args.init not in (None, "none"):
        _check_paths(args, "init")
    settings = dict(dronedeploy=args.dronedeploy, udd6=args.udd6, out=args.out, init=args.init, device=args.device,
                    workers=args.workers, seed=args.seed, augment=args.augment, false_safe_budget=args.false_safe_budget,
                    stage1_data=args.stage1_data, stage1_classes=args.stage1_classes, stage2_data=args.stage2_data,
                    classes=args.classes)
    for name in ("arch", "epochs1", "epochs2", "batch_size", "size", "crop"):
        if getattr(args, name) is not None:  # None: PipelineConfig's default
            settings[name] = getattr(args, name)
    if args.batch_size is not None and args.batch_size < 2:
        raise ValueError(f"--batch-size {args.batch_size}: BatchNorm needs at least 2 images per batch")
    if args.size is not None and args.size % 32:
        raise ValueError(f"--size {args.size}: the image scale must be a multiple of 32 (e.g. 256)")
    if args.crop is not None and args.crop != 0 and (args.crop < 32 or args.crop % 32):
        raise ValueError(f"--crop {args.crop}: training crops must be a multiple of 32 (or 0: whole images)")
    if args.crop == 0:
        settings["crop"] = None
    elif args.crop is None and args.size is not None:
        settings["crop"] = min(128, args.size)  # the default crop, never larger than the image scale
    cfg = PipelineConfig.fast(**settings) if args.fast else PipelineConfig(**settings)
    start = time.perf_counter()
    run(cfg, resume=args.resume)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"total {time.perf_counter() - start:.0f} s; checkpoints and results.json in {cfg.out}")
    return 0


def _pretrain(args: argparse.Namespace) -> int:
    """Stage 0 on the large procedural world; with ``--ship``, the weights and their card go to data/pretrained/."""
    from .pretrain import PretrainConfig, run_pretrain, ship

    settings = {name: getattr(args, name) for name in ("arch", "frames", "val_frames", "epochs", "steps_per_epoch",
                                                        "batch_size", "lr", "finish_epochs", "out", "shards", "device",
                                                        "workers", "seed")
                if getattr(args, name) is not None}
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
    import numpy as np

    from . import data, evaluation, metrics
    from .model import load_checkpoint
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
    result = evaluation.evaluate(model, loader, gsd_m=gsd)
    table = {"model (argmax)": result}
    report = {"threshold": threshold, "budget": budget, args.split: {"argmax": {"miou": result["miou"], **result["landing"]}}}
    if threshold is not None:
        ruled = evaluation.evaluate(model, loader, safe_threshold=threshold, gsd_m=gsd)
        table[f"model (Safe >= {threshold:.3f})"] = ruled
        report[args.split]["rule"] = {"miou": ruled["miou"], **ruled["landing"]}
    table["baseline: majority class"] = metrics.majority_baseline(np.array(result["confusion"]))
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="landinglib", description="Drone landing-zone segmentation course")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("data", help="generate the built-in data (first use) and summarise it")
    p.add_argument("--fast", action="store_true", default=fast_mode(), help="the tiny test-sized data")
    p.add_argument("--chip-size", type=int, default=512, help="DroneDeploy chip size in pixels")
    p.set_defaults(func=_data)

    p = sub.add_parser("train", help="run stages 0 -> 1 -> 2 and print a results table")
    p.add_argument("--dronedeploy", metavar="PATH", help="DroneDeploy folder (default: built-in data)")
    p.add_argument("--udd6", metavar="PATH", help="UDD6 folder (default: built-in data)")
    p.add_argument("--stage2-data", metavar="PATH", help="your own stage-2 data instead of UDD6: a folder with "
                                                         "images/ + labels/ (or the Semantic Drone Dataset's folders)")
    p.add_argument("--classes", metavar="FILE", help="the class file of --stage2-data (CSV or JSON: name, r, g, b, "
                                                     "landing; e.g. landinglib/semantic_drone.csv)")
    p.add_argument("--stage1-data", metavar="PATH", help="your own stage-1 data instead of DroneDeploy")
    p.add_argument("--stage1-classes", metavar="FILE", help="the class file of --stage1-data (its own classes)")
    p.add_argument("--out", default="runs/default", metavar="DIR", help="where checkpoints and results go")
    p.add_argument("--epochs1", type=int, help="stage 1 epochs (default 12 for fast, 6 for the others)")
    p.add_argument("--epochs2", type=int, help="stage 2 epochs (default 24 for fast, 8 for the others)")
    p.add_argument("--batch-size", type=int, help="batch size (default 6)")
    p.add_argument("--size", type=int, help="images are seen at this short side in pixels (default 256)")
    p.add_argument("--crop", type=int, help="training crop side in pixels at that scale (default 128; 0 = "
                                            "25-100%% of the image resized to --size)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--init", metavar="PATH", help="stage 0 weights (default: the course's pretrained stage 0 of the "
                                                  "architecture, data/pretrained/stage0-ARCH.pt); 'none' = random "
                                                  "weights; or a checkpoint or state_dict file")
    p.add_argument("--arch", choices=["ultra-fast", "fast", "accurate"],
                   help="architecture (default fast: the under-5-ms model; ultra-fast = the reference the "
                        "notebooks teach; accurate = BiSeNetV2)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoints in --out")
    p.add_argument("--workers", type=int, help="DataLoader workers (default: spare cores, or $LANDINGLIB_WORKERS)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--augment", default="light", choices=["light", "strong"],
                   help="training augmentation (default light; strong adds colour, shadows, blur, noise, JPEG, "
                        "rotation and zoom)")
    p.add_argument("--false-safe-budget", type=float, default=FALSE_SAFE_BUDGET, metavar="SHARE",
                   help="the landing model's Safe threshold is chosen on validation so that at most this share of "
                        "Caution+Danger pixels, and of Danger pixels, are called Safe (default %(default)s)")
    p.add_argument("--fast", action="store_true", default=fast_mode(), help="a few steps on tiny data")
    p.set_defaults(func=_train)

    p = sub.add_parser("pretrain", help="stage 0: train a network on a large procedural world (the course ships "
                                        "the result in data/pretrained/)")
    p.add_argument("--arch", choices=["ultra-fast", "fast", "accurate"], help="architecture (default fast)")
    p.add_argument("--frames", type=int, help="training frames to draw (default 12000: drone frames and orthomosaic tiles)")
    p.add_argument("--val-frames", type=int, help="held-out frames of the same world (default 240)")
    p.add_argument("--epochs", type=int, help="passes over the frames, one crop each (default 20)")
    p.add_argument("--steps-per-epoch", type=int, help="cap the steps of an epoch")
    p.add_argument("--batch-size", type=int, help="batch size (default 16)")
    p.add_argument("--lr", type=float, help="AdamW learning rate (default 2e-3)")
    p.add_argument("--finish-epochs", type=int, help="phase 2: epochs on 256-px crops (default 4; 0 = none)")
    p.add_argument("--out", default="runs/pretrain", metavar="DIR", help="checkpoints and pretrain.json")
    p.add_argument("--shards", metavar="DIR", help="where the frames are cached (default data/synthetic/pretrain)")
    p.add_argument("--ship", nargs="?", const="default", metavar="PATH",
                   help="write the weights and their card to data/pretrained/stage0-ARCH.pt (or PATH)")
    p.add_argument("--resume", action="store_true", help="continue from --out/last.pt")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--workers", type=int, help="processes that draw frames and load batches")
    p.add_argument("--seed", type=int, default=0, help="training seed (the frames' seeds are fixed)")
    p.add_argument("--fast", action="store_true", default=fast_mode(), help="a few steps on a few frames")
    p.set_defaults(func=_pretrain)

    p = sub.add_parser("sweep", help="a hyperparameter search (Optuna) that resumes and can run on several machines")
    p.add_argument("--out", default="runs/sweep", metavar="DIR", help="trial folders, sweep.json, sweep.png")
    p.add_argument("--study", default="landing", help="study name (several processes may share one)")
    p.add_argument("--storage", metavar="URL", help="Optuna database URL (default: sqlite:///OUT/study.db; "
                                                    "postgresql://user@host/db needs pip install \"landinglib[postgres]\")")
    p.add_argument("--sampler", default="grid", choices=["grid", "tpe"])
    p.add_argument("--trials", type=int, help="trials to run in this call (default: the rest of the grid)")
    p.add_argument("--lr", type=float, nargs="+", help="stage-2 learning rates (default 1e-3 5e-4 1e-4)")
    p.add_argument("--batch-size", type=int, nargs="+", help="batch sizes (default 4 6 8)")
    p.add_argument("--arch", nargs="+", choices=["ultra-fast", "fast", "accurate"],
                   help="architectures (default: all three)")
    p.add_argument("--epochs1", type=int, help="stage 1 epochs of every trial (default: per architecture)")
    p.add_argument("--epochs2", type=int, help="stage 2 epochs of every trial (default: per architecture)")
    p.add_argument("--stage2-data", metavar="PATH", help="your own stage-2 data (see train)")
    p.add_argument("--classes", metavar="FILE", help="the class file of --stage2-data")
    p.add_argument("--no-prune", action="store_true", help="let every trial finish")
    p.add_argument("--no-latency", action="store_true", help="do not export and time each trial's model")
    p.add_argument("--device", default="auto")
    p.add_argument("--workers", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fast", action="store_true", default=fast_mode(), help="a few steps on tiny data per trial")
    p.set_defaults(func=_sweep)

    p = sub.add_parser("evaluate", help="score a landing checkpoint on UDD6 next to a trivial baseline")
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="a stage-2 (landing) checkpoint")
    p.add_argument("--udd6", metavar="PATH", help="UDD6 folder (default: built-in data)")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--size", type=int, default=256, help="short side in pixels (as in training)")
    p.add_argument("--batch-size", type=int, default=6)
    p.add_argument("--false-safe-budget", type=float, metavar="SHARE",
                   help="choose a new Safe threshold on the validation split for this false-safe budget "
                        "(default: the checkpoint's threshold)")
    p.add_argument("--fast", action="store_true", default=fast_mode(), help="the tiny built-in data")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("predict", help="overlay, full-size mask and landing-site JSON per image (folders resume)")
    p.add_argument("images", metavar="IMAGE_OR_FOLDER")
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="a stage-2 (landing) checkpoint")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--gsd", type=float, default=None,
                   help="ground sampling distance of the images, m/px: scales them to the checkpoint's training GSD "
                        "and sizes the landing footprint (default: short side to --short-side, footprint at 0.17 m/px)")
    p.add_argument("--drone-radius", type=float, default=0.5, help="drone radius in metres")
    p.add_argument("--short-side", type=int, default=256, help="the image is seen at this short side (training scale)")
    p.add_argument("--tta", action="store_true", help="average with horizontally flipped windows")
    p.add_argument("--safe-threshold", type=float, metavar="P",
                   help="Safe only where P(Safe) reaches this (default: the threshold stored in the checkpoint, "
                        "chosen on validation by landinglib train)")
    p.add_argument("--overwrite", action="store_true", help="redo images whose outputs are already complete")
    p.set_defaults(func=_predict)

    p = sub.add_parser("export", help="ONNX export (checked) and static INT8 quantization")
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="a stage-2 (landing) checkpoint")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--int8", action="store_true", help="also write landing.int8.onnx (static, calibrated)")
    p.add_argument("--udd6", metavar="PATH", help="UDD6 folder for calibration and the accuracy check")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--calibration-images", type=int, default=64)
    p.add_argument("--fast", action="store_true", default=fast_mode(), help="the tiny built-in data")
    p.set_defaults(func=_export)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError, DeviceUnavailable, FloatingPointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
