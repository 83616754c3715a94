"""Checkpoints: atomic writes, safe reads, a network rebuilt from its file, and weights copied tensor by tensor."""
import os
import re
from pathlib import Path

import pytest
import torch

from landinglib import classes
from landinglib.checkpoint import (CHECKPOINT_FORMAT, LoadReport, WrongClassesError, load_checkpoint, load_model,
                                   load_weights, save_checkpoint, set_safety)
from landinglib.models import UltraFastBiSeNet, build_model
from landinglib.pipeline import PipelineConfig, stage0

from .conftest import error_message, origin_state_dict


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

    monkeypatch.setattr(torch, "save", broken_save)
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
    assert torch.equal(target.backbone[0].weight, source.backbone[0].weight)
    assert torch.equal(target.decoder[4].running_mean, source.decoder[4].running_mean)
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



def test_checkpoint_of_one_architecture_is_refused_by_another(tmp_path):
    path = save_checkpoint(tmp_path / "fast.pt", build_model("fast", 4))
    with pytest.raises(ValueError, match="architecture 'fast'.*build_model\\('fast'\\)"):
        load_weights(build_model("ultra-fast", 4), path)


def test_init_from_a_guide_state_dict_through_the_command_line(tmp_path):
    path = tmp_path / "origin.pth"
    state = origin_state_dict(7)
    torch.save(state, path)
    with pytest.raises(ValueError, match="holds the tensors of 'ultra-fast', not of 'fast'.*--arch ultra-fast"):
        stage0(PipelineConfig(init=str(path)), num_classes=6)  # the default network is fast: say which one fits
    model, report = stage0(PipelineConfig(init=str(path), arch="ultra-fast"), num_classes=6)
    assert len(report.matched) == 36 and sorted(report.new) == ["classifier.bias", "classifier.weight"]
    assert torch.equal(model.backbone[9].weight, state["backbone.9.weight"])


def test_load_model_rebuilds_the_architecture_and_weights_a_checkpoint_holds(tmp_path):
    source = build_model("fast", 4).eval()
    path = save_checkpoint(tmp_path / "fast.pt", source)
    loaded = load_model(path, classes.LANDING)
    assert type(loaded) is type(source) and not loaded.training
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x), source(x))
    six = save_checkpoint(tmp_path / "six.pt", build_model("ultra-fast", 6), class_names=list(classes.DRONEDEPLOY.names))
    with pytest.raises(WrongClassesError, match=r"predicts \['Building'.*not the 4 landing classes"):
        load_model(six, classes.LANDING)
    assert load_model(six).classifier.out_channels == 6  # without a taxonomy, any checkpoint
    bare = tmp_path / "bare.pt"
    torch.save(build_model("ultra-fast", 4).state_dict(), bare)
    assert type(load_model(bare)).__name__ == "UltraFastBiSeNet"


def test_load_report_reads_as_a_short_sentence():
    names = [f"layer{i}.weight" for i in range(6)]
    assert str(LoadReport()) == "matched 0 tensors; new (re-initialised) 0: -; dropped 0: -"
    assert str(LoadReport(matched=names, new=names[:4], dropped=names[:5])) == (
        "matched 6 tensors; new (re-initialised) 4: layer0.weight, layer1.weight, layer2.weight, layer3.weight; "
        "dropped 5: layer0.weight, layer1.weight, layer2.weight, layer3.weight ...")


def test_weights_that_fit_nothing_are_refused_with_the_reason(tmp_path):
    model = build_model("ultra-fast", 4)
    with pytest.raises(ValueError) as err:
        load_weights(model, {"head.weight": torch.zeros(3, 3)})
    assert str(err.value) == ("no tensor of the given weights matches UltraFastBiSeNet: "
                              "is it a checkpoint of another architecture?")
    with pytest.raises(ValueError, match="no tensor of the given weights"):  # a BatchNorm counter alone is no match
        load_weights(model, {"backbone.1.num_batches_tracked": torch.tensor(5)})
    path = tmp_path / "ultra.pth"
    torch.save(build_model("ultra-fast", 4).state_dict(), path)
    with pytest.raises(ValueError) as err:
        load_weights(build_model("fast", 4), path)
    # seen: only the two classifier tensors (same shape in both networks) matched, and the rest was silently random
    assert str(err.value) == (f"{path} holds the tensors of 'ultra-fast', not of 'fast': "
                              "build that model (build_model('ultra-fast'), --arch ultra-fast)")
    checkpoint = save_checkpoint(tmp_path / "fast.pt", build_model("fast", 4))
    with pytest.raises(ValueError) as err:
        load_weights(model, checkpoint)
    assert str(err.value) == (f"{checkpoint} is a checkpoint of architecture 'fast', but the model is 'ultra-fast'; "
                              "build the model with build_model('fast')")


def test_a_checkpoint_dict_and_a_bare_state_dict_load_alike():
    source = build_model("ultra-fast", 4)
    for given in (source.state_dict(), {"model": source.state_dict(), "format": None}):
        target = build_model("ultra-fast", 4)
        report = load_weights(target, given)
        assert not report.new and not report.dropped
        assert all(torch.equal(a, b) for a, b in zip(target.state_dict().values(), source.state_dict().values()))


def test_load_model_counts_classes_of_a_network_without_a_classifier_weight(tmp_path):
    path = save_checkpoint(tmp_path / "acc.pt", build_model("accurate", 6))
    assert "classifier.weight" not in load_checkpoint(path)["model"]
    assert load_model(path).num_classes == 6
    with pytest.raises(WrongClassesError, match="predicts 6 classes, not the 4 landing classes"):
        load_model(path, classes.LANDING)


def test_your_own_network_may_take_the_tensors_that_fit():
    class MyNet(UltraFastBiSeNet):  # not a registered architecture: no refusal by family, only by tensors
        pass

    report = load_weights(MyNet(4), build_model("ultra-fast", 4).state_dict())
    assert len(report.matched) == 38 and not report.new


def test_a_checkpoint_goes_into_new_nested_folders_via_a_hidden_temporary_file_beside_it(tmp_path, monkeypatch):
    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (replaced.append((Path(src), Path(dst))), real_replace(src, dst)))
    target = tmp_path / "a" / "b" / "best.pt"
    save_checkpoint(target, torch.nn.Conv2d(3, 2, 1))  # any module: a network without num_classes too
    (src, dst), = replaced
    assert dst == target and src.parent == target.parent  # same folder, so the rename is atomic
    assert src.name.startswith(".best.pt.") and src.name.endswith(".tmp")  # hidden, and says what it is
    state = load_checkpoint(target)
    assert state["num_classes"] is None and state["scaler"] is None and state["epoch"] == 0


def test_the_scaler_state_and_a_map_location_are_kept(tmp_path):
    scaler = torch.amp.GradScaler("cpu", init_scale=8.0)
    path = save_checkpoint(tmp_path / "last.pt", build_model("ultra-fast", 4), scaler=scaler)
    assert load_checkpoint(path)["scaler"]["scale"] == 8.0
    on_meta = load_checkpoint(path, map_location="meta")
    assert all(t.device.type == "meta" for t in on_meta["model"].values())


def test_files_that_are_not_checkpoints_or_state_dicts_are_refused_by_name(tmp_path):
    for name, content in (("list.pt", [1, 2]), ("empty.pt", {}), ("mixed.pt", {"a": torch.zeros(1), "b": 3})):
        torch.save(content, tmp_path / name)
        with pytest.raises(ValueError, match=f"^{re.escape(str(tmp_path / name))} is neither a landinglib checkpoint "
                                             "nor a state_dict of tensors$"):
            load_checkpoint(tmp_path / name)
    torch.save({"w": torch.zeros(1)}, tmp_path / "bare.pt")
    assert load_checkpoint(tmp_path / "bare.pt") == {"format": None, "model": {"w": torch.zeros(1)}, "model_name": None}


class _NotATensor:
    pass


def test_checkpoints_are_read_without_running_pickled_code_and_wrapped_state_dicts_load(tmp_path):
    state = build_model("ultra-fast", 4).state_dict()
    torch.save({"model": state, "format": "landinglib-checkpoint-v1", "extra": _NotATensor()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="cannot read checkpoint"):  # weights_only: arbitrary objects refused
        load_checkpoint(tmp_path / "evil.pt")
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "wrapped.pth")
    loaded = load_checkpoint(tmp_path / "wrapped.pth")
    assert loaded["format"] is None and set(loaded["model"]) == set(state)


def test_every_module_left_without_weights_is_re_initialised_however_deep_it_sits():
    """A stage-1 network for 4-band images (RGB + near infrared) and 6 classes, loaded into an RGB network for 4
    classes: the first convolution (inside the backbone) and the classifier both start afresh."""
    torch.manual_seed(0)
    source = build_model("ultra-fast", 6).state_dict()
    source["backbone.0.weight"] = torch.randn(32, 4, 3, 3)
    target = build_model("ultra-fast", 4)
    with torch.no_grad():
        target.backbone[0].weight.fill_(123.0)
        target.classifier.weight.fill_(123.0)
    report = load_weights(target, source)
    assert report.new == ["backbone.0.weight", "classifier.weight", "classifier.bias"]
    assert target.backbone[0].weight.abs().max() < 10 and target.classifier.weight.abs().max() < 10
    assert torch.equal(target.backbone[3].weight, source["backbone.3.weight"])


def test_weights_without_a_recorded_architecture_are_named_by_most_of_their_tensors_classifiers_aside():
    ultra, six = build_model("ultra-fast", 4).state_dict(), build_model("ultra-fast", 6).state_dict()
    fast = build_model("fast", 4)
    named = ("the given weights holds the tensors of 'ultra-fast', not of 'fast': "
             "build that model (build_model('ultra-fast'), --arch ultra-fast)")
    unnamed = "no tensor of the given weights matches FastSegNet: is it a checkpoint of another architecture?"
    one = {"backbone.0.weight": ultra["backbone.0.weight"]}
    assert error_message(lambda: load_weights(fast, one), ValueError) == named  # all (one) of them ultra-fast's
    half = {**one, "foreign.weight": torch.zeros(3)}
    assert error_message(lambda: load_weights(fast, half), ValueError) == unnamed  # half is not most
    most = {**half, "backbone.3.weight": ultra["backbone.3.weight"]}
    assert error_message(lambda: load_weights(fast, most), ValueError) == named
    # a classifier for another class count is ultra-fast's all the same: its shape does not count against it
    other_classes = {n: six[n] for n in ("backbone.0.weight", "classifier.weight", "classifier.bias")}
    assert error_message(lambda: load_weights(fast, other_classes), ValueError) == named


def test_another_tools_checkpoint_is_judged_by_its_tensors_not_by_its_model_name():
    source = build_model("ultra-fast", 4)
    theirs = {"model": source.state_dict(), "model_name": "unet-resnet34", "epoch": 12}  # no landinglib format
    target = build_model("ultra-fast", 4)
    report = load_weights(target, theirs)
    assert not report.new and not report.dropped
    assert torch.equal(target.classifier.weight, source.classifier.weight)


_UNPICKLED = []


def _record_unpickling():
    _UNPICKLED.append(True)
    return "ran"


class _RunsCodeWhenLoaded:
    def __reduce__(self):
        return _record_unpickling, ()


def test_code_inside_a_checkpoint_never_runs_even_where_the_environment_relaxes_torch_load(tmp_path, monkeypatch):
    path = tmp_path / "downloaded.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "model": {}, "surprise": _RunsCodeWhenLoaded()}, path)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # torch's switch to unsafe loading where not asked
    with pytest.raises(ValueError, match=f"^cannot read checkpoint {re.escape(str(path))}: "):
        load_checkpoint(path)
    assert _UNPICKLED == []


def test_an_interrupt_just_after_the_rename_reaches_the_user_as_the_interrupt(tmp_path, monkeypatch):
    real_replace = os.replace

    def replace_then_interrupted(src, dst):  # Ctrl-C lands as the rename returns: the temporary file is gone
        real_replace(src, dst)
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", replace_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "last.pt", build_model("ultra-fast", 4), epoch=5)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["last.pt"] and load_checkpoint(tmp_path / "last.pt")["epoch"] == 5


# --- the rule travels in the checkpoint -------------------------------------------------------------------
def test_the_threshold_saved_with_a_checkpoint_comes_back_on_the_loaded_model(tmp_path):
    net = build_model("ultra-fast", 4)
    saved = save_checkpoint(tmp_path / "a.pt", net, class_names=classes.LANDING.names,
                            safety={"threshold": 0.74, "budget": 0.02})
    assert load_checkpoint(saved)["safety"] == {"threshold": 0.74, "budget": 0.02}
    assert load_model(saved, classes.LANDING).safe_threshold == 0.74
    plain = save_checkpoint(tmp_path / "b.pt", net, class_names=classes.LANDING.names)
    assert load_checkpoint(plain)["safety"] is None and load_model(plain, classes.LANDING).safe_threshold is None
    # the rule can also be set after training: set_safety rewrites the file
    set_safety(plain, {"threshold": 0.8})
    assert load_model(plain, classes.LANDING).safe_threshold == 0.8


def test_set_safety_refuses_a_bare_state_dict_and_a_rule_without_a_threshold_with_clear_messages(tmp_path):
    bare = tmp_path / "bare.pt"
    torch.save(build_model("ultra-fast", 4).state_dict(), bare)
    assert error_message(lambda: set_safety(bare, {"threshold": 0.7}), ValueError) == (
        f"{bare} is a bare state dict: save it as a landinglib checkpoint first")
    saved = save_checkpoint(tmp_path / "a.pt", build_model("ultra-fast", 4))
    assert error_message(lambda: set_safety(saved, {"budget": 0.02}), ValueError) == (
        "safety needs a 'threshold' (a probability in [0, 1], or None for argmax)")
