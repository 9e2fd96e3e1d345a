"""The speed goals, checked against a bench run's medians.

Each target is a ratio of two median epoch times compared with a bound; the
ratio is computed from the run, never typed in. A target whose candidates
did not run (e.g. PyTorch not installed) is reported with ``met`` None.

Beside each ratio of a twin to a yardstick (the numpy script, PyTorch) the
results give the same ratio with the twin's time replaced by the matmul
limit's: what the ratio would be if the twin's step cost no more than its
bare matrix products. No implementation on numpy's BLAS gets past it, so a
target beyond it cannot be met by the twin on this machine, only by the
yardstick being slower.
"""

from typing import Any, NamedTuple

from compare.twins import TWINS

Config = dict[str, Any]
"""One summarised (batch size, dtype) of a bench run (see compare.bench.run)."""


class Target(NamedTuple):
    """One goal: ``numerator``'s median time over ``denominator``'s, ``comparison`` ``bound``."""

    id: str
    batch_size: int
    dtype: str
    numerator: str
    denominator: str
    comparison: str             # "<=" or ">="
    bound: float
    text: str


TARGETS = (
    Target("b250_f64_vs_script", 250, "float64", "buffered", "numpy_script", "<=", 0.6,
           "batch 250 float64: buffered twin at most 0.6x a plain numpy backprop script's "
           "time"),
    Target("b250_f64_vs_torch", 250, "float64", "buffered", "torch_eager", "<=", 0.8,
           "batch 250 float64: buffered twin at most 0.8x PyTorch eager's time"),
    Target("b1_f64_torch_over_buffered", 1, "float64", "torch_eager", "buffered", ">=", 6.0,
           "batch 1 float64: buffered twin at least 6x faster than PyTorch eager"),
    Target("b1_f64_vs_script", 1, "float64", "buffered", "numpy_script", "<=", 0.6,
           "batch 1 float64: buffered twin at most 0.6x a plain numpy backprop script's time"),
    Target("b250_f64_vs_limit", 250, "float64", "buffered", "matmul_limit", "<=", 1.3,
           "batch 250 float64: buffered twin at most 1.3x the matmul limit"),
    Target("b250_f32_vs_limit", 250, "float32", "buffered", "matmul_limit", "<=", 1.4,
           "batch 250 float32: buffered twin at most 1.4x the matmul limit"),
    Target("b250_f64_autodiff_vs_buffered", 250, "float64", "autodiff", "buffered", "<=", 1.3,
           "batch 250 float64: autodiff twin within 1.3x of the buffered twin"),
    Target("b250_f32_autodiff_vs_buffered", 250, "float32", "autodiff", "buffered", "<=", 1.3,
           "batch 250 float32: autodiff twin within 1.3x of the buffered twin"),
)

YARDSTICKS = ("numpy_script", "torch_eager")


def target(target_id: str) -> Target:
    """The target called ``target_id`` (KeyError if there is none)."""
    for t in TARGETS:
        if t.id == target_id:
            return t
    raise KeyError(target_id)


def median_of(config: Config, name: str) -> float | None:
    """Median seconds of candidate ``name`` in one summarised configuration, or None."""
    if name == "matmul_limit":
        return float(config["matmul_limit"]["seconds"])
    candidate = config["candidates"].get(name)
    return None if candidate is None else float(candidate["median"])


def seconds_of(config: Config, name: str) -> list[float] | None:
    """Candidate ``name``'s seconds in each repeat (list), or None."""
    if name == "matmul_limit":
        limit = config["matmul_limit"]
        return list(limit["runs"][limit["how"]]["seconds"])
    candidate = config["candidates"].get(name)
    return None if candidate is None else list(candidate["seconds"])


def per_repeat_range(config: Config, numerator: str, denominator: str) -> list[float] | None:
    """[min, max] over repeats of the ratio of two candidates timed in the same repeat.

    The two ran minutes apart at most, so the spread shows how far a verdict
    from the medians could move on a machine whose speed drifts.
    """
    a, b = seconds_of(config, numerator), seconds_of(config, denominator)
    if not a or not b:
        return None
    ratios = [x / y for x, y in zip(a, b)]
    return [min(ratios), max(ratios)]


def at_matmul_limit(config: Config, numerator: str, denominator: str) -> float | None:
    """The ratio of a twin to a yardstick with the twin's median replaced by the matmul limit.

    None when the target is not a twin against a yardstick, or one did not run.
    """
    pair = {numerator, denominator}
    if not (pair & set(TWINS) and pair & set(YARDSTICKS)):
        return None
    a = median_of(config, "matmul_limit" if numerator in TWINS else numerator)
    b = median_of(config, "matmul_limit" if denominator in TWINS else denominator)
    return a / b if a is not None and b is not None else None


def evaluate_targets(configs: list[Config]) -> list[dict[str, Any]]:
    """Check every target that this run's configurations allow.

    Args:
        configs: list of summarised configurations (see compare.bench.run).
    Returns:
        list of dicts: id, text, batch_size, dtype, ratio ("numerator/denominator"),
        value (float or None), comparison, bound, met (bool or None),
        per_repeat_range ([min, max] of the ratio within each repeat, or
        None) and at_matmul_limit (see :func:`at_matmul_limit`).
    """
    by_key = {(c["batch_size"], c["dtype"]): c for c in configs}
    results = []
    for t in TARGETS:
        config = by_key.get((t.batch_size, t.dtype))
        value: float | None = None
        met: bool | None = None
        spread: list[float] | None = None
        at_limit: float | None = None
        if config is not None:
            a, b = median_of(config, t.numerator), median_of(config, t.denominator)
            if a is not None and b is not None:
                value = a / b
                met = value <= t.bound if t.comparison == "<=" else value >= t.bound
                spread = per_repeat_range(config, t.numerator, t.denominator)
                at_limit = at_matmul_limit(config, t.numerator, t.denominator)
        results.append({
            "id": t.id, "text": t.text, "batch_size": t.batch_size, "dtype": t.dtype,
            "ratio": f"{t.numerator}/{t.denominator}", "value": value,
            "comparison": t.comparison, "bound": t.bound, "met": met,
            "per_repeat_range": spread, "at_matmul_limit": at_limit,
        })
    return results
