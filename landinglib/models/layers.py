"""The one building block every network here is made of: conv (no bias) -> batch norm -> ReLU."""
from __future__ import annotations

from collections import OrderedDict

from torch import nn


class ConvBNReLU(nn.Sequential):
    """``k`` x ``k`` convolution without bias (padding keeps the size, dilation and groups allowed),
    batch norm, and a ReLU unless ``relu=False``.

    Its parts are numbered ``0, 1, 2`` like any ``nn.Sequential`` (``*ConvBNReLU(...)`` splices them
    into a flat Sequential, the Training Guide's layout for ``UltraFastBiSeNet``), or, with
    ``named=True``, called ``conv``, ``bn``, ``relu`` as the public BiSeNetV2 names them. Either way
    the state-dict names are those of the published weights.
    """

    def __init__(self, c_in: int, c_out: int, k: int = 3, stride: int = 1, *, dilation: int = 1, groups: int = 1,
                 padding: int | None = None, relu: bool = True, named: bool = False):
        padding = dilation * (k // 2) if padding is None else padding
        parts = [("conv", nn.Conv2d(c_in, c_out, k, stride, padding, dilation, groups, bias=False)),
                 ("bn", nn.BatchNorm2d(c_out))] + ([("relu", nn.ReLU(inplace=True))] if relu else [])
        if named:
            super().__init__(OrderedDict(parts))
        else:
            super().__init__(*(module for _, module in parts))
