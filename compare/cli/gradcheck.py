"""``twinprop gradcheck``: the gradient-check suite.

By default every activation, a 784-100-10 network, 32 real MNIST training
images, mode full (every parameter). Prints what was checked and by which
rule, a table with one row per activation, oracle and tensor, and a verdict
line (or all of it as JSON with ``--json``). Exit status 0 when every check
passes, 1 when any fails. ``--selftest`` instead shows that the checks catch
six known bugs.
"""

import json
import sys
from pathlib import Path

from compare.atomic import write_json
from compare.cli.app import positive_int

MODES = ("full", "fast", "sweep", "complex")
DEFAULT_SWEEP_DIR = Path("gradcheck_sweep")


def _width(text):
    """argparse type for a hidden width: a whole number >= 1."""
    return positive_int(text)


def add_parser(subparsers):
    """Register ``twinprop gradcheck``."""
    parser = subparsers.add_parser(
        "gradcheck",
        help="check the hand-derived gradients against finite differences and autograd",
        description="Compare the manual twin's gradients with finite differences, the "
                    "autodiff twin's with finite differences, and the two twins with each "
                    "other, for every parameter tensor. Exit status 0 when every check "
                    "passes, 1 when any fails.",
    )
    parser.add_argument("--activation", default="all", metavar="NAME",
                        help="a hidden activation (sigmoid, tanh, relu, leaky_relu, softplus, "
                             "identity) or 'all' (default)")
    parser.add_argument("--mode", default="full", choices=MODES,
                        help="full: every parameter (default); fast: random directions; "
                             "sweep: error against step h, with a plot; complex: complex step")
    parser.add_argument("--hidden", type=_width, nargs="*", default=[100], metavar="WIDTH",
                        help="hidden-layer widths (default: 100; none for softmax regression)")
    parser.add_argument("--batch", type=positive_int, default=32, metavar="N",
                        help="number of MNIST training images (default 32)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="seeds the images, the initial weights and the directions (default 0)")
    parser.add_argument("--init", default="xavier",
                        choices=("normal", "xavier", "he", "lecun"),
                        help="weight initialisation (default xavier)")
    parser.add_argument("--directions", type=positive_int, default=8, metavar="K",
                        help="directions per tensor in mode fast (default 8)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="also write gradcheck.json (and, in mode sweep, sweep.json, "
                             f"sweep.csv, sweep.png; default folder for those: "
                             f"{DEFAULT_SWEEP_DIR})")
    parser.add_argument("--selftest", action="store_true",
                        help="inject six known bugs into a copy of the manual gradient and "
                             "show that every one is flagged (ignores the other options "
                             "except --json and --out)")
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="folder holding the MNIST IDX files (default: the cache)")
    parser.set_defaults(func=run)


def run(args):
    """Run the suite (or the selftest); print the report; return 0 or 1."""
    from compare.gradcheck import render
    from compare.gradcheck.suite import SuiteConfig, resolve_activations, run_suite

    if args.out is not None and args.out.exists() and not args.out.is_dir():
        from compare.common.errors import ConfigError
        raise ConfigError(f"--out {args.out} is a file, not a folder; choose a folder path")
    if args.selftest:
        return _run_selftest(args, render)
    config = SuiteConfig(activations=resolve_activations(args.activation), mode=args.mode,
                         hidden=tuple(args.hidden), batch=args.batch, seed=args.seed,
                         init=args.init, directions=args.directions, data_dir=args.data_dir)
    tell = None if args.json else (lambda act: print(f"checking {act} ...", file=sys.stderr,
                                                     flush=True))
    result = run_suite(config, progress=tell)
    files = []
    if config.mode == "sweep":
        from compare.gradcheck.sweep import save_sweep
        files += save_sweep(args.out or DEFAULT_SWEEP_DIR, result.sweep_data, result.rows)
    if args.out is not None:
        files.append(args.out / "gradcheck.json")
        write_json(files[-1], render.render_json(result, files[:-1]))
    if args.json:
        print(json.dumps(render.render_json(result, files), indent=2))
    else:
        print(render.render_text(result, files))
    return 0 if render.render_json(result)["passed"] else 1


def _run_selftest(args, render):
    from compare.gradcheck.selftest import run_selftest
    st = run_selftest()
    report = render.selftest_json(st)
    if args.out is not None:
        write_json(args.out / "selftest.json", report)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render.render_selftest_text(st))
        if args.out is not None:
            print(f"wrote {args.out / 'selftest.json'}")
    return 0 if st["passed"] else 1
