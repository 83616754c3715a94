import json
from pathlib import Path

import pytest
import torch

from landinglib import train
from landinglib.architectures import BiSeNetV2, FastSegNet
from landinglib.model import build_model, count_macs, count_parameters, load_weights, save_checkpoint

# Names and shapes of the state dict of the widely used public PyTorch BiSeNetV2 (19 Cityscapes
# classes, auxiliary heads included) -- the layout of its published checkpoint. Data, not code.
REFERENCE = json.loads((Path(__file__).parent / "data" / "bisenetv2_reference_state_dict.json").read_text())


def test_accurate_state_dict_matches_the_reference_naming():
    ours = [[name, list(t.shape)] for name, t in BiSeNetV2(19).state_dict().items()]
    assert len(REFERENCE) == 383
    assert ours == REFERENCE


def test_accurate_parameter_counts():
    assert count_parameters(BiSeNetV2(19)) == 5_231_487  # with the auxiliary heads, as trained
    assert count_parameters(BiSeNetV2(19, aux=False)) == 3_358_627


def test_reference_checkpoint_loads_with_every_key_matched_then_heads_are_replaced(tmp_path):
    torch.manual_seed(0)
    cityscapes = {name: torch.randn(shape) for name, shape in REFERENCE}  # stands in for the real file
    torch.save(cityscapes, tmp_path / "bisenetv2_city.pth")
    same = build_model("accurate", 19)
    report = load_weights(same, tmp_path / "bisenetv2_city.pth")
    assert not report.new and not report.dropped and len(report.matched) == 383
    landing = build_model("accurate", 4)
    report = load_weights(landing, tmp_path / "bisenetv2_city.pth")
    class_layers = {"head.conv_out.1.weight", "head.conv_out.1.bias"} | {
        f"aux{k}.conv_out.1.{p}" for k in ("2", "3", "4", "5_4") for p in ("weight", "bias")}
    assert set(report.new) == class_layers == set(report.dropped)
    assert torch.equal(landing.detail.S1[0].conv.weight, cityscapes["detail.S1.0.conv.weight"])


@pytest.mark.parametrize("name", ["ultra-fast", "fast", "accurate"])
def test_every_architecture_gives_logits_at_input_size(name):
    model = build_model(name, 4).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 96, 160))
    assert out.shape == (2, 4, 96, 160) and model.arch == name


def test_accurate_returns_auxiliary_logits_in_training_and_the_loop_uses_them():
    model = build_model("accurate", 3).train()
    outs = model(torch.randn(2, 3, 64, 64))
    assert isinstance(outs, tuple) and len(outs) == 5 and all(o.shape == (2, 3, 64, 64) for o in outs)
    batch = [(torch.randn(2, 3, 64, 64), torch.randint(0, 3, (2, 64, 64)))]
    history = train.fit(model, batch, batch, train.TrainConfig(epochs=1, progress=False, device="cpu"))
    assert history[0]["train_loss"] > 0 and not model.training


def test_fast_is_lighter_than_ultra_fast():
    fast, ultra = FastSegNet(4), build_model("ultra-fast", 4)
    assert count_parameters(fast) < count_parameters(ultra) / 3
    assert count_macs(fast) < count_macs(ultra) / 5


def test_checkpoint_of_one_architecture_is_refused_by_another(tmp_path):
    path = save_checkpoint(tmp_path / "fast.pt", build_model("fast", 4))
    with pytest.raises(ValueError, match="architecture 'fast'.*build_model\\('fast'\\)"):
        load_weights(build_model("ultra-fast", 4), path)


def test_onnx_export_of_the_other_architectures(tmp_path):
    from landinglib import export

    for name in ("fast", "accurate"):
        report = export.to_onnx(build_model(name, 4).eval(), tmp_path / f"{name}.onnx", size=128)
        assert report["max_abs_diff"] < export.TOLERANCE


# --- issue 28: every architecture upsamples with pixel centres aligned -------------------------------
def _bilinear_centres(low: torch.Tensor, size) -> torch.Tensor:
    """(N, C, h, w) -> (N, C, H, W) by OpenCV's bilinear resize: the half-pixel convention (pixel centres
    aligned), written independently of torch's interpolate."""
    import cv2
    import numpy as np

    return torch.from_numpy(np.stack([[cv2.resize(c, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
                                       for c in image] for image in low.detach().float().numpy()]))


@pytest.mark.parametrize("name", ["ultra-fast", "fast", "accurate"])
def test_every_architecture_upsamples_with_pixel_centres_aligned(name, monkeypatch):
    """The logits are the bilinear, pixel-centre-aligned upsampling of the classifier's low-resolution output, and
    every resampling inside the network keeps pixel centres aligned too: bilinear as OpenCV resizes, nearest by
    whole-pixel repetition (BiSeNetV2's guided aggregation)."""
    import torch.nn.functional as F

    torch.manual_seed(0)
    model = build_model(name, 4).eval()
    x = torch.randn(1, 3, 64, 96)  # not square: rows and columns cannot be swapped unseen
    classifier_outputs, resamplings = [], []
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d) and module.out_channels == 4:
            module.register_forward_hook(lambda m, args, out: classifier_outputs.append(out))
    real = F.interpolate

    def recording(inp, *args, **kwargs):
        out = real(inp, *args, **kwargs)
        resamplings.append((inp, out, kwargs.get("mode", args[2] if len(args) > 2 else "nearest")))
        return out

    monkeypatch.setattr(F, "interpolate", recording)
    with torch.no_grad():
        logits = model(x)
    low = classifier_outputs[-1]  # the last convolution to the 4 classes: the classifier
    assert logits.shape == (1, 4, 64, 96) and low.shape[-2:] != logits.shape[-2:]
    torch.testing.assert_close(logits, _bilinear_centres(low, (64, 96)), atol=1e-4, rtol=1e-4)
    assert resamplings, "the network upsamples through F.interpolate (nn.Upsample does too)"
    for inp, out, mode in resamplings:
        (h, w), (big_h, big_w) = inp.shape[-2:], out.shape[-2:]
        if mode == "nearest":
            assert big_h % h == 0 and big_w % w == 0 and big_h // h == big_w // w, (inp.shape, out.shape)
            k = big_h // h
            torch.testing.assert_close(out, inp.repeat_interleave(k, -2).repeat_interleave(k, -1))
        else:
            assert mode == "bilinear", mode
            torch.testing.assert_close(out, _bilinear_centres(inp, (big_h, big_w)), atol=1e-4, rtol=1e-4)
