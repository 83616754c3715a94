import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from landinglib import classes, data, viz  # noqa: E402


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
    assert [ax.get_title() for ax in fig.axes[:3]] == ["image", "label", "overlay"]
    fig = viz.show_samples([(image, mask)], classes.LANDING, titles=["frame 0"], mask_name="prediction")
    assert [ax.get_title() for ax in fig.axes] == ["frame 0 — image", "frame 0 — prediction", "frame 0 — overlay"]
    ax = viz.plot_class_frequencies(np.array([10, 5, 1, 0]), classes.LANDING)
    assert len(ax.patches) == 4
    ax = viz.show_taxonomy(classes.UDD6, extra={"landing": list("abcdef")})
    assert len(ax.patches) == 6
    fig = viz.show_augmentations(image, mask, data.train_transform(32), classes.LANDING, n=3)
    assert len(fig.axes) == 8
    plt.close("all")


def test_class_frequencies_are_on_a_linear_axis_and_every_bar_names_its_share():
    ax = viz.plot_class_frequencies(np.array([76, 9000, 800, 124]), classes.LANDING)
    assert ax.get_yscale() == "linear"  # a log axis made 7.6 % look like nothing next to 90 %
    assert [t.get_text() for t in ax.texts] == ["0.8%", "90.0%", "8.0%", "1.2%"]
    assert ax.get_ylim()[1] > 90  # room for the tallest bar's label
    tiny = viz.plot_class_frequencies(np.array([5, 9995, 0, 0]), classes.LANDING, log=True)
    assert tiny.get_yscale() == "log" and [t.get_text() for t in tiny.texts][:3] == ["0.05%", "100.0%", "0.0%"]
    plt.close("all")


def test_class_legend_names_the_classes_below_a_figure_or_a_picture():
    fig, ax = plt.subplots()
    legend = viz.class_legend(ax, classes.LANDING)
    assert [t.get_text() for t in legend.get_texts()] == ["0 Background", "1 Safe", "2 Caution", "3 Danger"]
    assert ax.get_legend() is legend
    only = viz.class_legend(fig, classes.LANDING, present={3, 1, 255})  # a set; 255 (ignore) is not a class
    assert [t.get_text() for t in only.get_texts()] == ["1 Safe", "3 Danger"] and only in fig.legends
    from_mask = viz.class_legend(fig, classes.UDD6, present=np.array([[5, 5], [0, 255]]))
    assert [t.get_text() for t in from_mask.get_texts()] == ["0 Other", "5 Roof"]
    plt.close(fig)


def test_show_overlay_shows_the_picture_with_its_legend_and_a_title_that_wraps():
    picture = viz.overlay(np.zeros((20, 30, 3), np.uint8), np.ones((20, 30), np.uint8), classes.LANDING, 0.5)
    ax = viz.show_overlay(picture, classes.LANDING, title="no landing site: " + "a long reason " * 20)
    np.testing.assert_array_equal(ax.images[0].get_array(), picture)
    assert len(ax.get_legend().get_texts()) == 4 and ax.title.get_wrap()
    plt.close("all")


def test_every_mask_figure_carries_a_class_legend():
    import torch

    from landinglib.model import build_model

    image = np.zeros((32, 48, 3), np.uint8)
    mask = np.tile(np.arange(4, dtype=np.uint8), (32, 12))
    probs = np.stack([np.full((32, 48), p, np.float32) for p in (0.1, 0.6, 0.2, 0.1)])
    figures = [viz.show_samples([(image, mask)], classes.LANDING),
               viz.show_augmentations(image, mask, data.train_transform(32), classes.LANDING, n=2),
               viz.show_predictions(build_model("ultra-fast", 4), [(torch.zeros(3, 32, 32), torch.zeros(32, 32))], [0],
                                    classes.LANDING),
               viz.show_rule(image, probs, 0.5, truth=mask)]
    for fig in figures:
        assert fig.legends and "1 Safe" in [t.get_text() for t in fig.legends[0].get_texts()], fig
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
    other = [dict(h, val_miou=h["val_miou"] / 2) for h in history]
    axes = viz.compare_histories({"from stage 0": history, "from random weights": other}, title="stage 1")
    assert [t.get_text() for t in axes[1].get_legend().get_texts()] == ["from stage 0", "from random weights"]
    assert list(axes[1].lines[1].get_ydata()) == [0.15, 0.25] and axes[0].figure._suptitle.get_text() == "stage 1"
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
