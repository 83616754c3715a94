import warnings
from pathlib import Path

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


def test_one_unknown_pixel_is_reported_in_the_singular_from_the_callers_line():
    rgb = index_to_colors(np.zeros((3, 3), np.uint8), classes.UDD6)
    rgb[1, 1] = (1, 2, 3)
    with pytest.warns(UnknownColorWarning, match=r"^label: 1 pixel with colours outside the udd6 palette") as record:
        colors_to_index(rgb, classes.UDD6)
    assert Path(record[0].filename).name != "classes.py"  # stacklevel: it points at the caller, not the library
    rgb[0, 0] = (1, 2, 3)
    with pytest.warns(UnknownColorWarning, match=r"^label: 2 pixels with colours"):
        colors_to_index(rgb, classes.UDD6)


def test_colors_to_index_wants_uint8_and_index_to_colors_a_mask_in_0_to_255():
    with pytest.raises(ValueError, match="RGB label"):
        colors_to_index(np.zeros((2, 2, 3), np.uint16), classes.UDD6)
    for bad in (-1, 256):
        with pytest.raises(ValueError, match="^mask values must lie in 0..255$"):
            index_to_colors(np.array([[0, bad]]), classes.UDD6)
    assert index_to_colors(np.zeros((0, 0), np.uint8), classes.UDD6).shape == (0, 0, 3)
    assert classes._bgr_to_rgb(((1, 2, 3), (4, 5, 6))) == ((3, 2, 1), (6, 5, 4))


def _class_file(tmp_path, text, name="mine.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_class_file_accepts_a_class_column_spaces_after_commas_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "spaced.csv"
    path.write_bytes('\ufeffclass, r, g, b, landing\nroad, 128, 64, 128, Safe\ntree, 0, 128, 0, "caution"\n'.encode())
    cf = classes.read_class_file(path)
    assert cf.taxonomy.names == ("road", "tree") and cf.taxonomy.colors == ((128, 64, 128), (0, 128, 0))
    assert cf.taxonomy.name == "spaced" and cf.path == str(path)
    assert cf.to_landing.shape == (256,) and cf.to_landing.dtype == np.uint8
    assert cf.to_landing[:3].tolist() == [classes.LANDING.names.index("Safe"), classes.LANDING.names.index("Caution"), 255]


def test_class_file_mistakes_are_reported_with_file_row_and_rule(tmp_path):
    cases = {
        "name,r,g,b\n,1,2,3\n": "{p}, class 1: no name (columns: name, r, g, b[, landing][, index])",
        "name,r,g,b\nroad,1,2,256\n": "{p}, class 1 (road): colour (1, 2, 256) is outside 0-255",
        "name,r,g,b,landing\nroad,1,2,3,maybe\n":
            "{p}, class 1 (road): landing 'maybe' is not one of Background, Safe, Caution, Danger or ignore",
        "name,r,g,b\n": "{p} lists no classes",
        "name,r,g,b,landing\nroad,1,2,3,Safe\ntree,4,5,6,\nroof,7,8,9,\n":
            "{p}: no landing class for tree, roof (every class needs one, or none)",
    }
    for text, message in cases.items():
        path = _class_file(tmp_path, text)
        with pytest.raises(ValueError) as err:
            classes.read_class_file(path)
        assert str(err.value) == message.format(p=path), text
    assert classes.read_class_file(_class_file(tmp_path, "name,r,g,b\nroad,1,2,255\n")).taxonomy.colors == ((1, 2, 255),)


def test_a_class_file_may_hold_255_classes_but_not_256(tmp_path):
    def rows(n):
        return "name,r,g,b\n" + "".join(f"c{i},{i % 256},{i // 256},7\n" for i in range(n))
    assert len(classes.read_class_file(_class_file(tmp_path, rows(255))).taxonomy) == 255
    with pytest.raises(ValueError, match=r"at most 255 classes \(255 means ignore\), got 256$"):
        classes.read_class_file(_class_file(tmp_path, rows(256)))


def test_an_unknown_colour_warning_points_at_the_line_that_decoded_the_label():
    import inspect

    rgb = index_to_colors(np.zeros((2, 2), np.uint8), classes.LANDING)
    rgb[0, 0] = (1, 2, 3)
    with pytest.warns(UnknownColorWarning) as record:
        line = inspect.currentframe().f_lineno + 1
        colors_to_index(rgb, classes.LANDING, source="mine.png")
    assert (record[0].filename, record[0].lineno) == (__file__, line)


def test_a_csv_row_with_more_cells_than_the_header_names_the_file_and_the_class(tmp_path):
    path = tmp_path / "classes.csv"
    path.write_text("name,r,g,b\nground,1,2,3\nroad,1,2,3,Safe\n")
    with pytest.raises(ValueError) as error:
        classes.read_class_file(path)
    assert str(error.value) == f"{path}, class 2: 5 cells, but the header names 4 columns (name, r, g, b)"


@pytest.mark.parametrize("colors, message", [
    (((0, 0, 0), (300, 0, 0)), "mine: the colour of b, (300, 0, 0), is not three values 0-255"),
    (((0, 0, 0), (0, -1, 0)), "mine: the colour of b, (0, -1, 0), is not three values 0-255"),
    (((0, 0, 0), (0, 0)), "mine: the colour of b, (0, 0), is not three values 0-255"),
    (((0, 0, 0),), "mine: 2 class names but 1 colours"),
])
def test_a_taxonomy_refuses_colours_a_palette_cannot_hold(colors, message):
    with pytest.raises(ValueError) as error:
        classes.Taxonomy("mine", ("a", "b"), colors)
    assert str(error.value) == message
    assert classes.Taxonomy("mine", ("a", "b"), ((0, 0, 0), (255, 255, 255))).palette()[1].tolist() == [255] * 3


def test_a_colour_value_of_256_is_refused_by_a_taxonomy():
    """256 does not fit a uint8 palette entry (it would wrap to 0): the largest colour value is 255."""
    with pytest.raises(ValueError, match=r"^mine: the colour of a, \(256, 0, 0\), is not three values 0-255$"):
        classes.Taxonomy("mine", ("a",), ((256, 0, 0),))
    assert classes.Taxonomy("mine", ("a",), ((255, 0, 0),)).palette()[0].tolist() == [255, 0, 0]


def test_class_files_from_spreadsheets_and_plain_json_lists_read_the_same(tmp_path):
    (tmp_path / "excel.csv").write_bytes("\ufeffname,r,g,b,landing\nroad,1,2,3,Safe\n".encode("utf-8"))  # with a BOM
    (tmp_path / "list.json").write_text('[{"name": "road", "r": 1, "g": 2, "b": 3, "landing": "Safe"}]')
    a, b = classes.read_class_file(tmp_path / "excel.csv"), classes.read_class_file(tmp_path / "list.json")
    assert a.taxonomy.names == b.taxonomy.names == ("road",) and a.taxonomy.colors == b.taxonomy.colors == ((1, 2, 3),)
    with pytest.raises(FileNotFoundError, match="class file not found: .*none.csv"):
        classes.read_class_file(tmp_path / "none.csv")
