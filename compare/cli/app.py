"""The ``twinprop`` command: one dispatcher, one module per subcommand.

Each subcommand module exposes ``add_parser(subparsers)``, which registers its
parser and sets ``func`` to the function that runs it. Errors of the project's
own types become one line on stderr and their exit status, never a traceback.
"""

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from compare.common.errors import TwinpropError
from compare.malloc import tune_malloc

# One line per subcommand module; a new subcommand adds its module here.
COMMAND_MODULES = [
    "compare.cli.data",
    "compare.cli.derivatives",
    "compare.cli.train",
    "compare.cli.reproduce",
    "compare.cli.gradcheck",
    "compare.cli.bench",
]


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def positive_int(text: str) -> int:
    """argparse type: an integer > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be a positive whole number")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite float > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"{text} must be a positive finite number")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every subcommand registered."""
    parser = OneLineParser(
        prog="twinprop",
        description="Backpropagation on MNIST by hand, checked against an autograd twin.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=OneLineParser)
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``twinprop`` console script; returns the exit status.

    0 success; 1 a run that failed (diverged, learnt nothing, could not save,
    ran out of memory); 2 bad input (options, files, folders); 130 Ctrl-C.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        tune_malloc()       # before the data and the twins allocate (see compare.malloc)
        status = args.func(args)
    except TwinpropError as err:
        print(f"twinprop: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("twinprop: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): not an error of ours. Point
        # stdout at devnull so the interpreter's final flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as err:
        # What the up-front checks cannot foresee (a disk filling up, a folder
        # removed mid-run): one line, not a traceback.
        where = f": {err.filename}" if err.filename else ""
        print(f"twinprop: error: {err.strerror or err}{where}", file=sys.stderr)
        return 1
    except MemoryError:
        print("twinprop: error: out of memory; try a smaller network or batch",
              file=sys.stderr)
        return 1
    return 0 if status is None else int(status)


if __name__ == "__main__":
    sys.exit(main())
