"""landinglib.data.loaders: datasets and loaders by name, their defaults and seeds, collating, worker seeds."""

import albumentations as A
import numpy as np
import pytest
import torch

from landinglib import classes, data
from landinglib.classes import IGNORE_INDEX
from landinglib.data import DroneDeployDataset, UDD6Dataset

from .conftest import own_dataset, own_grey_folder, same_tensors


# --- make_datasets --------------------------------------------------------------------------------
def test_make_datasets_builds_each_kind_with_its_transforms(dronedeploy_root, udd6_root, tmp_path):
    dd = data.make_datasets("dronedeploy", dronedeploy_root, size=64)
    assert sorted(dd) == ["test", "train", "val"] and all(isinstance(d, DroneDeployDataset) for d in dd.values())
    image, mask = dd["train"][0]
    assert tuple(image.shape) == (3, 64, 64) and mask.shape == (64, 64)
    u = data.make_datasets("udd6", udd6_root, size=64, repeat=2)
    assert all(type(d) is UDD6Dataset for d in u.values())
    assert u["train"].repeat == 2 and u["val"].repeat == 1
    with pytest.raises(ValueError, match="dataset must be 'dronedeploy', 'udd6' or 'folder', got 'udd7'"):
        data.make_datasets("udd7", udd6_root)
    message = "the 'folder' dataset needs root (your dataset folder) and classes (its class file)"
    for args, kwargs in (((None,), {"classes": data.SEMANTIC_DRONE_CLASSES}), ((tmp_path,), {})):
        with pytest.raises(ValueError) as err:
            data.make_datasets("folder", *args, **kwargs)
        assert str(err.value) == message


def test_make_datasets_gives_train_its_augmentation_and_val_test_a_fixed_transform(udd6_root):
    ds = data.make_datasets("udd6", udd6_root, size=32, crop=16, augment="strong", seed=3)
    image, mask = ds["train"][0]
    assert tuple(image.shape) == (3, 16, 16) and tuple(mask.shape) == (16, 16)  # crop reached the train split
    assert any(isinstance(t, A.Affine) for t in ds["train"].transform.transforms)  # the strong recipe
    for split in ("val", "test"):
        first, again = ds[split][0], ds[split][0]
        assert same_tensors(first, again), split  # no augmentation: the same item twice is the same tensor
        assert first[0].shape[-2] == 32, split  # the evaluation scale
    light = data.make_datasets("udd6", udd6_root, size=32)
    assert not any(isinstance(t, A.Affine) for t in light["train"].transform.transforms)


def test_make_datasets_seeds_the_training_augmentation_and_limits_every_split(udd6_root):
    def first_train_item(seed):
        return data.make_datasets("udd6", udd6_root, size=32, seed=seed)["train"][0]
    assert same_tensors(first_train_item(3), first_train_item(3))
    assert not same_tensors(first_train_item(3), first_train_item(4))
    limited = data.make_datasets("udd6", udd6_root, size=32, limit=1)
    assert [len(limited[s]) for s in ("train", "val", "test")] == [1, 1, 1]


def test_make_datasets_works_at_256_px_and_seed_0_unless_told_otherwise(udd6_root):
    """The defaults make_loaders also has: a run without a seed augments as seed 0 does."""
    default = data.make_datasets("udd6", udd6_root, limit=1)
    image, _ = default["train"][0]
    assert tuple(image.shape) == (3, 256, 256) and default["val"][0][0].shape[-2] == 256
    seeded = data.make_datasets("udd6", udd6_root, limit=1, seed=0)["train"][0]
    assert torch.equal(image, seeded[0])


def test_without_a_root_make_datasets_uses_the_built_in_copy_of_the_named_dataset(udd6_root, monkeypatch):
    asked = []
    monkeypatch.setattr(data.loaders.synthetic, "ensure_builtin", lambda name: asked.append(name) or udd6_root)
    ds = data.make_datasets("udd6", size=32, limit=1)
    assert asked == ["udd6"] and ds["train"].root == udd6_root


def test_udd6_test_split_does_not_depend_on_the_training_seed(udd6_root):
    a = data.make_datasets("udd6", udd6_root, size=32, seed=0)["test"].pairs
    b = data.make_datasets("udd6", udd6_root, size=32, seed=5)["test"].pairs
    assert a == b


def test_the_three_splits_of_your_folder_share_one_reading_of_its_class_file(tmp_path, monkeypatch):
    """The class file is read once, so every split decodes with the same classes."""
    root = own_grey_folder(tmp_path / "mine")
    reads = []
    real = data.loaders.read_class_file
    monkeypatch.setattr(data.loaders, "read_class_file", lambda path: reads.append(path) or real(path))
    ds = data.make_datasets("folder", root, size=32, classes=root / "classes.csv")
    assert reads == [root / "classes.csv"]
    assert ds["train"].class_file is ds["val"].class_file is ds["test"].class_file


def test_make_datasets_takes_your_folders_as_a_pair_and_a_read_class_file(tmp_path):
    root = own_dataset(tmp_path / "mine", n=10)
    class_file = classes.read_class_file(root / "classes.csv")
    ds = data.make_datasets("folder", (root / "images", root / "labels"), size=32, classes=class_file)
    assert sum(len(d) for d in ds.values()) == 10 and ds["train"].class_file is class_file


# --- make_loaders ---------------------------------------------------------------------------------
def test_make_loaders_gives_batches_for_all_splits(udd6_root):
    loaders = data.make_loaders("udd6", udd6_root, size=32, batch_size=2, num_workers=0)
    x, y = next(iter(loaders.train))
    assert x.shape == (2, 3, 32, 32) and y.dtype == torch.int64
    x, y = next(iter(loaders.val))
    assert x.shape[-2] == 32 and x.shape[-1] % 32 == 0
    assert len(loaders.test.dataset) == 2 and loaders.train.dataset.split == "train"


def test_make_loaders_rejects_unknown_dataset():
    with pytest.raises(ValueError, match="dronedeploy"):
        data.make_loaders("cityscapes")


def test_make_loaders_defaults_are_batches_of_6_at_256_px_with_seed_0(udd6_root):
    """Left out, the size is 256 px, the batch size 6 and the seed 0 (shuffle and augmentation)."""
    default = data.make_loaders("udd6", udd6_root, num_workers=0)
    assert [loader.batch_size for loader in default] == [6, 6, 6]
    images, _ = next(iter(default.val))
    assert tuple(images.shape[-2:]) == (256, 352)  # 48x64 frames: short side 256, padded to a multiple of 32
    train_images, train_masks = next(iter(default.train))
    assert tuple(train_images.shape[-2:]) == (256, 256)
    seeded = data.make_loaders("udd6", udd6_root, num_workers=0, seed=0)
    again_images, again_masks = next(iter(seeded.train))
    assert torch.equal(train_images, again_images) and torch.equal(train_masks, again_masks)


def test_loaders_shuffle_and_drop_only_in_training_seeded_padded_and_with_the_given_workers(udd6_root):
    loaders = data.make_loaders("udd6", udd6_root, size=32, batch_size=1, num_workers=0, seed=5, limit=2)
    train_loader, val_loader = loaders.train, loaders.val
    assert isinstance(train_loader.sampler, torch.utils.data.RandomSampler)
    assert isinstance(val_loader.sampler, torch.utils.data.SequentialSampler)
    assert train_loader.drop_last and not val_loader.drop_last and len(val_loader.dataset) > 1
    assert train_loader.generator.initial_seed() == 5 and len(train_loader.dataset) == 2
    assert train_loader.collate_fn is data.pad_collate and train_loader.worker_init_fn is data.seed_worker
    assert train_loader.num_workers == 0 and train_loader.pin_memory is torch.cuda.is_available()
    one = data.make_loaders("udd6", udd6_root, size=32, batch_size=4, num_workers=0, limit=1)
    assert len(one.train.dataset) == 1 and not one.train.drop_last  # fewer items than a batch: keep them
    assert sum(len(x) for x, _ in one.train) == 1


def test_loaders_seed_reaches_the_augmentation(udd6_root):
    def first_batch(seed):  # one frame: the shuffle cannot differ, only the augmentation
        return next(iter(data.make_loaders("udd6", udd6_root, size=32, batch_size=1, num_workers=0, seed=seed,
                                           limit=1).train))
    assert same_tensors(first_batch(1), first_batch(1)) and not same_tensors(first_batch(1), first_batch(2))


def test_an_empty_split_is_an_error_that_names_the_split_and_the_dataset(udd6_root):
    """A split without items would train or evaluate on nothing: the error says which one."""
    with pytest.raises(ValueError, match=r"^the val split of UDD6Dataset\('val', 0 images, .* is empty$"):
        data.make_loaders("udd6", udd6_root, size=32, num_workers=0, test_fraction=1.0)


def test_loader_workers_default_to_the_spare_cores_unless_the_environment_says(monkeypatch, udd6_root):
    from landinglib.runtime import default_workers

    monkeypatch.delenv("LANDINGLIB_WORKERS", raising=False)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2})
    assert default_workers() == 2
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(16)))
    assert default_workers() == 4
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0})
    assert default_workers() == 0
    monkeypatch.setenv("LANDINGLIB_WORKERS", "3")
    assert default_workers() == 3
    monkeypatch.setenv("LANDINGLIB_WORKERS", "1")  # the affinity above says 0
    assert data.make_loaders("udd6", udd6_root, size=64, batch_size=2).train.num_workers == 1
    monkeypatch.setenv("LANDINGLIB_WORKERS", "two")
    with pytest.raises(ValueError, match="LANDINGLIB_WORKERS must be a whole number"):
        default_workers()


def test_loaders_use_the_workers_you_ask_for_even_when_the_environment_says_otherwise(udd6_root, monkeypatch):
    """num_workers=0 means no worker processes, whatever the default would be."""
    monkeypatch.setenv("LANDINGLIB_WORKERS", "2")
    loaders = data.make_loaders("udd6", udd6_root, size=32, batch_size=2, num_workers=0)
    assert [loader.num_workers for loader in loaders] == [0, 0, 0]
    assert data.make_loaders("udd6", udd6_root, size=32, batch_size=2, num_workers=1).val.num_workers == 1


def test_loaders_pin_memory_when_cuda_is_present(udd6_root, monkeypatch):
    """With a GPU, batches are pinned for faster copies to the device."""
    monkeypatch.setattr(data.loaders.torch.cuda, "is_available", lambda: True)
    loaders = data.make_loaders("udd6", udd6_root, size=32, batch_size=2, num_workers=0)
    assert [loader.pin_memory for loader in loaders] == [True, True, True]


# --- collating and worker seeds -------------------------------------------------------------------
def test_pad_collate_pads_masks_with_ignore():
    batch = [(torch.ones(3, 4, 6), torch.zeros(4, 6, dtype=torch.long)),
             (torch.ones(3, 2, 8), torch.zeros(2, 8, dtype=torch.long))]
    images, masks = data.pad_collate(batch)
    assert images.shape == (2, 3, 4, 8) and masks.shape == (2, 4, 8)
    assert masks[0, 0, 7] == IGNORE_INDEX and masks[1, 3, 0] == IGNORE_INDEX and masks[1, 1, 7] == 0


def test_pad_collate_keeps_the_image_dtype_and_long_masks():
    batch = [(torch.ones(3, 2, 2, dtype=torch.float16), torch.zeros(2, 2, dtype=torch.uint8)),
             (torch.ones(3, 2, 3, dtype=torch.float16), torch.ones(2, 3, dtype=torch.uint8))]
    images, masks = data.pad_collate(batch)
    assert images.dtype == torch.float16 and masks.dtype == torch.long
    assert masks[0].tolist() == [[0, 0, 255], [0, 0, 255]] and masks[1].tolist() == [[1, 1, 1], [1, 1, 1]]


def test_pad_collate_accepts_masks_with_a_leading_channel_of_one():
    """Masks shaped (1, H, W), as some transforms give them, are padded like (H, W) masks."""
    batch = [(torch.ones(3, 2, 5), torch.ones(1, 2, 5, dtype=torch.long)),
             (torch.ones(3, 4, 3), torch.zeros(1, 4, 3, dtype=torch.long))]
    _, masks = data.pad_collate(batch)
    assert masks.shape == (2, 4, 5)
    assert masks[0].tolist() == [[1] * 5] * 2 + [[IGNORE_INDEX] * 5] * 2
    assert masks[1].tolist() == [[0, 0, 0, IGNORE_INDEX, IGNORE_INDEX]] * 4


def test_each_loader_worker_seeds_numpy_and_its_transform_from_its_torch_seed(monkeypatch):
    """In a worker process torch's seed differs per worker and epoch; numpy and the albumentations transform must
    follow it, or every worker would augment alike (and a resumed run would differ)."""
    seeds = []

    class Transform:
        def set_random_seed(self, seed):
            seeds.append(seed)

    class Info:
        dataset = type("D", (), {"transform": Transform()})()
    monkeypatch.setattr(data.loaders, "get_worker_info", lambda: Info())
    numpy_state = np.random.get_state()
    with torch.random.fork_rng():  # the global seeds are put back afterwards
        torch.manual_seed(2**32 + 123)  # torch seeds are 64-bit; numpy's are below 2**32
        data.seed_worker(0)
        assert seeds == [123] and np.random.random() == np.random.RandomState(123).random()
        monkeypatch.setattr(data.loaders, "get_worker_info", lambda: None)  # the main process: numpy only
        data.seed_worker(0)
        assert seeds == [123]
    np.random.set_state(numpy_state)


def test_seed_worker_works_for_a_dataset_without_a_transform(monkeypatch):
    """seed_worker is public: a plain dataset of your own (no transform attribute) still gets numpy seeded."""
    class Info:
        dataset = torch.utils.data.TensorDataset(torch.zeros(2))
    monkeypatch.setattr(data.loaders, "get_worker_info", lambda: Info())
    numpy_state = np.random.get_state()
    with torch.random.fork_rng():
        torch.manual_seed(77)
        data.seed_worker(0)
        assert np.random.random() == np.random.RandomState(77).random()
    np.random.set_state(numpy_state)


# --- the unseen-style test ------------------------------------------------------------------------
def test_unseen_style_split_is_every_frame_of_its_folder_as_landing_classes(udd6_root):
    every = data.unseen_style_dataset(udd6_root, size=None)
    assert every.split == "test" and every.target == "landing" and len(every) == 4  # all val/ frames
    image, mask = every[0]
    assert image.shape == (48, 64, 3) and mask.max() < 4  # raw arrays, landing classes
    sized = data.unseen_style_dataset(udd6_root, size=32, limit=2)
    assert len(sized) == 2 and sized[0][0].shape[-2] == 32
    loader = data.unseen_style_loader(udd6_root, size=32, batch_size=1, num_workers=0, limit=3)
    assert len(loader.dataset) == 3 and loader.dataset.root == udd6_root and loader.num_workers == 0
    assert isinstance(loader.sampler, torch.utils.data.SequentialSampler) and not loader.drop_last
    assert loader.dataset[0][0].shape[-2] == 32


def test_unseen_style_evaluation_works_at_256_px_in_batches_of_6_like_make_loaders(udd6_root):
    assert data.unseen_style_dataset(udd6_root, limit=1)[0][0].shape[-2] == 256
    loader = data.unseen_style_loader(udd6_root, num_workers=0, limit=1)
    assert loader.batch_size == 6 and next(iter(loader))[0].shape[-2] == 256


def test_the_unseen_style_loader_uses_the_workers_it_is_given(udd6_root, monkeypatch):
    monkeypatch.setattr(data.loaders, "default_workers", lambda: 1)
    assert data.unseen_style_loader(udd6_root, num_workers=0).num_workers == 0
    assert data.unseen_style_loader(udd6_root).num_workers == 1
