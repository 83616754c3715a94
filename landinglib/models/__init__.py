"""The networks, one module each, and the registry that builds them by name.

* ``ultra_fast``: ``UltraFastBiSeNet``, the course's reference (333,668 parameters with 4 classes);
* ``fast``: ``FastSegNet``, our own design for a CPU budget of a few milliseconds;
* ``bisenetv2``: ``BiSeNetV2`` ("accurate"), named as the public implementation;
* ``layers``: ``ConvBNReLU``, the block all three are made of.

``landinglib.model`` is the public face: it re-exports these with the checkpoint functions.
"""
from __future__ import annotations

from torch import nn

from .bisenetv2 import BiSeNetV2
from .fast import FastSegNet
from .layers import ConvBNReLU
from .ultra_fast import UltraFastBiSeNet

MODELS = {"ultra-fast": UltraFastBiSeNet, "fast": FastSegNet, "accurate": BiSeNetV2}
"""Architectures by name; ``build_model(name, num_classes)`` builds one. "accurate" is BiSeNetV2
(its auxiliary heads are used in training only); "fast" is our own design (see ``models.fast``)."""


def build_model(name: str = "fast", num_classes: int = 4) -> nn.Module:
    """A fresh network by registry name (see ``MODELS``); by default the pipeline's, ``fast``."""
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


__all__ = ["MODELS", "build_model", "model_name", "UltraFastBiSeNet", "FastSegNet", "BiSeNetV2", "ConvBNReLU"]
