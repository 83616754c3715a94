"""Augmentation and normalisation (albumentations): ``train_transform`` (random crop, flips, turns, light
and, for "strong", much more), ``eval_transform`` (deterministic: rescale and pad), ``denormalize`` to
show a normalised tensor again."""
from __future__ import annotations

import albumentations as A
import cv2
import numpy as np
import torch
from albumentations.pytorch import ToTensorV2

from ..classes import IGNORE_INDEX

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
AUGMENTATIONS = ("light", "strong")


def train_transform(size: int = 256, scale: tuple[float, float] | None = None, augment: str = "light",
                    crop: int | None = None) -> A.Compose:
    """Training augmentation: a random crop, flips and 90° turns, then light changes.

    The crop: with ``crop`` (what the pipeline uses, ``PipelineConfig.crop``), the image is first
    brought to the evaluation scale (short side ``size``, as ``eval_transform`` does) and a square
    region of crop/2 to 5·crop/4 of those pixels is resized to crop × crop: objects appear at
    0.8-2x their evaluation size. Without ``crop``, a region of ``scale`` of the image's area
    (25-100 %, or 10-100 % for "strong") is resized to size × size.

    augment "light" (the default): brightness/contrast only. "strong": also free rotation and zoom
    (0.6-1.3x), hue/saturation, gamma, CLAHE or grey, cast shadows, blur, noise and JPEG; the built-in
    data already varies colour, light, blur, noise and JPEG, and notebook 04 compares the two recipes.
    Geometric steps move the mask with the image; padding is ignored (255) in the mask.
    """
    if augment not in AUGMENTATIONS:
        raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {augment!r}")
    strong = augment == "strong"
    # Lines marked "no mutate" hold the recipe's numbers: chosen by measurement (notebook 04); a changed
    # number is another recipe, not a bug that a behaviour test can name. What is behaviour (the strong
    # switch, the crop, the mask padded with ignore) is mutated and tested.
    default_scale = (0.1, 1.0) if strong else (0.25, 1.0)  # pragma: no mutate (recipe)
    scale = scale or default_scale
    if crop:
        zoom = [A.SmallestMaxSize(max_size=size),
                A.RandomSizedCrop(
                    min_max_height=(crop // 2, min(size, crop * 5 // 4)),  # pragma: no mutate (recipe)
                    size=(crop, crop), w2h_ratio=1.0)]
    else:
        zoom = [A.RandomResizedCrop(size=(size, size), scale=scale,
                                    ratio=(0.75, 1.333),  # pragma: no mutate (recipe)
                                    )]
    steps = zoom + [
        A.HorizontalFlip(p=0.5),
        A.VerticalFlip(p=0.5),
        A.RandomRotate90(p=0.5),
    ]
    if strong:
        steps += [
            A.Affine(
                rotate=(-45, 45), scale=(0.6, 1.3), p=0.5,  # pragma: no mutate (recipe)
                border_mode=cv2.BORDER_CONSTANT, fill=0,  # pragma: no mutate (recipe: the image's border colour)
                fill_mask=IGNORE_INDEX),
            A.RandomBrightnessContrast(brightness_limit=0.3, contrast_limit=0.3, p=0.8),  # pragma: no mutate (recipe)
            A.HueSaturationValue(hue_shift_limit=12, sat_shift_limit=35, val_shift_limit=15, p=0.7),  # pragma: no mutate (recipe)
            A.RandomGamma(gamma_limit=(70, 150), p=0.4),  # pragma: no mutate (recipe)
            A.OneOf([A.CLAHE(clip_limit=2.0), A.ToGray()], p=0.15),  # pragma: no mutate (recipe)
            A.RandomShadow(shadow_roi=(0, 0, 1, 1), num_shadows_limit=(1, 3), shadow_intensity_range=(0.3, 0.7),  # pragma: no mutate (recipe)
                           p=0.3),  # pragma: no mutate (recipe)
            A.OneOf([A.GaussianBlur(sigma_limit=(0.3, 1.5)),  # pragma: no mutate (recipe)
                     A.MotionBlur(blur_limit=(3, 7), allow_shifted=False)], p=0.3),  # shifted blur moves the image
            A.GaussNoise(std_range=(0.01, 0.05), p=0.3),  # pragma: no mutate (recipe)
            A.ImageCompression(quality_range=(40, 95), p=0.4),  # pragma: no mutate (recipe)
        ]
    else:
        steps.append(A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=0.8))  # pragma: no mutate (recipe)
    return A.Compose(steps + [A.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD), ToTensorV2()])


def eval_transform(size: int = 256) -> A.Compose:
    """Deterministic: shorter side resized to ``size`` (aspect kept, nothing squashed), padded to
    a multiple of 32 with ignore (255) in the mask, normalised."""
    return A.Compose([
        A.SmallestMaxSize(max_size=size),
        A.PadIfNeeded(min_height=None, min_width=None, pad_height_divisor=32, pad_width_divisor=32,
                      position="top_left", border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=IGNORE_INDEX),
        A.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD),
        ToTensorV2(),
    ])


def denormalize(image: torch.Tensor) -> np.ndarray:
    """Undo ``Normalize``: (3, H, W) float tensor -> (H, W, 3) uint8 RGB for display."""
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    out = (image.detach().cpu().float() * std + mean).clamp(0, 1) * 255
    return out.permute(1, 2, 0).round().byte().numpy()
