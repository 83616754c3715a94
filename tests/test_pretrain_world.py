"""Stage 0's world: the pretraining frames (seeds, styles, scale) and their cache of shards."""
import numpy as np

from landinglib import classes, pretrain_world, synthetic
from landinglib.synthetic import styles

from .conftest import error_message


def test_pretraining_seeds_never_meet_the_course_sets():
    # the course draws its built-in sets with (seed, style id, index), seed 0 (ensure_builtin); the stand-in of
    # notebook 07 with (0, len(STYLES), index)
    course_first = {0}
    for (kind, split), second in pretrain_world.SPLIT_IDS.items():
        seed = pretrain_world.frame_seed(kind, split, 7)
        assert seed[0] == pretrain_world.PRETRAIN_SEED and seed[0] not in course_first
        assert seed == (pretrain_world.PRETRAIN_SEED, second, 7)
    assert len(set(pretrain_world.SPLIT_IDS.values())) == len(pretrain_world.SPLIT_IDS)  # train and held-out streams differ
    first = pretrain_world.render_frame(("drone", "train", 0))[0]
    course = synthetic.render_scene(synthetic.UDD6_STYLE, (0, list(synthetic.STYLES).index("udd6"), 0))[0]
    assert first.shape[0] == pretrain_world.SHORT_SIDE and not np.array_equal(first[:64, :64], course[:64, :64])


def test_pretraining_never_draws_the_unseen_style_families(monkeypatch):
    for style, _ in pretrain_world.KINDS.values():
        assert not set(style.pavements) & set(styles.UNSEEN_PAVEMENTS)
        assert not set(style.flat_roofs) & set(styles.UNSEEN_FLAT_ROOFS)
        assert not set(style.lightings) & set(styles.UNSEEN_LIGHTINGS)
        assert style.unseen_roof_p == 0 and style.lens_k1 == (0.0, 0.0)
    pretrain_world.check_held_out()
    leaky = dict(pretrain_world.KINDS, drone=(synthetic.UDD6_UNSEEN_STYLE, None))
    monkeypatch.setattr(pretrain_world, "KINDS", leaky)
    assert "unseen-style" in error_message(pretrain_world.check_held_out, ValueError)


def test_a_frame_is_labelled_with_the_aerial_classes_at_the_stages_scale():
    image, label = pretrain_world.render_frame(("drone", "val", 3))
    assert image.dtype == np.uint8 and image.shape[:2] == label.shape and min(label.shape) == pretrain_world.SHORT_SIDE
    assert set(np.unique(label)) <= set(range(len(classes.AERIAL))) | {255}
    tile, tile_label = pretrain_world.render_frame(("ortho", "train", 1))
    assert tile.shape[:2] == (pretrain_world.SHORT_SIDE, pretrain_world.SHORT_SIDE)
    assert classes.AERIAL.names.index("Sky") not in np.unique(tile_label)  # an orthomosaic shows no sky
    assert (styles.SEMANTIC_TO_AERIAL[[styles.ROAD, styles.ROOF, styles.FACADE, styles.SKY, styles.NODATA]]
            == [3, 4, 5, 9, 255]).all()


def test_shards_are_drawn_once_resume_and_grow(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrain_world, "SHARD_FRAMES", 3)
    calls = []
    real = pretrain_world.render_frame

    def counting(job):
        calls.append(job)
        return real(job)

    monkeypatch.setattr(pretrain_world, "render_frame", counting)
    folder = pretrain_world.write_shards(tmp_path, "ortho", "train", 4, workers=1, progress=False)
    assert len(calls) == 4 and sorted(p.name for p in folder.glob("*.npy"))[:2] == ["shard-0000-images.npy",
                                                                                   "shard-0000-labels.npy"]
    first = np.load(folder / "shard-0000-images.npy")
    pretrain_world.write_shards(tmp_path, "ortho", "train", 4, workers=1, progress=False)
    assert len(calls) == 4  # nothing drawn twice
    pretrain_world.write_shards(tmp_path, "ortho", "train", 6, workers=1, progress=False)
    assert [c[2] for c in calls[4:]] == [3, 4, 5]  # the short last shard is completed, nothing else redrawn
    assert np.array_equal(np.load(folder / "shard-0000-images.npy"), first)
    (folder / "shard-0001-labels.npy").unlink()  # as a run killed while writing shard 1 leaves it
    pretrain_world.write_shards(tmp_path, "ortho", "train", 6, workers=1, progress=False)
    assert [c[2] for c in calls[7:]] == [3, 4, 5]
    data = pretrain_world.ShardDataset([(folder, 5)])
    assert len(data) == 5 and data.classes is classes.AERIAL
    image, mask = data[4]
    assert np.array_equal(image, real(("ortho", "train", 4))[0]) and mask.shape == image.shape[:2]


def test_two_runs_sharing_one_frame_cache_draw_each_frame_once(tmp_path, monkeypatch):
    """Two pretraining runs started at once on one cache (the scaling benchmark and a shipping run): one
    draws under the cache's lock, the other waits and finds the shards whole."""
    import threading
    import time

    calls = []
    real = pretrain_world.render_frame

    def slow(job):
        calls.append(job)
        time.sleep(0.05)  # long enough for the second run to arrive while the first draws
        return real(job)

    monkeypatch.setattr(pretrain_world, "render_frame", slow)
    runs = [threading.Thread(target=pretrain_world.write_shards, args=(tmp_path, "ortho", "val", 3),
                             kwargs=dict(workers=1, progress=False)) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert sorted(c[2] for c in calls) == [0, 1, 2]
    assert len(pretrain_world.ShardDataset([(tmp_path / "val-ortho", 3)], split="val")) == 3
