import pytest
import torch

from landinglib import devices


def test_amp_is_fp16_with_a_scaler_only_on_cuda():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert devices.autocast_dtype(cpu, "auto") is None
    assert devices.autocast_dtype(cuda, "auto") is torch.float16
    assert devices.autocast_dtype(cpu, "bf16") is torch.bfloat16
    assert devices.scaler_enabled(cuda, torch.float16) and not devices.scaler_enabled(cpu, None)
    assert not devices.scaler_enabled(cuda, torch.bfloat16)
    assert not devices.make_scaler(cpu, None).is_enabled()
    with pytest.raises(ValueError, match="fp16 autocast needs CUDA"):
        devices.autocast_dtype(cpu, "fp16")
    with pytest.raises(ValueError, match="amp must be one of"):
        devices.autocast_dtype(cpu, "fp8")
    if torch.cuda.is_available():  # on a GPU machine, the real thing
        assert devices.make_scaler(cuda, torch.float16).is_enabled()
    else:
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            devices.resolve_device("cuda")
