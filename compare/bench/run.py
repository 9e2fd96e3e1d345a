"""``twinprop bench``: time training epochs of the twins side by side, interleaved.

For every (batch size, dtype) the candidates are: every registered twin
(compare.twins.TWINS), each stepped exactly as the trainer steps it; a plain
numpy backprop script as a student writes it (compare.bench.script);
PyTorch eager when installed; and the bare matrix products of the same steps
(the "matmul limit"). One repeat runs every candidate of every
configuration once over the same batches, and within a configuration in
``SLICES`` slices taken in turn (the order rotating from slice to slice), so
that a slow phase of a shared machine, seconds long, falls on all candidates
alike rather than on the one that happened to run then; medians and min-max
are taken over repeats.

All times are seconds per epoch of ``EPOCH_SAMPLES`` samples. A timed run
covers ``samples`` samples at batch sizes > 1 and ``steps`` steps at batch 1
(a batch-1 epoch takes tens of seconds), and is scaled to an epoch; the
scale factor is in the results.
"""

import os
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compare.bench.blas import blas_threads, require_blas_threads
from compare.bench.candidates import Run, flops_per_sample, make_matmul_limit, make_twin
from compare.bench.config import EPOCH_SAMPLES, BenchConfig, check_config
from compare.bench.machine import OtherWork, load_average, machine_info
from compare.bench.script import make_numpy_script
from compare.bench.targets import evaluate_targets
from compare.bench.torch_eager import make_torch_eager, torch_available, torch_info
from compare.data.batches import batch_indices
from compare.twins import TWINS

__all__ = ["EPOCH_SAMPLES", "BenchConfig", "run_bench", "synthetic_data", "time_bench"]

DATA_NOTE = ("synthetic, uniform [0, 1) pixels and uniform random labels "
             "(the time of a step does not depend on the values)")
LABELS = {
    **{name: f"twin {name}" for name in TWINS},
    "numpy_script": "numpy script (textbook)",
    "torch_eager": "PyTorch eager",
    "matmul_limit": "matmul limit (np.matmul only)",
}
# slices of a timed run, taken in turn by the candidates of a configuration
SLICES = 16


def rss_mb() -> float | None:
    """Resident memory of this process now, in MiB (None where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (ru_maxrss)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def synthetic_data(n: int, n_features: int, n_classes: int, dtype: str | np.dtype,
                   seed: int) -> tuple[NDArray[np.floating], NDArray[np.int64]]:
    """Synthetic (n, n_features) pixels in [0, 1) and (n,) labels (see DATA_NOTE)."""
    rng = np.random.default_rng([seed, 0xBE7C])
    X = rng.random((n, n_features), dtype=np.dtype(dtype).type)
    y = rng.integers(0, n_classes, n, dtype=np.int64)
    return X, y


def _candidates(cfg: BenchConfig, X: NDArray[np.floating], y: NDArray[np.int64],
                batch_size: int, torch_on: bool) -> dict[str, Run]:
    """name -> run(batches) for one (batch size, dtype)."""
    args = (X, y, list(cfg.sizes), cfg.activation, cfg.lr, cfg.seed)
    made: dict[str, Run] = {}
    for twin in cfg.twins:
        made[twin] = make_twin(twin, *args, batch_size)
    if cfg.script:
        made["numpy_script"] = make_numpy_script(*args)
    if torch_on:
        made["torch_eager"] = make_torch_eager(*args)
    made["matmul_limit"] = make_matmul_limit(cfg.sizes, X.dtype, batch_size, cfg.seed)
    if batch_size == 1:
        made["matmul_limit_outer"] = make_matmul_limit(cfg.sizes, X.dtype, 1, cfg.seed,
                                                       outer_at_batch_1=True)
    return made


def _timed_batches(cfg: BenchConfig, n: int, batch_size: int,
                   repeat: int) -> tuple[list[NDArray[np.int64]], float]:
    """The index arrays one timed run covers, and the factor that scales it to an epoch."""
    batches = batch_indices(n, batch_size, cfg.seed, repeat)
    if batch_size == 1:
        batches = batches[:cfg.steps]
    timed = sum(len(idx) for idx in batches)
    return batches, EPOCH_SAMPLES / timed


def run_bench(cfg: BenchConfig,
              progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Time every candidate of every configuration, interleaved; return the results dict.

    Args:
        cfg: BenchConfig.
        progress: optional callable(str) for one-line progress messages.
    Returns:
        dict (JSON-ready): ``config``, ``machine``, ``configs`` (one per batch
        size and dtype, with each candidate's times, medians, min-max,
        ratios and memory), ``memory`` and ``targets``.
    Raises:
        ConfigError: a setting outside its domain (compare.bench.config), or
            BLAS threads that cannot be set; before anything is timed.
    """
    check_config(cfg)
    require_blas_threads(cfg.threads)
    return time_bench(cfg, progress)


def time_bench(cfg: BenchConfig,
               progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """:func:`run_bench` for a configuration that check_config has accepted already,
    with the BLAS threads it asks for set (compare.bench.blas.require_blas_threads)."""
    say = progress or (lambda message: None)
    threads = blas_threads()
    torch_on = cfg.torch and torch_available()
    torch_desc = torch_info(threads) if torch_on else None
    machine = machine_info(threads, torch_desc, cfg.torch)

    setups: list[dict[str, Any]] = []
    for dtype in cfg.dtypes:
        X, y = synthetic_data(cfg.samples, cfg.sizes[0], cfg.sizes[-1], dtype, cfg.seed)
        for batch_size in cfg.batch_sizes:
            say(f"preparing batch {batch_size}, {dtype}")
            runs = _candidates(cfg, X, y, batch_size, torch_on)
            warm = batch_indices(cfg.samples, batch_size, cfg.seed, 10**6)[:3]
            for run in runs.values():
                run(warm)                       # first touch of buffers, lazy imports
            setups.append({"batch_size": batch_size, "dtype": dtype, "runs": runs,
                           "times": {name: [] for name in runs},
                           "cpu": {name: [] for name in runs},
                           "rss_after": {name: [] for name in runs},
                           "rss_delta": {name: [] for name in runs}})

    started = time.time()
    others = OtherWork()
    for repeat in range(cfg.repeats):
        for setup in setups:
            batches, scale = _timed_batches(cfg, cfg.samples, setup["batch_size"], repeat)
            setup["scale"] = scale
            setup["timed_samples"] = sum(len(idx) for idx in batches)
            _time_in_slices(setup, batches, scale)
        say(f"repeat {repeat + 1}/{cfg.repeats} done ({time.time() - started:.0f} s)")

    machine["load_average_after"] = load_average()
    machine.update(others.stop())
    configs = [_summarise(cfg, setup) for setup in setups]
    memory = {"peak_rss_mb": peak_rss_mb(),
              "note": "rss_delta_mb: resident memory after minus before each timed run "
                      "(summed over its slices); a flat path adds nothing after its first run"}
    return {"schema": 1, "command": "twinprop bench", "config": _config_dict(cfg),
            "machine": machine, "data": DATA_NOTE, "configs": configs, "memory": memory,
            "targets": evaluate_targets(configs), "seconds_total": time.time() - started}


def _time_in_slices(setup: dict[str, Any], batches: list[NDArray[np.int64]],
                    scale: float) -> None:
    """Run every candidate of ``setup`` over ``batches``, slice by slice in turn.

    Appends to the setup's lists each candidate's wall and CPU seconds over
    all slices, times ``scale``; its resident memory after its last slice;
    and the sum over slices of resident memory after minus before (None
    without /proc).
    """
    runs = setup["runs"]
    names = list(runs)
    wall = dict.fromkeys(names, 0.0)
    cpu = dict.fromkeys(names, 0.0)
    delta: dict[str, float | None] = dict.fromkeys(names, 0.0)
    after: dict[str, float | None] = dict.fromkeys(names)
    bounds = np.linspace(0, len(batches), min(SLICES, len(batches)) + 1).round().astype(int)
    for i, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:])):
        part = batches[start:stop]
        for name in names[i % len(names):] + names[:i % len(names)]:
            before = rss_mb()
            w, c = time.perf_counter(), time.process_time()
            runs[name](part)
            w, c = time.perf_counter() - w, time.process_time() - c
            after[name] = rss_mb()
            wall[name] += w
            cpu[name] += c
            now, was = after[name], delta[name]
            delta[name] = None if now is None or before is None or was is None else (
                was + now - before)
    for name in names:
        setup["times"][name].append(wall[name] * scale)
        setup["cpu"][name].append(cpu[name] * scale)
        setup["rss_after"][name].append(after[name])
        setup["rss_delta"][name].append(delta[name])


def _summarise(cfg: BenchConfig, setup: dict[str, Any]) -> dict[str, Any]:
    """Medians, ranges, ratios and memory of one configuration."""
    B, dtype = setup["batch_size"], setup["dtype"]
    flops = flops_per_sample(cfg.sizes) * EPOCH_SAMPLES
    times = dict(setup["times"])
    limit_runs = {"matmul": times.pop("matmul_limit")}
    if "matmul_limit_outer" in times:
        limit_runs["outer_product_at_inner_dim_1"] = times.pop("matmul_limit_outer")
    limit_how = min(limit_runs, key=lambda k: float(np.median(limit_runs[k])))
    limit = float(np.median(limit_runs[limit_how]))
    candidates: dict[str, dict[str, Any]] = {}
    for name, seconds in times.items():
        median = float(np.median(seconds))
        deltas = [d for d in setup["rss_delta"][name][1:] if d is not None]
        candidates[name] = {
            "label": LABELS[name], "seconds": seconds, "median": median,
            "min": float(min(seconds)), "max": float(max(seconds)),
            "cpu_seconds_median": float(np.median(setup["cpu"][name])),
            "ratio_to_limit": median / limit,
            "fraction_of_matmul_throughput": limit / median,
            "gflops": flops / median / 1e9,
            "rss_after_mb": setup["rss_after"][name],
            "rss_delta_mb": setup["rss_delta"][name],
            "rss_growth_after_first_mb": float(sum(max(d, 0.0) for d in deltas)),
        }
    return {
        "batch_size": B, "dtype": dtype, "epoch_samples": EPOCH_SAMPLES,
        "timed_samples": setup["timed_samples"], "scale_to_epoch": setup["scale"],
        "scaled": setup["scale"] != 1.0,
        "flops_per_epoch": flops,
        "matmul_limit": {"seconds": limit, "how": limit_how,
                         "runs": {k: {"seconds": v, "median": float(np.median(v))}
                                  for k, v in limit_runs.items()},
                         "gflops": flops / limit / 1e9},
        "candidates": candidates,
        "ratios": _ratios(candidates),
    }


def _ratios(candidates: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Ratios of median times between the candidates that ran ("a/b" = a's time over b's)."""
    pairs = [("manual", "buffered"), ("autodiff", "buffered"), ("autodiff", "manual"),
             ("buffered", "numpy_script"), ("manual", "numpy_script"),
             ("buffered", "torch_eager"), ("torch_eager", "buffered"), ("manual", "torch_eager")]
    return {f"{a}/{b}": candidates[a]["median"] / candidates[b]["median"]
            for a, b in pairs if a in candidates and b in candidates}


def _config_dict(cfg: BenchConfig) -> dict[str, Any]:
    """The configuration as JSON-ready data, with the epoch size it was scaled to."""
    d = asdict(cfg)
    d["epoch_samples"] = EPOCH_SAMPLES
    return d
