"""``twinprop gradcheck``: the gradient-check suite, for the twins or for your own code.

By default every activation, a 784-100-10 network, 32 real MNIST training
images, mode full (every parameter). Prints what was checked and by which
rule, a table with one row per activation, oracle and tensor, and a verdict
line (or all of it as JSON with ``--json``). Exit status 0 when every check
passes, 1 when any fails, 2 when the input cannot be used. ``--twin FILE``
checks a user's ``loss_and_grads`` instead and says what is wrong with it;
``--selftest`` shows that the checks catch six known bugs.
"""

import argparse
import json
import sys
from pathlib import Path

from compare.atomic import check_output_dir, write_json
from compare.cli.app import positive_int, whole_number

MODES = ("full", "fast", "sweep", "complex")
DEFAULT_SWEEP_DIR = Path("gradcheck_sweep")


# argparse type for a seed: a whole number >= 0.
_seed = whole_number(0, outside="{value} is negative; a seed is a whole number >= 0")


def add_parser(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Register ``twinprop gradcheck``."""
    parser = subparsers.add_parser(
        "gradcheck",
        help="check hand-derived gradients (the twins', or yours with --twin)",
        description="Compare the twins' gradients with finite differences and with each "
                    "other for every parameter tensor, or, with --twin, check your own "
                    "loss_and_grads and say what is wrong with it. Exit status 0 when every "
                    "check passes, 1 when any fails, 2 when the input cannot be used.",
    )
    parser.add_argument("--twin", metavar="PATH.py|module:NAME",
                        help="check your own loss_and_grads(params, X, y, activation) -> "
                             "(loss, grads) from a file or module instead of the twins")
    parser.add_argument("--activation", default=None, metavar="NAME",
                        help="a hidden activation (sigmoid, tanh, relu, leaky_relu, softplus, "
                             "identity), 'all', or your own as PATH.py:NAME (the file defines "
                             "NAME(z) and NAME_prime(z)); default: all, or tanh with --twin")
    parser.add_argument("--mode", default="full", choices=MODES,
                        help="full: every parameter (default); fast: random directions; "
                             "sweep: error against step h, with a plot; complex: complex step")
    parser.add_argument("--hidden", type=positive_int, nargs="*", default=[100], metavar="WIDTH",
                        help="hidden-layer widths (default: 100; none for softmax regression)")
    parser.add_argument("--batch", type=positive_int, default=32, metavar="N",
                        help="number of MNIST training images (default 32)")
    parser.add_argument("--seed", type=_seed, default=0, metavar="S",
                        help="seeds the images, the initial weights and the directions (default 0)")
    parser.add_argument("--init", default="xavier",
                        choices=("normal", "xavier", "he", "lecun"),
                        help="weight initialisation (default xavier)")
    parser.add_argument("--directions", type=positive_int, default=8, metavar="K",
                        help="random directions per tensor in mode fast, and along which your "
                             "own loss is checked with --twin (default 8)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="also write gradcheck.json (and, in mode sweep, sweep.json, "
                             f"sweep.csv, sweep.png; default folder for those: "
                             f"{DEFAULT_SWEEP_DIR})")
    parser.add_argument("--selftest", action="store_true",
                        help="inject six known bugs into every twin and show that every one "
                             "is flagged (ignores the other options except --json and --out)")
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="folder holding the MNIST IDX files (default: the cache)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the suite (or the selftest); print the report; return 0 or 1."""
    from compare.common.errors import ConfigError
    from compare.gradcheck import render
    from compare.gradcheck.budget import check_fits
    from compare.gradcheck.suite import (
        SuiteConfig,
        resolve_activations,
        run_suite,
        training_images,
    )
    from compare.gradcheck.usertwin import load_user_twin

    # Every option is checked before any work starts.
    if args.out is not None:
        check_output_dir(args.out, "--out")
    if args.selftest:
        if args.twin is not None:
            raise ConfigError("--selftest checks the registered twins; drop --twin (or "
                              "drop --selftest to check your file)")
        return _run_selftest(args)
    if args.mode == "sweep" and args.out is None:
        check_output_dir(DEFAULT_SWEEP_DIR, "the sweep's folder")
    n_train = training_images()
    if args.batch > n_train:
        raise ConfigError(f"--batch {args.batch} is more than the {n_train} training images; "
                          f"choose at most {n_train}")
    user = load_user_twin(args.twin) if args.twin is not None else None
    activation = args.activation or ("tanh" if user is not None else "all")
    config = SuiteConfig(activations=resolve_activations(activation), mode=args.mode,
                         hidden=tuple(args.hidden), batch=args.batch, seed=args.seed,
                         init=args.init, directions=args.directions, data_dir=args.data_dir,
                         user=user)
    check_fits(config.sizes, config.mode, config.directions)
    if user is not None:
        from compare.gradcheck.byo import probe
        probe(user, config.sizes, config.batch, config.activations)
    tell = None if args.json else (lambda act: print(f"checking {act} ...", file=sys.stderr,
                                                     flush=True))
    result = run_suite(config, progress=tell)
    files: list[Path] = []
    if config.mode == "sweep":
        from compare.gradcheck.sweep import save_sweep
        files += save_sweep(args.out or DEFAULT_SWEEP_DIR, result.sweep_data, result.rows,
                            twin=user.name if user is not None else "manual")
    report = render.render_json(result, files)
    if args.out is not None:
        files.append(args.out / "gradcheck.json")
        write_json(files[-1], report)           # lists the files beside it, not itself
        report["files"] = [str(p) for p in files]
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render.render_text(result, files))
    return 0 if report["passed"] else 1


def _run_selftest(args: argparse.Namespace) -> int:
    """The selftest's report; 0 when every bug was caught and no twin was flagged."""
    from compare.gradcheck import render as rendering
    from compare.gradcheck.selftest import run_selftest
    st = run_selftest()
    report = rendering.selftest_json(st)
    if args.out is not None:
        write_json(args.out / "selftest.json", report)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(rendering.render_selftest_text(st))
        if args.out is not None:
            print(f"wrote {args.out / 'selftest.json'}")
    return 0 if st["passed"] else 1
