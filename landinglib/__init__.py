"""landinglib: the helper library of the drone landing-zone segmentation course.

Modules, one job each (CONTRIBUTING.md's map says more; ``tests/test_imports.py`` gives each its floor):

* data: ``classes`` (taxonomies, palettes, codecs), ``synthetic`` (the built-in aerial world, written
  in the real DroneDeploy and UDD6 layouts), ``data`` (reading, caching, splits, datasets, augmentation, loaders);
* networks: ``models`` (one module per network: ``ultra_fast``, ``fast``, ``bisenetv2``; the
  ``ConvBNReLU`` block; the registry), ``checkpoint`` (save, load, ``load_weights``), ``model`` (the
  public face that re-exports both, plus counting and ``predict``);
* training: ``devices`` (device and precision), ``train`` (the AMP loop), ``pipeline_config``,
  ``stages``, ``scoring`` and ``pipeline`` (stages 0 -> 1 -> 2), ``pretrain_world`` and ``pretrain`` (stage 0),
  ``sweep_*`` and ``sweep`` (the search), ``distributed`` (torchrun), ``profiling`` (where the time goes);
* scoring: ``metrics`` (confusion-matrix arithmetic), ``safety`` (what a landing model calls Safe: the
  false-safe figures, the decision rule and its threshold), ``evaluation`` (one loop that scores any model
  or onnxruntime session), ``tables`` (result tables: text, or HTML in a notebook);
* using a model: ``inference`` (any image size), ``predict_folder`` (whole flights), ``landing``
  (landing sites), ``export`` (ONNX, INT8), ``viz`` (pictures and charts), ``browser`` (the mask browser);
* ``runtime`` (seeds, fast mode, data folder, atomic writes), ``cli_parser`` and ``__main__`` (the ``landinglib``
  command).
"""
from .runtime import data_dir, fast_mode, set_seed

__version__ = "0.1.0"
__all__ = ["set_seed", "fast_mode", "data_dir", "__version__"]
