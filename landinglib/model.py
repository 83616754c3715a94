"""The networks, a registry to build them by name (``ultra-fast``, ``fast``, ``accurate``), and checkpoint IO.

``UltraFastBiSeNet``: a plain encoder-decoder without skip connections.

    input (3, H, W)
    backbone  conv3x3 3->32, 32->64 /2, 64->128 /2, 128->128     (each conv: no bias, BN, ReLU)
    decoder   conv3x3 128->64, 64->32                             (at 1/4 resolution)
    classifier conv1x1 32->C (with bias), bilinear upsampling x4 back to (H, W)

333,668 parameters with C=4 (333,767 with C=7), about 1.64 GMAC per 256x256 image.
"""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

CHECKPOINT_FORMAT = "landinglib-checkpoint-v1"


def conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    """3x3 convolution without bias, batch norm, ReLU: three layers, to be spliced into a Sequential."""
    return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


_LEGACY_NAME = re.compile(r"(backbone|decoder)\.(\d+)\.([01])\.(.+)")


class UltraFastBiSeNet(nn.Module):
    """The course's reference network: (N, 3, H, W) -> logits (N, C, H, W), H and W divisible by 4.

    Parameter names are the Training Guide's (flat ``nn.Sequential``s, ReLUs counted):
    ``backbone.{0,3,6,9}`` convs, ``backbone.{1,4,7,10}`` batch norms, ``decoder.{0,3}`` /
    ``decoder.{1,4}``, ``classifier`` — so its published state dicts load as they are. The guide
    upsamples before the 1x1 classifier, we after it: both are linear, the outputs are the same.
    """

    def __init__(self, num_classes: int = 4):
        super().__init__()
        self.num_classes = num_classes
        self.backbone = nn.Sequential(*conv_bn_relu(3, 32), *conv_bn_relu(32, 64, stride=2),
                                      *conv_bn_relu(64, 128, stride=2), *conv_bn_relu(128, 128))
        self.decoder = nn.Sequential(*conv_bn_relu(128, 64), *conv_bn_relu(64, 32))
        self.classifier = nn.Conv2d(32, num_classes, 1)
        self.register_load_state_dict_pre_hook(_upgrade_names_hook)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.classifier(self.decoder(self.backbone(x)))
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)

    @staticmethod
    def upgrade_names(state: dict, prefix: str = "") -> dict:
        """Rename, in place, tensors of landinglib <= 0.1 checkpoints (``backbone.1.0.weight``,
        one Sequential per conv block) to today's layout (``backbone.3.weight``); returns ``state``."""
        for name in [n for n in state if n.startswith(prefix)]:
            match = _LEGACY_NAME.fullmatch(name[len(prefix):])
            if match:
                block, i, j, rest = match.groups()
                state[f"{prefix}{block}.{3 * int(i) + int(j)}.{rest}"] = state.pop(name)
        return state


def _upgrade_names_hook(module, state, prefix, *args) -> None:
    UltraFastBiSeNet.upgrade_names(state, prefix)


from .architectures import BiSeNetV2, FastSegNet  # noqa: E402 - they reuse nothing from above

MODELS = {"ultra-fast": UltraFastBiSeNet, "fast": FastSegNet, "accurate": BiSeNetV2}
"""Architectures by name; ``build_model(name, num_classes)`` builds one. "accurate" is BiSeNetV2
(its auxiliary heads are used in training only); "fast" is our own design (see ``architectures``)."""


def build_model(name: str = "ultra-fast", num_classes: int = 4) -> nn.Module:
    """A fresh network by registry name (see ``MODELS``)."""
    if name not in MODELS:
        raise ValueError(f"unknown architecture {name!r}; choose one of {sorted(MODELS)}")
    model = MODELS[name](num_classes)
    model.arch = name
    return model


def model_name(model: nn.Module) -> str:
    """The registry name of a model (``arch`` attribute, or looked up by class)."""
    if getattr(model, "arch", None):
        return model.arch
    for name, cls in MODELS.items():
        if type(model) is cls:
            return name
    return type(model).__name__


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def layer_table(model: nn.Module, size: tuple[int, int] = (256, 256)) -> list[dict]:
    """Per leaf layer (conv, BN, ReLU, upsampling): name, output shape, parameters and MACs
    (multiply-accumulates) for one image of ``size`` (H, W)."""
    rows, hooks = [], []

    def record(name):
        def hook(module, inputs, output):
            macs = 0
            if isinstance(module, nn.Conv2d):
                k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
                macs = output.numel() * k
            rows.append({"name": name, "type": type(module).__name__, "shape": tuple(output.shape[1:]),
                         "params": sum(p.numel() for p in module.parameters(recurse=False)), "macs": macs})
        return hook

    for name, module in model.named_modules():
        if not list(module.children()):
            hooks.append(module.register_forward_hook(record(name)))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(1, 3, *size, device=next(model.parameters()).device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    rows.append({"name": "(upsample x4)", "type": "interpolate", "shape": tuple(out.shape[1:]), "params": 0, "macs": 0})
    return rows


def count_macs(model: nn.Module, size: tuple[int, int] = (256, 256)) -> int:
    """Multiply-accumulates of the convolutions for one image of ``size``."""
    return sum(r["macs"] for r in layer_table(model, size))


def receptive_field(model: nn.Module) -> tuple[int, int]:
    """(receptive field in input pixels, output stride) of the convolution stack, in order.

    Each k x k conv with stride s grows the field by (k - 1) x the current stride (jump)."""
    field, jump = 1, 1
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            field += (module.kernel_size[0] - 1) * module.dilation[0] * jump
            jump *= module.stride[0]
    return field, jump


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Class masks (N, H, W) int64 for normalised images (N, 3, H, W) or one image (3, H, W)."""
    single = images.ndim == 3
    batch = images[None] if single else images
    model.eval()
    device = next(model.parameters()).device
    masks = model(batch.to(device)).argmax(1).cpu()
    return masks[0] if single else masks


class RemapClasses(nn.Module):
    """Wrap a network so that its classes are merged into another taxonomy.

    ``lut[i]`` is the target class of source class i; the target logit is the log of the summed
    source probabilities. Used to score a stage-1 (DroneDeploy) model on landing classes.
    """

    def __init__(self, model: nn.Module, lut):
        super().__init__()
        self.model = model
        lut = torch.as_tensor([int(v) for v in lut[: model.num_classes]])
        self.num_classes = int(lut.max()) + 1
        self.register_buffer("assign", F.one_hot(lut, self.num_classes).float())  # (C_source, C_target)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = self.model(x).float().softmax(1)
        merged = torch.einsum("nchw,ct->nthw", probs, self.assign)
        return merged.clamp_min(1e-8).log()


# --- checkpoints -----------------------------------------------------------------------
def save_checkpoint(path: str | os.PathLike, model: nn.Module, *, optimizer=None, scaler=None, scheduler=None,
                    epoch: int = 0, config: dict | None = None, class_names=None, metrics: dict | None = None,
                    history: list | None = None) -> Path:
    """Write a checkpoint atomically (temporary file in the same folder, then rename).

    It holds the model name and state, the class names, config, epoch, metrics, history, and the
    optimizer / scaler / scheduler states needed to resume.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
    dict is taken as ``ultra-fast``) with its weights. With a ``taxonomy`` (e.g.
    ``classes.LANDING``), a checkpoint for another number of classes raises ``WrongClassesError``
    (a stage-1 checkpoint given where a landing model is needed)."""
    state = load_checkpoint(path)
    weight = state["model"].get("classifier.weight")
    n = int(weight.shape[0]) if weight is not None else state.get("num_classes")
    if taxonomy is not None and n != len(taxonomy):
        found = state.get("class_names") or f"{n} classes"
        raise WrongClassesError(f"{path} predicts {found}, not the {len(taxonomy)} {taxonomy.name} classes "
                         f"{list(taxonomy.names)}")
    model = build_model(state.get("model_name") or "ultra-fast", n)
    model.load_state_dict(state["model"])
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
    class count changes. A checkpoint of another architecture, or a source that matches nothing,
    is an error.
    """
    where = str(source) if isinstance(source, (str, os.PathLike)) else "the given weights"
    if isinstance(source, (str, os.PathLike)):
        source = load_checkpoint(source)
    if isinstance(source, dict) and source.get("format") == CHECKPOINT_FORMAT:
        theirs = source.get("model_name")
        if theirs and theirs != model_name(model):
            raise ValueError(f"{where} is a checkpoint of architecture {theirs!r}, but the model is "
                             f"{model_name(model)!r}; build the model with build_model({theirs!r})")
    state = source["model"] if isinstance(source, dict) and "model" in source else source
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
    return report


def _owner(model: nn.Module, name: str) -> nn.Module:
    module = model
    for part in name.split(".")[:-1]:
        module = getattr(module, part)
    return module
