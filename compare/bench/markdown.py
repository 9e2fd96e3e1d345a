"""Markdown tables from saved ``twinprop bench`` results, for a README or a note.

``twinprop bench --markdown A.json [B.json ...]`` redraws the tables without
timing anything: each cell holds one value per results file, in the order
given ("A / B"), and each file is labelled by its BLAS thread count. A
target's cell also gives the range of the ratio within single repeats.
"""

import json

from compare.bench.targets import per_repeat_range
from compare.common.errors import ConfigError

COLUMNS = (("buffered", "buffered"), ("manual", "manual"), ("autodiff", "autodiff"),
           ("numpy_script", "numpy script"), ("torch_eager", "PyTorch eager"))


def load_results(paths):
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
            raise ConfigError(f"{path} is not the results of 'twinprop bench' (a profile? "
                              "--markdown takes the epoch bench's --out files)")
        results.append(data)
    return results


def _number(value):
    return "-" if value is None else f"{value:.3g}"


def _label(results):
    threads = results["machine"]["numpy_blas_threads"]
    return f"{threads} BLAS thread{'s' if threads != 1 else ''}"


def markdown_tables(all_results):
    """The median-seconds table and the targets table (str), one value per results dict."""
    labels = " / ".join(_label(r) for r in all_results)
    keys = [(c["batch_size"], c["dtype"]) for c in all_results[0]["configs"]]
    by_key = [{(c["batch_size"], c["dtype"]): c for c in r["configs"]} for r in all_results]
    lines = [f"Median seconds per epoch; each cell is {labels}:", "",
             "| configuration | " + " | ".join(t for _, t in COLUMNS) + " | matmul limit |",
             "|---" * (len(COLUMNS) + 2) + "|"]
    for key in keys:
        cells = []
        for name, _ in COLUMNS:
            values = [(configs.get(key) or {}).get("candidates", {}).get(name) for configs in by_key]
            cells.append(" / ".join(_number(v and v["median"]) for v in values))
        limits = [(configs.get(key) or {}).get("matmul_limit", {}).get("seconds")
                  for configs in by_key]
        cells.append(" / ".join(_number(v) for v in limits))
        lines.append(f"| batch {key[0]}, {key[1]} | " + " | ".join(cells) + " |")

    lines += ["", "| target (issue 6) | " + " | ".join(_label(r) for r in all_results) + " |",
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
            # the spread within repeats, from the saved times (older files lack the field)
            numerator, denominator = t["ratio"].split("/")
            spread = per_repeat_range(configs[(t["batch_size"], t["dtype"])],
                                      numerator, denominator)
            cells.append(f"{t['value']:.2f} ({verdict}" + (
                f"; {spread[0]:.2f}-{spread[1]:.2f} per repeat)" if spread else ")"))
        lines.append(f"| {first['text']} ({first['ratio']} {first['comparison']} "
                     f"{first['bound']}) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
