import cv2
import numpy as np
import pytest
import torch

from landinglib import inference

from .conftest import ContextModel, PixelModel, error_message


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


# --- the pieces of tiling and of bounded prediction, each against what its docstring promises -------------
def test_blending_window_is_one_in_the_middle_and_falls_linearly_to_a_tenth_at_the_border():
    w = inference._window(64)
    assert w.shape == (64, 64) and w.dtype == np.float32
    line = w[32] / w[32, 32]
    assert w[32, 32] == 1.0 and line[16:48].min() == 1.0  # the middle half has full weight
    np.testing.assert_allclose(line[:16], np.maximum(np.arange(1, 17) / 16, 0.1), rtol=1e-6)  # a linear ramp
    np.testing.assert_allclose(line[::-1], line)  # symmetric
    assert w[0, 0] == pytest.approx(0.01) and line[0] == pytest.approx(0.1)  # floor 0.1 per axis
    np.testing.assert_allclose(w, np.outer(line, line), rtol=1e-6)
    small = inference._window(8)[4] / inference._window(8)[4, 4]
    np.testing.assert_allclose(small, [0.5, 1, 1, 1, 1, 1, 1, 0.5])


def test_to_tensor_normalises_like_the_eval_transform_and_rejects_other_dtypes():
    white = inference.to_tensor(np.full((2, 3, 3), 255, np.uint8))
    expected = (1 - torch.tensor(inference.IMAGENET_MEAN)) / torch.tensor(inference.IMAGENET_STD)
    torch.testing.assert_close(white[:, 0, 0], expected)
    assert white.shape == (3, 2, 3) and white.dtype == torch.float32
    with pytest.raises(ValueError, match=r"expected an \(H, W, 3\) uint8 RGB image, got \(2, 3, 3\) uint16"):
        inference.to_tensor(np.zeros((2, 3, 3), np.uint16))
    with pytest.raises(ValueError, match="uint8 RGB"):
        inference.to_tensor(np.zeros((2, 3, 4), np.uint8))


def test_predict_mask_is_the_argmax_over_classes_of_predict_tiled_with_the_same_options():
    model, image = PixelModel(), _image(60, 90)
    probs = inference.predict_tiled(model, image, scale=0.5, tile=32, overlap=8)
    mask = inference.predict_mask(model, image, scale=0.5, tile=32, overlap=8)
    assert mask.shape == (60, 90) and (mask == probs.argmax(0)).all() and len(np.unique(mask)) > 1


def test_scale_for_gsd_rejects_non_positive_distances_and_clips():
    for bad in ((0.05, 0.0), (0.0, 0.2), (-1, 0.2)):
        with pytest.raises(ValueError, match="ground sampling distances must be positive"):
            inference.scale_for_gsd(*bad)
    assert inference.scale_for_gsd(0.03, 0.22) == pytest.approx(0.03 / 0.22)
    assert inference.scale_for_gsd(10.0, 0.1) == 4.0 and inference.scale_for_gsd(0.001, 1.0) == 1 / 64


@pytest.mark.parametrize("full_width, working_width", [(100, 30), (1000, 700), (64, 16)])
def test_to_full_gives_the_full_resolution_pixel_nearest_the_working_pixel_centre(full_width, working_width):
    from landinglib.inference import BoundedPrediction
    prediction = BoundedPrediction((full_width, full_width), np.zeros((1, 2, 2), np.float32),
                                   np.zeros((1, 2, 2), np.float32), np.zeros((working_width, working_width, 3), np.uint8))
    s = working_width / full_width
    centres = (np.arange(full_width) + 0.5) * s  # full pixel centres in working coordinates
    for v in range(0, working_width, max(1, working_width // 7)):
        for got, target in zip(prediction.to_full((v, working_width - 1 - v)), (v + 0.5, working_width - 0.5 - v)):
            distance = np.abs(centres - target)
            assert distance[got] == pytest.approx(distance.min(), abs=1e-9), (v, got)  # a tie may go either way


def test_resized_keeps_at_least_4_pixels_and_returns_the_same_array_when_the_size_matches():
    image = _image(40, 60)
    assert inference._resized(image, 60, 40, 1.0) is image
    assert inference._resized(image, 120, 80, 0.5) is image  # a half-size decoding of a 120 x 80 file
    assert inference._resized(image, 60, 40, 0.01).shape == (4, 4, 3)
    assert inference._resized(image, 60, 40, 0.5).shape == (20, 30, 3)
    up = inference._resized(image, 60, 40, 2.0)
    assert up.shape == (80, 120, 3)
    np.testing.assert_array_equal(up, cv2.resize(image, (120, 80), interpolation=cv2.INTER_LINEAR))  # enlarging
    down = inference._resized(image, 60, 40, 0.3)
    assert down.shape == (12, 18, 3)
    np.testing.assert_array_equal(down, cv2.resize(image, (18, 12), interpolation=cv2.INTER_AREA))  # reducing


def test_resizing_reduces_by_area_and_enlarges_bilinearly_whatever_the_orientation():
    tall = _image(60, 20)  # taller than wide: reduced to 8 x 24, its new height exceeds its old width
    np.testing.assert_array_equal(inference._resized(tall, 20, 60, 0.4),
                                  cv2.resize(tall, (8, 24), interpolation=cv2.INTER_AREA))
    # a decoding one row short of its file (the width already right): only enlarged, so bilinear
    np.testing.assert_array_equal(inference._resized(tall, 20, 61, 1.0),
                                  cv2.resize(tall, (20, 61), interpolation=cv2.INTER_LINEAR))


def test_a_missing_image_is_an_error_naming_the_file(tmp_path):
    missing = tmp_path / "frame01.jpg"
    assert error_message(lambda: inference.image_size(missing), FileNotFoundError) == f"image not found: {missing}"


def test_a_file_whose_pixels_are_cut_off_is_an_error_naming_it_when_decoded_reduced(tmp_path):
    path = tmp_path / "cut.png"
    whole = cv2.imencode(".png", _image(64, 64))[1].tobytes()
    path.write_bytes(whole[: len(whole) // 2])  # the header (and so the size) is intact
    assert inference.image_size(path) == (64, 64)
    assert (error_message(lambda: inference.read_reduced(path, 8), ValueError)
            == f"cannot read image {path}: the file is corrupt or not an image")


def _write_png(path, image):
    cv2.imwrite(str(path), image[..., ::-1])  # RGB on disk
    return path


def test_bounded_prediction_shows_the_network_short_side_pixels_on_the_short_side(tmp_path):
    path = _write_png(tmp_path / "f.png", _image(300, 400))
    assert inference.predict_bounded(PixelModel(), path).probs.shape == (4, 256, 341)  # 256 by default, as in training
    assert inference.predict_bounded(PixelModel(), path, short_side=64).probs.shape == (4, 64, 85)


def test_a_small_frame_is_predicted_from_all_its_pixels(tmp_path):
    """A 48 x 64 frame is enlarged for the network: it must be decoded whole, not reduced first."""
    image = _image(48, 64)
    prediction = inference.predict_bounded(PixelModel(), _write_png(tmp_path / "f.png", image))
    np.testing.assert_array_equal(prediction.working_image, image)
    assert prediction.probs.shape == (4, 256, 341)


def test_at_the_working_scale_the_network_probabilities_are_kept_once(tmp_path):
    """Network and working scales coincide (scale 1, a frame below the working side): one array, not a copy."""
    prediction = inference.predict_bounded(PixelModel(), _write_png(tmp_path / "f.png", _image(48, 64)), scale=1.0)
    assert prediction.probs.shape == (4, 48, 64) and prediction.working_image.shape == (48, 64, 3)
    assert np.shares_memory(prediction.working_probs, prediction.probs)


def _three_class_prediction_of_300_rows():
    """A ``BoundedPrediction`` of a 300 x 40 image from 5 x 7 probabilities of 3 classes."""
    from landinglib.inference import BoundedPrediction

    probs = np.random.default_rng(0).dirichlet(np.ones(3), size=(5, 7)).transpose(2, 0, 1).astype(np.float32)
    return BoundedPrediction((300, 40), probs, probs, np.zeros((5, 7, 3), np.uint8))


def _count_remapped_rows(monkeypatch) -> list:
    """From now on, the row count of every ``cv2.remap`` call, in order."""
    rows = []
    real = cv2.remap

    def counting(src, map_x, *args, **kwargs):
        rows.append(map_x.shape[0])
        return real(src, map_x, *args, **kwargs)

    monkeypatch.setattr(cv2, "remap", counting)
    return rows


def test_full_mask_interpolates_each_full_resolution_row_once(monkeypatch):
    """Strips of ``strip_rows`` rows one after the other, each row once: no overlapping strips that redo the work."""
    prediction = _three_class_prediction_of_300_rows()
    expected = prediction.full_mask()
    rows = _count_remapped_rows(monkeypatch)
    for strip_rows in (128, 7):
        rows.clear()
        np.testing.assert_array_equal(prediction.full_mask(strip_rows=strip_rows), expected)
        assert sum(rows) == 300 * 3 and max(rows) == min(strip_rows, 300), strip_rows  # 3 class planes, 300 rows


def test_a_tiny_scale_still_decodes_enough_pixels_for_the_smallest_image_it_makes(tmp_path):
    """Nothing is made smaller than 4 px a side, so nothing is decoded smaller: an 8 x 8 file asked for at 1/100
    keeps its white left half instead of becoming a flat grey square."""
    image = np.zeros((8, 8, 3), np.uint8)
    image[:, :4] = 255
    prediction = inference.predict_bounded(PixelModel(), _write_png(tmp_path / "f.png", image), scale=0.01,
                                           working_side=1)
    assert prediction.working_image.shape == (4, 4, 3)
    assert prediction.working_image[:, :2].min() == 255 and prediction.working_image[:, 2:].max() == 0


def test_full_mask_works_in_strips_of_128_rows_unless_told_otherwise(monkeypatch):
    """The default strip is 128 full-resolution rows: memory holds one float strip of 128 rows per class."""
    prediction = _three_class_prediction_of_300_rows()
    rows = _count_remapped_rows(monkeypatch)
    prediction.full_mask()
    assert rows == [128] * 3 + [128] * 3 + [44] * 3  # 3 class planes; 300 rows = 128 + 128 + 44


# --- issue 28: tiles are blended by their windows, and every pixel is predicted ------------------------
def test_overlapping_tiles_are_blended_as_the_window_weighted_mean_of_their_predictions():
    """Two 96-px tiles side by side overlap by 32 columns: there each pixel is the mean of both tiles' probabilities
    weighted by their blending windows; elsewhere it is the one tile that covers it."""
    model, image = ContextModel(), _image(96, 160)
    probs = inference.predict_tiled(model, image, tile=96, overlap=32)
    x = inference.to_tensor(image)[None]
    with torch.no_grad():
        left = model(x[..., :96]).softmax(1)[0].numpy()  # columns 0..95
        right = model(x[..., 64:]).softmax(1)[0].numpy()  # columns 64..159
    w = inference._window(96)
    w_left, w_right = w[:, 64:], w[:, :32]  # each tile's window over the shared columns 64..95
    shared = (left[:, :, 64:] * w_left + right[:, :, :32] * w_right) / (w_left + w_right)
    assert np.abs(left[:, :, 64:] - right[:, :, :32]).max() > 0.2  # the tiles do disagree where they overlap
    np.testing.assert_allclose(probs[:, :, 64:96], shared, atol=1e-5)
    np.testing.assert_allclose(probs[:, :, :64], left[:, :, :64], atol=1e-5)
    np.testing.assert_allclose(probs[:, :, 96:], right[:, :, 32:], atol=1e-5)


@pytest.mark.parametrize("shape", [(384, 576), (576, 384)])  # landscape and portrait 3:2 photos
def test_a_photo_scaled_to_a_multiple_of_32_wider_than_a_tile_is_predicted_in_every_pixel(shape):
    """At short side 256 a 3:2 photo is 256 x 384 (or 384 x 256): no padding, two tiles along the long side, the
    last one flush with the border. Every pixel gets finite probabilities summing to 1, the ones the model gives it."""
    model, image = PixelModel(), _image(*shape)
    scale = inference.scale_for(image.shape)
    probs = inference.predict_tiled(model, image, scale=scale)  # the defaults: 256-px tiles, 64 px overlap
    assert probs.shape == (4, *shape) and np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(0), 1, atol=1e-5)
    small = cv2.resize(image, (round(shape[1] * scale), round(shape[0] * scale)), interpolation=cv2.INTER_AREA)
    assert small.shape[:2] in ((256, 384), (384, 256))
    network = inference.predict_tiled(model, small)  # the network's scale itself: compared with the whole image at once
    whole = model(inference.to_tensor(small)[None]).softmax(1)[0].detach().numpy()
    assert np.isfinite(network).all()
    np.testing.assert_allclose(network, whole, atol=1e-5)


def test_full_mask_applies_the_landing_rule_in_every_strip():
    from landinglib.inference import BoundedPrediction
    from landinglib.safety import landing_mask

    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(4) * 0.7, size=(9, 11)).transpose(2, 0, 1).astype(np.float32)
    prediction = BoundedPrediction((9, 11), probs, probs, np.zeros((9, 11, 3), np.uint8))
    for threshold in (0.5, 0.7):
        ruled = prediction.full_mask(strip_rows=4, safe_threshold=threshold)
        assert np.array_equal(ruled, landing_mask(probs, threshold))  # same size: no resampling in between
        assert (ruled == 1).sum() < (prediction.full_mask(strip_rows=4) == 1).sum()  # the rule took Safe away
