"""Checkpoints: written atomically, read safely (``weights_only``), turned back into a network, or
copied tensor by tensor into another one (``load_weights``, e.g. a stage-1 model into stage 2).

A checkpoint is a dict (``CHECKPOINT_FORMAT``) holding the architecture's registry name, the class
names, the weights, the optimizer / scaler / scheduler states to resume, epoch, config, metrics,
history and, for a landing model, its ``safety``: the Safe threshold chosen on validation
(``safety``), which ``load_model`` hands to the network as ``model.safe_threshold``. Plain state dicts (the Training Guide's published weights) are read too.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .models import MODELS, UltraFastBiSeNet, build_model, model_name
from .runtime import write_atomic

CHECKPOINT_FORMAT = "landinglib-checkpoint-v1"

__all__ = ["CHECKPOINT_FORMAT", "save_checkpoint", "load_checkpoint", "load_model", "load_weights", "LoadReport",
           "WrongClassesError", "set_safety"]


def save_checkpoint(path: str | os.PathLike, model: nn.Module, *, optimizer=None, scaler=None, scheduler=None,
                    epoch: int = 0, config: dict | None = None, class_names=None, metrics: dict | None = None,
                    history: list | None = None, safety: dict | None = None) -> Path:
    """Write a checkpoint atomically (temporary file in the same folder, then rename).

    It holds the model name and state, the class names, config, epoch, metrics, history, the
    optimizer / scaler / scheduler states needed to resume, and ``safety`` (see ``set_safety``).
    """
    payload = {
        "format": CHECKPOINT_FORMAT,
        "model_name": model_name(model),
        "num_classes": getattr(model, "num_classes", None),
        "class_names": list(class_names) if class_names is not None else None,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "epoch": int(epoch),
        "config": dict(config or {}),
        "metrics": dict(metrics or {}),
        "history": list(history or []),
        "safety": dict(safety) if safety else None,
    }
    return _write(path, payload)


def set_safety(path: str | os.PathLike, safety: dict) -> Path:
    """Record a landing model's decision rule in its checkpoint, rewritten atomically: ``safety`` holds
    ``threshold`` (Safe needs P(Safe) >= it), ``budget`` (the false-safe budget it was chosen for) and the
    validation figures at it. ``load_model`` then gives the network ``safe_threshold``."""
    state = load_checkpoint(path)
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is a bare state dict: save it as a landinglib checkpoint first")
    if "threshold" not in safety:
        raise ValueError("safety needs a 'threshold' (a probability in [0, 1], or None for argmax)")
    return _write(Path(path), {**state, "safety": dict(safety)})


def _write(path: str | os.PathLike, payload: dict) -> Path:
    """torch.save ``payload`` to ``path`` atomically (``runtime.write_atomic``)."""
    return write_atomic(path, lambda f: torch.save(payload, f))


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Read a checkpoint (or a bare ``state_dict`` file) safely with ``weights_only=True``.

    A bare state dict is returned wrapped as ``{"model": state_dict, "format": None}``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many kinds for a bad file
        raise ValueError(f"cannot read checkpoint {path}: {err}") from err
    if isinstance(data, dict) and data.get("format") == CHECKPOINT_FORMAT:
        return data
    if isinstance(data, dict) and "state_dict" in data and isinstance(data["state_dict"], dict):
        data = data["state_dict"]  # the common {"state_dict": ...} wrapping
    if isinstance(data, dict) and data and all(isinstance(v, torch.Tensor) for v in data.values()):
        return {"format": None, "model": data, "model_name": None}
    raise ValueError(f"{path} is neither a landinglib checkpoint nor a state_dict of tensors")


class WrongClassesError(ValueError):
    """A checkpoint predicts another set of classes than the one asked for."""


def load_model(path: str | os.PathLike, taxonomy=None) -> nn.Module:
    """The network a checkpoint holds, in eval mode: its architecture (``model_name``; a bare state
    dict is taken as ``ultra-fast``) with its weights, and ``safe_threshold`` from its ``safety``
    (None when it has none: a checkpoint from before the rule, or not a landing model; then the plain
    argmax decides). With a ``taxonomy`` (e.g. ``classes.LANDING``), a checkpoint for another number of
    classes raises ``WrongClassesError`` (a stage-1 checkpoint given where a landing model is needed)."""
    state = load_checkpoint(path)
    weight = state["model"].get("classifier.weight")
    n = int(weight.shape[0]) if weight is not None else state.get("num_classes")
    if taxonomy is not None and n != len(taxonomy):
        found = state.get("class_names") or f"{n} classes"
        raise WrongClassesError(f"{path} predicts {found}, not the {len(taxonomy)} {taxonomy.name} classes "
                         f"{list(taxonomy.names)}")
    model = build_model(state.get("model_name") or "ultra-fast", n)
    model.load_state_dict(state["model"])
    model.safe_threshold = (state.get("safety") or {}).get("threshold")
    return model.eval()


@dataclass
class LoadReport:
    """What ``load_weights`` did: names copied, names of the model left freshly initialised,
    and names in the source that were not used (absent from the model or of another shape)."""

    matched: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        def short(names):
            return ", ".join(names[:4]) + (" ..." if len(names) > 4 else "") if names else "-"
        return (f"matched {len(self.matched)} tensors; new (re-initialised) {len(self.new)}: {short(self.new)}; "
                f"dropped {len(self.dropped)}: {short(self.dropped)}")


def load_weights(model: nn.Module, source) -> LoadReport:
    """Copy every tensor of ``source`` whose name and shape match into ``model``.

    source: a checkpoint path, a checkpoint dict, or a state dict. Model tensors that found no
    match are re-initialised (their modules' ``reset_parameters``), e.g. the classifier when the
    class count changes; their names are also kept as ``model.fresh_parameters``. A checkpoint of another
    architecture, or a source that matches nothing, is an error.
    """
    where = str(source) if isinstance(source, (str, os.PathLike)) else "the given weights"
    if isinstance(source, (str, os.PathLike)):
        source = load_checkpoint(source)
    ours = isinstance(source, dict) and source.get("format") == CHECKPOINT_FORMAT
    theirs, arch = source.get("model_name") if ours else None, model_name(model)
    if theirs and theirs != arch:
        raise ValueError(f"{where} is a checkpoint of architecture {theirs!r}, but the model is "
                         f"{arch!r}; build the model with build_model({theirs!r})")
    state = source["model"] if isinstance(source, dict) and "model" in source else source
    if not theirs and arch in MODELS:  # no recorded architecture: a classifier of the same shape must not pass for a match
        guess = _likely_architecture(state)
        if guess and guess != arch:
            raise ValueError(f"{where} holds the tensors of {guess!r}, not of {arch!r}: "
                             f"build that model (build_model({guess!r}), --arch {guess})")
    if isinstance(model, UltraFastBiSeNet):
        state = UltraFastBiSeNet.upgrade_names(dict(state))
    own = model.state_dict()
    report = LoadReport()
    usable = {}
    for name, tensor in state.items():
        if name in own and own[name].shape == tensor.shape:
            usable[name] = tensor
            report.matched.append(name)
        else:
            report.dropped.append(name)
    if not any(not n.endswith("num_batches_tracked") for n in report.matched):
        raise ValueError(f"no tensor of {where} matches {type(model).__name__}: is it a checkpoint of another architecture?")
    report.new = [n for n in own if n not in usable]
    owners = {id(m): m for m in (_owner(model, n) for n in report.new)}
    for module in owners.values():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    model.load_state_dict(usable, strict=False)
    model.fresh_parameters = list(report.new)  # what a stage learns anew (train.fit can probe with it first)
    return report


@functools.cache
def _architecture_shapes() -> dict[str, dict[str, tuple]]:
    """Tensor name -> shape of every registered architecture (4 classes), built once."""
    return {name: {n: tuple(t.shape) for n, t in cls(4).state_dict().items()} for name, cls in MODELS.items()}


def _likely_architecture(state: dict) -> str | None:
    """The registered architecture whose tensor names and shapes ``state`` matches best (classifiers
    aside, since their class count may differ), or None when none matches most of them."""
    tensors = UltraFastBiSeNet.upgrade_names({n: t for n, t in state.items() if hasattr(t, "shape")})
    best, best_share = None, 0.5
    for name, shapes in _architecture_shapes().items():
        fits = sum(n in shapes and (shapes[n] == tuple(t.shape) or "classifier" in n) for n, t in tensors.items())
        share = fits / max(len(tensors), 1)
        if share > best_share:
            best, best_share = name, share
    return best


def _owner(model: nn.Module, name: str) -> nn.Module:
    module = model
    for part in name.split(".")[:-1]:
        module = getattr(module, part)
    return module
