"""The recipe of a pipeline run: ``PipelineConfig``, whose fields carry their own help text (the
options of ``landinglib train`` are made from them, see ``cli_parser``), the default epochs per
architecture, and ``notebook_config``, the one configuration per run folder of notebooks 03-06.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import data
from .models import MODELS
from .runtime import fast_mode
from .safety import FALSE_SAFE_BUDGET

EPOCHS = {"ultra-fast": (6, 8), "fast": (12, 24), "accurate": (6, 8)}
"""(stage 1, stage 2) epochs per architecture when none are given: ``ultra-fast`` and ``fast`` take
about the same time on a CPU (``fast`` trains more images per second, so it gets more epochs);
``accurate`` takes far longer (a GPU is advised)."""
PROBE_SHARE = 3
"""A stage first trains only its new classifier for 1/PROBE_SHARE of its epochs (linear probing, then
fine-tuning: a random classifier's first gradients do not wreck the pretrained features)."""


def setting(default, help: str, **cli):
    """A dataclass field that is also a command-line option (``cli_parser.add_config_options``): its default,
    its help text and, in ``cli``, its ``choices`` or ``metavar``."""
    return field(default=default, metadata={"help": help, **cli})


def _per_arch(stage: int) -> str:
    return ", ".join(f"{arch} {epochs[stage - 1]}" for arch, epochs in EPOCHS.items())


def crop_fits(crop: int, size: int | None = None) -> bool:
    """Whether ``crop`` can be a training crop side: a multiple of 32, at least 32 and, when the image
    scale ``size`` is given, at most ``size``."""
    return crop >= 32 and crop % 32 == 0 and (size is None or crop <= size)


@dataclass
class PipelineConfig:
    """The recipe of ``landinglib train``: the ``fast`` network, batch 6, epochs from ``EPOCHS``,
    lr 1e-3 then 5e-4; images seen at a short side of ``size`` = 256 px, trained on ``crop`` = 128 px
    crops cut at that scale. ``arch="ultra-fast"`` is the reference network the notebooks teach;
    ``crop=None`` trains on 25-100 % of each image resized to ``size``. Each field's ``help`` (its
    metadata) says what it does; None means "chosen for you", as the help says.
    """

    dronedeploy: str | None = setting(None, "DroneDeploy folder (default: built-in data)", metavar="PATH")
    udd6: str | None = setting(None, "UDD6 folder (default: built-in data)", metavar="PATH")
    stage1_data: str | None = setting(None, "your own stage-1 data instead of DroneDeploy (a folder, see "
                                             "data.find_folders)", metavar="PATH")
    stage1_classes: str | None = setting(None, "the class file of --stage1-data (its own classes)", metavar="FILE")
    stage2_data: str | None = setting(None, "your own stage-2 data instead of UDD6, trained as landing classes: a "
                                             "folder with images/ + labels/ (or the Semantic Drone Dataset's folders)",
                                       metavar="PATH")
    classes: str | None = setting(None, "the class file of --stage2-data (CSV or JSON: name, r, g, b, landing; e.g. "
                                         "landinglib/semantic_drone.csv)", metavar="FILE")
    out: str = setting("runs/default", "where checkpoints and results go", metavar="DIR")
    arch: str = setting("fast", "architecture: fast (the default, designed for a CPU), ultra-fast (the reference "
                                "the notebooks teach) or accurate (BiSeNetV2)", choices=tuple(MODELS))
    init: str | None = setting(None, "stage 0 weights (default: the course's pretrained stage 0 of the architecture, "
                                      "data/pretrained/stage0-ARCH.pt); 'none' = random weights; or a checkpoint or "
                                      "state_dict file", metavar="PATH")
    epochs1: int | None = setting(None, f"stage 1 epochs (default per architecture: {_per_arch(1)})")
    epochs2: int | None = setting(None, f"stage 2 epochs (default per architecture: {_per_arch(2)})")
    lr1: float = setting(1e-3, "stage 1 learning rate")
    lr2: float = setting(5e-4, "stage 2 learning rate")
    batch_size: int = setting(6, "batch size")
    size: int = setting(256, "images are seen at this short side in pixels")
    chip_size: int = setting(512, "DroneDeploy chip size in pixels (cut from the orthomosaic, then resized)")
    crop: int | None = setting(128, "training crop side in pixels at that scale (0 on the command line, None in "
                                     "Python: 25-100 % of the image resized to --size)")
    udd6_repeat: int = setting(3, "random crops per UDD6 frame per epoch")
    device: str = setting("auto", "auto | cpu | cuda")
    workers: int | None = setting(None, "DataLoader workers (default: spare cores, or $LANDINGLIB_WORKERS)")
    seed: int = setting(0, "random seed: weights, data order, augmentation")
    class_weights: bool = setting(True, "weight the loss by the training split's class frequencies")
    augment: str = setting("light", "training augmentation (strong adds colour, shadows, blur, noise, JPEG, rotation "
                                     "and zoom; see data.train_transform)", choices=data.AUGMENTATIONS)
    unseen: bool = setting(True, "also score stage 2 on the built-in unseen-style test")
    false_safe_budget: float = setting(FALSE_SAFE_BUDGET, "the landing model's Safe threshold is chosen on validation "
                                                           "so that at most this share of Caution+Danger pixels, and "
                                                           "of Danger pixels, are called Safe", metavar="SHARE")
    probe1: int | None = setting(None, "stage 1: first epochs that train only the new classifier "
                                        "(train.TrainConfig.probe_epochs; default: a third of the stage's epochs)")
    probe2: int | None = setting(None, "stage 2: the same (default: a third of the stage's epochs)")
    limit: int | None = setting(None, "items per split (quick runs)")
    max_steps: int | None = setting(None, "steps per epoch (quick runs)")
    progress: bool = setting(True, "progress bars")

    def __post_init__(self):
        for data_path, class_file, what in ((self.stage1_data, self.stage1_classes, "stage1_classes"),
                                            (self.stage2_data, self.classes, "classes")):
            if data_path and not class_file:
                raise ValueError(f"your own data {data_path} needs its class file ({what}: name, r, g, b, landing)")
        if self.stage1_data and self.dronedeploy or self.stage2_data and self.udd6:
            raise ValueError("give one dataset per stage: dronedeploy or stage1_data, udd6 or stage2_data")
        if not 0.0 <= self.false_safe_budget <= 1.0:
            raise ValueError(f"false_safe_budget {self.false_safe_budget}: a share of pixels in [0, 1] (e.g. 0.02)")
        if self.arch not in MODELS:
            raise ValueError(f"unknown architecture {self.arch!r}; choose one of {sorted(MODELS)}")
        if self.crop is not None and not crop_fits(self.crop, self.size):
            raise ValueError(f"crop {self.crop}: training crops must be a multiple of 32 and at most size {self.size} "
                             "(or None: whole-image crops)")
        default1, default2 = EPOCHS[self.arch]
        self.epochs1 = default1 if self.epochs1 is None else self.epochs1
        self.epochs2 = default2 if self.epochs2 is None else self.epochs2
        for probe, epochs, n in ((self.probe1, self.epochs1, 1), (self.probe2, self.epochs2, 2)):
            if probe is not None and (probe < 0 or (epochs and probe >= epochs)):
                raise ValueError(f"probe{n} {probe} with epochs{n} {epochs}: the classifier-only epochs must be fewer "
                                 "than the stage's epochs, or the whole network never learns")

    @classmethod
    def fast(cls, **overrides) -> PipelineConfig:
        """Tiny settings for tests and ``LANDINGLIB_FAST=1``: a few steps on a few images."""
        return cls(**{**dict(epochs1=1, epochs2=2, limit=12, max_steps=3, batch_size=4, size=128, crop=128,
                              udd6_repeat=1),
                      **overrides})


NOTEBOOK_FAST = dict(epochs1=8, epochs2=3, max_steps=4)
"""What notebooks 03-06 change in ``PipelineConfig.fast`` (``LANDINGLIB_FAST=1``): enough stage-1 steps for
notebook 03's model to beat the majority-class baseline, a few stage-2 epochs to plot."""


def notebook_config(arch: str = "ultra-fast", *, runs: str = "../runs", fast: bool | None = None,
                    **settings) -> PipelineConfig:
    """The configuration notebooks 03-06 share, one per run folder: ``{runs}/notebooks`` (``-fast`` added in
    fast mode, ``-ARCH`` for any architecture but the reference ``ultra-fast``). Full mode is the full recipe
    of ``arch``; fast mode (``fast``, default ``LANDINGLIB_FAST=1``) is ``PipelineConfig.fast`` with
    ``NOTEBOOK_FAST``. ``settings``: the data paths (``udd6``, ``stage2_data``...; None = built-in), or a
    change to try (``augment="strong"``; give it its own ``out`` so that it does not mix with the course's run)."""
    fast = fast_mode() if fast is None else fast
    out = f"{runs}/notebooks" + ("-fast" if fast else "") + ("" if arch == "ultra-fast" else f"-{arch}")
    if fast:
        return PipelineConfig.fast(**{**NOTEBOOK_FAST, "arch": arch, "out": out, **settings})
    return PipelineConfig(**{"arch": arch, "out": out, **settings})
