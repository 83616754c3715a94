"""The public face of the networks: build one, count it, run it, save and load it.

Notebooks and users import networks from here. The networks live in ``models`` (one module each,
and the registry), checkpoint IO in ``checkpoint``; this module re-exports both and adds the tools
that work on any network: parameter and MAC counts, the layer table, the receptive field, ``predict``
and ``RemapClasses``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint import (CHECKPOINT_FORMAT, LoadReport, WrongClassesError, load_checkpoint, load_model, load_weights,
                         save_checkpoint, set_safety)
from .models import MODELS, BiSeNetV2, ConvBNReLU, FastSegNet, UltraFastBiSeNet, build_model, model_name
from .models.ultra_fast import conv_bn_relu
from .safety import landing_mask

__all__ = ["MODELS", "build_model", "model_name", "UltraFastBiSeNet", "FastSegNet", "BiSeNetV2", "ConvBNReLU",
           "conv_bn_relu", "CHECKPOINT_FORMAT", "save_checkpoint", "load_checkpoint", "load_model", "load_weights",
           "LoadReport", "WrongClassesError", "set_safety", "count_parameters", "layer_table", "count_macs", "receptive_field",
           "predict", "RemapClasses"]


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
    """Class masks (N, H, W) int64 for normalised images (N, 3, H, W) or one image (3, H, W); a landing
    model with a ``safe_threshold`` (from its checkpoint) decides by its rule (``safety.landing_mask``)."""
    single = images.ndim == 3
    batch = images[None] if single else images
    model.eval()
    device = next(model.parameters()).device
    masks = landing_mask(model(batch.to(device)).float().softmax(1), getattr(model, "safe_threshold", None)).cpu()
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
