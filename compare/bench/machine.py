"""What a benchmark ran on, and whether anything else ran at the same time.

A shared 2-core machine makes timings noisy, and a threaded BLAS suffers
most: one busy core stalls every product split across both. The load
average says little about the run itself (it still carries the last minute's
work, often the previous benchmark), so :class:`OtherWork` measures, from the
kernel's per-machine CPU counters, how much CPU time processes other than
this one took while the timed runs went on, and how much the hypervisor
stole.
"""

import importlib.metadata
import os
import platform
import time
from typing import Any

import numpy as np

from compare import malloc
from compare.bench.blas import blas_info

# fields of the first line of /proc/stat after "cpu", in clock ticks
_STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def _machine_cpu_seconds() -> tuple[float, float] | None:
    """(busy, stolen) CPU seconds of the whole machine since boot, or None without /proc/stat."""
    try:
        with open("/proc/stat") as f:
            values = dict(zip(_STAT_FIELDS, (int(v) for v in f.readline().split()[1:])))
        hz = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return None
    busy = sum(values.get(k, 0) for k in ("user", "nice", "system", "irq", "softirq"))
    return busy / hz, values.get("steal", 0) / hz


class OtherWork:
    """CPUs used by other processes (and stolen) on average, from creation to :meth:`stop`."""

    def __init__(self) -> None:
        self.wall, self.own = time.perf_counter(), time.process_time()
        self.machine = _machine_cpu_seconds()

    def stop(self) -> dict[str, float | None]:
        """Return {"other_cpus_during_run": float or None, "stolen_cpus_during_run": ...}."""
        wall = time.perf_counter() - self.wall
        own = time.process_time() - self.own
        now = _machine_cpu_seconds()
        if self.machine is None or now is None or wall <= 0:
            return {"other_cpus_during_run": None, "stolen_cpus_during_run": None}
        busy, stolen = (b - a for a, b in zip(self.machine, now))
        # clock ticks are coarse (10 ms): a quiet machine can come out a hair below 0
        return {"other_cpus_during_run": max(busy - own, 0.0) / wall,
                "stolen_cpus_during_run": stolen / wall}


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, or None where the OS has none."""
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def _cpu_model() -> str | None:
    """The CPU's model name, or None where the OS does not say."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _version(distribution: str) -> str | None:
    """Installed version of a distribution, or None (autograd has no __version__)."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info(threads: int | None, torch_desc: dict[str, Any] | None,
                 torch_wanted: bool, torch_note: str | None = None) -> dict[str, Any]:
    """What the timings ran on: CPU, versions, BLAS and its threads, malloc, PyTorch, load.

    ``torch_note`` says why PyTorch did not run, where neither "not
    installed" nor "--no-torch" is the reason.
    """
    return {
        "cpu": _cpu_model(), "cpu_count": os.cpu_count(),
        "python": platform.python_version(), "numpy": np.__version__,
        "autograd": _version("autograd"),
        "blas": blas_info(), "numpy_blas_threads": threads,
        "malloc": dict(malloc.state),
        "torch": torch_desc,
        "torch_note": None if torch_desc else torch_note or (
            "PyTorch not installed (optional extra 'bench')" if torch_wanted else
            "PyTorch left out (--no-torch)"),
        "load_average_before": load_average(),
    }
