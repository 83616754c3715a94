"""``landinglib.model``, the public face of the networks: the tools it adds to any network (parameter and MAC
counts, the layer table, the receptive field, ``predict``, ``RemapClasses``). The networks themselves are tested
in ``test_models.py``, checkpoints in ``test_checkpoint.py``."""
import torch

from landinglib import classes
from landinglib.model import (RemapClasses, UltraFastBiSeNet, build_model, count_macs, count_parameters, layer_table,
                              predict, receptive_field)


def test_receptive_field_and_output_stride():
    assert receptive_field(UltraFastBiSeNet(4)) == (33, 4)  # 1 + 2 + 2*2 + 2*4 * 4 convs at stride 4


def test_the_layer_table_counts_every_leaf_layer_and_the_macs_of_the_convolutions():
    model = UltraFastBiSeNet(4)
    rows = layer_table(model)
    assert [r["name"] for r in rows[:3]] == ["backbone.0", "backbone.1", "backbone.2"]
    assert rows[-1]["type"] == "interpolate"
    assert rows[0] == {"name": "backbone.0", "type": "Conv2d", "shape": (32, 256, 256), "params": 864,
                       "macs": 256 * 256 * 32 * 27}  # each output value: a 3x3x3 dot product
    assert sum(r["params"] for r in rows) == count_parameters(model)
    assert count_macs(model) == sum(r["macs"] for r in rows) == 1_642_594_304  # the design's 1.64 GMAC at 256x256
    assert count_macs(model, (128, 128)) * 4 == count_macs(model)


def test_predict_gives_class_masks_for_one_image_or_a_batch():
    torch.manual_seed(0)
    model = build_model("ultra-fast", 4)
    images = torch.randn(2, 3, 32, 48)
    with torch.no_grad():
        expected = model.eval()(images).argmax(1)
    masks = predict(model.train(), images)  # predict puts the model in eval mode itself
    assert masks.dtype == torch.int64 and torch.equal(masks, expected)
    assert torch.equal(predict(model, images[1]), expected[1])  # one (3, H, W) image -> one (H, W) mask


def test_remap_classes_sums_probabilities_into_the_target_classes():
    model = build_model("ultra-fast", 6).eval()
    remapped = RemapClasses(model, classes.DRONEDEPLOY_TO_LANDING).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        p6, p4 = model(x).softmax(1), remapped(x).softmax(1)
    lut = classes.DRONEDEPLOY_TO_LANDING
    for target in range(4):
        expected = p6[:, [i for i in range(6) if lut[i] == target]].sum(1)
        torch.testing.assert_close(p4[:, target], expected, atol=1e-5, rtol=1e-4)
    assert remapped.num_classes == 4
