"""landinglib: the helper library of the drone landing-zone segmentation course.

Modules, one job each: ``classes`` (taxonomies, palettes, codecs), ``synthetic`` (built-in
aerial data in the real layouts), ``data`` (datasets, augmentation, loaders), ``viz`` (pictures).
"""
from .runtime import data_dir, fast_mode, set_seed

__version__ = "0.1.0"
__all__ = ["set_seed", "fast_mode", "data_dir", "__version__"]
