"""landinglib.data.transforms: the training augmentation keeps image and mask together; evaluation is fixed."""
import warnings

import albumentations as A
import cv2
import numpy as np
import pytest
import torch

from landinglib import data
from landinglib.classes import IGNORE_INDEX


# --- training augmentation: image and mask stay aligned -------------------------------------------
def _blocks(seed: int = 0, size: int = 256, block: int = 32, n_classes: int = 4):
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, n_classes, (size // block, size // block))
    mask = np.kron(grid, np.ones((block, block), np.int64)).astype(np.uint8)
    levels = np.array([40, 90, 140, 190], np.uint8)
    image = np.repeat(levels[mask][..., None], 3, axis=2)
    return image, mask


def _class_order_survives(img: np.ndarray, m: np.ndarray) -> bool:
    """Brightness/contrast change every pixel alike, so wherever image and mask moved together the
    intensities of the classes keep their order (checked away from resampled edges)."""
    ranges = []
    for k in range(4):
        core = cv2.erode((m == k).astype(np.uint8), np.ones((5, 5), np.uint8),
                         borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0
        if core.any():
            ranges.append((img[core].min(), img[core].max()))
    return all(hi_a < lo_b for (_, hi_a), (lo_b, _) in zip(ranges, ranges[1:]))


def _edges_on_boundaries(img: np.ndarray, m: np.ndarray) -> float:
    """Mean image gradient on the mask's boundaries (0 when the mask has none)."""
    grey = cv2.GaussianBlur(img.astype(np.float32), (0, 0), 1.0)
    grad = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    edge = cv2.dilate(m, np.ones((3, 3), np.uint8)) != cv2.erode(m, np.ones((3, 3), np.uint8))
    edge[:4], edge[-4:], edge[:, :4], edge[:, -4:] = False, False, False, False
    return float(grad[edge].mean()) if edge.sum() >= 20 else 0.0


def _edges_follow_mask(img: np.ndarray, m: np.ndarray, shift: int = 5) -> bool:
    """The image's edges lie on the mask's boundaries, not beside them: whatever colours, blur and
    noise did, the gradient on the boundaries beats the gradient on boundaries moved by ``shift``."""
    here = _edges_on_boundaries(img, m)
    if here == 0.0:
        return True  # a crop inside one block: nothing to compare
    moved = [_edges_on_boundaries(img, np.roll(m, s, axis)) for s in (-shift, shift) for axis in (0, 1)]
    return here > 1.15 * max(moved)


def _augmented(transform, image, mask, n: int, seed: int, side: int):
    """``n`` seeded draws of ``transform``: (uint8 RGB image, mask array), each checked to be side x side."""
    transform.set_random_seed(seed)
    for _ in range(n):
        out = transform(image=image, mask=mask)
        assert out["image"].shape == (3, side, side) and out["mask"].shape == (side, side)
        yield data.denormalize(out["image"]), out["mask"].numpy()


def _steps(transform):
    """Every step of an albumentations pipeline, including those inside OneOf."""
    for step in transform.transforms:
        yield step
        if hasattr(step, "transforms"):
            yield from _steps(step)


def test_light_augmentation_keeps_image_and_mask_aligned():
    image, mask = _blocks()
    transform = data.train_transform(128, scale=(0.3, 1.0), augment="light")
    for img, m in _augmented(transform, image, mask, n=20, seed=3, side=128):
        assert _class_order_survives(img[..., 0].astype(int), m)


def _runs(line: np.ndarray) -> list[int]:
    edges = np.flatnonzero(np.diff(line)) + 1
    return np.diff(np.concatenate([[0], edges, [len(line)]])).tolist()


def test_scale_matched_crops_keep_alignment_and_the_evaluation_scale():
    """crop=N: the image is first brought to the evaluation scale (short side ``size``), then a
    region of N/2 to 5N/4 of those pixels is cut and resized to N, so objects appear at 0.8-2x the
    size the evaluated network sees them (not at the far smaller scale of a whole-frame crop)."""
    band = 64  # 16 stripes across 1024 px: 16 px each at the evaluation scale (short side 256)
    mask = np.tile((np.arange(1024) // band % 4).astype(np.uint8), (1024, 1))
    image = np.repeat(np.array([40, 90, 140, 190], np.uint8)[mask][..., None], 3, axis=2)
    transform = data.train_transform(256, crop=64)
    widths = []
    for img, m in _augmented(transform, image, mask, n=40, seed=5, side=64):
        assert _class_order_survives(img[..., 0].astype(int), m)
        line = m[0] if len(_runs(m[0])) > 1 else m[:, 0]  # stripes run across after a 90-degree turn
        widths += _runs(line)[1:-1]  # stripes cut by the crop's edge do not count
    assert widths and 12 <= min(widths) and max(widths) <= 33  # 16 px x (0.8 to 2)


def test_strong_augmentation_keeps_image_and_mask_aligned():
    """Rotation, zoom, shadows, hue, blur, noise and JPEG: the mask still follows the image."""
    image, mask = _blocks()
    transform = data.train_transform(128, augment="strong")
    aligned = []
    for img, m in _augmented(transform, image, mask, n=30, seed=3, side=128):
        assert set(np.unique(m).tolist()) <= {0, 1, 2, 3, 255}  # nearest-neighbour masks, padding ignored
        aligned.append(_edges_follow_mask(img.mean(-1), m))
    assert sum(aligned) >= 27  # cast shadows add edges of their own now and then


def test_alignment_checks_catch_an_image_moved_without_its_mask():
    image, mask = _blocks()
    assert _class_order_survives(image[..., 0].astype(int), mask)
    assert not _class_order_survives(image[:, ::-1, 0].astype(int), mask)
    assert not _class_order_survives(np.rot90(image[..., 0]).astype(int), mask)
    assert _edges_follow_mask(image[..., 0], mask)
    assert not _edges_follow_mask(np.roll(image[..., 0], 5, axis=0), mask)
    assert not _edges_follow_mask(np.roll(image[..., 0], -5, axis=1), mask)


def test_unknown_augmentation_is_rejected():
    with pytest.raises(ValueError, match="augment"):
        data.train_transform(128, augment="extreme")


def test_rotation_padding_is_ignored_in_the_mask():
    """A free rotation (strong) uncovers corners: the mask marks them ignore, never a class."""
    image = np.full((128, 128, 3), 200, np.uint8)
    mask = np.ones((128, 128), np.uint8)
    transform = data.train_transform(128, augment="strong")
    transform.set_random_seed(0)
    padded_draws = 0
    for _ in range(30):
        m = transform(image=image, mask=mask)["mask"].numpy()
        assert set(np.unique(m).tolist()) <= {1, 255}
        padded_draws += int((m == 255).sum() > 200)
    assert padded_draws >= 5


# --- the recipes ----------------------------------------------------------------------------------
def test_every_augmentation_recipe_builds_without_warnings():
    """A recipe that albumentations has to adjust (an even blur kernel, say) warns on every run: none must."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for augment in data.AUGMENTATIONS:
            data.train_transform(augment=augment)
            data.train_transform(64, crop=32, augment=augment)
        data.eval_transform()


def test_the_strong_motion_blur_never_moves_a_point_off_its_own_pixel():
    """A shifted motion blur would move the image against its mask; the strong recipe's blur keeps every
    point lit where it was."""
    blur = next(s for s in _steps(data.train_transform(augment="strong")) if isinstance(s, A.MotionBlur))
    blur.p = 1.0  # inside the recipe it is one of two blurs; here it runs every time
    blur.set_random_seed(0)
    dot = np.zeros((15, 15, 3), np.uint8)
    dot[7, 7] = 255
    for _ in range(40):
        assert blur(image=dot)["image"][7, 7, 0] > 0


def test_the_strong_recipe_leaves_most_frames_unblurred(monkeypatch):
    """Blur is one random change among others (about a third of the frames): the network must also see
    sharp frames."""
    blurred = []
    for cls in (A.MotionBlur, A.GaussianBlur):
        monkeypatch.setattr(cls, "apply", lambda self, img, *a, _real=cls.apply, **k: blurred.append(1) or
                            _real(self, img, *a, **k))
    transform = data.train_transform(32, augment="strong")
    transform.set_random_seed(0)
    image, mask = np.full((32, 32, 3), 128, np.uint8), np.zeros((32, 32), np.uint8)
    for _ in range(60):
        transform(image=image, mask=mask)
    assert 5 <= len(blurred) <= 36


# --- evaluation transform and denormalize ---------------------------------------------------------
def test_the_transforms_work_at_256_px_unless_told_otherwise():
    """The documented default size: training squares of 256 px, evaluation with the short side at 256."""
    image, mask = np.zeros((100, 200, 3), np.uint8), np.zeros((100, 200), np.uint8)
    assert tuple(data.train_transform()(image=image, mask=mask)["image"].shape) == (3, 256, 256)
    assert tuple(data.eval_transform()(image=image, mask=mask)["image"].shape) == (3, 256, 512)


def test_eval_transform_keeps_aspect_and_pads_mask_with_ignore():
    image = np.zeros((540, 1024, 3), np.uint8)
    mask = np.ones((540, 1024), np.uint8)
    out = data.eval_transform(256)(image=image, mask=mask)
    assert tuple(out["image"].shape) == (3, 256, 512)
    m = out["mask"].numpy()
    assert (m[:, :485] == 1).all() and (m[:, 486:] == IGNORE_INDEX).all()


def test_eval_padding_is_black_in_the_image():
    out = data.eval_transform(256)(image=np.full((540, 1024, 3), 255, np.uint8), mask=np.ones((540, 1024), np.uint8))
    black = (0 - torch.tensor(data.IMAGENET_MEAN)) / torch.tensor(data.IMAGENET_STD)
    torch.testing.assert_close(out["image"][:, :, -1], black.view(3, 1).expand(3, 256))


def test_denormalize_clamps_to_the_displayable_range():
    mean = torch.tensor(data.IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(data.IMAGENET_STD).view(3, 1, 1)
    image = (torch.tensor([-0.5, 0.5, 1.5]).view(3, 1, 1).expand(3, 2, 2) - mean) / std  # below, inside, above
    out = data.denormalize(image)
    assert out.dtype == np.uint8 and out[0, 0, 0] == 0 and out[0, 0, 2] == 255
    assert abs(int(out[0, 0, 1]) - 128) <= 1
