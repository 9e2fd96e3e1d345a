"""``twinprop reproduce``: redraw the paper's figures with the twins and judge its claims."""

import argparse
import shlex
from pathlib import Path
from typing import Any

from compare.cli.app import positive_int
from compare.reproduce import figures as F
from compare.reproduce.options import MAX_EPOCHS, MAX_SEEDS, Options
from compare.reproduce.pipeline import reproduce
from compare.twins import TWINS, check_twin_names


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``reproduce`` with the ``twinprop`` dispatcher."""
    quick = F.QUICK
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "reproduce",
        help="reproduce the paper's figures 2-7 with the twins and write a report",
        description="Train every configuration the paper's figures need with the twins in "
                    "lockstep (finished runs are cached in OUT/runs and reused), draw the "
                    "figures with their data beside them, set each of the paper's claims "
                    "against the measurements, and write OUT/<scale>/report.md and a "
                    "self-contained report.html. docs/reproduce.md describes the outputs "
                    "and how each verdict is reached.")
    parser.add_argument("--figure", action="append", choices=[*F.FIGURE_NUMBERS, "all"],
                        help="figure to reproduce (repeatable; default all). Figures not "
                             "asked for are still drawn when their runs are cached")
    parser.add_argument("--twins", metavar="A,B,...", default=None,
                        help="the registered twins to train in lockstep, comma-separated "
                             f"(default all: {','.join(TWINS)})")
    parser.add_argument("--quick", action="store_true",
                        help=f"a reduced reproduction: {quick.train_subset:,} training and "
                             f"{quick.test_subset:,} test images, "
                             f"{min(quick.epochs.values())}-{max(quick.epochs.values())} "
                             f"epochs, hidden sizes {', '.join(map(str, quick.hidden_sweep))}")
    parser.add_argument("--seeds", type=positive_int, default=1, metavar="N",
                        help="repeat every configuration with seeds 0..N-1 and draw mean "
                             f"± std bands (1 to {MAX_SEEDS}; default 1)")
    parser.add_argument("--jobs", type=positive_int, default=None, metavar="N",
                        help="local worker processes, at most one per core (default: the "
                             "number of cores)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on the Dask cluster whose scheduler is at ADDRESS, e.g. "
                             "tcp://SCHEDULER-HOST:8786 (needs: pip install twinprop[cluster], "
                             "here and on every worker)")
    parser.add_argument("--out", type=Path, default=Path("twinprop-out"), metavar="DIR",
                        help="output folder (default twinprop-out)")
    parser.add_argument("--data-dir", type=Path, default=None, metavar="DIR",
                        help="folder holding the MNIST files (default: the cache, else fetch)")
    parser.add_argument("--epochs", type=positive_int, default=None, metavar="N",
                        help=f"train every figure for N epochs, 1 to {MAX_EPOCHS} (report goes "
                             "to OUT/custom)")
    parser.add_argument("--train-subset", type=positive_int, default=None, metavar="N",
                        help="use the first N training images, at least the batch size "
                             "(report goes to OUT/custom)")
    parser.add_argument("--test-subset", type=positive_int, default=None, metavar="N",
                        help="use the first N test images (report goes to OUT/custom)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the reproduction; print where the report is."""
    chosen = args.figure or ["all"]
    numbers = F.FIGURE_NUMBERS if "all" in chosen else tuple(
        n for n in F.FIGURE_NUMBERS if n in chosen)
    twins = tuple(TWINS) if args.twins is None else check_twin_names(args.twins)
    options = Options(figures=numbers, quick=args.quick, seeds=args.seeds, jobs=args.jobs,
                      scheduler=args.scheduler, out=args.out, data_dir=args.data_dir,
                      epochs=args.epochs, train_subset=args.train_subset,
                      test_subset=args.test_subset, twins=twins,
                      command=_command(args))
    html = reproduce(options)
    print(f"report: {html}")
    print(f"        {html.with_suffix('.md')}")
    return 0


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this report (for its header)."""
    words = ["twinprop", "reproduce"]
    for figure in args.figure or []:
        words += ["--figure", figure]
    if args.quick:
        words.append("--quick")
    for flag, value in (("--twins", args.twins),
                        ("--seeds", args.seeds if args.seeds != 1 else None),
                        ("--epochs", args.epochs), ("--train-subset", args.train_subset),
                        ("--test-subset", args.test_subset), ("--out", args.out)):
        if value is not None:
            words += [flag, str(value)]
    return shlex.join(words)
