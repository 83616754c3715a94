"""``Builder``: how each thing of the world is made and what it looks like. A surface, a building, a
vehicle, a box or a tree is added to a ``World`` with its looks drawn from the style's ranges;
vehicles and trees far from what the camera sees are not built at all."""
from __future__ import annotations

import math

import cv2
import numpy as np

from . import styles as st
from . import textures as tx
from .specs import BodySpec, RoofSpec, SurfaceSpec, WallSpec
from .styles import CAR, CLUTTER, GRASS, ROAD, ROOF, UNSEEN_FLAT_ROOFS, Style
from .world import Block, Marking, Prism, Surface, Tree, World

DETAIL_MARGIN_M = 15.0  # vehicles and trees this far outside the camera's view are still drawn


class Builder:
    """Adds things to ``world``, each looking as drawn with ``rng`` from ``style``'s ranges; buildings never
    rise above ``max_height`` metres; ``detail``: where small things are built (see ``city.build_world``)."""

    def __init__(self, world: World, style: Style, rng: np.random.Generator, max_height: float, detail=None):
        self.w, self.style, self.rng, self.max_height = world, style, rng, max_height
        self.detail = detail  # (centre, radius, outline): small things outside are not worth drawing
        self._outline = None if detail is None or detail[2] is None else np.asarray(detail[2], np.float32)
        self.pavement = style.pavements[int(rng.integers(len(style.pavements)))]  # this town's favourite

    # --- surfaces -------------------------------------------------------------------------
    def surface(self, poly, kind: str, code: int, angle: float = 0.0, stripe: float | None = None,
                rgb2: np.ndarray | None = None) -> None:
        """Ground of ``kind`` (a material) and semantic ``code`` on ``poly``; ``angle``: its joints' direction."""
        rng = self.rng
        rgb, salt, stains = tx.surface_color(kind, rng), int(rng.integers(1 << 20)), rng.uniform(*st.SURFACE_STAINS)
        two_tone = False
        if kind in ("tiles", "checker45") and rgb2 is None:
            two_tone = kind == "checker45" or rng.random() < st.TWO_TONE_TILES_P
            rgb2 = tx.surface_color(kind, rng)
        spec = SurfaceSpec(kind, rgb, code, angle, salt, stains, two_tone, rgb2, stripe)
        self.w.surfaces.append(Surface(np.asarray(poly, float), spec))

    def paved(self, poly, angle: float, *prefer: str) -> None:
        """Paved ground (Road in UDD6). ``prefer``: kinds that suit the place ("asphalt" is always
        allowed); others are replaced by the style's pavements, so held-out families stay held out."""
        rng, allowed = self.rng, self.style.pavements
        options = [k for k in prefer if k == "asphalt" or k in allowed]
        if options:
            kind = options[int(rng.integers(len(options)))]
        else:
            kind = self.pavement if rng.random() < st.FAVOURITE_PAVEMENT_P else allowed[int(rng.integers(len(allowed)))]
        self.surface(poly, kind, ROAD, angle)

    def green(self, poly, angle: float) -> None:
        self.surface(poly, "lawn" if self.rng.random() < st.LAWN_P else "meadow", GRASS, angle,
                     stripe=self.rng.uniform(*st.MOWING_STRIPE_M))

    def mark(self, polys: list, rgb=None, opacity=None) -> None:
        """Paint on the ground: a group of polygons (e.g. the dashes of one lane line) in one colour."""
        rng = self.rng
        if not len(polys):
            return
        if rgb is None:
            rgb = tx.random_hsv(rng, st.WHITE_PAINT_HSV if rng.random() < st.WHITE_PAINT_P else st.YELLOW_PAINT_HSV)
        self.w.markings.append(Marking([np.asarray(p, float) for p in polys], rgb,
                                       rng.uniform(*st.PAINT_OPACITY) if opacity is None else opacity))

    # --- objects --------------------------------------------------------------------------
    def building(self, poly, storeys: int, roof: str | None = None) -> Prism | None:
        """A building on ``poly`` with a flat, gable or hip ``roof`` (None: drawn) and a facade."""
        rng = self.rng
        height = storeys * rng.uniform(*st.STOREY_HEIGHT_M)
        if height > self.max_height:
            storeys = max(1, int(self.max_height / 3.2))
            height = storeys * 3.0
        if roof is None:
            pitched = rng.random() < (st.LOW_RISE_PITCHED_P if storeys <= 3 else st.HIGH_RISE_PITCHED_P)
            roof = rng.choice(st.PITCHED_ROOFS) if pitched else "flat"
        if roof == "flat":
            pool = self.style.flat_roofs
            if self.style.unseen_roof_p and rng.random() < self.style.unseen_roof_p:
                pool = UNSEEN_FLAT_ROOFS
            material = pool[int(rng.integers(len(pool)))]
            spec = RoofSpec(shape="flat", material=material, rgb=tx.roof_color(material, rng),
                            parapet=rng.uniform(*st.PARAPET_HEIGHT_M) if rng.random() < st.PARAPET_P else 0.0,
                            parapet_rgb=tx.roof_color("concrete", rng), hvac=st.count(rng, st.HVAC_UNITS),
                            tanks=st.count(rng, st.WATER_TANKS) if rng.random() < st.WATER_TANKS_P else 0,
                            solar=rng.random() < st.SOLAR_P,
                            skylights=st.count(rng, st.SKYLIGHTS) if rng.random() < st.SKYLIGHTS_P else 0,
                            stains=rng.uniform(*st.ROOF_STAINS), salt=int(rng.integers(1 << 20)))
        else:
            spec = RoofSpec(shape=roof, material="tiles", rgb=tx.roof_color("tiles", rng),
                            pitch=rng.uniform(*st.ROOF_PITCH_DEG), salt=int(rng.integers(1 << 20)))
        prism = Prism(np.asarray(poly, float), height, ROOF, spec, tx.facade_spec(rng, storeys))
        self.w.prisms.append(prism)
        return prism

    def vehicle(self, centre, angle: float, big: bool = False) -> None:
        """A car (``big``: a truck) at ``centre`` heading along ``angle``, unless it is far from the camera's view."""
        rng = self.rng
        if self.far(centre):
            return
        length, width, height = st.uniform_each(rng, st.TRUCK_SIZE_M if big else st.CAR_SIZE_M)
        c, u = np.asarray(centre, float), np.array([math.cos(angle), math.sin(angle)])
        v = np.array([-u[1], u[0]])
        poly = np.array([c - u * length / 2 - v * width / 2, c + u * length / 2 - v * width / 2,
                         c + u * length / 2 + v * width / 2, c - u * length / 2 + v * width / 2])
        rgb = tx.car_color(rng) if not big or rng.random() < st.TRUCK_CAR_COLOUR_P else tx.random_hsv(rng, st.TRUCK_HSV)
        self.w.prisms.append(Prism(poly, height, CAR, BodySpec(rgb, big), WallSpec(rgb * 0.7)))

    def box(self, block: Block, a, b, length, width, height) -> None:
        """A shed, kiosk or container: Other in UDD6, Clutter in DroneDeploy."""
        rgb = tx.random_hsv(self.rng, st.BOX_HSV)
        self.w.prisms.append(Prism(block.rect(a, b, a + length, b + width), height, CLUTTER,
                                   BodySpec(rgb), WallSpec(rgb * 0.75)))

    def far(self, xy) -> bool:
        """Whether (x, y) lies where small things are not built (beyond ``detail``)."""
        if self.detail is None:
            return False
        if math.dist(xy, self.detail[0]) > self.detail[1]:
            return True
        return self._outline is not None and cv2.pointPolygonTest(
            self._outline, (float(xy[0]), float(xy[1])), True) < -DETAIL_MARGIN_M

    def tree(self, x, y, small: bool = False) -> None:
        """A tree at (x, y), unless it is far from the camera's view."""
        rng = self.rng
        if self.far((x, y)):
            return
        r = rng.uniform(*(st.SMALL_TREE_CROWN_RADIUS_M if small else st.TREE_CROWN_RADIUS_M))
        height = r * rng.uniform(*st.TREE_HEIGHT_PER_RADIUS) + rng.uniform(*st.TRUNK_M)
        self.w.trees.append(Tree(float(x), float(y), r, height))

    def storeys(self, n: st.Count) -> int:
        """A number of storeys drawn from the range ``n``."""
        return st.count(self.rng, n)
