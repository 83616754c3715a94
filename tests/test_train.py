import dataclasses

import pytest
import torch

from landinglib import data, train
from landinglib.model import build_model, load_checkpoint
from landinglib.runtime import set_seed
from landinglib.train import TrainConfig


def _tiny_loaders(udd6_root, batch_size=2):
    return data.make_loaders("udd6", udd6_root, size=32, batch_size=batch_size, num_workers=0)


def test_loop_overfits_a_tiny_batch_on_cpu():
    set_seed(0)
    images = torch.randn(2, 3, 64, 64)
    masks = torch.zeros(2, 64, 64, dtype=torch.long)
    masks[:, :, 32:] = 1
    masks[:, 40:, :] = 2
    masks[0, :4, :4] = 255
    batch = [(images, masks)]
    model = build_model("ultra-fast", 3)
    config = TrainConfig(epochs=60, lr=3e-3, warmup=0.0, progress=False, device="cpu")
    history = train.fit(model, batch, batch, config)
    first, last = history[0]["train_loss"], history[-1]["train_loss"]
    assert last < first / 10, (first, last)
    assert history[-1]["val_miou"] > 0.9


def test_resume_gives_the_same_result_as_an_uninterrupted_run(udd6_root, tmp_path, monkeypatch):
    config = TrainConfig(epochs=3, lr=1e-3, progress=False, device="cpu", out_dir=str(tmp_path / "a"))
    set_seed(0)
    straight = build_model("ultra-fast", 4)
    loaders = _tiny_loaders(udd6_root)
    train.fit(straight, loaders.train, loaders.val, config)

    real_epoch = train.train_one_epoch

    def killed_in_epoch_3(*args, **kwargs):
        if args[-1] == 3:
            raise KeyboardInterrupt("killed")
        return real_epoch(*args, **kwargs)

    config_b = dataclasses.replace(config, out_dir=str(tmp_path / "b"))
    set_seed(0)
    interrupted = build_model("ultra-fast", 4)
    loaders = _tiny_loaders(udd6_root)
    monkeypatch.setattr(train, "train_one_epoch", killed_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        train.fit(interrupted, loaders.train, loaders.val, config_b)
    assert load_checkpoint(tmp_path / "b" / "last.pt")["epoch"] == 2
    monkeypatch.setattr(train, "train_one_epoch", real_epoch)

    resumed = build_model("ultra-fast", 4)  # a new process would start from fresh weights
    loaders = _tiny_loaders(udd6_root)
    history = train.fit(resumed, loaders.train, loaders.val, config_b, resume=True)
    assert [h["epoch"] for h in history] == [1, 2, 3]
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)


def test_checkpoints_record_best_and_last(udd6_root, tmp_path):
    loaders = _tiny_loaders(udd6_root)
    config = TrainConfig(epochs=2, progress=False, device="cpu", out_dir=str(tmp_path))
    history = train.fit(build_model("ultra-fast", 4), loaders.train, loaders.val, config, class_names=list("abcd"))
    best, last = load_checkpoint(tmp_path / "best.pt"), load_checkpoint(tmp_path / "last.pt")
    assert last["epoch"] == 2 and last["optimizer"]["state"] and last["scheduler"]["last_epoch"] > 0
    assert "scaler" in last and best["optimizer"] is None  # best.pt is for inference, last.pt for resuming
    assert best["metrics"]["val_miou"] == max(h["val_miou"] for h in history)
    assert best["class_names"] == list("abcd") and best["config"]["epochs"] == 2


def test_nan_loss_stops_with_a_clear_message():
    images = torch.full((2, 3, 32, 32), float("nan"))
    batch = [(images, torch.zeros(2, 32, 32, dtype=torch.long))]
    with pytest.raises(FloatingPointError, match="loss became nan at epoch 1, step 0"):
        train.fit(build_model("ultra-fast", 2), batch, batch, TrainConfig(epochs=1, progress=False, device="cpu"))


def test_amp_is_fp16_with_a_scaler_only_on_cuda():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert train.autocast_dtype(cpu, "auto") is None
    assert train.autocast_dtype(cuda, "auto") is torch.float16
    assert train.autocast_dtype(cpu, "bf16") is torch.bfloat16
    assert train.scaler_enabled(cuda, torch.float16) and not train.scaler_enabled(cpu, None)
    assert not train.scaler_enabled(cuda, torch.bfloat16)
    assert not train.make_scaler(cpu, None).is_enabled()
    with pytest.raises(ValueError, match="fp16 autocast needs CUDA"):
        train.autocast_dtype(cpu, "fp16")
    with pytest.raises(ValueError, match="amp must be one of"):
        train.autocast_dtype(cpu, "fp8")
    if torch.cuda.is_available():  # on a GPU machine, the real thing
        assert train.make_scaler(cuda, torch.float16).is_enabled()
    else:
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            train.resolve_device("cuda")


def test_bf16_autocast_path_runs_on_cpu():
    batch = [(torch.randn(2, 3, 32, 32), torch.zeros(2, 32, 32, dtype=torch.long))]
    config = TrainConfig(epochs=1, amp="bf16", progress=False, device="cpu")
    history = train.fit(build_model("ultra-fast", 2), batch, batch, config)
    assert history[0]["train_loss"] > 0


def test_labels_outside_the_model_classes_are_a_clear_error():
    batch = [(torch.randn(2, 3, 32, 32), torch.full((2, 32, 32), 5, dtype=torch.long))]
    with pytest.raises(ValueError, match="labels hold class 5 but the model has 4 classes"):
        train.fit(build_model("ultra-fast", 4), batch, batch, TrainConfig(epochs=1, progress=False, device="cpu"))


def test_validation_without_labelled_pixels_is_a_clear_error():
    batch = [(torch.randn(2, 3, 32, 32), torch.zeros(2, 32, 32, dtype=torch.long))]
    empty = [(torch.randn(2, 3, 32, 32), torch.full((2, 32, 32), 255, dtype=torch.long))]
    with pytest.raises(ValueError, match="no labelled pixels"):
        train.fit(build_model("ultra-fast", 2), batch, empty, TrainConfig(epochs=1, progress=False, device="cpu"))


def test_warmup_then_cosine_schedule():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = train.warmup_cosine(opt, total_steps=100, warmup_steps=10)
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:])) and lrs[-1] < 0.02


def test_evaluate_reports_loss_and_miou(udd6_root):
    loaders = _tiny_loaders(udd6_root)
    result = train.evaluate(build_model("ultra-fast", 4), loaders.val, 4, loss_fn=torch.nn.CrossEntropyLoss(ignore_index=255))
    assert result["loss"] > 0 and 0 <= result["miou"] <= 1 and len(result["iou"]) == 4
    assert sum(map(sum, result["confusion"])) == result["pixels"] > 0


def test_the_progress_bar_does_not_change_the_result(udd6_root, tmp_path, monkeypatch):
    """A tqdm bar must only watch: with and without it, the same batches and the same weights."""
    monkeypatch.delenv("LANDINGLIB_FAST", raising=False)  # fast mode (the tests) switches bars off
    monkeypatch.delenv("LANDINGLIB_PROGRESS", raising=False)
    histories = []
    for progress in (False, True):
        set_seed(0)
        model = build_model("ultra-fast", 4)
        loaders = _tiny_loaders(udd6_root)
        config = TrainConfig(epochs=2, lr=1e-3, progress=progress, device="cpu", out_dir=str(tmp_path / str(progress)))
        histories.append([h["train_loss"] for h in train.fit(model, loaders.train, loaders.val, config)])
    assert histories[0] == histories[1]
