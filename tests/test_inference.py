import numpy as np
import pytest
import torch
from torch import nn

from landinglib import inference


class PixelModel(nn.Module):
    """A 1x1-conv 'network': no context, so tiled and whole-image predictions must agree exactly."""

    num_classes = 4

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        return self.conv(x)


def _image(h=150, w=230, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_tiles_blend_back_to_the_whole_image_prediction():
    model, image = PixelModel(), _image()
    whole = model(inference.to_tensor(image)[None]).softmax(1)[0].detach().numpy()
    tiled = inference.predict_tiled(model, image, tile=64, overlap=16, batch_size=3)
    assert tiled.shape == (4, 150, 230)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    np.testing.assert_allclose(tiled.sum(0), 1, atol=1e-5)


def test_scaled_prediction_comes_back_at_full_size_and_flip_tta_is_consistent():
    model, image = PixelModel(), _image(301, 517)
    probs = inference.predict_tiled(model, image, scale=0.25, tile=32, overlap=8)
    assert probs.shape == (4, 301, 517)
    flipped = inference.predict_tiled(model, image, scale=0.25, tile=32, overlap=8, flip_tta=True)
    np.testing.assert_allclose(flipped, probs, atol=1e-5)  # a 1x1 conv is flip-equivariant
    assert inference.predict_mask(model, image, scale=0.25, tile=32, overlap=8).dtype == np.uint8


def test_scale_for_matches_the_eval_transform():
    assert inference.scale_for((2160, 4096, 3)) == pytest.approx(256 / 2160)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="overlap"):
        inference.predict_tiled(PixelModel(), _image(), tile=32, overlap=32)
    with pytest.raises(ValueError, match="uint8 RGB"):
        inference.to_tensor(np.zeros((4, 4), np.uint8))


def test_full_mask_is_the_bilinear_upsampling_with_pixel_centres_aligned():
    """full_mask() in strips must equal one bilinear upsampling (align_corners=False, as F.interpolate and
    predict_tiled), whatever the strip height: a one-pixel shift or a strip seam shows up as disagreement."""
    import torch.nn.functional as F

    from landinglib.inference import BoundedPrediction

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=(13, 17)).transpose(2, 0, 1).astype(np.float32)
    full = (61, 83)
    reference = F.interpolate(torch.from_numpy(probs)[None], size=full, mode="bilinear",
                              align_corners=False)[0].argmax(0).numpy()
    prediction = BoundedPrediction(full, probs, probs, np.zeros((13, 17, 3), np.uint8))
    for rows in (128, 7, 1):
        mask = prediction.full_mask(strip_rows=rows)
        assert mask.shape == full and mask.dtype == np.uint8
        assert (mask == reference).mean() > 0.995, rows
