"""``accurate``: BiSeNetV2, as in the paper and the widely used public PyTorch implementation.

A detail branch (wide, shallow, 1/8), a semantic branch (stem, gather-and-expand layers, context
embedding, 1/32), bilateral guided aggregation, and a segmentation head; four auxiliary heads are
used in training only. Module and parameter names and shapes follow the public implementation, so
its published Cityscapes checkpoint loads with every key matched (``data/pretrained/README.md``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ConvBNReLU


def _block(c_in: int, c_out: int, k: int = 3, stride: int = 1, padding: int | None = None) -> ConvBNReLU:
    """conv -> bn -> relu with the public implementation's names: ``conv``, ``bn``, ``relu``."""
    return ConvBNReLU(c_in, c_out, k, stride, padding=padding, named=True)


def _dw(c_in: int, c_out: int, stride: int = 1):
    return nn.Conv2d(c_in, c_out, 3, stride, 1, groups=c_in, bias=False)


def _pw(c_in: int, c_out: int):
    return nn.Conv2d(c_in, c_out, 1, bias=False)


class DetailBranch(nn.Module):
    """Wide and shallow: three stages of 3x3 convs, output 128 channels at 1/8."""

    def __init__(self):
        super().__init__()
        self.S1 = nn.Sequential(_block(3, 64, stride=2), _block(64, 64))
        self.S2 = nn.Sequential(_block(64, 64, stride=2), _block(64, 64), _block(64, 64))
        self.S3 = nn.Sequential(_block(64, 128, stride=2), _block(128, 128), _block(128, 128))

    def forward(self, x):
        return self.S3(self.S2(self.S1(x)))


class StemBlock(nn.Module):
    """1/4 resolution fast: a strided conv, then a conv path and a max-pool path, fused."""

    def __init__(self):
        super().__init__()
        self.conv = _block(3, 16, stride=2)
        self.left = nn.Sequential(_block(16, 8, 1, padding=0), _block(8, 16, stride=2))
        self.right = nn.MaxPool2d(3, 2, 1)
        self.fuse = _block(32, 16)

    def forward(self, x):
        x = self.conv(x)
        return self.fuse(torch.cat([self.left(x), self.right(x)], 1))


class CEBlock(nn.Module):
    """Context embedding: global average pooling, added back to every position."""

    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(128)
        self.conv_gap = _block(128, 128, 1, padding=0)
        self.conv_last = _block(128, 128)

    def forward(self, x):
        return self.conv_last(self.conv_gap(self.bn(x.mean((2, 3), keepdim=True))) + x)


class GELayerS1(nn.Module):
    """Gather-and-expand, stride 1: 3x3 conv, depthwise expansion x6, 1x1 projection, residual."""

    def __init__(self, c_in: int, c_out: int, expand: int = 6):
        super().__init__()
        mid = c_in * expand
        self.conv1 = _block(c_in, c_in)
        self.dwconv = nn.Sequential(_dw(c_in, mid), nn.BatchNorm2d(mid), nn.ReLU(inplace=True))
        self.conv2 = nn.Sequential(_pw(mid, c_out), nn.BatchNorm2d(c_out))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.conv2(self.dwconv(self.conv1(x))) + x)


class GELayerS2(nn.Module):
    """Gather-and-expand, stride 2, with a depthwise-separable shortcut."""

    def __init__(self, c_in: int, c_out: int, expand: int = 6):
        super().__init__()
        mid = c_in * expand
        self.conv1 = _block(c_in, c_in)
        self.dwconv1 = nn.Sequential(_dw(c_in, mid, stride=2), nn.BatchNorm2d(mid))
        self.dwconv2 = nn.Sequential(_dw(mid, mid), nn.BatchNorm2d(mid), nn.ReLU(inplace=True))
        self.conv2 = nn.Sequential(_pw(mid, c_out), nn.BatchNorm2d(c_out))
        self.shortcut = nn.Sequential(_dw(c_in, c_in, stride=2), nn.BatchNorm2d(c_in), _pw(c_in, c_out), nn.BatchNorm2d(c_out))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.conv2(self.dwconv2(self.dwconv1(self.conv1(x)))) + self.shortcut(x))


class SegmentBranch(nn.Module):
    """Narrow and deep: stem (1/4), GE layers to 1/8, 1/16, 1/32, context embedding."""

    def __init__(self):
        super().__init__()
        self.S1S2 = StemBlock()
        self.S3 = nn.Sequential(GELayerS2(16, 32), GELayerS1(32, 32))
        self.S4 = nn.Sequential(GELayerS2(32, 64), GELayerS1(64, 64))
        self.S5_4 = nn.Sequential(GELayerS2(64, 128), GELayerS1(128, 128), GELayerS1(128, 128), GELayerS1(128, 128))
        self.S5_5 = CEBlock()

    def forward(self, x):
        f2 = self.S1S2(x)
        f3 = self.S3(f2)
        f4 = self.S4(f3)
        f5_4 = self.S5_4(f4)
        return f2, f3, f4, f5_4, self.S5_5(f5_4)


class BGALayer(nn.Module):
    """Bilateral guided aggregation: each branch gates the other, at both resolutions."""

    def __init__(self):
        super().__init__()
        self.left1 = nn.Sequential(_dw(128, 128), nn.BatchNorm2d(128), _pw(128, 128))
        self.left2 = nn.Sequential(nn.Conv2d(128, 128, 3, 2, 1, bias=False), nn.BatchNorm2d(128), nn.AvgPool2d(3, 2, 1))
        self.right1 = nn.Sequential(nn.Conv2d(128, 128, 3, 1, 1, bias=False), nn.BatchNorm2d(128))
        self.right2 = nn.Sequential(_dw(128, 128), nn.BatchNorm2d(128), _pw(128, 128))
        self.conv = nn.Sequential(nn.Conv2d(128, 128, 3, 1, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=True))

    def forward(self, detail, semantic):
        size = detail.shape[-2:]
        left = self.left1(detail) * torch.sigmoid(F.interpolate(self.right1(semantic), size=size))
        right = self.left2(detail) * torch.sigmoid(self.right2(semantic))
        return self.conv(left + F.interpolate(right, size=size))


class SegmentHead(nn.Module):
    """3x3 conv, dropout, (auxiliary heads: x2 upsampling and a 3x3 conv), 1x1 to classes, bilinear
    upsampling back to the input size (x ``up`` in total)."""

    def __init__(self, c_in: int, mid: int, num_classes: int, up: int = 8, aux: bool = True):
        super().__init__()
        self.conv = _block(c_in, mid)
        self.drop = nn.Dropout(0.1)
        mid2 = up * up if aux else mid
        self.conv_out = nn.Sequential(
            nn.Sequential(nn.Upsample(scale_factor=2), _block(mid, mid2)) if aux else nn.Identity(),
            nn.Conv2d(mid2, num_classes, 1, bias=True),
            nn.Upsample(scale_factor=up // 2 if aux else up, mode="bilinear", align_corners=False),
        )

    def forward(self, x):
        return self.conv_out(self.drop(self.conv(x)))


class BiSeNetV2(nn.Module):
    """"accurate": in training mode returns (logits, aux2, aux3, aux4, aux5_4); in eval mode logits.

    Input sides must be divisible by 32.
    """

    def __init__(self, num_classes: int = 4, aux: bool = True):
        super().__init__()
        self.num_classes = num_classes
        self.detail = DetailBranch()
        self.segment = SegmentBranch()
        self.bga = BGALayer()
        self.head = SegmentHead(128, 1024, num_classes, up=8, aux=False)
        if aux:
            self.aux2 = SegmentHead(16, 128, num_classes, up=4)
            self.aux3 = SegmentHead(32, 128, num_classes, up=8)
            self.aux4 = SegmentHead(64, 128, num_classes, up=16)
            self.aux5_4 = SegmentHead(128, 128, num_classes, up=32)
        self.aux = aux
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor):
        f2, f3, f4, f5_4, semantic = self.segment(x)
        logits = self.head(self.bga(self.detail(x), semantic))
        if self.training and self.aux:
            return logits, self.aux2(f2), self.aux3(f3), self.aux4(f4), self.aux5_4(f5_4)
        return logits
