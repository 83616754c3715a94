"""Behaviours a user pays for when they break, each pinned by a test that fails without it (issue 15).

Written as behaviours, not as copies of the code: a planted bug in any of these paths turns one red.
"""
import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from landinglib import data, export, synthetic, train
from landinglib.classes import IGNORE_INDEX
from landinglib.landing import SAFE, find_landing_sites, sites_and_reason
from landinglib.model import build_model, load_checkpoint


# --- landing sites ------------------------------------------------------------------------
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


# --- training -----------------------------------------------------------------------------
def _one_batch(labelled_class=1):
    torch.manual_seed(0)
    images = torch.randn(2, 3, 32, 32)
    masks = torch.full((2, 32, 32), IGNORE_INDEX, dtype=torch.long)
    masks[:, 8:16, 8:24] = labelled_class  # a small labelled patch; the rest is ignored
    return images, masks


def test_ignored_pixels_are_left_out_of_the_loss():
    images, masks = _one_batch()
    torch.manual_seed(1)
    model = build_model("ultra-fast", 4)
    reference = build_model("ultra-fast", 4)
    reference.load_state_dict(model.state_dict())
    reference.eval()  # the loop's first loss is computed in train mode: BatchNorm uses batch statistics
    reference.train()
    with torch.no_grad():
        logits = reference(images)
    keep = masks != IGNORE_INDEX
    expected = F.cross_entropy(logits.permute(0, 2, 3, 1)[keep], masks[keep]).item()
    everything_class_0 = F.cross_entropy(logits, torch.where(keep, masks, 0)).item()
    config = train.TrainConfig(epochs=1, lr=1e-6, device="cpu", channels_last=False, progress=False)
    history = train.fit(model, [(images, masks)], [(images, masks)], config)
    assert history[0]["train_loss"] == pytest.approx(expected, rel=1e-4)
    assert abs(expected - everything_class_0) > 0.1  # the test tells the two apart


def test_fit_takes_exactly_one_optimizer_step_per_batch(tmp_path):
    batches = [_one_batch(k % 4) for k in range(3)]
    config = train.TrainConfig(epochs=2, device="cpu", progress=False, out_dir=str(tmp_path))
    train.fit(build_model("ultra-fast", 4), batches, batches[:1], config)
    state = load_checkpoint(tmp_path / "last.pt")
    steps = {int(s["step"]) for s in state["optimizer"]["state"].values()}
    assert steps == {6} and state["scheduler"]["last_epoch"] == 6  # 3 batches x 2 epochs


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here: the fp16 + GradScaler path is not run")
def test_fit_on_cuda_uses_fp16_autocast_and_a_working_grad_scaler(tmp_path):
    batches = [_one_batch(k % 4) for k in range(4)]
    config = train.TrainConfig(epochs=3, lr=3e-3, device="cuda", progress=False, out_dir=str(tmp_path))
    model = build_model("ultra-fast", 4)
    history = train.fit(model, batches, batches, config)
    assert next(model.parameters()).device.type == "cuda" and next(model.parameters()).dtype == torch.float32
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["scaler"] and state["scaler"]["scale"] > 0  # the scaler was active and saved
    assert history[-1]["train_loss"] < history[0]["train_loss"] and all(h["train_loss"] == h["train_loss"] for h in history)


# --- data ---------------------------------------------------------------------------------
def test_the_dataset_moves_image_and_mask_with_the_same_random_draw(tmp_path):
    """Through ``Dataset.__getitem__`` (not the transform alone): image pixels encode their class."""
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    levels = np.array([40, 90, 140, 190], np.uint8)  # headroom: brightness never clips two classes to one value
    rng = np.random.default_rng(0)
    for i in range(4):
        mask = np.kron(rng.integers(0, 4, (6, 8)), np.ones((20, 20), np.int64)).astype(np.uint8)
        cv2.imwrite(str(tmp_path / "images" / f"{i}.png"), np.repeat(levels[mask][..., None], 3, 2))
        Image.fromarray(mask, "L").save(tmp_path / "labels" / f"{i}.png")
    (tmp_path / "c.csv").write_text("name,r,g,b\na,0,0,0\nb,1,1,1\nc,2,2,2\nd,3,3,3\n")
    (tmp_path / "split.txt").write_text("".join(f"{i} train\n" for i in range(4)))
    transform = data.train_transform(128, crop=64)  # random crop, flips, 90-degree turns, brightness
    ds = data.FolderDataset(tmp_path / "images", tmp_path / "labels", tmp_path / "c.csv", "train", transform,
                            split_file=tmp_path / "split.txt", cache_dir=tmp_path / "cache")
    transform.set_random_seed(5)
    agree = []
    for _ in range(4):
        for k in range(len(ds)):
            image, mask = ds[k]
            grey = data.denormalize(image)[..., 0].astype(int)
            m = mask.numpy()
            for a, b in zip(range(4), range(1, 4)):  # brightness keeps the order of the class levels
                core_a = cv2.erode((m == a).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0  # away from blur
                core_b = cv2.erode((m == b).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
                if core_a.any() and core_b.any():
                    agree.append(grey[core_a].max() < grey[core_b].min())
    assert len(agree) > 10 and all(agree)


def test_the_generator_writes_each_label_on_its_own_pixels():
    """Image edges lie exactly on label boundaries: a label one pixel off would not."""
    def edge_score(image, sem, dy, dx):
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
        grad = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
        s = np.roll(sem, (dy, dx), (0, 1))
        edge = np.zeros(s.shape, bool)  # both pixels beside every boundary: symmetric, so no shift is favoured
        for axis in (0, 1):
            step = s != np.roll(s, 1, axis)
            edge |= step | np.roll(step, -1, axis)
        edge[:4], edge[-4:], edge[:, :4], edge[:, -4:] = False, False, False, False
        return grad[edge].mean()

    for seed in range(3):
        scene = synthetic.render_scene("dronedeploy", (9, seed), (256, 256))
        scores = {(dy, dx): edge_score(scene.image, scene.semantic, dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)}
        assert max(scores, key=scores.get) == (0, 0), scores


def test_a_scene_smaller_than_a_chip_is_padded_with_ignore_not_a_class(tmp_path):
    root = tmp_path / "dd"
    for sub in ("images", "labels"):
        (root / sub).mkdir(parents=True)
    cv2.imwrite(str(root / "images" / "small-ortho.tif"), np.full((100, 150, 3), 90, np.uint8))
    label = np.zeros((100, 150, 3), np.uint8)
    label[:] = (255, 255, 255)  # DroneDeploy GROUND (white), train class 4
    cv2.imwrite(str(root / "labels" / "small-label.png"), label)
    (root / "index.csv").write_text("index scene split\n0 small train\n")
    image, mask = data.DroneDeployDataset(root, "train", chip_size=128)[0]
    assert image.shape == (128, 128, 3) and mask.shape == (128, 128)
    assert (mask[:100, :150] == 4).all() and (mask[100:] == IGNORE_INDEX).all() and (mask[:, 150:] == IGNORE_INDEX).all()


# --- the network's output grid --------------------------------------------------------------
def test_logits_are_upsampled_with_pixel_centres_aligned():
    """align_corners=False: the same half-pixel convention as OpenCV's resize and the tiled predictor."""
    torch.manual_seed(0)
    model = build_model("ultra-fast", 4).eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        low = model.classifier(model.decoder(model.backbone(x)))[0].numpy()  # (4, 16, 24)
        full = model(x)[0].numpy()
    resized = np.stack([cv2.resize(c, (96, 64), interpolation=cv2.INTER_LINEAR) for c in low])
    np.testing.assert_allclose(full, resized, atol=1e-4)


# --- INT8 calibration -------------------------------------------------------------------------
def test_int8_calibration_sets_its_ranges_from_the_images_it_is_given(tmp_path):
    """MinMax calibration on images of one constant value gives the input a tiny quantization step;
    calibration on anything else (random noise, say) would not."""
    model = build_model("ultra-fast", 4).eval()
    export.to_onnx(model, tmp_path / "m.onnx", size=64, check=False)
    constant = [(torch.full((2, 3, 64, 64), 0.5), torch.zeros(2, 64, 64, dtype=torch.long))]
    export.quantize_int8(tmp_path / "m.onnx", constant, tmp_path / "m.int8.onnx", max_images=2)
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(tmp_path / "m.int8.onnx").graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    node = next(n for n in graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "image")
    scale = float(inits[node.input[1]])
    assert scale == pytest.approx(0.5 / 255, rel=0.05)  # range [0, 0.5] over 255 steps


# --- found by mutation testing (make mutation): behaviours no test pinned -------------------
def test_confusion_counts_stay_exact_beyond_float32_precision():
    from landinglib.metrics import ConfusionMatrix

    cm = ConfusionMatrix(2)
    big = torch.zeros(1, 4097, 4097, dtype=torch.long)  # 16,785,409 pixels: float32 counts in steps of 2 here
    cm.update(big, big)
    cm.update(torch.zeros(1, 1, 1, dtype=torch.long), torch.zeros(1, 1, 1, dtype=torch.long))
    assert int(cm.matrix[0, 0]) == 4097 * 4097 + 1 and cm.matrix.dtype == torch.int64


def test_scores_of_absent_classes_raise_no_numpy_warnings():
    import warnings

    from landinglib.metrics import scores

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 0/0 for a class that is nowhere must not warn
        s = scores(np.array([[5, 0, 0], [1, 3, 0], [0, 0, 0]]))
    assert s["iou"][2] != s["iou"][2] and s["miou"] == pytest.approx((5 / 6 + 3 / 4) / 2)


def test_comparison_table_has_a_time_column_only_when_times_were_measured():
    from landinglib.metrics import compare

    timed = {"miou": 0.5, "pixel_accuracy": 0.8, "iou": [0.5, float("nan")], "seconds_per_image": 0.0123}
    untimed = {"miou": 0.4, "pixel_accuracy": 0.7, "iou": [0.4, 0.4]}
    table = compare({"net": timed, "baseline": untimed}, ["a", "b"])
    assert table.header == ["model", "mIoU", "pix acc", "a", "b", "ms/img"]
    assert table.rows[0] == ["net", "0.500", "0.800", "0.500", "-", "12.3"] and table.rows[1][-1] == ""
    assert compare({"baseline": untimed}, ["a", "b"]).header == ["model", "mIoU", "pix acc", "a", "b"]


def test_class_files_from_spreadsheets_and_plain_json_lists_read_the_same(tmp_path):
    from landinglib.classes import read_class_file

    (tmp_path / "excel.csv").write_bytes("\ufeffname,r,g,b,landing\nroad,1,2,3,Safe\n".encode("utf-8"))  # with a BOM
    (tmp_path / "list.json").write_text('[{"name": "road", "r": 1, "g": 2, "b": 3, "landing": "Safe"}]')
    a, b = read_class_file(tmp_path / "excel.csv"), read_class_file(tmp_path / "list.json")
    assert a.taxonomy.names == b.taxonomy.names == ("road",) and a.taxonomy.colors == b.taxonomy.colors == ((1, 2, 3),)
    with pytest.raises(FileNotFoundError, match="class file not found: .*none.csv"):
        read_class_file(tmp_path / "none.csv")


class _NotATensor:
    pass


def test_checkpoints_are_read_without_running_pickled_code_and_wrapped_state_dicts_load(tmp_path):
    from landinglib.checkpoint import load_checkpoint

    state = build_model("ultra-fast", 4).state_dict()
    torch.save({"model": state, "format": "landinglib-checkpoint-v1", "extra": _NotATensor()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="cannot read checkpoint"):  # weights_only: arbitrary objects refused
        load_checkpoint(tmp_path / "evil.pt")
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "wrapped.pth")
    loaded = load_checkpoint(tmp_path / "wrapped.pth")
    assert loaded["format"] is None and set(loaded["model"]) == set(state)
