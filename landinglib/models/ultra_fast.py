"""``ultra-fast``: ``UltraFastBiSeNet``, the course's reference network, an encoder-decoder without skips.

    input (3, H, W)
    backbone  conv3x3 3->32, 32->64 /2, 64->128 /2, 128->128     (each conv: no bias, BN, ReLU)
    decoder   conv3x3 128->64, 64->32                             (at 1/4 resolution)
    classifier conv1x1 32->C (with bias), bilinear upsampling x4 back to (H, W)

333,668 parameters with C=4 (333,767 with C=7), about 1.64 GMAC per 256x256 image.
"""
from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ConvBNReLU


def conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    """3x3 convolution without bias, batch norm, ReLU: three layers, to be spliced into a Sequential."""
    return list(ConvBNReLU(c_in, c_out, stride=stride))


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
