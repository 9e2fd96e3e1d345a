"""The readable table ``twinprop bench`` prints, built from the results dict."""

from typing import Any

from compare.twins import TWINS

Results = dict[str, Any]

# the twins (the buffered twin, which the targets measure, first), then the yardsticks
ORDER = ("buffered", *[name for name in TWINS if name != "buffered"],
         "numpy_script", "torch_eager")
# A 1-minute load average from this much on means other work shared the CPUs
# (used only where the CPUs' own counters are missing).
BUSY_LOAD = 1.0
# Other processes (or the hypervisor) using this many CPUs on average during
# the timed runs make the times noisy.
BUSY_OTHER = 0.2


def _machine_lines(results: Results) -> list[str]:
    m, cfg = results["machine"], results["config"]
    blas = m["blas"]
    blas_text = (f"{blas.get('name') or 'unknown BLAS'} {blas.get('version') or ''}".strip()
                 + (f", {blas['core']} kernels" if blas.get("core") else "")
                 + f", {m['numpy_blas_threads'] if m['numpy_blas_threads'] is not None else '?'}"
                   " threads")
    if blas.get("env"):
        blas_text += ", env " + " ".join(f"{k}={v}" for k, v in blas["env"].items())
    torch = (f"PyTorch {m['torch']['version']} ({m['torch']['threads']} threads)"
             if m["torch"] else m["torch_note"])

    def load(v: list[float] | None) -> str:
        return " ".join(f"{x:.2f}" for x in v) if v else "unknown"

    sizes = "-".join(str(n) for n in cfg["sizes"])
    return [
        f"twinprop bench: {sizes} {cfg['activation']}, seconds per epoch of "
        f"{cfg['epoch_samples']:,} samples, median of {cfg['repeats']} interleaved repeats",
        f"data: {results['data']}",
        f"machine: {m['cpu']}, {m['cpu_count']} CPUs; Python {m['python']}, numpy {m['numpy']} "
        f"on {blas_text}; {torch}",
        f"malloc: {_malloc_text(m.get('malloc'))}",
        f"other work during the timed runs: {_other_text(m)}",
        f"load average (1/5/15 min): before {load(m['load_average_before'])}, "
        f"after {load(m['load_average_after'])}",
    ] + _busy_warning(m)


def _other_text(m: dict[str, Any]) -> str:
    other, stolen = m.get("other_cpus_during_run"), m.get("stolen_cpus_during_run")
    if other is None:
        return "not measured (no /proc/stat)"
    return f"{other:.2f} CPUs by other processes, {stolen or 0.0:.2f} stolen by the hypervisor"


def _malloc_text(malloc: dict[str, Any] | None) -> str:
    """One phrase on compare.malloc's tuning, as the results recorded it."""
    if not malloc:
        return "not recorded"
    if malloc["tuned"]:
        return (f"glibc thresholds fixed (mmap {malloc['mmap_threshold'] >> 20} MiB, "
                f"trim {malloc['trim_threshold'] >> 20} MiB; see compare/malloc.py)")
    return f"left as it is ({malloc['why']})"


def _busy_warning(m: dict[str, Any]) -> list[str]:
    """A line when other work was running: threaded BLAS then waits for busy cores."""
    other, stolen = m.get("other_cpus_during_run"), m.get("stolen_cpus_during_run")
    if other is None:       # no per-machine CPU counters: judge by the load before the run
        before = m["load_average_before"]
        if not before or before[0] < BUSY_LOAD:
            return []
        busy = (f"the machine was busy (load {before[0]:.2f} on {m['cpu_count']} CPUs) "
                "before the run")
    elif max(other, stolen or 0.0) < BUSY_OTHER:
        return []
    else:
        busy = (f"other work took {other:.2f} of {m['cpu_count']} CPUs during the timed runs "
                f"(and the hypervisor stole {stolen or 0.0:.2f})")
    return [f"warning: {busy}; times are noisy, and multithreaded BLAS suffers most "
            "(rerun when idle, or compare with --threads 1)"]


def _config_lines(c: dict[str, Any]) -> list[str]:
    limit = c["matmul_limit"]
    how = ("np.matmul" if limit["how"] == "matmul"
           else "np.matmul, outer product where the inner dimension is 1")
    timed = (f"timed {c['timed_samples']:,} steps, scaled x{c['scale_to_epoch']:.3g} to an epoch"
             if c["batch_size"] == 1 else
             (f"timed {c['timed_samples']:,} samples, scaled x{c['scale_to_epoch']:.3g}"
              if c["scaled"] else "timed whole epochs"))
    lines = [
        "",
        f"batch {c['batch_size']}, {c['dtype']}  ({timed}; {c['flops_per_epoch'] / 1e9:.1f} "
        f"GFLOP per epoch; matmul limit {limit['seconds']:.3f} s = {limit['gflops']:.1f} GFLOP/s "
        f"measured with {how})",
        f"  {'candidate':40s} {'median s':>9s} {'min-max s':>15s} {'x limit':>8s} "
        f"{'% matmul':>8s} {'GFLOP/s':>8s} {'x buffered':>11s}",
    ]
    fast = c["candidates"].get("buffered")
    for name in ORDER:
        cand = c["candidates"].get(name)
        if cand is None:
            continue
        rel = f"{cand['median'] / fast['median']:.2f}" if fast else "-"
        lines.append(
            f"  {cand['label']:40s} {cand['median']:9.3f} "
            f"{cand['min']:7.3f}-{cand['max']:<7.3f} {cand['ratio_to_limit']:8.2f} "
            f"{100 * cand['fraction_of_matmul_throughput']:7.0f}% {cand['gflops']:8.1f} {rel:>11s}")
    return lines


def _target_lines(targets: list[dict[str, Any]]) -> list[str]:
    lines = ["", "targets, from the medians above"]
    for t in targets:
        if t["met"] is None:
            mark, value = "n/a   ", "not measured in this run"
        else:
            mark = "met   " if t["met"] else "MISSED"
            value = f"{t['ratio']} = {t['value']:.2f} (need {t['comparison']} {t['bound']:g})"
            if t.get("per_repeat_range"):
                low, high = t["per_repeat_range"]
                value += f"; per repeat {low:.2f}-{high:.2f}"
            if t.get("at_matmul_limit") is not None:
                value += f"; at the matmul limit {t['at_matmul_limit']:.2f}"
        lines.append(f"  [{mark}] {t['text']}: {value}")
    return lines


def _memory_lines(results: Results) -> list[str]:
    lines = ["", f"memory: peak resident {results['memory']['peak_rss_mb']:.0f} MiB (ru_maxrss); "
                 "growth of resident memory over each candidate's timed epochs after its first:"]
    for c in results["configs"]:
        parts = []
        for name in ORDER:
            cand = c["candidates"].get(name)
            if cand is not None:
                parts.append(f"{name} {cand['rss_growth_after_first_mb']:.1f}")
        lines.append(f"  batch {c['batch_size']}, {c['dtype']}: " + ", ".join(parts) + " MiB")
    return lines


def format_table(results: Results) -> str:
    """Return the bench results as lines of text (a str ending in a newline)."""
    lines = _machine_lines(results)
    for c in results["configs"]:
        lines += _config_lines(c)
    lines += _target_lines(results["targets"])
    lines += _memory_lines(results)
    return "\n".join(lines) + "\n"
