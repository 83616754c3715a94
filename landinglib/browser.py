"""The mask browser: an ipywidgets viewer over images and models, for looking at predicted masks.

A slider over the images, a dropdown over the models, an opacity slider, a checkbox per class, the
ground truth instead of the prediction, and the landing sites. Beside the picture: the class colours
(a legend; hidden classes struck out) and the landing sites as a ranked list with every site's score
and reasons, or the reason there is none — redrawn with every control. Each (model, image) pair runs
once and is cached, so moving a control only redraws. ``update`` is the plain function behind the
controls: tests and scripts drive it without a browser.
"""
from __future__ import annotations

import html

import numpy as np

from .classes import IGNORE_INDEX, Taxonomy
from .safety import landing_mask
from .viz import draw_landing_sites, overlay

__all__ = ["MaskBrowser", "legend_html", "mask_browser", "sites_html"]


class MaskBrowser:
    """An ipywidgets browser over images and models; see ``mask_browser``.

    ``widget`` is what a notebook displays; ``update(**changes)`` is the plain function behind it
    (tests call it headlessly) and returns the rendered RGB picture; ``predictions`` counts how
    often a model actually ran (each (model, image) pair runs once, then comes from the cache).
    Beside the picture, ``legend`` shows the class colours and ``site_list`` the landing sites in view
    with their reasons (``sites`` holds them as ``LandingSite``s), both redrawn by every change.
    """

    def __init__(self, images, models: dict, taxonomy: Taxonomy, truths=None, gsd_m: float = 0.1,
                 drone_radius_m: float = 0.5, predict=None):
        import ipywidgets as W

        from .inference import predict_tiled, scale_for

        if not images:
            raise ValueError("mask_browser needs at least one image")
        if not models:
            raise ValueError("mask_browser needs at least one model")
        self.images, self.models, self.taxonomy, self.truths = list(images), dict(models), taxonomy, truths
        self.gsd_m, self.drone_radius_m = gsd_m, drone_radius_m
        self._predict = predict or (lambda model, image: predict_tiled(model, image, scale=scale_for(image.shape)))
        self._cache: dict = {}
        self._truth_sites: dict = {}
        self.predictions = 0
        self.index = W.IntSlider(0, 0, len(self.images) - 1, description="image")
        self.model = W.Dropdown(options=list(self.models), description="model")
        self.opacity = W.FloatSlider(value=0.5, min=0, max=1, step=0.05, description="opacity")
        self.class_boxes = [W.Checkbox(value=True, description=n, indent=False) for n in taxonomy.names]
        self.show_sites = W.Checkbox(value=False, description="landing sites", indent=False)
        self.show_truth = W.Checkbox(value=False, description="ground truth instead", indent=False,
                                     disabled=truths is None)
        self.image = W.Image(format="png")
        self.info = W.HTML()
        self.legend = W.HTML()
        self.site_list = W.HTML()
        self.sites: list = []  # the landing sites in view (empty when none, or when sites are off)
        self._busy, self.picture = False, None
        for control in (self.index, self.model, self.opacity, self.show_sites, self.show_truth, *self.class_boxes):
            control.observe(lambda change: self.update(), names="value")
        beside = W.VBox([self.legend, self.site_list], layout=W.Layout(width="24em", padding="0 0 0 1em"))
        self.widget = W.VBox([W.HBox([self.index, self.model]), W.HBox([self.opacity, self.show_sites, self.show_truth]),
                              W.HBox(self.class_boxes),
                              W.HBox([self.image, beside], layout=W.Layout(flex_flow="row wrap")),  # below when narrow
                              self.info])
        self.update()

    def probabilities(self, model_name: str, index: int) -> np.ndarray:
        """(C, H, W) class probabilities, computed once per (model, image)."""
        return self._prediction(model_name, index)["probs"]

    def _prediction(self, model_name: str, index: int) -> dict:
        """Probabilities, mask and (on first request) landing sites of one (model, image), cached:
        moving a slider or toggling a class redraws without re-running the network or the finder."""
        key = (model_name, index)
        if key not in self._cache:
            model = self.models[model_name]
            probs = self._predict(model, self.images[index])
            mask = landing_mask(probs, getattr(model, "safe_threshold", None))
            self._cache[key] = {"probs": probs, "mask": mask, "sites": None}
            self.predictions += 1
        return self._cache[key]

    def update(self, **changes) -> np.ndarray:
        """Apply ``changes`` (index, model, opacity, show_sites, show_truth, classes=[bools]) and redraw."""
        if self._busy:  # a widget change made by this call: draw once, at the end
            return self.picture
        self._busy = True
        try:
            for name in ("index", "model", "opacity", "show_sites", "show_truth"):
                if name in changes:
                    getattr(self, name).value = changes[name]
            for box, on in zip(self.class_boxes, changes.get("classes", [])):
                box.value = bool(on)
        finally:
            self._busy = False
        return self._render()

    def _render(self) -> np.ndarray:
        import cv2

        from .landing import MIN_CONFIDENCE, sites_and_reason

        image = self.images[self.index.value]
        prediction = self._prediction(self.model.value, self.index.value)
        mask = prediction["mask"]
        if self.show_truth.value and self.truths is not None:
            mask = np.asarray(self.truths[self.index.value]).astype(np.uint8)
        hidden = [i for i, box in enumerate(self.class_boxes) if not box.value]
        shown = np.where(np.isin(mask, hidden), IGNORE_INDEX, mask).astype(np.uint8)
        picture = overlay(image, shown, self.taxonomy, self.opacity.value)
        truth_view = self.show_truth.value and self.truths is not None
        threshold = getattr(self.models[self.model.value], "safe_threshold", None)
        text = f"image {self.index.value}, " + ("<b>ground truth</b>" if truth_view else f"model <b>{self.model.value}</b>" + (
            f" (Safe needs P(Safe) &ge; {threshold:.2f})" if threshold is not None else ""))
        self.legend.value = legend_html(self.taxonomy, hidden)
        self.sites, listing = [], "<p><i>Tick &ldquo;landing sites&rdquo; to list them here with their reasons.</i></p>"
        if self.show_sites.value:
            where = dict(gsd_m=self.gsd_m, drone_radius_m=self.drone_radius_m)
            if truth_view:  # the sites the true mask offers (no confidence to weigh)
                if self.index.value not in self._truth_sites:
                    self._truth_sites[self.index.value] = sites_and_reason(mask, **where)
                sites, why = self._truth_sites[self.index.value]
                who = "ground truth"
            else:
                if prediction["sites"] is None:
                    prediction["sites"], prediction["why"] = sites_and_reason(prediction["mask"],
                                                                              probs=prediction["probs"], **where)
                sites, why = prediction["sites"], prediction["why"]
                who = f"model, sites need &ge; {MIN_CONFIDENCE:.0%} confidence"
            picture = draw_landing_sites(picture, sites, self.gsd_m)
            text += f"; {who}: {len(sites)} landing site(s)" if sites else f"; {who}: no landing site, because {why}"
            self.sites, listing = list(sites), sites_html(sites, why)
        self.site_list.value = listing
        self.image.value = cv2.imencode(".png", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))[1].tobytes()
        self.info.value = text
        self.picture = picture
        return picture


def legend_html(taxonomy: Taxonomy, hidden=()) -> str:
    """The class colours as HTML: a swatch and the name per class; ``hidden`` class indices are struck out."""
    items = []
    for i, (name, rgb) in enumerate(zip(taxonomy.names, taxonomy.colors)):
        swatch = (f'<span style="display:inline-block;width:1em;height:1em;border:1px solid #000;vertical-align:middle;'
                  f'background:rgb{tuple(int(c) for c in rgb)}"></span>')
        label = html.escape(f"{i} {name}")
        items.append(f"{swatch}&nbsp;" + (f"<s>{label}</s> (hidden)" if i in hidden else label))
    return "<div style='line-height:1.6'>" + "<br>".join(items) + "</div>"


def sites_html(sites, why: str = "") -> str:
    """The landing sites as an HTML list, best first (the ranks drawn on the picture): the score and
    every reason of each site; with no site, ``why`` there is none. The text wraps on words."""
    if not sites:
        return f"<p style='white-space:normal'><b>No landing site</b>: {html.escape(why or 'none found')}.</p>"
    items = "".join(f"<li><b>score {site.score:.2f}</b>, centre {tuple(int(v) for v in site.center)}<ul>"
                    + "".join(f"<li>{html.escape(reason)}</li>" for reason in site.reasons) + "</ul></li>"
                    for site in sites)
    return f"<b>Landing sites</b> (1 = best)<ol style='white-space:normal;margin-top:0.2em'>{items}</ol>"


def mask_browser(images, models: dict, taxonomy: Taxonomy, truths=None, **kwargs) -> MaskBrowser:
    """An interactive browser: a slider over ``images`` (RGB uint8), a dropdown over ``models``
    (name -> network), an opacity slider, a checkbox per class, landing sites on demand.
    Display ``browser.widget``; drive it from code with ``browser.update(index=2, model="...")``."""
    return MaskBrowser(images, models, taxonomy, truths=truths, **kwargs)
