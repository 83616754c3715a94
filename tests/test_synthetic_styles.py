"""The ranges the built-in world is drawn from (``landinglib.synthetic.styles``) are well formed and
cover every family the drawing code names."""
import dataclasses

import pytest

from landinglib.synthetic import blocks, styles

ANNOTATED = styles.__annotations__  # name -> "Range", "Count", "HSV", ... (as written)


def _hsv_colours():
    """(where, colour) for every HSV colour in styles: annotated ones and those in tables."""
    out = [(n, getattr(styles, n)) for n, a in ANNOTATED.items() if a == "HSV"]
    out += [(f"{n}[{i}]", c) for n in ("WALL_HSV", "PAVER_HSV") for i, c in enumerate(getattr(styles, n))]
    out += [(f"{n}[{k!r}]", c) for n in ("SURFACE_HSV", "FLAT_ROOF_HSV") for k, c in getattr(styles, n).items()]
    out += [(f"CAR_COLOURS[{i}]", c) for i, (_, c) in enumerate(styles.CAR_COLOURS)]
    for kind, light in styles.LIGHT_RANGES.items():
        out += [(f"LIGHT_RANGES[{kind!r}].haze_hsv", light.haze_hsv), (f"LIGHT_RANGES[{kind!r}].sky_hsv", light.sky_hsv)]
    return out


def _ordered(r) -> bool:
    return len(r) == 2 and r[0] <= r[1]


def test_ranges_counts_and_probabilities_are_well_formed():
    names = [n for n in vars(styles) if n.isupper() and not n.startswith("_")]
    kinds = {ANNOTATED.get(n) for n in names} | {"_P" for n in names if n.endswith("_P")}
    assert {"Range", "Count", "HSV", "_P"} <= kinds  # the checks below see each kind of constant
    for name in names:
        value = getattr(styles, name)
        if name.endswith("_P"):
            assert 0 <= value <= 1, name
        if ANNOTATED.get(name) == "Range":
            assert _ordered(value), name
        if ANNOTATED.get(name) == "Count":
            assert _ordered(value) and all(isinstance(v, int) for v in value), name
        if name.endswith("_SIZE_M"):
            assert all(_ordered(r) and r[0] > 0 for r in value), name
    for light in styles.LIGHT_RANGES.values():
        for field in dataclasses.fields(light):
            value = getattr(light, field.name)
            if field.type in ("Range", "Range | None") and value is not None:
                assert _ordered(value), field.name
        assert 0 < light.sun_elevation_deg[0] and light.sun_elevation_deg[1] < 90
        assert 0 < light.shadow[0] and light.shadow[1] <= 1
    thresholds = [t for t, _ in styles.CAR_COLOURS]
    assert thresholds == sorted(thresholds) and 0 < thresholds[0] and thresholds[-1] < 1


@pytest.mark.parametrize("where,colour", _hsv_colours())
def test_colours_are_hue_saturation_value(where, colour):
    assert len(colour) == 3, where
    for i, part in enumerate(colour):
        lo, hi = part if isinstance(part, tuple) else (part, part)
        assert lo <= hi, where
        if i:  # saturation and value
            assert 0 <= lo and hi <= 1, where


def test_every_family_the_world_names_has_its_ranges():
    assert set(styles.LIGHT_RANGES) == set(styles.LIGHTINGS + styles.UNSEEN_LIGHTINGS)
    assert set(styles.FLAT_ROOF_HSV) | {"corrugated"} == set(styles.FLAT_ROOFS + styles.UNSEEN_FLAT_ROOFS)
    grounds = set(styles.SURFACE_HSV) | set(styles.PAVER_KINDS)
    assert set(styles.PAVEMENTS + styles.UNSEEN_PAVEMENTS) <= grounds
    assert set(styles.FIELD_KINDS + styles.BARE_LOT_KINDS + styles.FARM_YARD_KINDS + styles.FALLBACK_GROUND_KINDS) <= grounds
    districts = {d for style in styles.STYLES.values() for d, _ in style.districts}
    assert set(styles.STREET_GRID) == set(styles.BLOCK_TYPES) == districts - {"rural"}
    assert {t for types in styles.BLOCK_TYPES.values() for t, _ in types} == set(blocks.FILL)
