"""`landinglib predict` on real flights: bad files, resuming, atomic outputs, any image size."""
import json
import os
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from landinglib import inference, predict_folder
from landinglib.__main__ import main
from landinglib.model import build_model, save_checkpoint

from .conftest import SafeAbove, error_message


def _photo(h, w, seed=0):
    rng = np.random.default_rng(seed)
    image = np.full((h, w, 3), 40, np.uint8)
    image[:, : w // 2] = 220  # bright (Safe) left half
    return np.clip(image.astype(int) + rng.integers(-10, 11, image.shape), 0, 255).astype(np.uint8)


def _flight(folder, n=4, bad_at=None):
    folder.mkdir()
    for i in range(n):
        path = folder / f"frame{i:02d}.jpg"
        if i == bad_at:
            good = cv2.imencode(".jpg", _photo(48, 64, i))[1].tobytes()
            path.write_bytes(good[: len(good) // 3])  # truncated, as a card pulled too early leaves it
        else:
            cv2.imwrite(str(path), _photo(48, 64, i))
    return folder


def _checkpoint(tmp_path):
    return str(save_checkpoint(tmp_path / "landing.pt", build_model("ultra-fast", 4)))


def test_a_bad_file_in_the_middle_is_reported_and_every_other_image_predicted(tmp_path, capsys):
    flight = _flight(tmp_path / "flight", 4, bad_at=1)
    out = tmp_path / "out"
    assert main(["predict", str(flight), "--checkpoint", _checkpoint(tmp_path), "--out", str(out), "--short-side", "32"]) == 1
    for i in (0, 2, 3):
        for suffix in predict_folder.OUTPUT_SUFFIXES:
            assert (out / f"frame{i:02d}{suffix}").is_file()
    assert not list(out.glob("frame01*")) and not list(out.glob(".*tmp"))
    report = json.loads((out / "predict_report.json").read_text())
    assert report["counts"] == {"done": 3, "skipped": 0, "failed": 1}
    failed = [r for r in report["images"] if r["status"] == "failed"]
    assert failed[0]["image"].endswith("frame01.jpg") and "corrupt" in failed[0]["message"]
    printed = capsys.readouterr().out
    assert "FAILED" in printed and "frame01.jpg" in printed and "3 predicted" in printed


def test_a_rerun_skips_complete_images_and_redoes_a_half_written_one(tmp_path):
    flight, out = _flight(tmp_path / "flight", 3), tmp_path / "out"
    model = build_model("ultra-fast", 4)
    options = dict(gsd_m=0.1, drone_radius_m=0.5, short_side=32, say=lambda line: None)
    assert [r.status for r in predict_folder.predict_folder(model, flight, out, **options)] == ["done"] * 3
    stamp = (out / "frame00_overlay.png").stat().st_mtime_ns
    (out / "frame02_sites.json").unlink()  # killed after the pictures, before the JSON
    again = predict_folder.predict_folder(model, flight, out, **options)
    assert [r.status for r in again] == ["skipped", "skipped", "done"]
    assert (out / "frame00_overlay.png").stat().st_mtime_ns == stamp and (out / "frame02_sites.json").is_file()
    redo = predict_folder.predict_folder(model, flight, out, overwrite=True, **options)
    assert [r.status for r in redo] == ["done"] * 3 and (out / "frame00_overlay.png").stat().st_mtime_ns != stamp


def test_outputs_are_written_whole_or_not_at_all(tmp_path, monkeypatch):
    target = tmp_path / "x.json"
    target.write_bytes(b"old")

    def killed(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(predict_folder.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        predict_folder.write_atomic(target, b"new")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_bounded_prediction_agrees_with_predict_tiled_on_an_ordinary_frame(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (150, 230, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "f.png"), image[..., ::-1])
    torch.manual_seed(0)
    model = build_model("ultra-fast", 4).eval()
    tiled = inference.predict_tiled(model, image, scale=inference.scale_for(image.shape, 64)).argmax(0)
    bounded = inference.predict_bounded(model, tmp_path / "f.png", short_side=64)
    assert bounded.working_scale == 1.0 and bounded.working_image.shape == image.shape
    assert np.mean(bounded.full_mask(strip_rows=7) == tiled) > 0.995  # strips of 7 rows: seams would show


def test_a_large_photo_is_decoded_reduced_and_its_sites_are_in_full_resolution_pixels(tmp_path):
    path = tmp_path / "big.jpg"
    cv2.imwrite(str(path), _photo(1600, 2400))
    image, full = inference.read_reduced(path, need_short_side=300)
    assert full == (1600, 2400) and image.shape == (400, 600, 3)  # 1/4: the JPEG decoder did the work
    out = tmp_path / "out"
    out.mkdir()
    predict_folder.predict_file(SafeAbove(), path, out, "big", gsd_m=0.05, drone_radius_m=1.0, short_side=128,
                                working_side=600)
    report = json.loads((out / "big_sites.json").read_text())
    assert report["size"] == [1600, 2400] and report["overlay_scale"] == 0.25 and report["sites"]
    for site in report["sites"]:
        x, y = site["center"]
        assert 0 <= x < 1200 and 0 <= y < 1600  # on the bright half, in full-resolution pixels
        assert site["radius_px"] >= 1.5 / 0.05 * 0.9  # footprint (1 m + 0.5 m margin) at the file's GSD
    with Image.open(out / "big_mask.png") as mask:
        assert mask.size == (2400, 1600) and mask.mode == "P"
        values = np.array(mask)
    assert values[:, :1100].max() == 1 and values[:, 1300:].min() == 3  # Safe left, Danger right, full size
    assert cv2.imread(str(out / "big_overlay.png")).shape == (400, 600, 3)


def test_an_image_too_large_for_the_decoder_fails_with_a_clear_message(tmp_path, monkeypatch):
    cv2.imwrite(str(tmp_path / "a.png"), _photo(40, 50))
    monkeypatch.setattr(inference, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ValueError, match="split it into tiles"):
        inference.predict_bounded(SafeAbove(), tmp_path / "a.png")
    with pytest.raises(ValueError, match="is the GSD right"):  # 40 x 50 px enlarged 2000 times
        inference.predict_bounded(SafeAbove(), tmp_path / "a.png", scale=2000.0)
    (tmp_path / "b.jpg").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="corrupt or not an image"):
        inference.image_size(tmp_path / "b.jpg")


def _added_memory_mb(tmp_path, name, h, w) -> float:
    """How far ``predict_file`` raises the peak memory of a fresh process, for an h x w JPEG."""
    path = tmp_path / f"{name}.jpg"
    cv2.imwrite(str(path), _photo(h, w), [cv2.IMWRITE_JPEG_QUALITY, 80])
    script = textwrap.dedent(f"""
        import sys, torch
        from landinglib import predict_folder
        from landinglib.model import build_model
        from pathlib import Path
        def peak_kb():  # this process's own peak; ru_maxrss would start from the parent's (pytest's) peak
            return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
        model = build_model("ultra-fast", 4).eval()
        with torch.no_grad():  # the first forward pass sets up oneDNN's caches: not part of what we measure
            model(torch.zeros(1, 3, 256, 256))
        before = peak_kb()
        out = Path({str(tmp_path / name)!r}); out.mkdir()
        predict_folder.predict_file(model, Path({str(path)!r}), out, "big", gsd_m=0.03, drone_radius_m=0.5)
        print(before, peak_kb())
    """)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    before_kb, peak_kb = map(int, done.stdout.split())
    return (peak_kb - before_kb) / 1024


def test_memory_stays_bounded_on_a_large_photo(tmp_path):
    """What grows with the image is only the uint8 mask: 6 MP -> 24 MP adds 18 MB of mask, where full-size
    float probabilities would add 4 x 4 x 18 M bytes = 288 MB (and hold 1.5 GB at 24 MP)."""
    small, large = _added_memory_mb(tmp_path, "six", 2000, 3000), _added_memory_mb(tmp_path, "big", 4000, 6000)
    assert large < 450, f"a 24 MP photo added {large:.0f} MB"
    assert large - small < 120, f"6 MP added {small:.0f} MB, 24 MP {large:.0f} MB: memory grows with the image"


def test_a_known_gsd_shows_the_image_at_the_training_gsd(tmp_path):
    assert inference.scale_for_gsd(0.03, 0.24) == pytest.approx(0.125)
    assert inference.scale_for_gsd(0.001, 0.24) == 1 / 64 and inference.scale_for_gsd(5.0, 0.1) == 4.0  # clipped
    with pytest.raises(ValueError, match="positive"):
        inference.scale_for_gsd(0.0, 0.2)
    path = tmp_path / "ortho.png"
    cv2.imwrite(str(path), _photo(400, 640))
    out = tmp_path / "out"
    out.mkdir()
    predict_folder.predict_file(SafeAbove(), path, out, "a", gsd_m=0.05, train_gsd_m=0.2, drone_radius_m=0.5)
    predict_folder.predict_file(SafeAbove(), path, out, "b", drone_radius_m=0.5)  # GSD unknown: the short-side rule
    a, b = (json.loads((out / f"{s}_sites.json").read_text()) for s in "ab")
    assert a["network_scale"] == 0.25 and a["gsd_m"] == 0.05 and a["gsd_assumed"] is False
    assert b["network_scale"] == pytest.approx(256 / 400, abs=2e-3) and b["gsd_m"] == predict_folder.DEFAULT_GSD_M and b["gsd_assumed"] is True


def test_built_in_checkpoints_record_the_gsd_the_network_was_trained_at():
    from landinglib import pipeline

    cfg = pipeline.PipelineConfig()
    assert pipeline.training_gsd(1, cfg) == pytest.approx(0.1 * 512 / 256)  # 10 cm/px chips of 512 px at 256
    assert pipeline.training_gsd(2, cfg) == pytest.approx((0.05 * 0.22) ** 0.5 * 540 / 256)
    assert pipeline.stage_config(2, cfg).gsd_m == pipeline.training_gsd(2, cfg)
    assert pipeline.training_gsd(2, pipeline.PipelineConfig(udd6="/my/udd6")) is None  # a user's data: unknown


def test_reduced_decoding_picks_the_smallest_power_of_two_that_keeps_the_short_side(tmp_path):
    path = tmp_path / "p.jpg"
    cv2.imwrite(str(path), _photo(1600, 2400))
    limit = Image.MAX_IMAGE_PIXELS  # Pillow's guard against decompression bombs, before any call
    for need, shape in ((1600, (1600, 2400)), (801, (1600, 2400)), (800, (800, 1200)), (400, (400, 600)),
                        (1, (200, 300))):  # never below 1/8, the smallest reduction a JPEG decoder offers
        image, full = inference.read_reduced(path, need_short_side=need)
        assert image.shape[:2] == shape and full == (1600, 2400), need
    assert limit and Image.MAX_IMAGE_PIXELS == limit  # lifted for reading a header only, then put back
    assert inference.image_size(path) == (1600, 2400) and Image.MAX_IMAGE_PIXELS == limit


def test_size_limits_are_inclusive_and_their_messages_give_the_megapixels(tmp_path, monkeypatch):
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), _photo(1000, 1500))
    monkeypatch.setattr(inference, "MAX_IMAGE_PIXELS", 1000 * 1500)
    assert inference.read_reduced(path, 10)[1] == (1000, 1500)  # exactly the limit is fine
    monkeypatch.setattr(inference, "MAX_IMAGE_PIXELS", 1_000_000)
    assert error_message(lambda: inference.read_reduced(path, 10), ValueError) == (
        f"{path} is 1500 x 1000 = 2 MP, more than the 1 MP an image decoder here can hold: "
        "split it into tiles first")
    monkeypatch.setattr(inference, "MAX_NETWORK_PIXELS", 3_000_000)
    assert error_message(lambda: inference.predict_bounded(SafeAbove(), path, scale=1.5), ValueError) == (  # 3.4 MP
        f"{path} at scale 1.5 would be 3 MP for the network (at most 3 MP): is the GSD right?")


def test_bounded_prediction_passes_flip_tta_on(tmp_path):
    class Asymmetric(nn.Module):
        num_classes = 2

        def __init__(self):
            super().__init__()
            self.unused = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            ramp = torch.linspace(-3, 3, x.shape[-1]).expand(x.shape[0], 1, x.shape[-2], x.shape[-1])
            return torch.cat([ramp, -ramp], 1)
    cv2.imwrite(str(tmp_path / "a.png"), _photo(64, 96))
    plain = inference.predict_bounded(Asymmetric(), tmp_path / "a.png", short_side=64).probs
    flipped = inference.predict_bounded(Asymmetric(), tmp_path / "a.png", short_side=64, flip_tta=True).probs
    assert not np.allclose(plain, flipped)  # a model that is not flip-equivariant: the averaged flips differ


def test_the_network_takes_exactly_its_limit_and_the_refusal_rounds_the_megapixels(tmp_path, monkeypatch):
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), _photo(655, 1000))
    message = f"{path} at scale 10 would be 66 MP for the network (at most 64 MP): is the GSD right?"
    assert error_message(lambda: inference.predict_bounded(SafeAbove(), path, scale=10.0), ValueError) == message
    small = tmp_path / "b.png"
    cv2.imwrite(str(small), _photo(48, 64))
    monkeypatch.setattr(inference, "MAX_NETWORK_PIXELS", 48 * 64)
    assert inference.predict_bounded(SafeAbove(), small, scale=1.0).probs.shape == (4, 48, 64)  # exactly the limit


def test_the_limits_in_the_refusals_are_millions_of_pixels_rounded_to_the_nearest(tmp_path, monkeypatch):
    """A limit of 3,500,000 px reads as 4 MP (3.5 rounded), in both refusals; only the header of the file is read."""
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), np.zeros((2000, 2500), np.uint8))  # 5 MP
    monkeypatch.setattr(inference, "MAX_IMAGE_PIXELS", 3_500_000)
    assert error_message(lambda: inference.read_reduced(path, 10), ValueError) == (
        f"{path} is 2500 x 2000 = 5 MP, more than the 4 MP an image decoder here can hold: "
        "split it into tiles first")
    monkeypatch.setattr(inference, "MAX_NETWORK_PIXELS", 3_500_000)
    assert error_message(lambda: inference.predict_bounded(SafeAbove(), path, scale=1.0), ValueError) == (
        f"{path} at scale 1 would be 5 MP for the network (at most 4 MP): is the GSD right?")
