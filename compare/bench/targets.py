"""The speed goals, checked against a bench run's medians.

Each target is a ratio of two median epoch times compared with a bound; the
ratio is computed from the run, never typed in. A target whose candidates
did not run (e.g. PyTorch not installed) is reported with ``met`` None.
"""

# (id, batch size, dtype, numerator, denominator, comparison, bound, text)
TARGETS = (
    ("b250_f64_vs_script", 250, "float64", "buffered", "numpy_script", "<=", 0.6,
     "batch 250 float64: buffered twin at most 0.6x a plain numpy backprop script's time"),
    ("b250_f64_vs_torch", 250, "float64", "buffered", "torch_eager", "<=", 0.8,
     "batch 250 float64: buffered twin at most 0.8x PyTorch eager's time"),
    ("b1_f64_torch_over_buffered", 1, "float64", "torch_eager", "buffered", ">=", 6.0,
     "batch 1 float64: buffered twin at least 6x faster than PyTorch eager"),
    ("b1_f64_vs_script", 1, "float64", "buffered", "numpy_script", "<=", 0.6,
     "batch 1 float64: buffered twin at most 0.6x a plain numpy backprop script's time"),
    ("b250_f64_vs_limit", 250, "float64", "buffered", "matmul_limit", "<=", 1.3,
     "batch 250 float64: buffered twin at most 1.3x the matmul limit"),
    ("b250_f32_vs_limit", 250, "float32", "buffered", "matmul_limit", "<=", 1.4,
     "batch 250 float32: buffered twin at most 1.4x the matmul limit"),
    ("b250_f64_autodiff_vs_buffered", 250, "float64", "autodiff", "buffered", "<=", 1.3,
     "batch 250 float64: autodiff twin within 1.3x of the buffered twin"),
    ("b250_f32_autodiff_vs_buffered", 250, "float32", "autodiff", "buffered", "<=", 1.3,
     "batch 250 float32: autodiff twin within 1.3x of the buffered twin"),
)


def median_of(config, name):
    """Median seconds of candidate ``name`` in one summarised configuration, or None."""
    if name == "matmul_limit":
        return config["matmul_limit"]["seconds"]
    candidate = config["candidates"].get(name)
    return None if candidate is None else candidate["median"]


def seconds_of(config, name):
    """Candidate ``name``'s seconds in each repeat (list), or None."""
    if name == "matmul_limit":
        limit = config["matmul_limit"]
        return limit["runs"][limit["how"]]["seconds"]
    candidate = config["candidates"].get(name)
    return None if candidate is None else candidate["seconds"]


def per_repeat_range(config, numerator, denominator):
    """[min, max] over repeats of the ratio of two candidates timed in the same repeat.

    The two ran minutes apart at most, so the spread shows how far a verdict
    from the medians could move on a machine whose speed drifts.
    """
    a, b = seconds_of(config, numerator), seconds_of(config, denominator)
    if not a or not b:
        return None
    ratios = [x / y for x, y in zip(a, b)]
    return [min(ratios), max(ratios)]


def evaluate_targets(configs):
    """Check every target that this run's configurations allow.

    Args:
        configs: list of summarised configurations (see compare.bench.run).
    Returns:
        list of dicts: id, text, batch_size, dtype, ratio ("numerator/denominator"),
        value (float or None), comparison, bound, met (bool or None), and
        per_repeat_range ([min, max] of the ratio within each repeat, or None).
    """
    by_key = {(c["batch_size"], c["dtype"]): c for c in configs}
    results = []
    for tid, batch, dtype, num, den, comparison, bound, text in TARGETS:
        config = by_key.get((batch, dtype))
        a = median_of(config, num) if config else None
        b = median_of(config, den) if config else None
        value = a / b if a is not None and b is not None else None
        met = None
        if value is not None:
            met = value <= bound if comparison == "<=" else value >= bound
        results.append({"id": tid, "text": text, "batch_size": batch, "dtype": dtype,
                        "ratio": f"{num}/{den}", "value": value, "comparison": comparison,
                        "bound": bound, "met": met,
                        "per_repeat_range": (per_repeat_range(config, num, den)
                                             if value is not None else None)})
    return results
