"""``fast`` (our own design): spends compute where a CPU is fast and context is cheap.

The image is downsampled early (two strided convs), the body is depthwise-separable at 1/8
resolution with dilations and a global-context term (a receptive field far beyond ultra-fast's
33 px), and a real skip connection brings 1/4-resolution features back to sharpen edges before the
classifier.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ConvBNReLU


class SeparableBlock(nn.Module):
    """Depthwise 3x3 (optionally dilated or strided) + pointwise 1x1, residual when shapes allow."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.depthwise = ConvBNReLU(c_in, c_in, 3, stride, dilation=dilation, groups=c_in)
        self.pointwise = ConvBNReLU(c_in, c_out, 1, relu=False)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x):
        y = self.pointwise(self.depthwise(x))
        return F.relu(y + x if self.residual else y)


class FastSegNet(nn.Module):
    """"fast": early downsampling, separable body at 1/8 with context, a 1/4 skip; output stride 4."""

    def __init__(self, num_classes: int = 4):
        super().__init__()
        self.num_classes = num_classes
        self.stem = nn.Sequential(ConvBNReLU(3, 24, stride=2), ConvBNReLU(24, 48, stride=2))  # 1/4
        self.down = SeparableBlock(48, 96, stride=2)  # 1/8
        self.body = nn.Sequential(SeparableBlock(96, 96), SeparableBlock(96, 96, dilation=2),
                                  SeparableBlock(96, 96, dilation=4), SeparableBlock(96, 96, dilation=8))
        self.context = ConvBNReLU(96, 96, 1)  # global average -> added everywhere
        self.skip = ConvBNReLU(48, 32, 1)
        self.fuse = SeparableBlock(96 + 32, 64)
        self.classifier = nn.Conv2d(64, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        quarter = self.stem(x)
        deep = self.body(self.down(quarter))
        deep = deep + self.context(deep.mean((2, 3), keepdim=True))
        deep = F.interpolate(deep, size=quarter.shape[-2:], mode="bilinear", align_corners=False)
        logits = self.classifier(self.fuse(torch.cat([deep, self.skip(quarter)], 1)))
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
