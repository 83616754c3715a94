"""Device and precision, decided once: where a model runs and in which floating-point format.

* CUDA: fp16 autocast + ``GradScaler`` (the scaler keeps small fp16 gradients from vanishing);
* CPU: fp32 (bf16 autocast on a CPU without bf16 units is far slower; ``amp="bf16"`` forces it).

Training (``train``) and evaluation (``evaluation``) both take their device and autocast from here.
"""
from __future__ import annotations

from contextlib import nullcontext

import torch


class DeviceUnavailable(RuntimeError):
    """The requested device does not exist on this machine."""


def resolve_device(name: str = "auto") -> torch.device:
    """"auto" -> CUDA if available else CPU; asking for CUDA without it is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable("--device cuda was requested but PyTorch sees no CUDA GPU here; use --device cpu or auto")
    return device


def autocast_dtype(device: torch.device, amp: str = "auto") -> torch.dtype | None:
    """The autocast dtype for this device and setting; None means full fp32."""
    choices = {"auto": torch.float16 if device.type == "cuda" else None,
               "fp16": torch.float16, "bf16": torch.bfloat16, "off": None}
    if amp not in choices:
        raise ValueError(f"amp must be one of {sorted(choices)}, got {amp!r}")
    dtype = choices[amp]
    if dtype is torch.float16 and device.type != "cuda":
        raise ValueError("fp16 autocast needs CUDA; on CPU use amp='bf16' or 'off'")
    return dtype


def autocast(device: torch.device, dtype: torch.dtype | None):
    """Context manager for the forward pass: autocast when a dtype is set, else nothing."""
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def scaler_enabled(device: torch.device, dtype: torch.dtype | None) -> bool:
    """Loss scaling is needed only for fp16 on CUDA (bf16 and fp32 keep small gradients)."""
    return device.type == "cuda" and dtype is torch.float16


def make_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler:
    """A GradScaler that is active only for fp16 on CUDA."""
    return torch.amp.GradScaler(device.type, enabled=scaler_enabled(device, dtype))


def to_device(images: torch.Tensor, masks: torch.Tensor, device: torch.device, channels_last: bool):
    """A batch on ``device`` (asynchronously on CUDA), images in ``channels_last`` if asked."""
    non_blocking = device.type == "cuda"
    images = images.to(device, non_blocking=non_blocking)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return images, masks.to(device, non_blocking=non_blocking)
