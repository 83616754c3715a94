import warnings

import numpy as np
import pytest

from landinglib import classes
from landinglib.classes import IGNORE_INDEX, UnknownColorWarning, colors_to_index, index_to_colors

from .conftest import DD_BGR, UDD6_RGB


def test_dronedeploy_palette_matches_documented_bgr():
    assert classes.DRONEDEPLOY_LABEL_COLORS_BGR == tuple(DD_BGR[k] for k in range(7))
    assert classes.DRONEDEPLOY_LABELS.colors[0] == (255, 0, 255)
    assert classes.DRONEDEPLOY_LABELS.colors[1] == (230, 25, 75)  # BUILDING, swapped to RGB


def test_dronedeploy_learnable_classes_drop_ignore():
    assert classes.DRONEDEPLOY.names == ("Building", "Clutter", "Vegetation", "Water", "Ground", "Car")
    assert list(classes.DRONEDEPLOY_LABEL_TO_TRAIN[:7]) == [255, 0, 1, 2, 3, 4, 5]
    assert classes.DRONEDEPLOY_LABEL_TO_TRAIN[200] == IGNORE_INDEX
    assert len(classes.DRONEDEPLOY_FRIENDLY_NAMES) == 7


def test_udd6_palette_and_landing_map():
    assert classes.UDD6.colors == tuple(UDD6_RGB[k] for k in range(6))
    assert classes.UDD6.names == ("Other", "Facade", "Road", "Vegetation", "Vehicle", "Roof")
    assert classes.LANDING.names == ("Background", "Safe", "Caution", "Danger")
    assert list(classes.UDD6_TO_LANDING[:6]) == [0, 3, 1, 2, 3, 2]
    assert classes.UDD6_TO_LANDING[255] == 255


@pytest.mark.parametrize("taxonomy", [classes.UDD6, classes.DRONEDEPLOY_LABELS, classes.LANDING, classes.DRONEDEPLOY])
def test_colour_codec_round_trip(taxonomy):
    rng = np.random.default_rng(1)
    mask = rng.integers(0, len(taxonomy), (37, 53)).astype(np.uint8)
    rgb = index_to_colors(mask, taxonomy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean label must not warn
        decoded, unknown = colors_to_index(rgb, taxonomy)
    assert unknown == 0
    np.testing.assert_array_equal(decoded, mask)


def test_unknown_colour_maps_to_ignore_and_is_reported_with_file_name():
    rgb = index_to_colors(np.zeros((10, 10), np.uint8), classes.UDD6)
    rgb[2:4, 2:5] = (1, 2, 3)
    with pytest.warns(UnknownColorWarning, match=r"gt/DJI_0001\.png: 6 pixels with colours outside the udd6 palette .*\(1, 2, 3\)"):
        mask, unknown = colors_to_index(rgb, classes.UDD6, source="gt/DJI_0001.png")
    assert unknown == 6
    assert (mask[2:4, 2:5] == IGNORE_INDEX).all()
    assert (mask == 0).sum() == 94


def test_index_to_colors_draws_ignore_grey():
    rgb = index_to_colors(np.array([[255, 1]], np.uint8), classes.LANDING)
    assert tuple(rgb[0, 0]) == classes.IGNORE_COLOR
    assert tuple(rgb[0, 1]) == classes.LANDING.colors[1]


def test_colors_to_index_rejects_wrong_shape():
    with pytest.raises(ValueError, match="RGB label"):
        colors_to_index(np.zeros((4, 4), np.uint8), classes.UDD6)


def test_remap_udd6_to_landing():
    udd6 = np.array([[0, 1, 2], [3, 4, 5]], np.uint8)
    np.testing.assert_array_equal(classes.remap(udd6, classes.UDD6_TO_LANDING), [[0, 3, 1], [2, 3, 2]])
