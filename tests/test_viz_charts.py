"""viz.charts: class frequencies, training curves, IoU bars, the confusion matrix."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from landinglib import classes, viz  # noqa: E402


def test_class_frequencies_are_on_a_linear_axis_and_every_bar_names_its_share():
    ax = viz.plot_class_frequencies(np.array([76, 9000, 800, 124]), classes.LANDING)
    assert ax.get_yscale() == "linear"  # a log axis made 7.6 % look like nothing next to 90 %
    assert [t.get_text() for t in ax.texts] == ["0.8%", "90.0%", "8.0%", "1.2%"]
    assert ax.get_ylim()[1] > 90  # room for the tallest bar's label
    tiny = viz.plot_class_frequencies(np.array([5, 9995, 0, 0]), classes.LANDING, log=True)
    assert tiny.get_yscale() == "log" and [t.get_text() for t in tiny.texts][:3] == ["0.05%", "100.0%", "0.0%"]
    plt.close("all")


def test_training_plots():
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


def test_confusion_plot_shows_each_row_normalised():
    ax = viz.plot_confusion(np.array([[8, 2], [1, 9]]), classes.Taxonomy("t", ("a", "b"), ((0, 0, 0), (1, 1, 1))))
    assert [t.get_text() for t in ax.texts] == ["0.80", "0.20", "0.10", "0.90"]
    plt.close("all")
