"""``twinprop bench``: time the twins' training epochs side by side (see compare.bench.run)."""

import argparse
import json
import sys

from compare.atomic import write_json
from compare.bench.autograd_profile import (
    ProfileConfig,
    format_profile,
    profile_autodiff,
)
from compare.bench.blas import blas_threads, require_blas_threads
from compare.bench.machine import OtherWork, machine_info
from compare.bench.markdown import load_results, markdown_tables
from compare.bench.report import format_table
from compare.bench.run import EPOCH_SAMPLES, BenchConfig, run_bench
from compare.cli.app import positive_int


def add_parser(subparsers):
    """Register the bench subcommand."""
    parser = subparsers.add_parser(
        "bench", help="time training epochs of the twins, PyTorch and the matmul limit",
        description="Time SGD epochs of a 784-100-10 tanh network: the manual twin's plain "
                    "path and fast path, the autodiff twin, PyTorch eager (if installed) and "
                    "the bare matrix products, at batch 250 and batch 1 in float64 and "
                    "float32, interleaved; prints medians, min-max, ratios, the targets of "
                    "issue 6 and memory.")
    parser.add_argument("--json", action="store_true",
                        help="print the results as JSON instead of the table")
    parser.add_argument("--out", default=None, metavar="FILE",
                        help="also write the JSON results to FILE (atomically)")
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats and samples (under a minute)")
    parser.add_argument("--repeats", type=positive_int, default=None, metavar="N",
                        help="timed runs of each candidate (default 5, --quick 3)")
    parser.add_argument("--threads", type=positive_int, default=None, metavar="N",
                        help="BLAS threads for numpy, and the same for PyTorch "
                             "(default: as many as numpy's BLAS uses now)")
    parser.add_argument("--no-torch", action="store_true",
                        help="leave PyTorch out even when it is installed")
    parser.add_argument("--markdown", nargs="+", default=None, metavar="RESULTS",
                        help="instead: print Markdown tables from saved --out files "
                             "(one value per file in each cell); times nothing")
    parser.add_argument("--profile-autodiff", action="store_true",
                        help="instead: split one batch-250 step of the autodiff twin into "
                             "its forward pass, each of autograd's derivative rules, and "
                             "tracing, beside the manual twin's fast path")
    # Hidden: shrink the run (tests), and pick configurations.
    parser.add_argument("--samples", type=positive_int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=positive_int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--batch-sizes", type=positive_int, nargs="+", default=None,
                        help=argparse.SUPPRESS)
    parser.add_argument("--dtypes", nargs="+", choices=("float64", "float32"), default=None,
                        help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def config_from_args(args):
    """Build the BenchConfig the options ask for."""
    changes = {"torch": not args.no_torch, "threads": args.threads}
    for option, field in (("repeats", "repeats"), ("samples", "samples"), ("steps", "steps")):
        if getattr(args, option) is not None:
            changes[field] = getattr(args, option)
    if args.batch_sizes:
        changes["batch_sizes"] = tuple(args.batch_sizes)
    if args.dtypes:
        changes["dtypes"] = tuple(args.dtypes)
    return BenchConfig.quick(**changes) if args.quick else BenchConfig(**changes)


def run(args):
    """Run the bench; print the table (or JSON) and write --out."""
    if args.markdown:
        sys.stdout.write(markdown_tables(load_results(args.markdown)))
        return 0
    if args.profile_autodiff:
        return run_profile(args)
    cfg = config_from_args(args)
    print(f"twinprop bench: {len(cfg.batch_sizes) * len(cfg.dtypes)} configurations x "
          f"{cfg.repeats} repeats, epochs of {EPOCH_SAMPLES:,} samples"
          + (" (quick)" if args.quick else ""), file=sys.stderr)
    results = run_bench(cfg, progress=lambda message: print(f"  {message}", file=sys.stderr,
                                                            flush=True))
    if args.out:
        write_json(args.out, results)
    if args.json:
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
    else:
        sys.stdout.write(format_table(results))
        if args.out:
            print(f"results written to {args.out}", file=sys.stderr)
    return 0


def run_profile(args):
    """``--profile-autodiff``: profile the autodiff step for each dtype asked for."""
    require_blas_threads(args.threads)
    changes = {"repeats": args.repeats or (3 if args.quick else 5),
               "steps": args.steps or (15 if args.quick else 40)}
    configs = [ProfileConfig(batch_size=batch, dtype=dtype, **changes)
               for batch in (args.batch_sizes or (250,))
               for dtype in (args.dtypes or ("float64", "float32"))]
    say = lambda message: print(f"  {message}", file=sys.stderr, flush=True)
    machine = machine_info(blas_threads(), None, False)
    others = OtherWork()
    profiles = [profile_autodiff(cfg, say) for cfg in configs]
    machine.update(others.stop())
    results = {"schema": 1, "command": "twinprop bench --profile-autodiff",
               "machine": machine, "profiles": profiles}
    if args.out:
        write_json(args.out, results)
    if args.json:
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(format_profile(p) for p in profiles))
        if args.out:
            print(f"results written to {args.out}", file=sys.stderr)
    return 0
