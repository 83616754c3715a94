import numpy as np
import pytest

from landinglib.classes import IGNORE_INDEX
from landinglib.landing import DANGER, SAFE, explain_no_site, find_landing_sites, footprint_radius_px, sites_and_reason

# gsd 0.1 m/px, drone radius 0.5 m + margin 0.5 m -> the footprint needs 10 px of clearance
KW = dict(gsd_m=0.1, drone_radius_m=0.5, margin_m=0.5)


def _square(size=100, lo=30, hi=70):
    mask = np.zeros((size, size), np.uint8)
    mask[lo:hi, lo:hi] = SAFE
    return mask


def test_safe_square_in_the_middle_gives_its_centre():
    sites = find_landing_sites(_square(), **KW)
    best = sites[0]
    assert abs(best.center[0] - 49.5) <= 1 and abs(best.center[1] - 49.5) <= 1
    assert 19 <= best.radius_px <= 21  # clearance to the square's border
    assert 0 < best.score <= 1 and "clear radius" in best.reasons[0]
    assert all(s.radius_px >= 10 for s in sites)


def test_safe_area_too_small_for_the_footprint_gives_no_site():
    assert find_landing_sites(_square(lo=40, hi=58), **KW) == []  # 18 px wide, needs 20
    assert find_landing_sites(np.zeros((50, 50), np.uint8), **KW) == []


def test_danger_pixel_inside_a_safe_region_is_kept_clear():
    mask = _square(lo=20, hi=80)
    mask[50, 50] = DANGER
    sites = find_landing_sites(mask, **KW, max_sites=10)
    assert sites
    for s in sites:
        x, y = s.center
        assert np.hypot(x - 50, y - 50) >= 10  # footprint never covers the danger pixel
        assert s.radius_px <= np.hypot(x - 50, y - 50) + 0.5
    centre = find_landing_sites(_square(lo=20, hi=80), **KW)[0].center
    assert abs(centre[0] - 49.5) <= 1  # without the danger pixel the centre would be chosen


def test_image_edge_counts_as_unknown_ground():
    mask = np.full((40, 40), SAFE, np.uint8)
    best = find_landing_sites(mask, **KW)[0]
    assert 19 <= best.center[0] <= 20 and best.radius_px == pytest.approx(20, abs=1)


def test_larger_region_ranks_first_and_sites_do_not_overlap():
    mask = np.zeros((100, 200), np.uint8)
    mask[10:90, 10:90] = SAFE  # big
    mask[35:60, 140:165] = SAFE  # small but wide enough (25 px)
    sites = find_landing_sites(mask, **KW, max_sites=5)
    assert sites[0].center[0] < 100 and sites[0].area_px == 80 * 80
    assert any(s.center[0] > 100 for s in sites)
    for i, a in enumerate(sites):
        for b in sites[i + 1:]:  # a later site lies outside an earlier one's clear disk + footprint
            assert np.hypot(a.center[0] - b.center[0], a.center[1] - b.center[1]) > a.radius_px + 10 - 1


def test_low_model_confidence_removes_a_site():
    mask = _square()
    probs = np.zeros((4, 100, 100), np.float32)
    probs[SAFE] = 0.9
    assert find_landing_sites(mask, probs=probs, **KW)[0].confidence == pytest.approx(0.9, abs=0.01)
    probs[SAFE] = 0.3
    assert find_landing_sites(mask, probs=probs, **KW) == []


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="positive"):
        footprint_radius_px(0, 1)
    with pytest.raises(ValueError, match="mask must be"):
        find_landing_sites(np.zeros((2, 2, 2)), **KW)
    with pytest.raises(ValueError, match="probs must be"):
        find_landing_sites(np.zeros((4, 4)), probs=np.zeros((4, 3, 3)), **KW)


def test_explain_no_site_names_the_condition_that_failed():
    from landinglib.landing import explain_no_site

    nothing = np.full((40, 40), 2, np.uint8)
    assert explain_no_site(nothing) == "no pixel is Safe" and find_landing_sites(nothing) == []
    narrow = nothing.copy()
    narrow[:, 18:22] = 1  # a 0.4 m wide path at 0.1 m/px; the drone needs 1.0 m of clear radius
    why = explain_no_site(narrow, gsd_m=0.1, drone_radius_m=0.5)
    assert find_landing_sites(narrow, gsd_m=0.1, drone_radius_m=0.5) == []
    assert why.startswith("no Safe region is wide enough") and "needs 1.0 m" in why
    wide = np.ones((60, 60), np.uint8)
    probs = np.zeros((4, 60, 60), np.float32)
    probs[1], probs[2] = 0.4, 0.6  # Safe by the mask, but the model is only 40 % sure
    why = explain_no_site(wide, gsd_m=0.1, drone_radius_m=0.5, probs=probs)
    assert find_landing_sites(wide, gsd_m=0.1, drone_radius_m=0.5, probs=probs) == []
    assert "40%" in why and "50% threshold" in why
    probs[1], probs[2] = 0.9, 0.1
    assert find_landing_sites(wide, gsd_m=0.1, drone_radius_m=0.5, probs=probs)
    assert explain_no_site(wide, gsd_m=0.1, drone_radius_m=0.5, probs=probs) == ""


def test_sites_and_reason_gives_sites_or_the_reason_never_both():
    from landinglib.landing import explain_no_site, sites_and_reason

    wide = np.ones((60, 60), np.uint8)
    sites, why = sites_and_reason(wide, gsd_m=0.1, drone_radius_m=0.5, max_sites=1)
    assert len(sites) == 1 and why == ""
    narrow = np.full((40, 40), 2, np.uint8)
    narrow[:, 18:22] = 1
    sites, why = sites_and_reason(narrow, gsd_m=0.1, drone_radius_m=0.5, max_sites=3)
    assert sites == [] and why == explain_no_site(narrow, gsd_m=0.1, drone_radius_m=0.5) != ""


# --- an independent oracle: every site field recomputed by brute force from the definitions in the docstring ---
def _brute_distance(targets: np.ndarray, with_frame: bool) -> np.ndarray:
    """Exact Euclidean distance from each pixel centre to the nearest target pixel centre (and, with_frame,
    to the ring of pixels just outside the image)."""
    h, w = targets.shape
    pts = [(y, x) for y, x in zip(*np.nonzero(targets))]
    if with_frame:
        pts += [(y, x) for y in (-1, h) for x in range(-1, w + 1)] + [(y, x) for x in (-1, w) for y in range(h)]
    if not pts:
        return np.full((h, w), np.inf)
    p = np.array(pts, float)
    yy, xx = np.mgrid[:h, :w]
    d2 = (yy[..., None] - p[:, 0]) ** 2 + (xx[..., None] - p[:, 1]) ** 2
    return np.sqrt(d2.min(-1))


def _brute_region_area(safe: np.ndarray) -> np.ndarray:
    """Size of the 8-connected Safe region of each pixel (flood fill)."""
    h, w = safe.shape
    area = np.zeros((h, w), int)
    seen = np.zeros((h, w), bool)
    for sy, sx in zip(*np.nonzero(safe)):
        if seen[sy, sx]:
            continue
        stack, members = [(sy, sx)], []
        seen[sy, sx] = True
        while stack:
            y, x = stack.pop()
            members.append((y, x))
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ny, nx = y + dy, x + dx
                    if 0 <= ny < h and 0 <= nx < w and safe[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
        for y, x in members:
            area[y, x] = len(members)
    return area


def _scene():
    mask = np.zeros((36, 48), np.uint8)
    mask[3:33, 4:30] = SAFE    # a large safe field
    mask[14, 27] = DANGER      # a car at its edge, off the axes of most pixels
    mask[20:27, 34:45] = SAFE  # a small second field
    mask[22, 37] = 255         # an unlabelled pixel inside it
    mask[[9, 24, 12, 20], [11, 19, 22, 17]] = 2  # bushes inside the large field: clearances off the axes
    mask[33, 30] = SAFE        # joined to the large field only by a corner (8-connected)
    mask[0:8, 34:46] = SAFE    # a strip along the top edge: its footprint disk reaches outside the image
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(4), size=mask.shape).transpose(2, 0, 1).astype(np.float32)
    probs[SAFE] = np.where(mask == SAFE, 0.55 + 0.4 * rng.random(mask.shape), 0.1).astype(np.float32)
    return mask, probs


def test_every_site_field_matches_a_brute_force_recomputation():
    mask, probs = _scene()
    gsd, radius, margin = 0.1, 0.2, 0.15  # needs 3.5 px
    need = (radius + margin) / gsd
    clearance = _brute_distance(mask != SAFE, with_frame=True)
    danger = _brute_distance(mask == DANGER, with_frame=False)
    area = _brute_region_area(mask == SAFE)
    k = int(2 * np.ceil(need) + 1)
    import cv2
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)).astype(float)
    padded = np.pad(probs[SAFE].astype(float), k // 2)
    p_safe = np.array([[(padded[y:y + k, x:x + k] * disk).sum() / disk.sum() for x in range(mask.shape[1])]
                       for y in range(mask.shape[0])])
    score = (0.4 * (1 - need / np.maximum(clearance, need))
             + 0.2 * np.clip(np.log(np.maximum(area, 1) / (np.pi * need**2)) / np.log(100), 0, 1)
             + 0.2 * (1 - np.exp(-danger / (4 * need))) + 0.2 * p_safe)
    ok = (clearance >= need) & (p_safe >= 0.6)

    expected, taken = [], np.zeros(mask.shape, bool)
    rows, cols = np.mgrid[:mask.shape[0], :mask.shape[1]]
    ys, xs = np.nonzero(ok)
    for i in np.argsort(-score[ys, xs], kind="stable"):
        y, x = ys[i], xs[i]
        if taken[y, x]:
            continue
        expected.append((x, y))
        r = int(np.ceil(2 * clearance[y, x]))
        taken |= (rows - y) ** 2 + (cols - x) ** 2 <= r * r
        if len(expected) == 5:
            break

    sites = find_landing_sites(mask, gsd, radius, probs, margin_m=margin, max_sites=5, min_confidence=0.6)
    assert [s.center for s in sites] == expected and len(sites) == 5
    assert any(s.radius_px != round(s.radius_px) for s in sites)  # some clearances are diagonal
    assert any(s.center[1] - s.radius_px < 0 for s in sites)  # some footprint disks reach outside the image
    for s in sites:
        x, y = s.center
        assert s.radius_px == pytest.approx(clearance[y, x], abs=1e-3)
        assert s.danger_distance_px == pytest.approx(danger[y, x], abs=1e-3)
        assert s.area_px == area[y, x]
        assert s.confidence == pytest.approx(p_safe[y, x], abs=1e-4)
        assert s.score == pytest.approx(score[y, x], abs=1e-4)
        assert s.reasons == [f"clear radius {clearance[y, x]:.0f} px = {clearance[y, x] * gsd:.1f} m (needs {need * gsd:.1f} m)",
                             f"safe region of {area[y, x] * gsd**2:.0f} m²",
                             f"danger {danger[y, x] * gsd:.1f} m away",
                             f"model confidence {p_safe[y, x]:.0%} that the footprint is safe"]


def test_without_probabilities_the_score_is_the_other_three_terms_renormalised():
    mask, _ = _scene()
    mask[14, 27] = SAFE  # no danger anywhere
    need = 3.5
    clearance = _brute_distance(mask != SAFE, with_frame=True)
    area = _brute_region_area(mask == SAFE)
    best = find_landing_sites(mask, 0.1, 0.2, margin_m=0.15, max_sites=1)[0]
    x, y = best.center
    expected = (0.4 * (1 - need / max(clearance[y, x], need))
                + 0.2 * min(max(np.log(area[y, x] / (np.pi * need**2)) / np.log(100), 0), 1) + 0.2 * 1.0) / 0.8
    assert best.score == pytest.approx(expected, abs=1e-4)
    assert np.isinf(best.danger_distance_px) and np.isnan(best.confidence)
    assert best.reasons[2] == "no danger in view" and len(best.reasons) == 3


def test_site_json_fields_and_rounding():
    from landinglib.landing import LandingSite

    site = LandingSite((12, 7), 9.87654, 0.123456, 321, 4.04999, 0.98765, ["a", "b"])
    assert site.as_dict() == {"center": [12, 7], "radius_px": 9.9, "score": 0.123, "area_px": 321,
                              "danger_distance_px": 4.0, "confidence": 0.988, "reasons": ["a", "b"]}
    assert LandingSite((0, 0), 1.0, 0.5, 1, 4.26, 0.5).as_dict()["danger_distance_px"] == 4.3
    assert footprint_radius_px(0.05, 0.5, 0.25) == pytest.approx(15.0)
    assert footprint_radius_px(0.05, 0.5) == pytest.approx(10.0)


def _strip_at_the_footprint():
    """A Safe strip whose middle row is exactly 10 px from the frame (the footprint at 0.1 m/px, 0.5 m + 0.5 m),
    probabilities 90 % Safe, and the highest footprint confidence the finder reports on it."""
    strip = np.full((19, 400), SAFE, np.uint8)
    probs = np.zeros((4, 19, 400), np.float32)
    probs[SAFE], probs[0] = 0.9, 0.1
    top = max(s.confidence for s in find_landing_sites(strip, probs=probs, min_confidence=0.0))
    return strip, probs, top


def _just_above(confidence: float) -> float:
    """The smallest threshold the finder tells apart from ``confidence``: a footprint mean within the float32
    rounding of summing a footprint (1e-4) counts as at the threshold, so one step beyond is just past that."""
    from landinglib.landing import _ROUNDING

    return float(np.nextafter(np.float32(confidence + _ROUNDING), 1))


def test_defaults_and_boundaries_of_the_site_finder():
    """Defaults: 0.5 m margin, 5 sites. Boundaries: a clear radius exactly the footprint and a confidence exactly
    the threshold both qualify; the area term saturates at 100 footprints."""
    strip, probs, top = _strip_at_the_footprint()
    sites = find_landing_sites(strip)
    assert len(sites) == 5 and all(s.radius_px == pytest.approx(10.0) for s in sites)
    assert find_landing_sites(strip, margin_m=0.6) == []
    assert find_landing_sites(strip, probs=probs, min_confidence=top)  # exactly the threshold is enough
    assert find_landing_sites(strip, probs=probs, min_confidence=_just_above(top)) == []

    wide = np.full((5, 400), SAFE, np.uint8)  # 2000 px = 159 footprints of 2 px radius at 0.5 m/px
    best = find_landing_sites(wide, gsd_m=0.5, drone_radius_m=0.5, margin_m=0.5, max_sites=1)[0]
    assert best.radius_px == pytest.approx(3.0)
    assert best.score == pytest.approx((0.4 * (1 - 2 / 3) + 0.2 * 1.0 + 0.2 * 1.0) / 0.8, abs=1e-6)


def test_the_reasons_for_no_site_agree_with_the_finder_at_its_boundaries():
    """Where the finder just finds a site (clear radius exactly the footprint, confidence exactly the threshold),
    the explanation is empty; one step beyond, it names the failed condition in metres or percent."""
    from landinglib.landing import explain_no_site, sites_and_reason

    strip, probs, top = _strip_at_the_footprint()
    assert explain_no_site(strip) == "" and sites_and_reason(strip)[1] == "" and len(sites_and_reason(strip)[0]) == 5
    why = explain_no_site(strip, margin_m=0.6)
    assert why == ("no Safe region is wide enough: the widest clear radius is 1.0 m, the drone needs 1.1 m "
                   "(0.5 m radius + 0.6 m margin at 0.1 m/px)")
    coarse = explain_no_site(np.full((3, 50), SAFE, np.uint8), gsd_m=0.25)  # 2 px clear = 0.5 m; needs 4 px
    assert coarse.startswith("no Safe region is wide enough: the widest clear radius is 0.5 m, the drone needs 1.0 m")
    assert explain_no_site(strip, probs=probs, min_confidence=top) == ""
    sites, why = sites_and_reason(strip, probs=probs, min_confidence=_just_above(top))
    assert sites == [] and why.startswith("Safe ground wide enough exists") and why.endswith("% threshold")
    sites, why = sites_and_reason(strip, probs=probs, min_confidence=0.5)
    assert sites and all(s.confidence == pytest.approx(top, abs=1e-6) for s in sites)  # probs reached the finder


def test_probabilities_need_at_least_two_classes_of_the_mask_size():
    mask = np.full((30, 30), SAFE, np.uint8)
    two = np.stack([np.full((30, 30), 0.2, np.float32), np.full((30, 30), 0.8, np.float32)])
    assert find_landing_sites(mask, probs=two)  # Background and Safe are enough
    with pytest.raises(ValueError, match=r"probs must be \(C, H, W\) with \(H, W\) = \(30, 30\), got \(1, 30, 30\)"):
        find_landing_sites(mask, probs=two[1:])
    with pytest.raises(ValueError, match="positive"):
        footprint_radius_px(0.1, 0)


def test_the_area_term_of_the_smallest_regions_stays_within_0_and_1():
    """A region smaller than a footprint's area scores an area term of 0 (not below); a one-pixel region still
    counts its one pixel. Checked through the documented score of a site without danger or probabilities."""
    def only_site(mask, need):
        site, = find_landing_sites(mask, gsd_m=1.0, drone_radius_m=need / 2, margin_m=need / 2)
        return site

    field = np.zeros((7, 7), np.uint8)
    field[2:5, 2:5] = SAFE  # 9 px, but a 2 px footprint covers 4 pi = 12.6 px
    site = only_site(field, 2.0)
    assert site.center == (3, 3) and site.radius_px == pytest.approx(2.0) and site.area_px == 9
    assert site.score == pytest.approx((0.4 * 0 + 0.2 * 0 + 0.2 * 1) / 0.8)
    dot = np.zeros((5, 5), np.uint8)
    dot[2, 2] = SAFE  # one pixel; a 0.5 px footprint covers pi / 4 px
    site = only_site(dot, 0.5)
    assert site.area_px == 1 and site.radius_px == pytest.approx(1.0)
    area_term = np.log(1 / (np.pi * 0.25)) / np.log(100)
    assert site.score == pytest.approx((0.4 * 0.5 + 0.2 * area_term + 0.2 * 1) / 0.8)


def test_equally_good_pixels_are_taken_in_reading_order_on_every_machine():
    """Tied pixels (a square field's 2 x 2 centre, a strip's row of equally clear pixels) are taken in reading order,
    top row first, then leftmost, whatever sort the platform's numpy uses by default: the same mask gives the same
    sites everywhere."""
    field = np.full((40, 40), SAFE, np.uint8)  # the image edge bounds it: clear radius 20 at the 2 x 2 centre
    assert find_landing_sites(field, **KW, max_sites=1)[0].center == (19, 19)
    strip = np.full((40, 120), SAFE, np.uint8)  # rows 19 and 20 tie all along the strip
    sites = find_landing_sites(strip, **KW, max_sites=5)
    # each later site lies just beyond twice the clear radius (40 px) of the one before: (100, 19) is 40 px from
    # (60, 19), so the next in reading order is (100, 20), 40.01 px away
    assert [s.center for s in sites] == [(19, 19), (60, 19), (100, 20)]


@pytest.mark.parametrize("sure, gsd_m, drone_radius_m", [(0.5, 0.2, 0.2), (0.9, 0.2, 0.2), (0.5, 0.05, 0.5)])
def test_a_model_exactly_as_sure_as_the_threshold_gets_its_site(sure, gsd_m, drone_radius_m):
    """The footprint's mean P(Safe) is a float32 sum over many pixels: a model exactly at the threshold must not
    fall a rounding error below it."""
    mask = np.full((60, 60), SAFE, np.uint8)
    probs = np.zeros((4, 60, 60), np.float32)
    probs[SAFE], probs[0] = sure, 1 - sure
    sites = find_landing_sites(mask, gsd_m, drone_radius_m, probs, min_confidence=sure)
    assert sites and sites[0].confidence == pytest.approx(sure, abs=1e-4)
    assert explain_no_site(mask, gsd_m, drone_radius_m, probs, min_confidence=sure) == ""
    assert not find_landing_sites(mask, gsd_m, drone_radius_m, probs, min_confidence=sure + 0.01)


def test_a_footprint_mean_exactly_the_rounding_tolerance_below_the_threshold_still_qualifies():
    """The tolerance is inclusive: a footprint whose mean P(Safe) lies exactly ``_ROUNDING`` below the threshold
    counts as at it, for the finder and for the explanation alike."""
    from landinglib.landing import _ROUNDING, sites_and_reason

    strip, probs, top = _strip_at_the_footprint()
    threshold = top + _ROUNDING
    assert np.float32(threshold - _ROUNDING) == np.float32(top)  # the test really sits on the boundary
    assert find_landing_sites(strip, probs=probs, min_confidence=threshold)
    assert explain_no_site(strip, probs=probs, min_confidence=threshold) == ""
    assert sites_and_reason(strip, probs=probs, min_confidence=threshold)[1] == ""


def test_probabilities_computed_in_float64_give_the_same_sites_as_their_float32_copy():
    """A numpy softmax in float64 and the same probabilities stored as float32 (a model's output) give identical
    sites, confidences and scores: the footprint means are taken in float32 either way."""
    mask, _ = _scene()
    logits = np.random.default_rng(5).normal(size=(4, *mask.shape))
    logits[SAFE] += 2.0 * (mask == SAFE)
    probs64 = np.exp(logits) / np.exp(logits).sum(0)
    kw = dict(gsd_m=0.1, drone_radius_m=0.2, margin_m=0.15, min_confidence=0.3)
    sites64 = find_landing_sites(mask, probs=probs64, **kw)
    sites32 = find_landing_sites(mask, probs=probs64.astype(np.float32), **kw)
    assert sites64 and [vars(s) for s in sites64] == [vars(s) for s in sites32]


def test_a_danger_too_far_away_to_matter_scores_exactly_like_no_danger_in_view():
    """The danger term saturates at 1: a car 58 px away from a 0.5 px footprint gives the same score as no car at
    all, so a site's rank does not depend on whether a far-off car is in the picture."""
    far = np.full((3, 60), 2, np.uint8)
    far[1, 1:4] = SAFE
    far[1, 59] = DANGER
    no_danger = far.copy()
    no_danger[1, 59] = 2
    kw = dict(gsd_m=1.0, drone_radius_m=0.5, margin_m=0.0, max_sites=1)
    with_car, = find_landing_sites(far, **kw)
    without, = find_landing_sites(no_danger, **kw)
    assert with_car.danger_distance_px == 58 and np.isinf(without.danger_distance_px)
    assert with_car.center == without.center and with_car.score == without.score


def test_ignored_pixels_are_never_part_of_a_landing_site():
    mask = np.full((120, 120), SAFE, np.uint8)
    mask[30:90, 30:90] = IGNORE_INDEX  # unlabelled / no-data in the middle of a Safe field
    need = 10  # gsd 0.1 m/px, drone 0.5 m + margin 0.5 m
    sites = find_landing_sites(mask, gsd_m=0.1, drone_radius_m=0.5, margin_m=0.5)
    assert sites, "the Safe frame around the hole is wide enough for sites"
    yy, xx = np.mgrid[0:120, 0:120]
    for s in sites:
        footprint = (xx - s.center[0]) ** 2 + (yy - s.center[1]) ** 2 <= need**2
        assert not (mask[footprint] == IGNORE_INDEX).any(), f"site at {s.center} covers ignored pixels"
    only_ignored = np.full((80, 80), IGNORE_INDEX, np.uint8)
    assert sites_and_reason(only_ignored, gsd_m=0.1, drone_radius_m=0.5)[0] == []
