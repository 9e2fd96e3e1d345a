"""The ``twinprop`` command: one dispatcher, one module per subcommand.

Each subcommand module exposes ``add_parser(subparsers)``, which registers its
parser and sets ``func`` to the function that runs it. Errors of the project's
own types become one line on stderr and their exit status, never a traceback;
so does, as a last resort, any other exception (a bug), whose traceback goes
to a file named in that line.
"""

import argparse
import errno
import importlib
import os
import shlex
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from compare.common.errors import ConfigError, TwinpropError
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
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see '{self.prog} --help')\n")

    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> Any:
        # No option of twinprop takes an empty value: one (an unset shell
        # variable, say) would otherwise pass for the option left out, or for
        # the working folder.
        if "" in arg_strings and not isinstance(action, argparse._SubParsersAction):
            name = "/".join(action.option_strings) or str(action.metavar or action.dest)
            self.error(f"argument {name}: the value is empty; give a value or leave the "
                       "option out")
        if arg_strings == ["--"] and action.nargs in (None, "?"):
            # --opt=-- gives "--" as the value, but argparse (before 3.12) drops it
            # as the end of the options and hands on an empty list instead.
            value = self._get_value(action, "--")
            self._check_value(action, value)
            return value
        return super()._get_values(action, arg_strings)


def one_line(text: str) -> str:
    """``text`` with its line breaks written as \\n, so an error stays on one line.

    A value the user gave (a folder name, say) may hold a line break.
    """
    return text.replace("\r", "\\r").replace("\n", "\\n")


def whole_number(low: int | None = None, high: int | None = None,
                 outside: str = "{value} is not in {low}..{high}") -> Callable[[str], int]:
    """An argparse type: a whole number in low..high (either bound None: open that side).

    ``outside`` is the message for a number out of range, formatted with
    ``value``, ``low`` and ``high``.
    """
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(outside.format(value=value, low=low, high=high))
        return value
    return parse


# argparse type: an integer > 0.
positive_int = whole_number(1, outside="{value} must be a positive whole number")


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
    ran out of memory) or a bug of ours (see :func:`internal_error`); 2 bad
    input (options, files, folders); 130 Ctrl-C.
    """
    try:
        args = build_parser().parse_args(argv)
        tune_malloc()       # before the data and the twins allocate (see compare.malloc)
        status = run_command(args)
    except TwinpropError as err:
        print(f"twinprop: error: {one_line(str(err))}", file=sys.stderr)
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
        text = one_line(f"{err.strerror or err}{where}")
        if err.errno == errno.ENAMETOOLONG:     # a path the user gave: bad input
            print(f"twinprop: error: {text}; give a shorter file or folder name",
                  file=sys.stderr)
            return 2
        print(f"twinprop: error: {text}", file=sys.stderr)
        return 1
    except MemoryError:
        print("twinprop: error: out of memory; try a smaller network or batch",
              file=sys.stderr)
        return 1
    except Exception as err:
        return internal_error(err, sys.argv[1:] if argv is None else list(argv))
    return 0 if status is None else int(status)


def run_command(args: argparse.Namespace) -> int | None:
    """Run the parsed command; a sys.exit inside it becomes a one-line ConfigError.

    twinprop's commands return their status and never exit, so such an exit
    comes from code the user gave (--twin, --activation): left alone it would
    end twinprop silently with that code's status, 0 among them.
    """
    try:
        status: int | None = args.func(args)
    except SystemExit as stop:
        frames = traceback.extract_tb(stop.__traceback__)
        where = (f"{frames[-1].filename} called sys.exit({stop.code!r}) at line "
                 f"{frames[-1].lineno}") if frames else f"sys.exit({stop.code!r}) was called"
        raise ConfigError(f"{where} while twinprop ran it; make it return (or raise an "
                          "exception) instead") from None
    return status


def internal_error(err: Exception, argv: Sequence[str]) -> int:
    """The last resort for an exception no check foresaw (a bug): one line, exit status 1.

    The line names the exception and the file in the system temp folder that
    holds the full traceback (written atomically), and asks for a report.
    """
    what = " ".join(f"{type(err).__name__}: {err}".split())
    if len(what) > 300:
        what = what[:297] + "..."
    try:
        attach = f"the traceback saved in {save_traceback(err, argv)}"
    except OSError as save_err:
        attach = (f"the command line (its traceback could not be saved: "
                  f"{save_err.strerror or save_err})")
    print(f"twinprop: internal error: {what}; this is a bug in twinprop, please report it "
          f"with {attach}", file=sys.stderr)
    return 1


def save_traceback(err: BaseException, argv: Sequence[str]) -> Path:
    """Write the command line and ``err``'s traceback to a new file in the temp folder."""
    from compare.atomic import write_text
    path = Path(tempfile.gettempdir()) / (
        f"twinprop-traceback-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt")
    text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    write_text(path, f"command: {shlex.join(['twinprop', *argv])}\n"
                     f"python: {sys.version.split()[0]} on {sys.platform}\n\n{text}")
    return path


if __name__ == "__main__":
    sys.exit(main())
