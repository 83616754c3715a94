"""Pictures and charts for the notebooks, ``viz.X`` for each:

* ``pictures``: colour masks, overlays with their class legend, galleries (samples, augmentations, predictions,
  the Safe rule), the class table, landing sites drawn on an image;
* ``charts``: class frequencies, training curves, IoU per class, the confusion matrix, the Safe trade-off.

The interactive mask browser is ``landinglib.browser``.
"""
from .charts import (compare_histories, plot_class_frequencies, plot_class_iou, plot_confusion, plot_history,
                     plot_safe_tradeoff)
from .pictures import (class_legend, colorize, draw_landing_sites, legend_handles, overlay, show_augmentations,
                       show_overlay, show_predictions, show_rule, show_samples, show_taxonomy)

__all__ = ["colorize", "overlay", "legend_handles", "class_legend", "show_overlay", "show_taxonomy", "show_samples",
           "show_augmentations", "show_predictions", "show_rule", "draw_landing_sites", "plot_class_frequencies",
           "plot_history", "compare_histories", "plot_class_iou", "plot_confusion", "plot_safe_tradeoff"]
