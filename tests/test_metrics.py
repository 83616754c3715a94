import math

import numpy as np
import pytest
import torch

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
