import numpy as np
import pytest

from landinglib.landing import DANGER, SAFE, find_landing_sites, footprint_radius_px

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
