import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from landinglib import classes, data, viz  # noqa: E402
from landinglib.browser import mask_browser  # noqa: E402


def test_overlay_blends_by_alpha_and_leaves_ignore_alone():
    image = np.full((2, 2, 3), 100, np.uint8)
    mask = np.array([[1, 255], [3, 0]], np.uint8)
    np.testing.assert_array_equal(viz.overlay(image, mask, classes.LANDING, alpha=0.0), image)
    full = viz.overlay(image, mask, classes.LANDING, alpha=1.0)
    assert tuple(full[0, 0]) == classes.LANDING.colors[1] and tuple(full[1, 0]) == classes.LANDING.colors[3]
    assert tuple(full[0, 1]) == (100, 100, 100)
    half = viz.overlay(image, mask, classes.LANDING, alpha=0.5)
    assert tuple(half[0, 0]) == tuple(round((100 + c) / 2) for c in classes.LANDING.colors[1])


def test_overlay_rejects_bad_input():
    with pytest.raises(ValueError, match="differ in size"):
        viz.overlay(np.zeros((2, 2, 3), np.uint8), np.zeros((3, 2), np.uint8), classes.LANDING)
    with pytest.raises(ValueError, match="alpha"):
        viz.overlay(np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2), np.uint8), classes.LANDING, alpha=2)


def test_figures_have_one_panel_per_item():
    image = np.zeros((32, 48, 3), np.uint8)
    mask = np.tile(np.arange(4, dtype=np.uint8), (32, 12))
    fig = viz.show_samples([(image, mask)] * 2, classes.LANDING)
    assert len(fig.axes) == 6 and len(fig.legends[0].legend_handles) == 4
    ax = viz.plot_class_frequencies(np.array([10, 5, 1, 0]), classes.LANDING)
    assert len(ax.patches) == 4
    ax = viz.show_taxonomy(classes.UDD6, extra={"landing": list("abcdef")})
    assert len(ax.patches) == 6
    fig = viz.show_augmentations(image, mask, data.train_transform(32), classes.LANDING, n=3)
    assert len(fig.axes) == 8
    plt.close("all")


def test_legend_handles_only_present_classes():
    handles = viz.legend_handles(classes.UDD6, present=np.array([0, 2, 255]))
    assert [h.get_label() for h in handles] == ["0 Other", "2 Road"]


def test_training_plots_and_predictions():
    from landinglib.model import build_model
    import torch

    history = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.1, "val_miou": 0.3},
               {"epoch": 2, "train_loss": 0.5, "val_loss": 0.7, "val_miou": 0.5}]
    axes = viz.plot_history(history)
    assert len(axes[0].lines) == 2 and list(axes[1].lines[0].get_ydata()) == [0.3, 0.5]
    ax = viz.plot_class_iou([0.5, float("nan"), 1.0, 0.25], classes.LANDING, baseline=0.1)
    assert len(ax.patches) == 4 and "mIoU 0.583" in ax.get_legend().get_texts()[0].get_text()
    dataset = [(torch.zeros(3, 32, 32), torch.zeros(32, 32, dtype=torch.long))]
    fig = viz.show_predictions(build_model("ultra-fast", 4), dataset, [0], classes.LANDING)
    assert len(fig.axes) == 4 and "errors" in fig.axes[3].get_title()
    plt.close("all")


@pytest.mark.parametrize("iou", [[0.9, 0.1, 0.05, 0.02], [0.02, 0.05, 0.1, 0.9], [0.5, 0.5, 0.5, 0.5]])
def test_iou_legend_never_covers_a_bar_or_its_label(iou):
    fig, ax = plt.subplots(1, 2, figsize=(12, 3.8))
    viz.plot_class_iou(iou, classes.LANDING, baseline=0.3, ax=ax[1])
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend = ax[1].get_legend().get_window_extent(renderer)
    for item in [*ax[1].patches, *ax[1].texts]:
        assert not legend.overlaps(item.get_window_extent(renderer)), item
    plt.close(fig)


def test_confusion_plot_and_landing_sites_drawing():
    from landinglib.landing import LandingSite

    ax = viz.plot_confusion(np.array([[8, 2], [1, 9]]), classes.Taxonomy("t", ("a", "b"), ((0, 0, 0), (1, 1, 1))))
    assert [t.get_text() for t in ax.texts] == ["0.80", "0.20", "0.10", "0.90"]
    image = np.zeros((100, 100, 3), np.uint8)
    site = LandingSite((50, 50), 20.0, 0.9, 1000, 40.0, 0.8, [])
    drawn = viz.draw_landing_sites(image, [site], gsd_m=0.1)
    assert drawn[50, 30:71].any() and not image.any()  # ring drawn, input untouched
    plt.close("all")


def _browser(calls):
    def fake_predict(model, image):
        calls.append(model)
        probs = np.zeros((4, *image.shape[:2]), np.float32)
        probs[1] = 1.0  # everything Safe
        return probs

    images = [np.full((60, 80, 3), v, np.uint8) for v in (10, 200)]
    truths = [np.full((60, 80), 3, np.uint8)] * 2
    return mask_browser(images, {"a": "model-a", "b": "model-b"}, classes.LANDING, truths=truths,
                            gsd_m=0.1, drone_radius_m=0.5, predict=fake_predict)


def test_mask_browser_updates_from_code_and_caches_predictions():
    calls = []
    browser = _browser(calls)
    first = browser.picture.copy()
    assert calls == ["model-a"] and browser.image.value[:4] == b"\x89PNG"
    second = browser.update(index=1)
    assert not np.array_equal(first, second) and browser.index.value == 1
    browser.update(model="b")
    browser.update(index=0)
    browser.update(model="a")  # (a, 0) again: from the cache
    assert calls == ["model-a", "model-a", "model-b", "model-b"] and browser.predictions == 4
    browser.index.value = 1  # a widget change (as a user would make) redraws too
    assert browser.predictions == 4 and np.array_equal(browser.picture, second)


def test_mask_browser_opacity_classes_sites_and_truth():
    browser = _browser([])
    plain = browser.update(opacity=0.0)
    assert np.array_equal(plain, np.full((60, 80, 3), 10, np.uint8))
    coloured = browser.update(opacity=1.0)
    assert tuple(coloured[30, 40]) == classes.LANDING.colors[1]
    hidden = browser.update(classes=[True, False, True, True])  # hide Safe
    assert tuple(hidden[30, 40]) == (10, 10, 10)
    with_sites = browser.update(classes=[True] * 4, show_sites=True)
    assert "landing site" in browser.info.value and not np.array_equal(with_sites, coloured)
    sites = browser._prediction("a", 0)["sites"]
    browser.update(classes=[True, True, False, True])
    assert sites and browser._prediction("a", 0)["sites"] is sites  # not searched again
    browser.update(classes=[True] * 4)
    truth = browser.update(show_sites=False, show_truth=True)
    assert tuple(truth[30, 40]) == classes.LANDING.colors[3]
    with pytest.raises(ValueError, match="at least one image"):
        mask_browser([], {"a": 1}, classes.LANDING)


def test_mask_browser_says_why_there_is_no_site_and_uses_the_truth_in_truth_view():
    browser = _browser([])  # the model says Safe everywhere; the truth is Danger everywhere
    browser.update(show_sites=True)
    assert "model" in browser.info.value and "1 landing site" in browser.info.value
    assert "50%" in browser.info.value  # the confidence threshold is shown
    browser.update(show_truth=True)
    assert "ground truth" in browser.info.value and "no landing site, because no pixel is Safe" in browser.info.value
