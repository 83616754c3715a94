"""What a benchmark figure was measured on: CPU model, cores and vector extensions."""
from __future__ import annotations

import os
import platform


def describe() -> str:
    """One line: CPU model, usable cores, and whether it has AVX2 / AVX-512 / AMX (Linux)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name") and model in ("", platform.machine()):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    isa = [name for name, flag in (("AVX2", "avx2"), ("FMA", "fma"), ("AVX-512", "avx512f"), ("AMX", "amx_tile"))
           if flag in flags]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    onednn = os.environ.get("ONEDNN_MAX_CPU_ISA")
    return (f"CPU: {model}, {cores} cores, {'+'.join(isa) or 'no AVX2'}"
            + (f" (oneDNN held to {onednn})" if onednn else ""))
