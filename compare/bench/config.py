"""What ``twinprop bench`` times, and the domain of each setting, checked before any timing.

A timed run covers ``samples`` samples at batch sizes > 1 and ``steps``
steps at batch 1, and is scaled to an epoch of :data:`EPOCH_SAMPLES`. Every
setting is checked up front by :func:`check_config`, so a bad one is one
line (a ConfigError) before the data is made, not a failure or an hours-long
run after it.
"""

import os
from dataclasses import dataclass, field
from typing import Any

from compare.bench.script import SCRIPT_ACTIVATIONS
from compare.bench.torch_eager import TORCH_ACTIVATIONS
from compare.common.dtypes import DTYPES
from compare.common.errors import ConfigError
from compare.twins import TWINS

EPOCH_SAMPLES = 60_000
# Beyond this many repeats a run takes hours and the median no longer moves.
MAX_REPEATS = 100


@dataclass(frozen=True)
class BenchConfig:
    """What to time. ``samples`` per timed run at batch > 1, ``steps`` at batch 1."""

    sizes: tuple[int, ...] = (784, 100, 10)
    activation: str = "tanh"
    batch_sizes: tuple[int, ...] = (250, 1)
    dtypes: tuple[str, ...] = DTYPES
    samples: int = EPOCH_SAMPLES
    steps: int = 5000
    repeats: int = 5
    lr: float = 0.01
    seed: int = 0
    threads: int | None = None
    torch: bool = True
    twins: tuple[str, ...] = field(default_factory=lambda: tuple(TWINS))
    script: bool = True

    @classmethod
    def quick(cls, **changes: Any) -> "BenchConfig":
        """Fewer repeats and samples: a first look, noisier than the default."""
        return cls(**{"samples": 15_000, "steps": 1000, "repeats": 3, **changes})


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity where the OS tells it, else all)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def check_threads(threads: int | None) -> None:
    """Refuse a BLAS thread count outside 1 .. the usable CPUs (None: leave as is)."""
    cpus = usable_cpus()
    if threads is not None and not 1 <= threads <= cpus:
        raise ConfigError(f"--threads {threads} is outside 1..{cpus} (the CPUs this process "
                          f"may use); give at most {cpus}, or leave it out")


def check_repeats(repeats: int) -> None:
    """Refuse a repeat count outside 1..MAX_REPEATS."""
    if not 1 <= repeats <= MAX_REPEATS:
        raise ConfigError(f"--repeats {repeats} is outside 1..{MAX_REPEATS}; give 1 to "
                          f"{MAX_REPEATS} (medians settle within a few repeats; default 5)")


def check_dtype_name(dtype: str) -> None:
    """Refuse a dtype that is not one of DTYPES by name (the name keys the results)."""
    if dtype not in DTYPES:
        raise ConfigError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}; "
                          "choose one of those")


def check_config(cfg: BenchConfig) -> None:
    """Refuse, before anything is timed, settings outside their domain.

    Raises:
        ConfigError: one line naming the setting, its domain and the way out.
    """
    check_repeats(cfg.repeats)
    check_threads(cfg.threads)
    if not cfg.batch_sizes:
        raise ConfigError("--batch-sizes is empty; give at least one batch size, e.g. 250 1")
    if not cfg.dtypes or len(set(cfg.dtypes)) != len(cfg.dtypes):
        raise ConfigError(f"--dtypes {' '.join(cfg.dtypes)}: give each of "
                          f"{', '.join(DTYPES)} at most once")
    for dtype in cfg.dtypes:
        check_dtype_name(dtype)
    if len(set(cfg.batch_sizes)) != len(cfg.batch_sizes):
        raise ConfigError(f"--batch-sizes {' '.join(map(str, cfg.batch_sizes))} repeats a size; "
                          "give each batch size once")
    if min(cfg.batch_sizes) < 1:
        raise ConfigError(f"--batch-sizes: {min(cfg.batch_sizes)} is not a batch size; "
                          "give whole numbers from 1")
    if not 1 <= cfg.samples <= EPOCH_SAMPLES:
        raise ConfigError(f"--samples {cfg.samples} is outside 1..{EPOCH_SAMPLES:,} (a timed run "
                          "covers at most an epoch, then is scaled to one); give at most "
                          f"{EPOCH_SAMPLES}")
    if cfg.samples < max(cfg.batch_sizes):
        raise ConfigError(f"--samples {cfg.samples} is below the batch size "
                          f"{max(cfg.batch_sizes)}; give at least that many")
    if 1 in cfg.batch_sizes and not 1 <= cfg.steps <= cfg.samples:
        raise ConfigError(f"--steps {cfg.steps} is outside 1..{cfg.samples} (one sample a step "
                          "at batch 1, out of --samples); give fewer steps or more samples")
    for wanted, known, who in ((cfg.script, SCRIPT_ACTIVATIONS, "the numpy script"),
                               (cfg.torch, TORCH_ACTIVATIONS, "the PyTorch yardstick")):
        if wanted and cfg.activation not in known:
            raise ConfigError(f"{who} has no activation {cfg.activation!r}; "
                              f"choose one of {', '.join(known)}")
    unknown = [t for t in cfg.twins if t not in TWINS]
    if unknown:
        raise ConfigError(f"no twin {unknown[0]!r} to time; choose from {', '.join(TWINS)}")
