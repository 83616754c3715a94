import math
import warnings

import numpy as np
import pytest
import torch

from landinglib import metrics
from landinglib.metrics import ConfusionMatrix, scores


def test_hand_computed_example_counts_class_0_and_skips_ignore():
    target = torch.tensor([[0, 0, 1, 1], [2, 2, 255, 0]])
    pred = torch.tensor([[0, 1, 1, 1], [2, 0, 2, 0]])
    cm = ConfusionMatrix(3)
    cm.update(pred[None], target[None])
    # truth 0: pixels (0,0)->0, (0,1)->1, (1,3)->0 ; truth 1: ->1, ->1 ; truth 2: ->2, ->0
    assert cm.matrix.tolist() == [[2, 1, 0], [0, 2, 0], [1, 0, 1]]
    s = cm.compute()
    # IoU0 = 2 / (3 + 3 - 2) = 0.5 ; IoU1 = 2 / (2 + 3 - 2) = 2/3 ; IoU2 = 1 / (2 + 1 - 1) = 0.5
    assert s["iou"] == pytest.approx([0.5, 2 / 3, 0.5])
    assert s["miou"] == pytest.approx((0.5 + 2 / 3 + 0.5) / 3)
    assert s["pixel_accuracy"] == pytest.approx(5 / 7)
    assert s["precision"] == pytest.approx([2 / 3, 2 / 3, 1.0])
    assert s["recall"] == pytest.approx([2 / 3, 1.0, 0.5])


def test_logits_are_argmaxed_and_batches_accumulate():
    logits = torch.zeros(1, 2, 1, 2)
    logits[0, 1, 0, 1] = 5
    cm = ConfusionMatrix(2)
    cm.update(logits, torch.tensor([[[0, 1]]]))
    cm.update(logits, torch.tensor([[[1, 1]]]))
    assert cm.matrix.tolist() == [[1, 0], [1, 2]]


def test_miou_is_over_classes_present_only():
    s = scores(np.array([[5, 0, 0], [0, 0, 0], [0, 0, 5]]))
    assert math.isnan(s["iou"][1]) and s["miou"] == 1.0 and s["present"] == [True, False, True]


def test_predicting_an_absent_class_counts_against_miou():
    s = scores(np.array([[3, 1], [0, 0]]))
    assert s["iou"] == pytest.approx([0.75, 0.0]) and s["miou"] == pytest.approx(0.375)


def test_bad_shapes_and_classes_are_rejected():
    cm = ConfusionMatrix(2)
    with pytest.raises(ValueError, match="differ"):
        cm.update(torch.zeros(1, 2, 2, dtype=torch.long), torch.zeros(1, 3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="class 5"):
        cm.update(torch.zeros(1, 2, 2, dtype=torch.long), torch.full((1, 2, 2), 5))
    with pytest.raises(ValueError, match="prediction holds classes outside"):
        cm.update(torch.full((1, 2, 2), 2), torch.zeros(1, 2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="logits have 3 channels"):
        cm.update(torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long))


def test_majority_baseline_predicts_the_most_frequent_class():
    from landinglib.metrics import majority_baseline

    s = majority_baseline(np.array([[6, 2], [1, 1]]))  # truth: 8 of class 0, 2 of class 1
    assert s["iou"] == pytest.approx([0.8, 0.0]) and s["miou"] == pytest.approx(0.4)
    assert s["pixel_accuracy"] == pytest.approx(0.8)


def test_an_empty_confusion_matrix_scores_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = metrics.scores(np.zeros((3, 3), np.int64))
    assert np.isnan(s["miou"]) and np.isnan(s["pixel_accuracy"]) and s["pixels"] == 0
    assert all(np.isnan(v) for v in s["iou"] + s["precision"] + s["recall"]) and s["present"] == [False] * 3


def test_one_true_pixel_gives_a_defined_recall_and_precision():
    s = metrics.scores(np.array([[1, 0], [1, 5]]))
    assert s["recall"] == [1.0, 5 / 6] and s["precision"] == [0.5, 1.0] and s["iou"] == [0.5, 5 / 6]


def test_majority_baseline_of_a_later_class():
    s = metrics.majority_baseline(np.array([[2, 0, 0], [0, 1, 0], [1, 0, 6]]))
    assert s["pixel_accuracy"] == pytest.approx(7 / 10) and s["iou"][2] == pytest.approx(7 / 10)
    assert s["iou"][:2] == [0.0, 0.0]


def test_compare_prints_milliseconds_under_a_rule():
    table = metrics.compare({"int8": {"miou": 0.5, "pixel_accuracy": 0.7, "iou": [0.5, float("nan")],
                                      "seconds_per_image": 0.25},
                             "fp32": {"miou": 0.4, "pixel_accuracy": 0.6, "iou": [0.3, 0.5]}}, ["a", "b"])
    lines = str(table).splitlines()
    assert lines[0].split() == ["model", "mIoU", "pix", "acc", "a", "b", "ms/img"]
    assert set(lines[1]) == {"-"} and lines[2].split() == ["int8", "0.500", "0.700", "0.500", "-", "250.0"]
    assert lines[3].split() == ["fp32", "0.400", "0.600", "0.300", "0.500"]


def test_the_same_counts_score_alike_whatever_number_type_holds_them():
    """Counts saved compactly (uint16, int32) or as floats give the scores and the baseline of int64 counts: no
    wrapped sums, no float32 rounding."""
    counts = np.array([[40000, 30000], [5, 7]])  # a row sums past 65535
    for dtype in (np.uint16, np.int32, np.float32):
        np.testing.assert_equal(metrics.scores(counts.astype(dtype)), metrics.scores(counts))
        np.testing.assert_equal(metrics.majority_baseline(counts.astype(dtype)), metrics.majority_baseline(counts))
    assert metrics.majority_baseline(counts.astype(np.uint16))["pixels"] == 70012


def test_the_matrix_is_kept_on_the_device_it_is_given():
    assert ConfusionMatrix(3, device="meta").matrix.device.type == "meta"  # e.g. the model's GPU
    assert ConfusionMatrix(3).matrix.device.type == "cpu"


def test_confusion_counts_stay_exact_beyond_float32_precision():
    cm = ConfusionMatrix(2)
    big = torch.zeros(1, 4097, 4097, dtype=torch.long)  # 16,785,409 pixels: float32 counts in steps of 2 here
    cm.update(big, big)
    cm.update(torch.zeros(1, 1, 1, dtype=torch.long), torch.zeros(1, 1, 1, dtype=torch.long))
    assert int(cm.matrix[0, 0]) == 4097 * 4097 + 1 and cm.matrix.dtype == torch.int64


def test_scores_of_absent_classes_raise_no_numpy_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 0/0 for a class that is nowhere must not warn
        s = scores(np.array([[5, 0, 0], [1, 3, 0], [0, 0, 0]]))
    assert s["iou"][2] != s["iou"][2] and s["miou"] == pytest.approx((5 / 6 + 3 / 4) / 2)


def test_comparison_table_has_a_time_column_only_when_times_were_measured():
    timed = {"miou": 0.5, "pixel_accuracy": 0.8, "iou": [0.5, float("nan")], "seconds_per_image": 0.0123}
    untimed = {"miou": 0.4, "pixel_accuracy": 0.7, "iou": [0.4, 0.4]}
    table = metrics.compare({"net": timed, "baseline": untimed}, ["a", "b"])
    assert table.header == ["model", "mIoU", "pix acc", "a", "b", "ms/img"]
    assert table.rows[0] == ["net", "0.500", "0.800", "0.500", "-", "12.3"] and table.rows[1][-1] == ""
    assert metrics.compare({"baseline": untimed}, ["a", "b"]).header == ["model", "mIoU", "pix acc", "a", "b"]
