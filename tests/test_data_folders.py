"""landinglib.data.folders: your own dataset: images and label masks paired by stem, classes from a class file."""
import csv
import json
import re

import cv2
import numpy as np
import pytest
from PIL import Image

from landinglib import classes, data, synthetic
from landinglib.data import FolderDataset

from .conftest import OWN_CLASSES_CSV, error_message, own_bands, own_dataset, own_grey_folder


# --- finding your folders, pairing, splits --------------------------------------------------------
def test_a_folder_without_image_and_label_folders_says_which_layouts_were_looked_for(tmp_path):
    """An images/ folder alone is not a dataset: both halves of a layout must be there."""
    root = tmp_path / "mine"
    (root / "images").mkdir(parents=True)
    assert error_message(lambda: data.find_folders(root), FileNotFoundError) == (
        f"{root} has no image and label folders (looked for images/ + labels/, "
        "original_images/ + label_images_semantic/, src/ + gt/)")
    (root / "original_images").mkdir()
    (root / "label_images_semantic").mkdir()
    assert data.find_folders(root) == (root / "original_images", root / "label_images_semantic")
    missing = tmp_path / "nowhere"
    assert error_message(lambda: data.find_folders(missing), FileNotFoundError) == f"dataset folder not found: {missing}"


def test_index_and_colour_labels_decode_to_the_same_classes_and_map_to_landing(tmp_path):
    root = own_dataset(tmp_path / "mine")
    images, labels = data.find_folders(root)
    split_file = root / "splits.txt"
    split_file.write_text("name split\n" + "".join(f"f{i:02d}.png {'train' if i < 6 else 'val'}\n" for i in range(10)))
    own = data.FolderDataset(images, labels, root / "classes.csv", "train", split_file=split_file)
    assert len(own) == 6 and own.classes.names == ("ground", "bush", "house")
    for k in range(6):
        _, mask = own[k]
        assert np.array_equal(mask, own_bands(shift=k)), f"item {k}"  # colour (even) and index (odd) alike
    landing = data.FolderDataset(images, labels, root / "classes.csv", "val", target="landing", split_file=split_file)
    image, mask = landing[0]
    assert landing.classes is classes.LANDING and image.shape == (30, 40, 3)
    assert set(np.unique(mask)) == {1, 2, 3}  # ground Safe, bush Caution, house Danger
    assert "FolderDataset('val', 4 images" in repr(landing)


def test_without_a_split_file_the_split_is_stable_and_covers_every_image(tmp_path):
    root = own_dataset(tmp_path / "mine", n=40)
    args = (*data.find_folders(root), root / "classes.csv")
    splits = {s: data.FolderDataset(*args, s) for s in data.SPLITS}
    stems = [p[0].stem for s in data.SPLITS for p in splits[s].pairs]
    assert sorted(stems) == [f"f{i:02d}" for i in range(40)] and all(len(splits[s]) for s in data.SPLITS)
    assert [p[0].stem for p in data.FolderDataset(*args, "test").pairs] == [p[0].stem for p in splits["test"].pairs]
    assert [p[0].stem for p in data.FolderDataset(*args, "test", split_seed=1).pairs] != \
           [p[0].stem for p in splits["test"].pairs]  # another seed, another split


def test_split_files_read_every_spelling_of_the_three_splits(tmp_path):
    path = tmp_path / "splits.csv"
    path.write_text("name;split\nA.png;TRAIN\nb.jpg, Valid\nc test\nd.png val\nzzz.png train\ne.png\n")
    assert data._read_split_file(path, {"A", "b", "c", "d", "e"}) == {"A": "train", "b": "val", "c": "test", "d": "val"}
    with pytest.raises(FileNotFoundError, match=re.escape(f"split file not found: {tmp_path / 'none.txt'}")):
        data._read_split_file(tmp_path / "none.txt", {"A"})
    path.write_text("name split\ne.png\nzzz.png train\n")  # a name without split, a split without a known name
    with pytest.raises(ValueError) as err:
        data._read_split_file(path, {"e"})
    assert str(err.value) == f"{path} names none of the images (expected lines 'name split', split = train, val or test)"


def test_split_file_names_keep_their_dots_and_lose_only_an_image_suffix(tmp_path):
    """A name in a split file may be written with or without its image suffix: ``site.north`` is the stem
    ``site.north`` (not ``site``), ``site.south.JPG`` is ``site.south``; a suffix that is not an image's
    (``notes.txt``) is part of the name, and a folder before the name is dropped."""
    path = tmp_path / "splits.txt"
    path.write_text("site.north train\nsite.south.JPG val\nsite test\nnotes.txt train\nimages/x.y.png val\n")
    stems = {"site", "site.north", "site.south", "notes", "x.y"}
    assert data._read_split_file(path, stems) == {"site.north": "train", "site.south": "val", "site": "test",
                                                  "x.y": "val"}
    root = tmp_path / "mine"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for stem, grey in (("site", 20), ("site.north", 100)):
        cv2.imwrite(str(root / "images" / f"{stem}.jpg"), np.full((30, 40, 3), grey, np.uint8))
        Image.fromarray(own_bands(), "L").save(root / "labels" / f"{stem}.png")
    (root / "classes.csv").write_text(OWN_CLASSES_CSV)
    (root / "splits.txt").write_text("site train\nsite.north val\n")
    val = FolderDataset(root / "images", root / "labels", root / "classes.csv", "val", split_file=root / "splits.txt")
    assert [image.name for image, _ in val.pairs] == ["site.north.jpg"]


def test_pairing_mistakes_are_errors_that_name_the_files(tmp_path):
    root = own_dataset(tmp_path / "mine", n=3)
    (root / "labels" / "f01.png").rename(root / "labels" / "other.png")
    with pytest.raises(FileNotFoundError, match="no label for .*f01.png"):
        data.FolderDataset(*data.find_folders(root), root / "classes.csv")
    (root / "images" / "f01.png").rename(root / "images" / "x.png")
    (root / "images" / "x.png").unlink()
    with pytest.raises(FileNotFoundError, match="label .*other.png has no image"):
        data.FolderDataset(*data.find_folders(root), root / "classes.csv")
    (root / "labels" / "other.png").unlink()
    Image.fromarray(np.zeros((10, 10), np.uint8), "L").save(root / "labels" / "f00.png")  # wrong size
    ds = data.FolderDataset(*data.find_folders(root), root / "classes.csv", "train", split_file=_all_train(root))
    with pytest.raises(ValueError, match="labels must match their image"):
        ds[0]
    with pytest.raises(FileNotFoundError, match="no image and label folders"):
        data.find_folders(tmp_path)


def _all_train(root):
    path = root / "all.csv"
    path.write_text("".join(f"{p.stem},train\n" for p in (root / "images").iterdir()))
    return path


# --- classes and sizes ----------------------------------------------------------------------------
def test_unknown_colours_are_ignored_with_a_warning(tmp_path):
    root = own_dataset(tmp_path / "mine", n=2, colour_every=1)
    rgb = np.array(Image.open(root / "labels" / "f00.png"))
    rgb[0, 0] = (1, 2, 3)
    Image.fromarray(rgb).save(root / "labels" / "f00.png")
    ds = data.FolderDataset(*data.find_folders(root), root / "classes.csv", "train", split_file=_all_train(root),
                            cache_dir=tmp_path / "cache")
    with pytest.warns(classes.UnknownColorWarning, match="RGB \\(1, 2, 3\\)"):
        _, mask = ds[0]
    assert mask[0, 0] == 255


def test_class_files_in_csv_and_json_and_their_mistakes(tmp_path):
    csv = tmp_path / "c.csv"
    csv.write_text(OWN_CLASSES_CSV)
    js = tmp_path / "c.json"
    js.write_text(json.dumps({"classes": [{"name": "ground", "color": [120, 120, 120], "landing": "safe", "index": 0},
                                          {"name": "house", "color": [200, 0, 0], "landing": "DANGER", "index": 2},
                                          {"name": "bush", "color": [0, 120, 0], "landing": "Caution", "index": 1}]}))
    a, b = classes.read_class_file(csv), classes.read_class_file(js)
    assert a.taxonomy.names == b.taxonomy.names and a.taxonomy.colors == b.taxonomy.colors
    assert np.array_equal(a.to_landing, b.to_landing) and list(a.to_landing[:4]) == [1, 2, 3, 255]
    mistakes = {"name,r,g,b,landing\nx,1,2,3,Roof\n": "not one of Background",
                "name,r,g,b\nx,1,2,300\n": "outside 0-255",
                "name,r,g,b\nx,1,2,3\ny,1,2,3\n": "more than one class",
                "name,r,g,b,landing\nx,1,2,3,Safe\ny,4,5,6,\n": "no landing class for y",
                "name,r,g,b,index\nx,1,2,3,0\ny,4,5,6,5\n": "indices must be 0..1",
                "name,r,g\nx,1,2\n": "must be integers"}
    for text, message in mistakes.items():
        csv.write_text(text)
        with pytest.raises(ValueError, match=message):
            classes.read_class_file(csv)
    csv.write_text("name,r,g,b\nx,1,2,3\n")
    assert classes.read_class_file(csv).to_landing is None
    with pytest.raises(ValueError, match="no landing column"):
        data.FolderDataset(*data.find_folders(own_dataset(tmp_path / "d", n=2)), csv, target="landing")


def test_the_semantic_drone_layout_loads_with_the_shipped_class_file(tmp_path):
    root = synthetic.write_semantic_drone_layout(tmp_path / "semantic_drone_dataset", n=6, size=(120, 160))
    shipped = classes.read_class_file(data.SEMANTIC_DRONE_CLASSES)
    assert len(shipped.taxonomy) == 24 and shipped.taxonomy.names[1] == "paved-area"
    assert shipped.taxonomy.colors[1] == (128, 64, 128) and shipped.to_landing[1] == 1  # paved area is Safe
    sets = data.make_datasets("folder", root, classes=data.SEMANTIC_DRONE_CLASSES, target="landing", size=64)
    stems = sorted(p[0].stem for ds in sets.values() for p in ds.pairs)
    assert stems == [f"{i:03d}" for i in range(6)]
    image, mask = next(ds for ds in sets.values() if len(ds))[0]
    assert image.shape[0] == 3 and tuple(image.shape[1:]) == tuple(mask.shape) and min(mask.shape) == 64
    assert set(np.unique(mask.numpy())) <= {0, 1, 2, 3, 255}
    raw = np.array(Image.open(root / "label_images_semantic" / "000.png"))
    assert raw.ndim == 2 and set(np.unique(raw)) <= set(synthetic.SEMANTIC_TO_SEMANTIC_DRONE.tolist())


def test_large_images_are_reduced_once_with_their_labels(tmp_path):
    root = tmp_path / "big"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    noise = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    cv2.imwrite(str(root / "images" / "a.png"), noise)
    Image.fromarray(own_bands(300, 400), "L").save(root / "labels" / "a.png")
    (root / "c.csv").write_text(OWN_CLASSES_CSV)
    ds = data.FolderDataset(root / "images", root / "labels", root / "c.csv", "train", split_file=_all_train(root),
                            max_side=100)
    image, mask = ds[0]
    assert image.shape == (75, 100, 3) and mask.shape == (75, 100) and np.array_equal(mask, own_bands(75, 100))
    np.testing.assert_array_equal(image, cv2.resize(noise[..., ::-1], (100, 75), interpolation=cv2.INTER_AREA))
    for width, kept in ((1024, 1024), (1030, 1024)):  # the default: long side at most 1024 px
        cv2.imwrite(str(root / "images" / "a.png"), np.zeros((20, width, 3), np.uint8))
        Image.fromarray(own_bands(20, width), "L").save(root / "labels" / "a.png")
        ds = data.FolderDataset(root / "images", root / "labels", root / "c.csv", "train", split_file=_all_train(root),
                                cache_dir=tmp_path / f"cache{width}")
        assert ds[0][0].shape[1] == kept, width


def test_changing_max_side_reduces_the_frames_again_instead_of_reusing_the_cache(tmp_path):
    root = own_grey_folder(tmp_path / "mine", n=1)

    def first_image(max_side):
        return FolderDataset(root / "images", root / "labels", root / "classes.csv",
                             split_file=root / "all_train.txt", max_side=max_side)[0][0]
    assert first_image(32).shape == (24, 32, 3)
    assert first_image(16).shape == (12, 16, 3)
    assert first_image(None).shape == (48, 64, 3)


def test_stage_dataset_gives_raw_frames_of_whichever_data_a_stage_uses(tmp_path):
    from landinglib import pipeline

    own = synthetic.write_semantic_drone_layout(tmp_path / "own", n=12, size=(60, 80))
    cfg = pipeline.PipelineConfig.fast(stage2_data=str(own), classes=str(data.SEMANTIC_DRONE_CLASSES))
    mine = [pipeline.stage_dataset(2, cfg, s) for s in data.SPLITS]
    assert all(isinstance(ds, data.FolderDataset) and ds.classes is classes.LANDING for ds in mine)
    image, mask = next(ds for ds in mine if len(ds))[0]
    assert image.dtype == np.uint8 and image.shape == (60, 80, 3) and mask.shape == (60, 80)  # raw arrays
    assert isinstance(pipeline.stage_dataset(2, pipeline.PipelineConfig.fast(), "test"), data.UDD6Dataset)
    assert pipeline.stage_taxonomy(2, cfg) is classes.LANDING


# --- mistakes and settings ------------------------------------------------------------------------
def test_every_folder_mistake_is_named_in_full(tmp_path):
    root = own_dataset(tmp_path / "mine", n=3)
    images, labels, csv = root / "images", root / "labels", root / "classes.csv"
    assert error_message(lambda: data.FolderDataset(images, labels, csv, target="udd6"), ValueError) == \
        "target must be 'own' or 'landing', got 'udd6'"
    (tmp_path / "plain.csv").write_text("name,r,g,b\nground,120,120,120\n")
    assert error_message(lambda: data.FolderDataset(images, labels, tmp_path / "plain.csv", target="landing"), ValueError) == (
        f"{tmp_path / 'plain.csv'} has no landing column: add one (Background, Safe, Caution, Danger or ignore per "
        "class) to train landing classes on this data")
    assert (error_message(lambda: data.FolderDataset(tmp_path / "no", labels, csv), FileNotFoundError)
            == f"image folder not found: {tmp_path / 'no'}")
    assert (error_message(lambda: data.FolderDataset(images, tmp_path / "no", csv), FileNotFoundError)
            == f"label folder not found: {tmp_path / 'no'}")
    for i in (1, 2):
        (labels / f"f0{i}.png").unlink()
    assert error_message(lambda: data._pair_by_stem(images, labels), FileNotFoundError) == \
        f"no label for {images / 'f01.png'} (expected {labels / 'f01.png'}) and 1 more"
    (images / "f02.png").unlink()
    assert error_message(lambda: data._pair_by_stem(images, labels), FileNotFoundError) == \
        f"no label for {images / 'f01.png'} (expected {labels / 'f01.png'})"
    for name in ("x.png", "y.png"):
        Image.fromarray(own_bands(), "L").save(labels / name)
    (images / "f01.png").unlink()
    assert (error_message(lambda: data._pair_by_stem(images, labels), FileNotFoundError)
            == f"label {labels / 'x.png'} has no image in {images} (and 1 more)")
    (labels / "y.png").unlink()
    assert (error_message(lambda: data._pair_by_stem(images, labels), FileNotFoundError)
            == f"label {labels / 'x.png'} has no image in {images}")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert error_message(lambda: data._pair_by_stem(empty, labels), FileNotFoundError) == \
        f"no images in {empty} (looked for {', '.join(sorted(data.IMAGE_SUFFIXES))})"


def test_folder_dataset_limit_cache_folder_and_repr(tmp_path):
    root = own_dataset(tmp_path / "mine", n=6)
    split_file = _all_train(root)
    ds = data.FolderDataset(root / "images", root / "labels", root / "classes.csv", split_file=split_file, limit=2,
                            cache_dir=tmp_path / "mycache")
    assert len(ds) == 2 and ds.cache_dir == tmp_path / "mycache"
    default = data.FolderDataset(root / "images", root / "labels", root / "classes.csv", split_file=split_file, repeat=3)
    assert default.cache_dir == root / ".cache"
    assert repr(default) == (f"FolderDataset('train', 6 images x 3, 3 classes from classes.csv, target='own', "
                             f"images={data._shown(root / 'images')!r})")
    assert "6 images," in repr(data.FolderDataset(root / "images", root / "labels", root / "classes.csv",
                                                  split_file=split_file))


def test_the_dataset_moves_image_and_mask_with_the_same_random_draw(tmp_path):
    """Through ``Dataset.__getitem__`` (not the transform alone): image pixels encode their class."""
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    levels = np.array([40, 90, 140, 190], np.uint8)  # headroom: brightness never clips two classes to one value
    rng = np.random.default_rng(0)
    for i in range(4):
        mask = np.kron(rng.integers(0, 4, (6, 8)), np.ones((20, 20), np.int64)).astype(np.uint8)
        cv2.imwrite(str(tmp_path / "images" / f"{i}.png"), np.repeat(levels[mask][..., None], 3, 2))
        Image.fromarray(mask, "L").save(tmp_path / "labels" / f"{i}.png")
    (tmp_path / "c.csv").write_text("name,r,g,b\na,0,0,0\nb,1,1,1\nc,2,2,2\nd,3,3,3\n")
    (tmp_path / "split.txt").write_text("".join(f"{i} train\n" for i in range(4)))
    transform = data.train_transform(128, crop=64)  # random crop, flips, 90-degree turns, brightness
    ds = data.FolderDataset(tmp_path / "images", tmp_path / "labels", tmp_path / "c.csv", "train", transform,
                            split_file=tmp_path / "split.txt", cache_dir=tmp_path / "cache")
    transform.set_random_seed(5)
    agree = []
    for _ in range(4):
        for k in range(len(ds)):
            image, mask = ds[k]
            grey = data.denormalize(image)[..., 0].astype(int)
            m = mask.numpy()
            for a, b in zip(range(4), range(1, 4)):  # brightness keeps the order of the class levels
                core_a = cv2.erode((m == a).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0  # away from blur
                core_b = cv2.erode((m == b).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
                if core_a.any() and core_b.any():
                    agree.append(grey[core_a].max() < grey[core_b].min())
    assert len(agree) > 10 and all(agree)
