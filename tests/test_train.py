import dataclasses
import inspect
import math
import re
import time

import numpy as np
import pytest
import torch

from landinglib import data, devices, evaluation, train
from landinglib.classes import IGNORE_INDEX
from landinglib.model import build_model, load_checkpoint, save_checkpoint
from landinglib.runtime import set_seed
from landinglib.train import TrainConfig

from .conftest import DropoutModel, RecordingModel


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
        if inspect.signature(real_epoch).bind(*args, **kwargs).arguments["epoch"] == 3:
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
    message = ("the loss became nan at epoch 1, step 0: training stopped. Lower the learning rate, check the labels "
               "(classes >= num_classes?) or the inputs; the last good state is in last.pt")
    with pytest.raises(FloatingPointError, match=re.escape(message)):
        train.fit(build_model("ultra-fast", 2), batch, batch, TrainConfig(epochs=1, progress=False, device="cpu"))


def test_bf16_autocast_path_runs_on_cpu():
    batch = [(torch.randn(2, 3, 32, 32), torch.zeros(2, 32, 32, dtype=torch.long))]
    config = TrainConfig(epochs=1, amp="bf16", progress=False, device="cpu")
    history = train.fit(build_model("ultra-fast", 2), batch, batch, config)
    assert history[0]["train_loss"] > 0


def test_labels_outside_the_model_classes_are_a_clear_error():
    for bad in (5, 4):  # 4 classes are 0..3: class 4 is already outside
        batch = [(torch.randn(2, 3, 32, 32), torch.full((2, 32, 32), bad, dtype=torch.long))]
        message = f"labels hold class {bad} but the model has 4 classes (wrong target taxonomy or checkpoint?)"
        with pytest.raises(ValueError, match=re.escape(message)):
            train.fit(build_model("ultra-fast", 4), batch, batch, TrainConfig(epochs=1, progress=False, device="cpu"))


def test_validation_without_labelled_pixels_is_a_clear_error():
    batch = [(torch.randn(2, 3, 32, 32), torch.zeros(2, 32, 32, dtype=torch.long))]
    empty = [(torch.randn(2, 3, 32, 32), torch.full((2, 32, 32), 255, dtype=torch.long))]
    with pytest.raises(ValueError, match="^the validation set has no labelled pixels: mIoU cannot choose a checkpoint$"):
        train.fit(build_model("ultra-fast", 2), batch, empty, TrainConfig(epochs=1, progress=False, device="cpu"))


def _learning_rates(total_steps, warmup_steps, steps) -> list[float]:
    """``warmup_cosine``'s factor before each of ``steps`` optimizer steps (base learning rate 1)."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = train.warmup_cosine(opt, total_steps=total_steps, warmup_steps=warmup_steps)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def test_warmup_then_cosine_schedule():
    lrs = _learning_rates(total_steps=100, warmup_steps=10, steps=100)
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:])) and lrs[-1] < 0.02


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


# --- the loop's contract, pinned with a model whose every loss the test can compute itself -----------
def _batches(sizes, num_classes=3, side=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for n in sizes:
        masks = torch.randint(0, num_classes, (n, side, side), generator=g)
        masks[:, 0, :2] = 255  # every batch holds ignored pixels
        out.append((torch.randn(n, 3, side, side, generator=g), masks))
    return out


def _frozen(**kw):  # lr 0: the weights never move, so every loss can be recomputed after training
    return TrainConfig(lr=0.0, warmup=0.0, progress=False, device="cpu", **kw)


def _losses(model, batches, weights=None) -> list[float]:
    """The loss of each batch, recomputed: cross-entropy, optionally class-weighted, ignoring 255."""
    loss_fn = torch.nn.CrossEntropyLoss(weight=None if weights is None else torch.tensor(weights), ignore_index=255)
    with torch.no_grad():
        return [loss_fn(model(x), y).item() for x, y in batches]


def test_training_loss_is_the_image_weighted_mean_of_the_batches_class_weighted_and_ignoring_255():
    batches, weights = _batches([2, 3]), [1.0, 4.0, 0.5]
    model = RecordingModel()
    history = train.fit(model, batches, batches, _frozen(epochs=1, class_weights=weights))
    per_batch = _losses(model, batches, weights)
    row = history[0]
    assert row["train_loss"] == pytest.approx((2 * per_batch[0] + 3 * per_batch[1]) / 5, rel=1e-5)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(weights), ignore_index=255)
    expected_val = evaluation.evaluate(model, batches, 3, loss_fn=loss_fn)
    assert row["val_loss"] == pytest.approx(expected_val["loss"], rel=1e-5)
    assert row["val_miou"] == pytest.approx(expected_val["miou"]) and row["val_iou"] == pytest.approx(expected_val["iou"])
    assert row["val_pixel_accuracy"] == pytest.approx(expected_val["pixel_accuracy"])
    assert row["images_per_s"] == pytest.approx(5 / row["train_seconds"], rel=1e-6)
    assert 0 < row["train_seconds"] <= row["epoch_seconds"] < 60 and row["lr"] == 0.0


def test_max_steps_stops_each_epoch_after_that_many_batches():
    batches = _batches([2, 3, 4])
    model = RecordingModel()
    history = train.fit(model, batches, batches[:1], _frozen(epochs=2, max_steps=2))
    first_two = _losses(model, batches[:2])
    assert history[1]["train_loss"] == pytest.approx((2 * first_two[0] + 3 * first_two[1]) / 5, rel=1e-5)


def test_auxiliary_heads_add_their_loss_times_aux_weight():
    batches = _batches([2])
    model = RecordingModel(aux=True)
    history = train.fit(model, batches, batches, _frozen(epochs=1, aux_weight=0.25))
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=255)
    (x, y), = batches
    with torch.no_grad():
        expected = loss_fn(model.head(x), y).item() + 0.25 * loss_fn(model.aux_head(x), y).item()
    assert history[0]["train_loss"] == pytest.approx(expected, rel=1e-5)


def test_cpu_training_runs_under_the_chosen_autocast_and_channels_last():
    batches = _batches([2])
    for amp, autocast_on in (("bf16", True), ("off", False), ("auto", False)):
        model = RecordingModel()
        train.fit(model, batches, batches, _frozen(epochs=1, amp=amp))
        training_call = model.calls[0]  # the first forward is the training step; validation follows
        assert training_call["autocast"] is autocast_on, amp
        if autocast_on:
            assert training_call["dtype"] is torch.bfloat16
        assert training_call["channels_last"] and model.weights_channels_last[0]  # inputs and weights alike
        validation_call = model.calls[-1]  # validation runs under the same autocast and layout
        assert validation_call["autocast"] is autocast_on and validation_call["channels_last"], amp
        assert model.head.weight.is_contiguous(memory_format=torch.channels_last)
    model = RecordingModel()
    train.fit(model, batches, batches, _frozen(epochs=1, channels_last=False))
    assert not model.calls[0]["channels_last"] and not model.calls[-1]["channels_last"]
    assert not any(model.weights_channels_last)


def test_a_one_image_batch_counts_as_one_image():
    batches = _batches([1])
    model = RecordingModel()
    history = train.fit(model, batches, batches, _frozen(epochs=1))
    assert history[0]["train_loss"] == pytest.approx(_losses(model, batches)[0], rel=1e-5)


def test_the_optimizer_uses_the_configured_weight_decay(tmp_path):
    train.fit(RecordingModel(), _batches([1]), _batches([1]), _frozen(epochs=1, weight_decay=0.3, out_dir=str(tmp_path)))
    assert load_checkpoint(tmp_path / "last.pt")["optimizer"]["param_groups"][0]["weight_decay"] == 0.3


def test_each_epoch_prints_its_losses_and_val_miou(capsys):
    history = train.fit(RecordingModel(), _batches([1]), _batches([1]), _frozen(epochs=1))
    row = history[0]
    assert (f"epoch 1/1  train loss {row['train_loss']:.3f}  val loss {row['val_loss']:.3f}  val mIoU {row['val_miou']:.3f}"
            in capsys.readouterr().out)


@pytest.mark.parametrize("warmup, lrs", [
    (0.5, [0.5 * 3 / 3, 0.5 * (0.01 + 0.99 * 0.75), 0.5 * 0.01]),  # 3 warm-up steps of 6; then 1/3 and 3/3 of the decay
    (0.1, [0.5 * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi / 5))), 0.5 * (0.01 + 0.99 * 0.5 * (1 + math.cos(3 * math.pi / 5))),
           0.5 * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi)))]),  # 1 warm-up step of 6, then 1/5, 3/5, 5/5 of the decay
])
def test_the_learning_rate_follows_warmup_then_cosine_over_all_steps_of_the_run(warmup, lrs):
    """Three epochs of two steps (max_steps 2 of 3 batches): the schedule spans all six steps; each row holds
    the learning rate after its epoch's last step."""
    batches = _batches([1, 1, 1])
    history = train.fit(RecordingModel(), batches, batches[:1],
                        TrainConfig(epochs=3, lr=0.5, warmup=warmup, max_steps=2, progress=False, device="cpu"))
    assert [h["lr"] for h in history] == pytest.approx(lrs)


def test_warmup_cosine_values_step_by_step_and_after_the_end():
    lrs = _learning_rates(total_steps=3, warmup_steps=2, steps=6)
    assert lrs == pytest.approx([0.5, 1.0, 1.0, 0.01, 0.01, 0.01])  # one decay step of length 1, then the floor


def test_a_model_that_never_improves_keeps_its_first_epoch_as_best(tmp_path):
    batches = _batches([2])
    calls = []
    history = train.fit(RecordingModel(), batches, batches, _frozen(epochs=3, out_dir=str(tmp_path)),
                        on_epoch=lambda epoch, row: calls.append((epoch, row)))
    assert calls == [(1, history[0]), (2, history[1]), (3, history[2])]
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["epoch"] == 1  # an equal mIoU later is not better
    assert best["metrics"] == {"val_miou": history[0]["val_miou"], "val_loss": history[0]["val_loss"],
                               "val_iou": history[0]["val_iou"]}


def test_a_second_run_into_the_same_folder_starts_afresh_unless_asked_to_resume(tmp_path, capsys):
    batches = _batches([2])
    config = _frozen(epochs=2, out_dir=str(tmp_path))
    train.fit(RecordingModel(), batches, batches, config)
    epochs_run = []
    train.fit(RecordingModel(), batches, batches, config, on_epoch=lambda e, row: epochs_run.append(e))
    assert epochs_run == [1, 2] and "resumed" not in capsys.readouterr().out
    longer = dataclasses.replace(config, epochs=3)
    train.fit(RecordingModel(), batches, batches, longer, resume=True, on_epoch=lambda e, row: epochs_run.append(e))
    assert epochs_run == [1, 2, 3]
    assert f"resumed from {tmp_path / 'last.pt'} after epoch 2" in capsys.readouterr().out


def test_each_epoch_is_reseeded_from_the_run_seed_and_a_distributed_sampler_is_told_the_epoch(monkeypatch):
    class Sampler:
        def __init__(self):
            self.epochs = []

        def set_epoch(self, epoch):
            self.epochs.append(epoch)

    class Loader(list):
        sampler = Sampler()

    loader = Loader(_batches([2]))
    seeds = []
    real = train._reseed_epoch
    monkeypatch.setattr(train, "_reseed_epoch", lambda ld, seed, epoch: (seeds.append((seed, epoch)), real(ld, seed, epoch)))
    train.fit(RecordingModel(), loader, loader, _frozen(epochs=2, seed=7))
    assert seeds == [(7, 1), (7, 2)]  # one process: rank 0 adds nothing to the seed
    assert Loader.sampler.epochs == [1, 2]


def test_a_nan_never_counts_as_the_best_score():
    assert train._or_minus_inf(float("nan")) == float("-inf")
    assert train._or_minus_inf(0.25) == 0.25


def test_the_progress_bar_counts_the_steps_and_shows_loss_and_speed(monkeypatch):
    monkeypatch.delenv("LANDINGLIB_FAST", raising=False)
    monkeypatch.delenv("LANDINGLIB_PROGRESS", raising=False)
    bar = train._progress([1, 2, 3], 2, "epoch 1/4", True)
    assert (bar.total, bar.desc, bar.leave) == (2, "epoch 1/4", False)
    bar.close()
    items = [1, 2]
    assert train._progress(items, 2, "x", False) is items
    monkeypatch.setenv("LANDINGLIB_PROGRESS", "off")
    assert train._progress(items, 2, "x", True) is items
    monkeypatch.delenv("LANDINGLIB_PROGRESS")
    monkeypatch.setenv("LANDINGLIB_FAST", "1")
    assert train._progress(items, 2, "x", True) is items

    monkeypatch.delenv("LANDINGLIB_FAST")
    bars = []
    real = train._progress
    monkeypatch.setattr(train, "_progress", lambda *a: bars.append(real(*a)) or bars[-1])
    batches = _batches([2, 2])
    start = time.perf_counter()
    history = train.fit(RecordingModel(), batches, batches, TrainConfig(epochs=1, lr=0.0, warmup=0.0, device="cpu"))
    elapsed = time.perf_counter() - start
    assert (bars[0].total, bars[0].desc) == (2, "epoch 1/1")
    postfix = dict(item.split("=") for item in bars[0].postfix.split(", "))
    assert float(postfix["loss"]) > 0
    assert float(postfix["img_s"]) >= 4 / elapsed  # images / seconds of this epoch, never more seconds than the run
    assert history[0]["train_loss"] > 0


def test_the_bar_shows_each_steps_loss_and_speed_without_forcing_a_redraw(monkeypatch):
    """The postfix is updated at every step, and tqdm redraws at its own pace (here never: its interval is endless),
    so a fast loop does not spend its time redrawing a notebook widget."""
    monkeypatch.delenv("LANDINGLIB_FAST", raising=False)
    monkeypatch.delenv("LANDINGLIB_PROGRESS", raising=False)
    bars, redraws, postfixes = [], [], []
    real = train._progress

    def patient_bar(*args):
        bar = real(*args)
        bar.mininterval = float("inf")
        real_refresh, real_set_postfix = bar.refresh, bar.set_postfix
        bar.refresh = lambda *a, **k: (redraws.append(bar.n), real_refresh(*a, **k))[1]
        bar.set_postfix = lambda *a, **k: (real_set_postfix(*a, **k), postfixes.append(bar.postfix))[0]
        bars.append(bar)
        return bar

    monkeypatch.setattr(train, "_progress", patient_bar)
    train.fit(RecordingModel(), _batches([2, 2, 2]), _batches([2]), TrainConfig(epochs=1, lr=0.0, device="cpu"))
    assert len(postfixes) == 3 and all(p.startswith("img_s=") and ", loss=" in p for p in postfixes)
    assert redraws == []


def test_reseeding_makes_an_epochs_batches_a_function_of_seed_and_epoch(udd6_root):
    """Same (seed, epoch): the same shuffled, augmented batches; another seed or epoch: others."""
    def first_batch(seed, epoch):
        loader = _tiny_loaders(udd6_root).train  # shuffled, augmented in this process
        train._reseed_epoch(loader, seed, epoch)
        return next(iter(loader))
    a = first_batch(0, 1)
    assert all(torch.equal(x, y) for x, y in zip(a, first_batch(0, 1)))
    for other in (first_batch(7, 1), first_batch(0, 2)):
        assert not torch.equal(a[0], other[0])



def test_integer_class_weights_weigh_the_loss_like_the_same_floats():
    batches = _batches([2, 3])
    model = RecordingModel()
    history = train.fit(model, batches, batches, _frozen(epochs=1, class_weights=[1, 4, 2]))  # as a JSON file gives them
    per_batch = _losses(model, batches, [1.0, 4.0, 2.0])
    assert history[0]["train_loss"] == pytest.approx((2 * per_batch[0] + 3 * per_batch[1]) / 5, rel=1e-5)


def test_a_model_wrapped_as_distributed_data_parallel_trains_with_the_wrapped_models_classes(tmp_path):
    """Under torchrun ``fit`` hands ``train_one_epoch`` the DistributedDataParallel wrapper, which has no
    ``num_classes`` of its own; here a real wrapper in a one-process gloo group."""
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    try:
        model = RecordingModel()
        net = torch.nn.parallel.DistributedDataParallel(model)
        assert not hasattr(net, "num_classes")
        batches, config = _batches([2]), _frozen(epochs=1)
        optimizer = torch.optim.AdamW(model.parameters(), lr=0.0)
        stats = train.train_one_epoch(net, batches, optimizer, train.warmup_cosine(optimizer, 1, 1),
                                      devices.make_scaler(torch.device("cpu"), None),
                                      torch.nn.CrossEntropyLoss(ignore_index=255), torch.device("cpu"), None, config, 1)
        assert stats["train_loss"] == pytest.approx(_losses(model, batches)[0], rel=1e-5)
        bad = [(batches[0][0], torch.full((2, 8, 8), 3))]  # class 3 of a 3-class model: the check still applies
        with pytest.raises(ValueError, match="labels hold class 3 but the model has 3 classes"):
            train.train_one_epoch(net, bad, optimizer, train.warmup_cosine(optimizer, 1, 1),
                                  devices.make_scaler(torch.device("cpu"), None),
                                  torch.nn.CrossEntropyLoss(ignore_index=255), torch.device("cpu"), None, config, 1)
    finally:
        dist.destroy_process_group()


def test_the_run_seed_and_the_epoch_draw_the_models_own_randomness():
    batches = _batches([2])

    def train_losses(seed):
        torch.manual_seed(0)  # the same initial weights every time; lr 0 keeps them
        return [h["train_loss"] for h in train.fit(DropoutModel(), batches, batches, _frozen(epochs=2, seed=seed))]
    losses = train_losses(0)
    assert train_losses(0) == losses and losses[0] != losses[1]  # reproducible; each epoch its own dropout
    assert train_losses(7)[0] != losses[0]  # another seed, other dropout


def test_a_home_made_loader_without_worker_processes_is_reseeded_too(udd6_root):
    """Any iterable with a ``dataset`` runs its transform in this process unless it says it has workers."""
    dataset = data.make_datasets("udd6", udd6_root, size=32)["train"]

    class Loader:
        def __init__(self):
            self.dataset = dataset

        def __iter__(self):
            return iter([data.pad_collate([dataset[i] for i in range(len(dataset))])])

    def images(seed, epoch):
        loader = Loader()
        train._reseed_epoch(loader, seed, epoch)
        return next(iter(loader))[0]
    first = images(0, 1)
    assert torch.equal(images(0, 1), first) and not torch.equal(images(0, 2), first)


def test_a_run_saved_on_a_gpu_resumes_on_a_cpu_only_machine(tmp_path, monkeypatch):
    batches, config = _batches([2]), _frozen(epochs=1, out_dir=str(tmp_path))
    with monkeypatch.context() as gpu:  # every tensor of the checkpoints is written as if it lived on cuda:0
        gpu.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        train.fit(RecordingModel(), batches, batches, config)
    epochs = []
    train.fit(RecordingModel(), batches, batches, dataclasses.replace(config, epochs=2), resume=True,
              on_epoch=lambda epoch, row: epochs.append(epoch))
    assert epochs == [2] and load_checkpoint(tmp_path / "last.pt")["epoch"] == 2


def test_a_dataloader_of_your_own_with_workers_augments_each_epoch_anew(udd6_root):
    """A plain ``DataLoader(num_workers=1)`` without landinglib's ``worker_init_fn``: each epoch's workers start from
    a copy of the transform, so without a reseed in the worker every epoch would repeat the same augmentation."""
    dataset = data.make_datasets("udd6", udd6_root, size=32)["train"]

    def images(seed, epoch):
        loader = torch.utils.data.DataLoader(dataset, batch_size=len(dataset), num_workers=1,
                                             collate_fn=data.pad_collate)
        train._reseed_epoch(loader, seed, epoch)
        return next(iter(loader))[0]
    first = images(0, 1)
    assert torch.equal(images(0, 1), first)  # reproducible
    assert not torch.equal(images(0, 2), first)  # and each epoch its own draw


def test_resuming_a_last_checkpoint_without_history_still_saves_the_best(tmp_path):
    """A ``last.pt`` written before the first epoch (``save_checkpoint`` with no history) resumes: the first epoch
    trained after it is the best so far and goes to ``best.pt``."""
    batches, config = _batches([2]), _frozen(epochs=1, out_dir=str(tmp_path))
    model = RecordingModel()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.0)
    save_checkpoint(tmp_path / "last.pt", model, optimizer=optimizer, scheduler=train.warmup_cosine(optimizer, 1, 1),
                    epoch=0)
    history = train.fit(model, batches, batches, config, resume=True)
    assert [h["epoch"] for h in history] == [1]
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["epoch"] == 1 and best["metrics"]["val_miou"] == history[0]["val_miou"]


class _Draws(torch.utils.data.Dataset):
    """Each item is one draw of its transform's generator: what a random augmentation would use."""

    class Transform:
        def __init__(self):
            self.rng = np.random.default_rng(0)

        def set_random_seed(self, seed):
            self.rng = np.random.default_rng(seed)

    def __init__(self):
        self.transform = self.Transform()

    def __len__(self):
        return 4

    def __getitem__(self, index):
        return torch.tensor(self.transform.rng.random())


def test_the_workers_of_a_dataloader_of_your_own_augment_differently_from_each_other():
    """A plain ``DataLoader(num_workers=2)``: each worker reseeds its copy of the transform, so worker 0's first item
    and worker 1's first item are not augmented alike (a copy reseeded once in the main process would make them so)."""
    loader = torch.utils.data.DataLoader(_Draws(), batch_size=1, num_workers=2)
    train._reseed_epoch(loader, 0, 1)
    draws = [float(x) for x in loader]  # items 0, 2 from worker 0; items 1, 3 from worker 1
    assert draws[0] != draws[1] and draws[2] != draws[3]


def test_a_home_made_loader_that_runs_its_own_workers_is_left_alone():
    """An iterable that says it has workers but has no ``worker_init_fn`` seeds them its own way: reseeding neither
    fails nor gives it a ``worker_init_fn`` it would never call."""
    class Loader:
        dataset, num_workers = _Draws(), 2

    loader = Loader()
    train._reseed_epoch(loader, 0, 1)
    assert not hasattr(loader, "worker_init_fn")


# --- issue 28: the best checkpoint, scored by a validation the test scripts ----------------------------
_VAL_SCORES = [0.2, 0.5, 0.3, 0.5, 0.4, 0.6]  # epoch 2 best; epoch 4 only ties it; epoch 6 beats it


@pytest.mark.parametrize("stops", [(6,), (2, 6), (3, 4, 6), (1, 2, 3, 4, 5, 6)])
def test_best_pt_is_the_epoch_of_highest_validation_miou_also_across_resumes(stops, tmp_path, monkeypatch):
    """best.pt holds the epoch with the highest validation mIoU (the first of a tie), its score and its weights,
    whether the run went straight through or was stopped after any of the ``stops`` epochs and resumed."""
    weights_seen, scores = [], iter(_VAL_SCORES)

    def scripted_validation(model, loader, num_classes, **kwargs):
        weights_seen.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        miou = next(scores)
        return {"pixels": 1, "loss": 1.0 - miou, "miou": miou, "iou": [miou] * num_classes, "pixel_accuracy": miou}

    monkeypatch.setattr(train, "evaluate", scripted_validation)
    batches = _batches([2])
    config = TrainConfig(lr=0.05, warmup=0.0, progress=False, device="cpu", out_dir=str(tmp_path))
    for k, stop in enumerate(stops):
        train.fit(RecordingModel(), batches, batches, dataclasses.replace(config, epochs=stop), resume=k > 0)
        so_far = _VAL_SCORES[:stop]
        epoch = so_far.index(max(so_far)) + 1
        best = load_checkpoint(tmp_path / "best.pt")
        assert (best["epoch"], best["metrics"]["val_miou"]) == (epoch, max(so_far)), (stop, best["epoch"])
        for name, tensor in weights_seen[epoch - 1].items():
            torch.testing.assert_close(best["model"][name], tensor, msg=f"best.pt after epoch {stop}: {name}")
    assert len(weights_seen) == 6  # every epoch validated once
    firsts = [w["head.weight"] for w in weights_seen]
    assert all(not torch.equal(a, b) for i, a in enumerate(firsts) for b in firsts[i + 1:])  # every epoch moved them


def test_probe_epochs_train_only_the_new_classifier_then_everything(udd6_root):
    """LP-FT: during the first probe_epochs only the tensors the stage re-initialised change; afterwards all do."""
    def trained(probe_epochs, epochs):
        set_seed(0)
        model = build_model("ultra-fast", 4)
        model.fresh_parameters = ["classifier.weight", "classifier.bias"]  # what load_weights reports as new
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        loaders = _tiny_loaders(udd6_root)
        config = TrainConfig(epochs=epochs, lr=1e-2, progress=False, device="cpu", probe_epochs=probe_epochs)
        train.fit(model, loaders.train, loaders.val, config)
        return {n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])}

    assert trained(probe_epochs=1, epochs=1) == {"classifier.weight", "classifier.bias"}
    changed = trained(probe_epochs=1, epochs=2)
    assert {"classifier.weight", "classifier.bias", "backbone.0.weight"} <= changed and len(changed) > 4
    assert "backbone.0.weight" in trained(probe_epochs=0, epochs=1)


# --- what a step does to the loss and the optimizer (issue 15) -------------------------------------------------
def _one_batch(labelled_class=1):
    torch.manual_seed(0)
    images = torch.randn(2, 3, 32, 32)
    masks = torch.full((2, 32, 32), IGNORE_INDEX, dtype=torch.long)
    masks[:, 8:16, 8:24] = labelled_class  # a small labelled patch; the rest is ignored
    return images, masks


def test_ignored_pixels_are_left_out_of_the_loss():
    import torch.nn.functional as F

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
    config = train.TrainConfig(epochs=3, lr=3e-3, device="cuda", progress=False, out_dir=str(tmp_path),
                               class_weights=[1.0, 2.0, 1.0, 0.5])  # a weight tensor that must live on the GPU too
    model = build_model("ultra-fast", 4)
    history = train.fit(model, batches, batches, config)
    assert next(model.parameters()).device.type == "cuda" and next(model.parameters()).dtype == torch.float32
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["scaler"] and state["scaler"]["scale"] > 0  # the scaler was active and saved
    assert history[-1]["train_loss"] < history[0]["train_loss"] and all(h["train_loss"] == h["train_loss"] for h in history)


def test_fit_trains_a_network_with_auxiliary_heads_and_leaves_it_in_eval_mode():
    """BiSeNetV2 returns its auxiliary logits in training (tested in test_models.py): fit trains on them all."""
    model = build_model("accurate", 3)
    batch = [(torch.randn(2, 3, 64, 64), torch.randint(0, 3, (2, 64, 64)))]
    history = train.fit(model, batch, batch, train.TrainConfig(epochs=1, progress=False, device="cpu"))
    assert history[0]["train_loss"] > 0 and not model.training

# --- one training step, the one fit, profiling and the speed benchmark take ------------------------------------
def _step_setup(model, scaler=None):
    """Plain SGD (fit's AdamW would hide a wrongly scaled gradient: it divides by the gradients' size) and the
    disabled scaler that fit makes for fp32 on a CPU, unless a ``scaler`` is given."""
    return torch.optim.SGD(model.parameters(), lr=0.1), scaler or devices.make_scaler(torch.device("cpu"), None)


def test_a_training_step_is_the_loss_then_one_optimizer_step_on_its_clipped_gradients():
    """Worked out by hand on the same weights: the loss of the batch (main + aux_weight x auxiliary head), its
    gradients clipped to a total norm of grad_clip, one optimizer step."""
    (x, y), = _batches([2])
    model = RecordingModel(aux=True)
    expected = RecordingModel(aux=True)
    expected.load_state_dict(model.state_dict())
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=255)
    config = _frozen(aux_weight=0.25, grad_clip=0.05)
    optimizer, scaler = _step_setup(model)
    loss = train.training_step(model, x, y, optimizer, scaler, loss_fn, torch.device("cpu"), None, config)

    by_hand = loss_fn(expected.head(x), y) + 0.25 * loss_fn(expected.aux_head(x), y)
    by_hand.backward()
    norm = torch.cat([p.grad.flatten() for p in expected.parameters()]).norm()
    assert norm > 0.05  # so clipping has something to do
    for p in expected.parameters():
        p.grad *= 0.05 / (norm + 1e-6)
    torch.optim.SGD(expected.parameters(), lr=0.1).step()
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-6)
    for (name, a), b in zip(model.named_parameters(), expected.parameters()):
        torch.testing.assert_close(a, b, msg=name)


def test_a_step_with_loss_scaling_on_moves_the_weights_as_one_without():
    """An active GradScaler (what fp16 on CUDA gets; a CPU one here) multiplies the loss, and its gradients are
    divided back before they are clipped and used: the weights come out as from an fp32 step without scaling."""
    batches, config = _batches([2, 2]), _frozen(grad_clip=0.05)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=255)
    models = []
    for scaler in (None, torch.amp.GradScaler("cpu", init_scale=2.0 ** 12)):
        torch.manual_seed(0)
        model = RecordingModel()
        optimizer, scaler = _step_setup(model, scaler)
        for x, y in batches:
            train.training_step(model, x, y, optimizer, scaler, loss_fn, torch.device("cpu"), None, config)
        models.append(model)
    assert scaler.is_enabled() and scaler.get_scale() == 2.0 ** 12  # a scale that no step found too large
    for (name, a), b in zip(models[0].named_parameters(), models[1].parameters()):
        torch.testing.assert_close(a, b, msg=name)


def test_frozen_parameters_are_not_moved_by_a_step_and_the_others_are():
    (x, y), = _batches([2])
    model = RecordingModel(aux=True)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer, scaler = _step_setup(model)
    frozen = [model.head.weight, model.head.bias]
    train.training_step(model, x, y, optimizer, scaler, torch.nn.CrossEntropyLoss(ignore_index=255),
                        torch.device("cpu"), None, _frozen(), frozen=frozen)
    moved = {n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])}
    assert moved == {"aux_head.weight", "aux_head.bias"}


def test_a_parameter_the_forward_pass_did_not_use_is_left_alone_by_the_step():
    """Each step starts from no gradients (not zeros): a head that a step's forward pass skips gets none, so fit's
    AdamW leaves it alone (no momentum from earlier steps, no weight decay) instead of moving it for nothing."""
    (x, y), = _batches([2])
    model = RecordingModel(aux=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    scaler, cpu = devices.make_scaler(torch.device("cpu"), None), torch.device("cpu")
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=255)
    train.training_step(model, x, y, optimizer, scaler, loss_fn, cpu, None, _frozen())  # both heads learn
    aux_before, head_before = model.aux_head.weight.detach().clone(), model.head.weight.detach().clone()
    model.eval()  # this model's forward pass skips its auxiliary head outside training mode
    train.training_step(model, x, y, optimizer, scaler, loss_fn, cpu, None, _frozen())
    assert torch.equal(model.aux_head.weight, aux_before) and not torch.equal(model.head.weight, head_before)


def test_a_non_finite_loss_stops_the_step_before_any_weight_moves_and_says_where():
    x, y = torch.full((2, 3, 8, 8), float("inf")), torch.zeros(2, 8, 8, dtype=torch.long)
    model = RecordingModel()
    before = [p.detach().clone() for p in model.parameters()]
    optimizer, scaler = _step_setup(model)
    with pytest.raises(FloatingPointError, match=r"^the loss became nan at batch 7: training stopped\. "):
        train.training_step(model, x, y, optimizer, scaler, torch.nn.CrossEntropyLoss(), torch.device("cpu"), None,
                            _frozen(), where="batch 7")
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(p.grad is None for p in model.parameters())
    loss = train.forward_loss(model, x, y, torch.nn.CrossEntropyLoss(), torch.device("cpu"), None, 0.4)
    for untold in (lambda: train.training_step(model, x, y, optimizer, scaler, torch.nn.CrossEntropyLoss(),
                                               torch.device("cpu"), None, _frozen()),
                   lambda: train.backward(loss, optimizer, scaler)):  # as profiling calls it
        with pytest.raises(FloatingPointError, match=r"^the loss became nan at this step: training stopped\. "):
            untold()


def test_a_run_with_loss_scaling_saves_the_scalers_state_and_a_resumed_run_continues_from_it(tmp_path, monkeypatch):
    """The scaler's state is part of last.pt and comes back on resume (on CUDA fp16 the scaler is on; here a CPU
    scaler stands in, its scale doubling after every step): a run stopped after epoch 1 and resumed ends with the
    scale of a run that went straight through."""
    scalers = []

    def active_scaler(device, dtype):
        scalers.append(torch.amp.GradScaler("cpu", init_scale=4.0, growth_interval=1))
        return scalers[-1]

    monkeypatch.setattr(train, "make_scaler", active_scaler)
    batches = _batches([2, 2])
    config = _frozen(epochs=2, out_dir=str(tmp_path / "straight"))
    train.fit(RecordingModel(), batches, batches, config)
    straight = load_checkpoint(tmp_path / "straight" / "last.pt")["scaler"]
    assert straight["scale"] == 4.0 * 2 ** 4  # 4 steps

    stopped = dataclasses.replace(config, epochs=1, out_dir=str(tmp_path / "resumed"))
    train.fit(RecordingModel(), batches, batches, stopped)
    assert load_checkpoint(tmp_path / "resumed" / "last.pt")["scaler"]["scale"] == 4.0 * 2 ** 2
    train.fit(RecordingModel(), batches, batches, dataclasses.replace(stopped, epochs=2), resume=True)
    assert load_checkpoint(tmp_path / "resumed" / "last.pt")["scaler"] == straight
