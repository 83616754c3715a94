import os
import pytest
import torch

from landinglib import model as M
from landinglib.model import UltraFastBiSeNet, build_model, count_parameters, load_checkpoint, load_weights, save_checkpoint


def test_parameter_counts_match_the_design():
    assert count_parameters(UltraFastBiSeNet(4)) == 333_668
    assert count_parameters(UltraFastBiSeNet(7)) == 333_767


def test_no_bias_in_3x3_convs_and_a_biased_classifier():
    model = UltraFastBiSeNet(4)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size for c in convs].count((3, 3)) == 6
    assert all(c.bias is None for c in convs if c.kernel_size == (3, 3))
    assert model.classifier.bias is not None and model.classifier.kernel_size == (1, 1)


@pytest.mark.parametrize("shape", [(2, 3, 256, 256), (1, 3, 96, 160)])
def test_output_has_input_resolution(shape):
    model = build_model("ultra-fast", 4).eval()
    with torch.no_grad():
        out = model(torch.randn(shape))
    assert out.shape == (shape[0], 4, shape[2], shape[3])


def test_receptive_field_and_output_stride():
    assert M.receptive_field(UltraFastBiSeNet(4)) == (33, 4)  # 1 + 2 + 2*2 + 2*4 * 4 convs at stride 4


def test_build_model_rejects_unknown_name():
    with pytest.raises(ValueError, match="unknown architecture 'tiny'"):
        build_model("tiny")


def test_checkpoint_round_trip_keeps_everything(tmp_path):
    model = build_model("ultra-fast", 4)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(1, 3, 32, 32)).sum().backward()
    optimizer.step()
    path = save_checkpoint(tmp_path / "ck" / "best.pt", model, optimizer=optimizer, epoch=3,
                           config={"lr": 1e-3}, class_names=["a", "b", "c", "d"], metrics={"val_miou": 0.5})
    state = load_checkpoint(path)
    assert state["model_name"] == "ultra-fast" and state["epoch"] == 3 and state["num_classes"] == 4
    assert state["class_names"] == ["a", "b", "c", "d"] and state["metrics"]["val_miou"] == 0.5
    assert state["config"] == {"lr": 1e-3} and state["optimizer"]["state"]
    fresh = build_model("ultra-fast", 4)
    fresh.load_state_dict(state["model"])
    for (name, a), b in zip(model.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(a, b), name


def test_crash_during_save_leaves_the_old_checkpoint_intact(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "last.pt", build_model("ultra-fast", 4), epoch=1)
    before = path.read_bytes()

    def broken_save(obj, f, *a, **k):
        f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(M.torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, build_model("ultra-fast", 4), epoch=2)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["last.pt"]  # no temporary file left behind


def test_load_weights_across_7_to_4_classes_replaces_only_the_classifier(tmp_path):
    torch.manual_seed(0)
    source = build_model("ultra-fast", 7)
    path = save_checkpoint(tmp_path / "s1.pt", source)
    target = build_model("ultra-fast", 4)
    with torch.no_grad():
        target.classifier.weight.fill_(123.0)  # must be re-initialised, not kept
    report = load_weights(target, path)
    assert report.new == ["classifier.weight", "classifier.bias"]
    assert report.dropped == ["classifier.weight", "classifier.bias"]
    assert len(report.matched) == len(source.state_dict()) - 2
    assert torch.equal(target.backbone[0][0].weight, source.backbone[0][0].weight)
    assert torch.equal(target.decoder[1][1].running_mean, source.decoder[1][1].running_mean)
    assert target.classifier.weight.shape == (4, 32, 1, 1) and target.classifier.weight.abs().max() < 10
    assert "classifier.weight" in str(report)


def test_load_weights_accepts_a_bare_state_dict_file(tmp_path):
    source = build_model("ultra-fast", 4)
    torch.save(source.state_dict(), tmp_path / "weights.pth")
    target = build_model("ultra-fast", 4)
    report = load_weights(target, tmp_path / "weights.pth")
    assert not report.new and not report.dropped
    assert torch.equal(target.classifier.weight, source.classifier.weight)


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "x.pt", build_model("ultra-fast", 4))
    state = torch.load(path, weights_only=True)
    state["model_name"] = "accurate"
    torch.save(state, path)
    with pytest.raises(ValueError, match="architecture 'accurate'"):
        load_weights(build_model("ultra-fast", 4), path)
    torch.save({"conv.weight": torch.zeros(3, 3)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="no tensor of .* matches"):
        load_weights(build_model("ultra-fast", 4), tmp_path / "other.pth")


def test_missing_or_corrupt_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "none.pt")
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "bad.pt")
