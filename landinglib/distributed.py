"""Several processes, one training run: ``torchrun --nproc_per_node=N -m landinglib train ...``.

torchrun starts N copies of the command and tells each its rank (``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``). Each process joins a process group (``nccl`` on GPUs, ``gloo`` on CPU), trains on
its own shard of every epoch (``DistributedSampler``) with a share of the batch, and
DistributedDataParallel averages the gradients, so N processes take the same optimizer steps as
one. Validation is sharded too and the confusion matrices are summed across ranks; only rank 0
prints, plots and writes checkpoints. With one process every function here does nothing.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from .devices import DeviceUnavailable


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) without a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """True in the process that prints and writes files (rank 0)."""
    return world()[0] == 0


def setup(device: str = "auto") -> torch.device | None:
    """Join the process group when started by torchrun (``WORLD_SIZE`` > 1); returns this
    process's device (its own GPU, or the CPU), or None for an ordinary single-process run."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device != "cpu"
    if use_cuda:
        gpus, here = torch.cuda.device_count(), int(os.environ.get("LOCAL_WORLD_SIZE", local_rank + 1))
        if here > gpus:  # NCCL needs one GPU per process; two ranks on one GPU fail deep inside torch
            raise DeviceUnavailable(f"torchrun started {here} processes on this machine but it has {gpus} GPU(s): "
                                    f"use --nproc_per_node={gpus}, or --device cpu to train on the CPU (gloo)")
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    if not use_cuda:  # N processes share the CPU cores
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // dist.get_world_size()))
    return torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")


def cleanup(success: bool = True) -> None:
    """Leave the process group. After success, wait for every rank first (a rank that leaves while
    another still talks to it can make that one abort at exit). After an error, leave at once: no
    collective, so this process exits and torchrun stops the others instead of them hanging."""
    if dist.is_available() and dist.is_initialized():
        if success:
            dist.barrier()
            dist.destroy_process_group()


def barrier() -> None:
    if world()[1] > 1:
        dist.barrier()


def all_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over all ranks, in place (no-op for one process)."""
    if world()[1] > 1:
        on = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
        moved = tensor.to(on)
        dist.all_reduce(moved, op=dist.ReduceOp.SUM)
        tensor.copy_(moved)
    return tensor


class _Strided(Sampler):
    """Every ``size``-th item from ``rank``: each item is seen once across ranks, no padding."""

    def __init__(self, n: int, rank: int, size: int):
        self.indices = list(range(rank, n, size))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def shard(loader: DataLoader, train: bool, seed: int = 0) -> DataLoader:
    """The same loader, restricted to this rank's share (and batch size / world size for training)."""
    rank, size = world()
    if size == 1:
        return loader
    if train:
        if loader.batch_size % size or loader.batch_size // size < 2:
            raise ValueError(f"batch size {loader.batch_size} must split into {size} processes of at least 2 images "
                             f"(BatchNorm needs 2); use --batch-size {2 * size} or another multiple of {size}")
        sampler = DistributedSampler(loader.dataset, size, rank, shuffle=True, seed=seed, drop_last=True)
        batch = loader.batch_size // size
    else:
        sampler, batch = _Strided(len(loader.dataset), rank, size), loader.batch_size
    return DataLoader(loader.dataset, batch_size=batch, sampler=sampler, drop_last=train,
                      num_workers=loader.num_workers, pin_memory=loader.pin_memory, collate_fn=loader.collate_fn,
                      worker_init_fn=loader.worker_init_fn, generator=loader.generator)


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """DistributedDataParallel around ``model`` (with synchronised BatchNorm on GPUs)."""
    if world()[1] == 1:
        return model
    if device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
