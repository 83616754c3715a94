"""viz.pictures: colour masks, overlays, legends, galleries and landing sites drawn on an image."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from landinglib import classes, data, viz  # noqa: E402
from landinglib.landing import LandingSite  # noqa: E402
from landinglib.model import build_model  # noqa: E402


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


def test_predictions_show_image_truth_prediction_and_errors():
    dataset = [(torch.zeros(3, 32, 32), torch.zeros(32, 32, dtype=torch.long))]
    fig = viz.show_predictions(build_model("ultra-fast", 4), dataset, [0], classes.LANDING)
    assert len(fig.axes) == 4 and "errors" in fig.axes[3].get_title()
    plt.close("all")


def test_landing_sites_are_drawn_on_a_copy_of_the_image():
    image = np.zeros((100, 100, 3), np.uint8)
    site = LandingSite((50, 50), 20.0, 0.9, 1000, 40.0, 0.8, [])
    drawn = viz.draw_landing_sites(image, [site], gsd_m=0.1)
    assert drawn[50, 30:71].any() and not image.any()  # ring drawn, input untouched
    plt.close("all")
