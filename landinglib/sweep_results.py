"""A sweep's results for people: one row per trial or per point, the table, the Pareto front and the plots."""
from __future__ import annotations

from pathlib import Path

from .tables import Table


def unfinished(rows: list[dict]) -> list[dict]:
    """The points of ``point_rows`` whose last attempt failed: the next command runs them again (while they
    have attempts left). Points that another process is running are not among them."""
    return [r for r in point_rows(rows) if r["state"] == "FAIL"]


def sweep_rows(study) -> list[dict]:
    """One dict per trial: number, state, point, attempt (and whether it was a duplicate or had nothing to
    run), parameters, val / test / unseen-style mIoU, the test false-safe rate and best sites on Safe ground
    under the trial's Safe threshold, minutes, latency, and the error of a failed attempt."""
    rows = []
    for t in sorted(study.trials, key=lambda t: t.number):
        a = t.user_attrs
        rows.append({"trial": t.number, "state": t.state.name, **t.params, "point": a.get("point"),
                     "attempt": a.get("attempt", 1), "duplicate_of": a.get("duplicate_of"), "idle": bool(a.get("idle")),
                     "val_miou": t.value if t.value is not None else (max(t.intermediate_values.values())
                                                                      if t.intermediate_values else None),
                     "test_miou": a.get("test_miou"), "unseen_miou": a.get("unseen_miou"),
                     "safe_threshold": a.get("safe_threshold"), "test_false_safe": a.get("test_false_safe"),
                     "test_best_site_on_safe": a.get("test_best_site_on_safe"), "minutes": a.get("minutes"),
                     "latency_ms": a.get("latency_ms"), "out": a.get("out"), "error": a.get("error")})
    return rows


def point_rows(rows: list[dict]) -> list[dict]:
    """One row per point: its last attempt (duplicates and idle trials left out), with ``attempts``, the
    number of attempts it took."""
    by_point: dict = {}
    for r in rows:
        if r.get("duplicate_of") is not None or r.get("idle"):
            continue
        key = r.get("point") or r["trial"]
        by_point.setdefault(key, []).append(r)
    return [{**max(tries, key=lambda r: r["trial"]), "attempts": len(tries)} for tries in by_point.values()]


def sweep_table(rows: list[dict]) -> Table:
    """The results as a table (text, or HTML in a notebook), one row per point (its last attempt), best
    validation mIoU first; ``attempts`` says how many runs a point took."""
    def fmt(v, spec):
        return "-" if v is None or v != v else format(v, spec)

    ranked = sorted(point_rows(rows), key=lambda r: -(r["val_miou"] if r["state"] == "COMPLETE" else -1))
    return Table(["trial", "state", "attempts", "arch", "lr", "batch", "val mIoU", "test mIoU", "unseen mIoU",
                  "Safe >=", "test false-safe", "best site on Safe", "minutes", "ORT ms"],
                 [[str(r["trial"]), r["state"].lower(), str(r["attempts"]), str(r.get("arch", "-")),
                   fmt(r.get("lr"), ".0e"), str(r.get("batch_size", "-")), fmt(r["val_miou"], ".3f"),
                   fmt(r["test_miou"], ".3f"), fmt(r["unseen_miou"], ".3f"), fmt(r.get("safe_threshold"), ".3f"),
                   fmt(r.get("test_false_safe"), ".1%"), fmt(r.get("test_best_site_on_safe"), ".0%"),
                   fmt(r["minutes"], ".1f"), fmt(r["latency_ms"], ".1f")]
                  for r in ranked])


def pareto_front(rows: list[dict]) -> list[dict]:
    """Completed trials that no other trial beats on both validation mIoU (higher) and latency (lower)."""
    done = [r for r in point_rows(rows) if r["state"] == "COMPLETE" and r.get("latency_ms") is not None]
    return sorted((r for r in done if not any(o["val_miou"] >= r["val_miou"] and o["latency_ms"] <= r["latency_ms"]
                                             and (o["val_miou"], o["latency_ms"]) != (r["val_miou"], r["latency_ms"])
                                             for o in done)), key=lambda r: r["latency_ms"])


def text_color(background) -> str:
    """"black" or "white", whichever reads better on ``background`` (an RGB(A) colour, 0..1): black
    on light cells, white on dark ones, judged by the background's luminance (ITU-R BT.601 weights)."""
    r, g, b = (float(c) for c in tuple(background)[:3])
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b >= 0.5 else "white"


def plot_sweep(rows: list[dict], out: Path | None = None):
    """Two plots: validation mIoU against onnxruntime latency with the Pareto front, and a heat map
    of validation mIoU over learning rate x batch size per architecture. Saved in ``out`` if given."""
    import matplotlib.pyplot as plt
    import numpy as np

    rows = point_rows(rows)
    done = [r for r in rows if r["state"] == "COMPLETE"]
    archs = sorted({r["arch"] for r in done})
    fig, axes = plt.subplots(1, 1 + len(archs), figsize=(4.2 * (1 + len(archs)), 3.4), squeeze=False)
    axes = axes[0]
    ax = axes[0]
    timed = [r for r in done if r.get("latency_ms") is not None]
    for arch in archs:
        pts = [r for r in timed if r["arch"] == arch]
        ax.scatter([r["latency_ms"] for r in pts], [r["val_miou"] for r in pts], label=arch, s=30)
    front = pareto_front(rows)
    if front:
        ax.plot([r["latency_ms"] for r in front], [r["val_miou"] for r in front], "k--", lw=1, label="Pareto front")
    ax.set_xlabel("onnxruntime ms per 256x256 frame"); ax.set_ylabel("validation mIoU")
    ax.set_title("accuracy against speed"); ax.legend(fontsize=7)
    tried = [r for r in rows if r.get("arch") in archs and r["state"] in ("COMPLETE", "PRUNED")]
    lrs = sorted({r["lr"] for r in tried}, reverse=True)
    batches = sorted({r["batch_size"] for r in tried})
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.88")  # light grey: pruned, or not run
    for ax, arch in zip(axes[1:], archs):
        grid = np.full((len(lrs), len(batches)), np.nan)
        labels = np.full(grid.shape, "not run", dtype=object)
        for r in tried:
            if r["arch"] == arch:
                cell = lrs.index(r["lr"]), batches.index(r["batch_size"])
                if r["state"] == "COMPLETE":
                    grid[cell], labels[cell] = r["val_miou"], f"{r['val_miou']:.3f}"
                else:
                    labels[cell] = "pruned"
        image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=min(r["val_miou"] for r in done),
                          vmax=max(r["val_miou"] for r in done))
        for (i, j), v in np.ndenumerate(grid):
            ax.text(j, i, labels[i, j], ha="center", va="center", fontsize=8,
                    color=text_color(cmap(image.norm(v)) if v == v else cmap.get_bad()))
        ax.set_xticks(range(len(batches)), batches); ax.set_yticks(range(len(lrs)), [f"{v:.0e}" for v in lrs])
        ax.set_xlabel("batch size"); ax.set_ylabel("stage-2 lr"); ax.set_title(f"{arch}: val mIoU")
    fig.tight_layout()
    if out is not None:
        fig.savefig(out / "sweep.png", dpi=90)
    return fig
