"""How much memory a run needs, estimated from its sizes before anything is allocated.

A network too large for the machine would otherwise end in a MemoryError
or, on Linux, in the kernel killing the process; the estimate lets the CLI
refuse it up front with the numbers instead.
"""

import os
from pathlib import Path

import numpy as np

from compare.common.errors import ConfigError
from compare.train.chunks import rows_within
from compare.train.config import DataSizes, TrainConfig
from compare.train.evaluate import CHUNK_ROWS as EVAL_ROWS
from compare.train.sgd import CHUNK_ROWS as STEP_ROWS

GIB = 2 ** 30
# Parameter-sized arrays alive per twin at a step's peak: the parameters,
# their gradient, lr * gradient, and a chunked batch's gradient sum.
PARAM_COPIES = 4
# Batch-by-width arrays alive per twin during a step (pre-activations,
# activations, the derivative's inputs, the backward pass's, autograd's tape).
STEP_COPIES = 8
# Chunk-by-width arrays alive during an evaluation pass (one twin at a time).
EVAL_COPIES = 3
# The interpreter with numpy, autograd and matplotlib loaded.
BASELINE_BYTES = 200 * 2 ** 20


def estimate_bytes(cfg: TrainConfig, n_twins: int, sizes: DataSizes) -> int:
    """Bytes a run of ``n_twins`` twins under ``cfg`` on data of ``sizes`` needs at its peak.

    Counts the data set (its float copy and the bytes it was decoded from:
    the whole set is loaded even when a subset trains), the initial
    parameters, every twin's parameter-sized and batch-sized arrays, and one
    evaluation pass.
    """
    item = np.dtype(cfg.dtype).itemsize
    widths = [sizes.n_features, *cfg.hidden, sizes.n_classes]
    n_params = sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))
    units = sum(widths[1:])
    n_train = cfg.train_subset or sizes.n_train
    step_rows = min(cfg.batch_size or n_train, rows_within(units, item, STEP_ROWS))
    eval_rows = min(max(n_train, cfg.test_subset or sizes.n_test),
                    rows_within(units, item, EVAL_ROWS))
    data = (sizes.n_train + sizes.n_test) * sizes.n_features * (item + 1)
    per_twin = PARAM_COPIES * n_params * item + STEP_COPIES * step_rows * units * item
    return (BASELINE_BYTES + data + n_params * item + n_twins * per_twin
            + EVAL_COPIES * eval_rows * units * item)


def machine_bytes() -> int:
    """The memory this process may use: the physical memory, or a lower cgroup limit."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return int(total)


def check_memory(cfg: TrainConfig, twins: tuple[str, ...], sizes: DataSizes,
                 available: int | None = None) -> int:
    """Refuse a run whose estimate exceeds the machine's memory; return the estimate (bytes).

    Raises:
        ConfigError: "--hidden ... needs about N GiB; this machine has M GiB" and
        what to make smaller.
    """
    need = estimate_bytes(cfg, len(twins), sizes)
    have = machine_bytes() if available is None else available
    if need > have:
        what = " ".join(f"--hidden {h}" for h in cfg.hidden)
        batch = "full" if cfg.batch_size is None else cfg.batch_size
        raise ConfigError(f"{what} with --batch-size {batch} and {len(twins)} "
                          f"twin{'s' if len(twins) != 1 else ''} needs about "
                          f"{_gib(need)} GiB; this machine has {_gib(have)} GiB; use "
                          f"fewer or narrower hidden layers" +
                          (", or fewer twins" if len(twins) > 1 else ""))
    return need


def _gib(n: int) -> str:
    # Whole GiB in whole-number arithmetic: a float cannot hold every int a width may be.
    return f"{(n + GIB // 2) // GIB}" if n >= 10 * GIB else f"{n / GIB:.1f}"
