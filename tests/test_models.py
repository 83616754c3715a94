"""The networks (``models``: one module each, the ``ConvBNReLU`` block, the registry): layouts, sizes, outputs."""
import inspect
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from landinglib.model import count_macs, count_parameters, load_weights
from landinglib.models import BiSeNetV2, ConvBNReLU, FastSegNet, UltraFastBiSeNet, build_model
from landinglib.pipeline import PipelineConfig

from .conftest import ORIGIN_CONVS, origin_state_dict

# Names and shapes of the state dict of the widely used public PyTorch BiSeNetV2 (19 Cityscapes
# classes, auxiliary heads included) -- the layout of its published checkpoint. Data, not code.
REFERENCE = json.loads((Path(__file__).parent / "data" / "bisenetv2_reference_state_dict.json").read_text())


def test_parameter_counts_match_the_design():
    assert count_parameters(UltraFastBiSeNet(4)) == 333_668
    assert count_parameters(UltraFastBiSeNet(7)) == 333_767


def test_no_bias_in_3x3_convs_and_a_biased_classifier():
    model = UltraFastBiSeNet(4)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size for c in convs].count((3, 3)) == 6
    assert all(c.bias is None for c in convs if c.kernel_size == (3, 3))
    assert model.classifier.bias is not None and model.classifier.kernel_size == (1, 1)


@pytest.mark.parametrize("shape", [(2, 3, 256, 256), (1, 3, 96, 160)])
def test_output_has_input_resolution(shape):
    model = build_model("ultra-fast", 4).eval()
    with torch.no_grad():
        out = model(torch.randn(shape))
    assert out.shape == (shape[0], 4, shape[2], shape[3])


def test_build_model_rejects_unknown_name():
    with pytest.raises(ValueError, match="unknown architecture 'tiny'"):
        build_model("tiny")


def test_build_model_builds_the_pipelines_network_by_default():
    assert inspect.signature(build_model).parameters["name"].default == PipelineConfig().arch == "fast"
    assert type(build_model()) is FastSegNet and build_model().num_classes == 4


def test_one_conv_bn_relu_block_names_its_parts_as_each_published_layout_does():
    numbered, named = ConvBNReLU(3, 8, stride=2), ConvBNReLU(3, 8, named=True)
    assert list(numbered.state_dict())[:2] == ["0.weight", "1.weight"] and isinstance(numbered[2], torch.nn.ReLU)
    assert list(named.state_dict())[:2] == ["conv.weight", "bn.weight"] and hasattr(named, "relu")
    assert len(ConvBNReLU(8, 8, 1, relu=False)) == 2
    x = torch.randn(1, 3, 16, 16)
    assert numbered(x).shape == (1, 8, 8, 8) and named(x).min() >= 0  # padding keeps the size; ReLU applied
    dilated = ConvBNReLU(8, 8, dilation=4, groups=8)
    assert dilated(torch.randn(1, 8, 16, 16)).shape == (1, 8, 16, 16) and dilated[0].groups == 8


@pytest.mark.parametrize("name", ["ultra-fast", "fast", "accurate"])
def test_every_architecture_gives_logits_at_input_size(name):
    model = build_model(name, 4).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 96, 160))
    assert out.shape == (2, 4, 96, 160) and model.arch == name


def test_fast_is_lighter_than_ultra_fast():
    fast, ultra = FastSegNet(4), build_model("ultra-fast", 4)
    assert count_parameters(fast) < count_parameters(ultra) / 3
    assert count_macs(fast) < count_macs(ultra) / 5


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


def test_accurate_returns_auxiliary_logits_in_training():
    model = build_model("accurate", 3).train()
    outs = model(torch.randn(2, 3, 64, 64))
    assert isinstance(outs, tuple) and len(outs) == 5 and all(o.shape == (2, 3, 64, 64) for o in outs)


# --- the Training Guide's state-dict layout (origin_state_dict in conftest) --------------------------------
def origin_forward(state: dict, x: torch.Tensor) -> torch.Tensor:
    """The guide's forward pass written out by hand: upsample x4 first, then the 1x1 classifier."""
    for block, convs in ORIGIN_CONVS.items():
        for k in range(len(convs)):
            stride = 2 if block == "backbone" and k in (1, 2) else 1
            x = F.conv2d(x, state[f"{block}.{3 * k}.weight"], stride=stride, padding=1)
            bn = f"{block}.{3 * k + 1}"
            x = F.batch_norm(x, state[f"{bn}.running_mean"], state[f"{bn}.running_var"], state[f"{bn}.weight"],
                             state[f"{bn}.bias"], training=False, eps=1e-5)
            x = F.relu(x)
    x = F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)
    return F.conv2d(x, state["classifier.weight"], state["classifier.bias"])


@pytest.mark.parametrize("num_classes", [4, 7])
def test_a_state_dict_in_the_guides_layout_loads_whole_and_gives_the_guides_output(num_classes, tmp_path):
    state = origin_state_dict(num_classes)
    assert len(state) == 38
    path = tmp_path / "origin.pth"
    torch.save(state, path)
    model = build_model("ultra-fast", num_classes)
    report = load_weights(model, path)
    assert sorted(report.matched) == sorted(state) and report.new == [] and report.dropped == []
    assert list(model.state_dict()) == list(state)  # same names, same order
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), origin_forward(state, x), rtol=1e-4, atol=1e-4)


def test_checkpoints_of_the_old_layout_still_load():
    model = build_model("ultra-fast", 4)
    old = {}
    for name, tensor in model.state_dict().items():  # backbone.3.weight -> backbone.1.0.weight
        block, index, rest = name.split(".", 2) if name.count(".") >= 2 else (name, None, None)
        old[name if index is None else f"{block}.{int(index) // 3}.{int(index) % 3}.{rest}"] = tensor.clone() + 1
    assert "backbone.1.0.weight" in old and "backbone.3.weight" not in old
    fresh = build_model("ultra-fast", 4)
    fresh.load_state_dict(old)  # strict: every name maps
    assert torch.equal(fresh.backbone[3].weight, old["backbone.1.0.weight"])
    report = load_weights(build_model("ultra-fast", 4), {"model": old})
    assert len(report.matched) == 38 and not report.dropped


def test_logits_are_upsampled_with_pixel_centres_aligned():
    """align_corners=False: the same half-pixel convention as OpenCV's resize and the tiled predictor."""
    torch.manual_seed(0)
    model = build_model("ultra-fast", 4).eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        low = model.classifier(model.decoder(model.backbone(x)))[0].numpy()  # (4, 16, 24)
        full = model(x)[0].numpy()
    resized = np.stack([cv2.resize(c, (96, 64), interpolation=cv2.INTER_LINEAR) for c in low])
    np.testing.assert_allclose(full, resized, atol=1e-4)


# --- issue 28: every architecture upsamples with pixel centres aligned -------------------------------
def _bilinear_centres(low: torch.Tensor, size) -> torch.Tensor:
    """(N, C, h, w) -> (N, C, H, W) by OpenCV's bilinear resize: the half-pixel convention (pixel centres
    aligned), written independently of torch's interpolate."""
    return torch.from_numpy(np.stack([[cv2.resize(c, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
                                       for c in image] for image in low.detach().float().numpy()]))


@pytest.mark.parametrize("name", ["ultra-fast", "fast", "accurate"])
def test_every_architecture_upsamples_with_pixel_centres_aligned(name, monkeypatch):
    """The logits are the bilinear, pixel-centre-aligned upsampling of the classifier's low-resolution output, and
    every resampling inside the network keeps pixel centres aligned too: bilinear as OpenCV resizes, nearest by
    whole-pixel repetition (BiSeNetV2's guided aggregation)."""
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
