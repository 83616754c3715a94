"""Light (``landinglib.synthetic.lighting``): the held-out lighting is drawn only in the unseen style."""
import numpy as np

from landinglib import synthetic
from landinglib.synthetic import styles
from landinglib.synthetic.lighting import make_light


def test_held_out_lighting_is_only_in_the_unseen_style():
    for seed in range(4):
        for style in ("udd6", "dronedeploy"):
            lighting = synthetic.render_scene(style, seed, (64, 96)).info["lighting"]
            assert lighting in styles.LIGHTINGS and lighting not in styles.UNSEEN_LIGHTINGS
        assert synthetic.render_scene("udd6-unseen", seed, (64, 96)).info["lighting"] == "golden"
    rng = np.random.default_rng(0)
    assert {make_light(styles.UDD6_STYLE, rng).kind for _ in range(200)} == set(styles.LIGHTINGS)
    assert {make_light(styles.UDD6_UNSEEN_STYLE, rng).kind for _ in range(20)} == {"golden"}
