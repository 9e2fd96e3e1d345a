"""Markdown tables from saved ``twinprop bench`` results, for a README or a note.

``twinprop bench --markdown A.json [B.json ...]`` redraws the tables without
timing anything: each cell holds one value per results file, in the order
given ("A / B"), and each file is labelled by its BLAS thread count. A
list first says what each file ran on and how much other work shared its
CPUs; a target's cell also gives the range of the ratio within single
repeats.
"""

import json
from collections.abc import Sequence
from typing import Any

from compare.bench.report import ORDER
from compare.bench.targets import at_matmul_limit, per_repeat_range
from compare.common.errors import ConfigError

COLUMNS = tuple((name, {"numpy_script": "numpy script", "torch_eager": "PyTorch eager"}
                   .get(name, name)) for name in ORDER)


def load_results(paths: Sequence[str]) -> list[dict[str, Any]]:
    """Read bench results files; raise ConfigError naming a file that is not one."""
    results = []
    for path in paths:
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as err:
            raise ConfigError(f"cannot read bench results {path}: {err}; give files written "
                              "by 'twinprop bench --out FILE'") from None
        if not (isinstance(data, dict) and data.get("command") == "twinprop bench"
                and "configs" in data):
            raise ConfigError(f"{path} is not the results of 'twinprop bench' (a profile?); "
                              "give --markdown the files 'twinprop bench --out FILE' wrote")
        results.append(data)
    return results


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _label(results: dict[str, Any]) -> str:
    threads = results["machine"]["numpy_blas_threads"]
    return f"{threads} BLAS thread{'s' if threads != 1 else ''}"


def _run_line(results: dict[str, Any]) -> str:
    """One list item: what a results file ran on, and the other work during its timed runs."""
    m, cfg = results["machine"], results["config"]
    blas = m["blas"]
    torch = f"PyTorch {m['torch']['version']}" if m.get("torch") else "no PyTorch"
    other, stolen = m.get("other_cpus_during_run"), m.get("stolen_cpus_during_run")
    others = ("not measured" if other is None else
              f"{other:.2f} CPUs by other processes, {stolen or 0.0:.2f} stolen")
    return (f"- {_label(results)}: {m['cpu']}, {m['cpu_count']} CPUs; numpy {m['numpy']} on "
            f"{blas.get('name') or 'unknown BLAS'} {blas.get('version') or ''}".rstrip()
            + (f" ({blas['core']})" if blas.get("core") else "")
            + f"; {torch}; median of {cfg['repeats']} repeats; other work during the timed "
            f"runs: {others}")


def markdown_tables(all_results: list[dict[str, Any]]) -> str:
    """The median-seconds table and the targets table (str), one value per results dict."""
    labels = " / ".join(_label(r) for r in all_results)
    keys = [(c["batch_size"], c["dtype"]) for c in all_results[0]["configs"]]
    by_key = [{(c["batch_size"], c["dtype"]): c for c in r["configs"]} for r in all_results]
    lines = ["Runs:", *(_run_line(r) for r in all_results), "",
             f"Median seconds per epoch; each cell is {labels}:", "",
             "| configuration | " + " | ".join(t for _, t in COLUMNS) + " | matmul limit |",
             "|---" * (len(COLUMNS) + 2) + "|"]
    for key in keys:
        cells = []
        for name, _ in COLUMNS:
            values = [(configs.get(key) or {}).get("candidates", {}).get(name)
                      for configs in by_key]
            cells.append(" / ".join(_number(v and v["median"]) for v in values))
        limits = [(configs.get(key) or {}).get("matmul_limit", {}).get("seconds")
                  for configs in by_key]
        cells.append(" / ".join(_number(v) for v in limits))
        lines.append(f"| batch {key[0]}, {key[1]} | " + " | ".join(cells) + " |")

    lines += ["", "Each target: the ratio of median times (met or missed), its range within "
                  "single repeats, and, for a twin against a yardstick, the ratio the twin "
                  "would reach if its step took only its matrix products (the matmul limit).",
              "", "| target | " + " | ".join(_label(r) for r in all_results) + " |",
              "|---" * (len(all_results) + 1) + "|"]
    by_id = [{t["id"]: t for t in r["targets"]} for r in all_results]
    for first in all_results[0]["targets"]:
        cells = []
        for targets, configs in zip(by_id, by_key):
            t = targets.get(first["id"], {"met": None, "value": None})
            verdict = {True: "met", False: "missed", None: "not run"}[t["met"]]
            if t["value"] is None:
                cells.append(verdict)
                continue
            # spread and limit from the saved times (older files lack the fields)
            numerator, denominator = t["ratio"].split("/")
            config = configs[(t["batch_size"], t["dtype"])]
            spread = per_repeat_range(config, numerator, denominator)
            limit = at_matmul_limit(config, numerator, denominator)
            cells.append(f"{t['value']:.2f} ({verdict}"
                         + (f"; {spread[0]:.2f}-{spread[1]:.2f} per repeat" if spread else "")
                         + (f"; at the matmul limit {limit:.2f}" if limit is not None else "")
                         + ")")
        lines.append(f"| {first['text']} ({first['ratio']} {first['comparison']} "
                     f"{first['bound']}) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
