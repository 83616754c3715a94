"""The two other architectures, kept importable from here: ``FastSegNet`` ("fast") lives in
``models.fast``, ``BiSeNetV2`` ("accurate") in ``models.bisenetv2``."""
from .models.bisenetv2 import BiSeNetV2
from .models.fast import FastSegNet, SeparableBlock

__all__ = ["BiSeNetV2", "FastSegNet", "SeparableBlock"]
