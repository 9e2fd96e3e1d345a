"""``twinprop bench``: time the twins' training epochs side by side (see compare.bench.run).

Every option is checked before anything is timed (compare.bench.config), and
so is the --out file's folder: a bad value is one line and exit status 2.
"""

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from compare.atomic import check_output_file, write_json
from compare.bench.autograd_profile import (
    ProfileConfig,
    check_profile_config,
    format_profile,
    profile_autodiff,
    tracing_cost_per_node_us,
)
from compare.bench.blas import blas_threads, require_blas_threads
from compare.bench.config import (
    EPOCH_SAMPLES,
    MAX_REPEATS,
    BenchConfig,
    check_config,
    check_threads,
)
from compare.bench.machine import OtherWork, machine_info
from compare.bench.markdown import load_results, markdown_tables
from compare.bench.report import format_table
from compare.bench.run import time_bench
from compare.cli.app import positive_int
from compare.common.dtypes import DTYPES
from compare.common.errors import ConfigError


def add_parser(subparsers: Any) -> None:
    """Register the bench subcommand."""
    parser = subparsers.add_parser(
        "bench", help="time SGD epochs of every twin beside a numpy script, PyTorch and "
                      "the bare matrix products",
        description="Time SGD epochs of a 784-100-10 tanh network: every registered twin "
                    "(stepped as the trainer steps it), a plain numpy backprop script, "
                    "PyTorch eager (if installed) and the bare matrix products, at batch "
                    "250 and batch 1 in float64 and float32, interleaved; prints medians, "
                    "min-max, ratios, the speed targets and memory.")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--markdown", nargs="+", default=None, metavar="RESULTS",
                      help="instead: print Markdown tables from saved --out files "
                           "(one value per file in each cell); times nothing")
    mode.add_argument("--profile-autodiff", action="store_true",
                      help="instead: split one batch-250 step of the autodiff twin into "
                           "its forward pass, each of autograd's derivative rules, and "
                           "tracing, beside the buffered twin's step")
    parser.add_argument("--json", action="store_true",
                        help="print the results as JSON instead of the table")
    parser.add_argument("--out", default=None, metavar="FILE",
                        help="also write the JSON results to FILE (atomically)")
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats and samples: a first look, noisier")
    parser.add_argument("--repeats", type=positive_int, default=None, metavar="N",
                        help=f"timed runs of each candidate, 1..{MAX_REPEATS} "
                             "(default 5, --quick 3)")
    parser.add_argument("--threads", type=positive_int, default=None, metavar="N",
                        help="BLAS threads for numpy, and the same for PyTorch, at most the "
                             "CPUs (default: as many as numpy's BLAS uses now)")
    parser.add_argument("--no-torch", action="store_true",
                        help="leave PyTorch out even when it is installed")
    # Hidden: shrink the run (tests), and pick configurations.
    parser.add_argument("--samples", type=positive_int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=positive_int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--batch-sizes", type=positive_int, nargs="+", default=None,
                        help=argparse.SUPPRESS)
    parser.add_argument("--dtypes", nargs="+", choices=DTYPES, default=None,
                        help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    """Build the BenchConfig the options ask for."""
    changes: dict[str, Any] = {"torch": not args.no_torch, "threads": args.threads}
    for option in ("repeats", "samples", "steps"):
        if getattr(args, option) is not None:
            changes[option] = getattr(args, option)
    if args.batch_sizes:
        changes["batch_sizes"] = tuple(args.batch_sizes)
    if args.dtypes:
        changes["dtypes"] = tuple(args.dtypes)
    return BenchConfig.quick(**changes) if args.quick else BenchConfig(**changes)


# The options each mode does not use, and why: given to it, each is refused.
TIMING_OPTIONS = ("--quick", "--repeats", "--threads", "--no-torch", "--samples", "--steps",
                  "--batch-sizes", "--dtypes")
UNUSED_BY_MARKDOWN = {
    **dict.fromkeys(("--out", "--json"), "it only prints tables from saved results; "
                                         "leave out --out and --json"),
    **dict.fromkeys(TIMING_OPTIONS, "it times nothing, it redraws saved results; "
                                    "leave it out"),
}
UNUSED_BY_PROFILE = {
    "--samples": "its data is batch x --steps samples; leave it out",
    "--no-torch": "it never runs PyTorch; leave it out",
}


def refuse_unused(args: argparse.Namespace, mode: str, unused: dict[str, str]) -> None:
    """Refuse the first option given that ``mode`` does not use (see UNUSED_BY_*).

    Raises:
        ConfigError: "OPTION is not used by MODE: why; the way out".
    """
    for option, why in unused.items():
        if getattr(args, option.lstrip("-").replace("-", "_")) not in (None, False):
            raise ConfigError(f"{option} is not used by {mode}: {why}")


def run(args: argparse.Namespace) -> int:
    """Run the bench (or --markdown, or --profile-autodiff); print, and write --out."""
    if args.markdown:
        refuse_unused(args, "--markdown", UNUSED_BY_MARKDOWN)
        sys.stdout.write(markdown_tables(load_results(args.markdown)))
        return 0
    if args.profile_autodiff:
        return run_profile(args)
    cfg = config_from_args(args)
    check_config(cfg)
    if args.out is not None:
        check_output_file(args.out, "--out")
    require_blas_threads(cfg.threads)       # a refusal is then the only line on stderr
    print(f"twinprop bench: {len(cfg.batch_sizes) * len(cfg.dtypes)} configurations x "
          f"{cfg.repeats} repeats, epochs of {EPOCH_SAMPLES:,} samples"
          + (" (quick)" if args.quick else ""), file=sys.stderr)
    results = time_bench(cfg, progress=lambda message: print(f"  {message}", file=sys.stderr,
                                                             flush=True))
    _emit(args, results, format_table)
    return 0


def profile_configs(args: argparse.Namespace) -> list[ProfileConfig]:
    """The ProfileConfigs --profile-autodiff asks for, each checked.

    Raises:
        ConfigError: an option the profile does not take, or one outside its domain.
    """
    refuse_unused(args, "--profile-autodiff", UNUSED_BY_PROFILE)
    repeats: int = args.repeats or (3 if args.quick else 5)
    steps: int = args.steps or (15 if args.quick else 40)
    batch_sizes = args.batch_sizes or (250,)
    dtypes = args.dtypes or DTYPES
    for values, option in ((batch_sizes, "--batch-sizes"), (dtypes, "--dtypes")):
        if len(set(values)) != len(values):
            raise ConfigError(f"{option} {' '.join(map(str, values))} repeats a value; "
                              "give each once")
    configs = [ProfileConfig(batch_size=batch, dtype=dtype, repeats=repeats, steps=steps)
               for batch in batch_sizes for dtype in dtypes]
    for cfg in configs:
        check_profile_config(cfg)
    return configs


def run_profile(args: argparse.Namespace) -> int:
    """``--profile-autodiff``: profile the autodiff step for each dtype asked for."""
    configs = profile_configs(args)
    check_threads(args.threads)
    if args.out is not None:
        check_output_file(args.out, "--out")
    require_blas_threads(args.threads)

    def say(message: str) -> None:
        print(f"  {message}", file=sys.stderr, flush=True)

    machine = machine_info(blas_threads(), None, False, torch_note=(
        "PyTorch not run: --profile-autodiff times the autodiff and buffered twins only"))
    others = OtherWork()
    per_node_us = tracing_cost_per_node_us()      # the same for every configuration
    profiles = [profile_autodiff(cfg, say, per_node_us) for cfg in configs]
    machine.update(others.stop())
    results = {"schema": 1, "command": "twinprop bench --profile-autodiff",
               "machine": machine, "profiles": profiles}
    _emit(args, results, lambda r: "\n".join(format_profile(p) for p in r["profiles"]))
    return 0


def _emit(args: argparse.Namespace, results: dict[str, Any],
          text: Callable[[dict[str, Any]], str]) -> None:
    """Write --out, then print the results as JSON (--json) or as ``text(results)``."""
    if args.out:
        write_json(args.out, results)
    if args.json:
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
    else:
        sys.stdout.write(text(results))
        if args.out:
            print(f"results written to {args.out}", file=sys.stderr)
