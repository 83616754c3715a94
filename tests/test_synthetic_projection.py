"""Drawing through the camera (``landinglib.synthetic.projection``): aerial perspective."""
import numpy as np

from landinglib import synthetic

FRAME = (270, 512)
SEEDS = (0, 1)


def test_haze_grows_with_the_distance_to_what_a_pixel_shows(monkeypatch):
    """Aerial perspective: a roof or a wall is hazed by its own distance, not by that of the
    ground behind it (the same scene is drawn with and without haze, before the camera's look)."""
    from landinglib.synthetic import lighting, scene as scene_module

    seen, draw_camera = {}, synthetic.make_camera

    def make_camera(*args):
        seen["camera"] = cam = draw_camera(*args)
        return cam

    def make_light(visibility):
        def make(style, rng):
            seen["light"] = light = lighting.make_light(style, rng)
            light.visibility = visibility
            return light
        return make

    monkeypatch.setattr(scene_module, "make_camera", make_camera)
    monkeypatch.setattr(scene_module, "develop", lambda img, sem, hmap, style, rng: (img, sem, hmap))
    visibility, roofs = 400.0, 0
    for seed in SEEDS:
        frames = []
        for v in (1e12, visibility):
            monkeypatch.setattr(scene_module, "make_light", make_light(v))
            frames.append(synthetic.render_scene("udd6", seed, FRAME, view="horizon", district="urban"))
        clear, hazy = frames
        haze, cam = seen["light"].haze_rgb, seen["camera"]
        away = haze - clear.image  # hazy = clear + fog * (haze - clear)
        fog = ((hazy.image - clear.image) * away).sum(-1) / np.maximum((away**2).sum(-1), 1e-6)
        valid = (away**2).sum(-1) > 30**2  # where the colour differs enough from the haze to tell
        ground_distance, _ = cam.ground_distance()
        distance = ground_distance * (1 - clear.height / cam.pos[2])  # along the ray to the plane shown
        expected = 1 - np.exp(-distance / visibility)
        for code in (synthetic.ROAD, synthetic.ROOF):
            sel = valid & (clear.semantic == code)
            if sel.sum() >= 100:
                assert np.median(np.abs(fog[sel] - expected[sel])) < 0.03, (seed, synthetic.SEMANTIC_NAMES[code])
                roofs += code == synthetic.ROOF
        walls = valid & (clear.semantic == synthetic.FACADE)
        behind = 1 - np.exp(-ground_distance / visibility)  # the haze of the ground behind a wall
        assert walls.sum() >= 100 and fog[walls].mean() < behind[walls].mean() - 0.02, seed
    assert roofs >= 1
