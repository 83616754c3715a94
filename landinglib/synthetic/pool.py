"""Worker processes that draw scenes side by side; each job is seeded on its own, so the files are
the same whatever the number of workers."""
from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import cv2


def generation_workers() -> int:
    """Processes that draw scenes: up to 4 cores; ``$LANDINGLIB_WORKERS=0`` (no worker processes) draws
    them in this process."""
    from ..runtime import workers_from_environment

    override = workers_from_environment()
    return min(4, os.cpu_count() or 1) if override is None else max(1, override)


def pool_map(fn: Callable, jobs: Sequence, workers: int) -> list:
    """``[fn(j) for j in jobs]``, drawn by ``workers`` processes when there are enough jobs."""
    if workers <= 1 or len(jobs) < 4:
        return [fn(j) for j in jobs]
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # inherited by the workers: they share the cores, threads would only compete
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as ex:
            return list(ex.map(fn, jobs, chunksize=1))
    finally:
        cv2.setNumThreads(threads)
