"""The mask browser: the widget driven from code (``update``), its cache, and the HTML it shows beside the picture."""
import html

import numpy as np
import pytest

from landinglib import classes
from landinglib.browser import legend_html, mask_browser, sites_html
from landinglib.landing import LandingSite


def _browser(calls):
    def fake_predict(model, image):
        calls.append(model)
        probs = np.zeros((4, *image.shape[:2]), np.float32)
        probs[1] = 1.0  # everything Safe
        return probs

    images = [np.full((60, 80, 3), v, np.uint8) for v in (10, 200)]
    truths = [np.full((60, 80), 3, np.uint8)] * 2
    return mask_browser(images, {"a": "model-a", "b": "model-b"}, classes.LANDING, truths=truths,
                            gsd_m=0.1, drone_radius_m=0.5, predict=fake_predict)


def test_mask_browser_updates_from_code_and_caches_predictions():
    calls = []
    browser = _browser(calls)
    first = browser.picture.copy()
    assert calls == ["model-a"] and browser.image.value[:4] == b"\x89PNG"
    second = browser.update(index=1)
    assert not np.array_equal(first, second) and browser.index.value == 1
    browser.update(model="b")
    browser.update(index=0)
    browser.update(model="a")  # (a, 0) again: from the cache
    assert calls == ["model-a", "model-a", "model-b", "model-b"] and browser.predictions == 4
    browser.index.value = 1  # a widget change (as a user would make) redraws too
    assert browser.predictions == 4 and np.array_equal(browser.picture, second)


def test_mask_browser_opacity_classes_sites_and_truth():
    browser = _browser([])
    plain = browser.update(opacity=0.0)
    assert np.array_equal(plain, np.full((60, 80, 3), 10, np.uint8))
    coloured = browser.update(opacity=1.0)
    assert tuple(coloured[30, 40]) == classes.LANDING.colors[1]
    hidden = browser.update(classes=[True, False, True, True])  # hide Safe
    assert tuple(hidden[30, 40]) == (10, 10, 10)
    with_sites = browser.update(classes=[True] * 4, show_sites=True)
    assert "landing site" in browser.info.value and not np.array_equal(with_sites, coloured)
    sites = browser._prediction("a", 0)["sites"]
    browser.update(classes=[True, True, False, True])
    assert sites and browser._prediction("a", 0)["sites"] is sites  # not searched again
    browser.update(classes=[True] * 4)
    truth = browser.update(show_sites=False, show_truth=True)
    assert tuple(truth[30, 40]) == classes.LANDING.colors[3]
    with pytest.raises(ValueError, match="at least one image"):
        mask_browser([], {"a": 1}, classes.LANDING)


def test_mask_browser_says_why_there_is_no_site_and_uses_the_truth_in_truth_view():
    browser = _browser([])  # the model says Safe everywhere; the truth is Danger everywhere
    browser.update(show_sites=True)
    assert "model" in browser.info.value and "1 landing site" in browser.info.value
    assert "50%" in browser.info.value  # the confidence threshold is shown
    browser.update(show_truth=True)
    assert "ground truth" in browser.info.value and "no landing site, because no pixel is Safe" in browser.info.value


def test_mask_browser_lists_every_sites_reasons_beside_the_picture_and_follows_the_controls():
    browser = _browser([])
    assert "Tick" in browser.site_list.value and browser.sites == []  # sites off: a hint, no list
    browser.update(show_sites=True)
    assert len(browser.sites) == 1 and browser.site_list.value.count("<li>") == 1 + len(browser.sites[0].reasons)
    for reason in browser.sites[0].reasons:
        assert html.escape(reason) in browser.site_list.value
    assert "score" in browser.site_list.value and "1 = best" in browser.site_list.value
    browser.update(show_truth=True)  # the truth is Danger everywhere: the list says why there is no site
    assert browser.sites == [] and "No landing site" in browser.site_list.value
    assert "no pixel is Safe" in browser.site_list.value
    browser.update(show_truth=False, show_sites=False)
    assert browser.sites == [] and "Tick" in browser.site_list.value
    assert browser.site_list in browser.widget.children[3].children[1].children  # beside the picture


def test_mask_browser_legend_strikes_out_hidden_classes():
    browser = _browser([])
    assert "0 Background" in browser.legend.value and "<s>" not in browser.legend.value
    browser.update(classes=[True, True, False, True])
    assert "<s>2 Caution</s>" in browser.legend.value and browser.legend.value.count("<s>") == 1
    assert f"background:rgb{tuple(classes.LANDING.colors[1])}" in browser.legend.value


def test_sites_html_ranks_sites_with_their_reasons_and_escapes_text():
    sites = [LandingSite((5, 6), 9.0, 0.81, 100, 20.0, 0.9, ["clear radius 9 px", "danger <2 m> away"]),
             LandingSite((40, 6), 7.0, 0.52, 80, 9.0, 0.7, ["clear radius 7 px"])]
    text = sites_html(sites)
    assert text.index("score 0.81") < text.index("score 0.52") and "<ol" in text
    assert "danger &lt;2 m&gt; away" in text and "<2 m>" not in text
    none = sites_html([], "no pixel is Safe")
    assert "No landing site" in none and "no pixel is Safe" in none
    assert legend_html(classes.Taxonomy("t", ("a<b",), ((1, 2, 3),))).count("a&lt;b") == 1
