"""landinglib.data.class_balance: pixel counts per class and the loss weights made from them."""
import warnings

import numpy as np
import torch

from landinglib import data
from landinglib.data import DroneDeployDataset, UDD6Dataset


# --- pixel counts ---------------------------------------------------------------------------------
def test_class_counts_and_weights_favour_rare_classes(udd6_root):
    counts = data.class_pixel_counts(UDD6Dataset(udd6_root, "train", target="udd6"))
    assert counts.sum() == 3 * 48 * 64 and (counts > 0).all()
    weights = data.class_weights(np.array([1000, 100, 10, 0]))
    assert weights[2] > weights[1] > weights[0] and weights[3] == 0


def _pixels_per_class(ds, items) -> np.ndarray:
    """Pixels of each class (255 not counted) over the masks of ``ds[i]`` for ``i`` in ``items``."""
    return np.array([sum(int((ds[i][1] == c).sum()) for i in items) for c in range(len(ds.classes))], np.int64)


def test_class_pixel_counts_count_each_frame_once_and_stop_at_max_items(udd6_root):
    ds = UDD6Dataset(udd6_root, "train", target="udd6")
    truth = _pixels_per_class(ds, range(len(ds)))
    counts = data.class_pixel_counts(ds)
    assert counts.dtype == np.int64 and np.array_equal(counts, truth)
    repeated = UDD6Dataset(udd6_root, "train", target="udd6", repeat=3)
    assert len(repeated) == 3 * len(ds) and np.array_equal(data.class_pixel_counts(repeated), truth)
    assert np.array_equal(data.class_pixel_counts(ds, max_items=1), _pixels_per_class(ds, [0]))
    assert np.array_equal(data.class_pixel_counts(ds, max_items=99), truth)


def test_class_pixel_counts_of_chips_count_every_chip(dronedeploy_root):
    ds = DroneDeployDataset(dronedeploy_root, "train")
    assert data.class_pixel_counts(ds).tolist() == _pixels_per_class(ds, range(len(ds))).tolist()


# --- loss weights ---------------------------------------------------------------------------------
def test_class_weights_are_the_capped_square_root_of_median_over_frequency():
    counts = np.array([100, 300, 0, 600, 1], np.int64)
    freq = counts / counts.sum()
    median = np.median(freq[counts > 0])
    expected = np.where(counts > 0, np.minimum(np.sqrt(median / np.maximum(freq, 1e-300)), 10.0), 0.0)
    weights = data.class_weights(counts)
    assert weights.dtype == torch.float32
    assert torch.allclose(weights, torch.tensor(expected, dtype=torch.float32), rtol=1e-6)
    assert weights[4] == 10.0 and weights[2] == 0.0  # a rare class is capped, an absent one gets nothing
    assert torch.allclose(data.class_weights(counts, power=1.0, max_weight=1e9)[:2],
                          torch.tensor([median / freq[0], median / freq[1]], dtype=torch.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no labelled pixel: zeros, without numpy's empty-median warning
        assert torch.equal(data.class_weights(np.zeros(3, np.int64)), torch.zeros(3))


def test_class_weights_of_billions_of_pixels_match_those_of_the_same_proportions():
    """Pixel counts of a large dataset (billions per class) give the same weights as small counts
    in the same proportions: nothing overflows."""
    small = np.array([4_000, 3_000, 1_000, 500], np.int64)
    assert torch.equal(data.class_weights(small * 1_000_000), data.class_weights(small))


def test_weights_from_half_precision_counts_are_capped_at_exactly_max_weight():
    """Counts (or frequencies) in float16 are capped at max_weight itself, not at its float16 rounding."""
    weights = data.class_weights(np.array([60, 20, 1], np.float16), max_weight=0.1)
    assert torch.equal(weights, torch.full((3,), 0.1))
