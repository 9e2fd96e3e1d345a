"""What the command-line fuzzer draws from: every command, option and edge value.

Nothing here lists the commands or their options: :func:`command_specs` walks
``build_parser()`` (its subparsers and actions), so an option added later is
fuzzed without a change here. Each option's pool of values is chosen by what
the parser knows of it (nargs, choices, type, metavar, the numbers and words
of its help) and holds values at and beyond the edges of its domain.

What is typed in here is only what keeps a run fast (:data:`FAST`), the files
and folders each case finds in its working folder (:func:`lay_world`), and
the user code files a PATH.py option may be given. The tests at the end keep
those honest: every fast option is a real option, and each command's fast
command line runs to exit status 0.
"""

import argparse
import contextlib
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

import pytest
from fake_data import read_only

from compare.cli.app import build_parser
from compare.data.datasets import CATALOG, SPLITS

REPO = Path(__file__).resolve().parents[1]

Command = tuple[str, ...]
Words = tuple[str, ...]
ABSENT: Words = ("<absent>",)   # a fast option's value that leaves the option out

# Options that keep every run of a command to a second or two, unless the
# option is the one being fuzzed. Keys are option strings, or the dest of a
# positional. The runs read the session's MNIST cache.
FAST: dict[Command, dict[str, Words]] = {
    ("train",): {"--train-subset": ("100",), "--test-subset": ("50",),
                 "--batch-size": ("50",), "--hidden": ("3",), "--epochs": ("1",),
                 "--quiet": ()},
    ("compare",): {"--train-subset": ("100",), "--test-subset": ("50",),
                   "--batch-size": ("50",), "--hidden": ("3",), "--epochs": ("1",),
                   "--quiet": ()},
    ("plot",): {"run_dir": ("run",)},
    ("reproduce",): {"--quick": (), "--figure": ("2",), "--twins": ("manual",),
                     "--train-subset": ("250",), "--test-subset": ("10",), "--epochs": ("1",),
                     "--jobs": ("1",)},
    ("gradcheck",): {"--hidden": ("2",), "--batch": ("2",), "--activation": ("tanh",),
                     "--directions": ("1",)},
    ("bench",): {"--quick": (), "--samples": ("250",), "--steps": ("1",), "--repeats": ("1",),
                 "--batch-sizes": ("250",), "--dtypes": ("float32",), "--no-torch": ()},
    ("derivatives",): {"--out": ("out",), "--activation": ("tanh",)},
    ("data", "fetch"): {"--quiet": ()},
    ("data", "info"): {"--quiet": ()},
    ("data", "show"): {"--count": ("1",), "--quiet": ()},
}
# Fast options a fuzzed option (by dest) makes meaningless, dropped with it so
# that the case tests the fuzzed option and not the clash.
FAST_DROPPED_BY: dict[Command, dict[str, tuple[str, ...]]] = {
    ("bench",): {"profile_autodiff": ("--samples", "--no-torch"),
                 "markdown": ("--quick", "--samples", "--steps", "--repeats", "--batch-sizes",
                              "--dtypes", "--no-torch")},
}

# User code for the options that take PATH.py[:NAME]: file name -> source.
USER_CODE = {
    "act_syntax.py": "def f(z)\n    return z\n",
    "act_raises.py": "raise ValueError('broken on import')\n",
    "act_exits.py": "import sys\nsys.exit(3)\n",
    "act_interrupts.py": "raise KeyboardInterrupt\n",
    "act_not_callable.py": "f = 3\nf_prime = 4\n",
    "act_none.py": "def f(z):\n    return None\n\n\ndef f_prime(z):\n    return None\n",
    "act_nan.py": ("import numpy as np\n\n\ndef f(z):\n    return np.full_like(z, np.nan)\n\n\n"
                   "def f_prime(z):\n    return np.full_like(z, np.nan)\n"),
    "act_shape.py": ("import numpy as np\n\n\ndef f(z):\n    return np.zeros(3)\n\n\n"
                     "def f_prime(z):\n    return np.zeros(3)\n"),
    "act_text.py": "def f(z):\n    return 'z'\n\n\ndef f_prime(z):\n    return 'z'\n",
    "act_exits_on_call.py": ("import sys\n\n\ndef f(z):\n    sys.exit(4)\n\n\n"
                             "def f_prime(z):\n    sys.exit(4)\n"),
    "act_recurses.py": "def f(z):\n    return f(z)\n\n\ndef f_prime(z):\n    return f(z)\n",
    "act_imports.py": "import no_such_module_xyz\n",
    "twin_exits.py": ("import sys\n\n\ndef loss_and_grads(params, X, y, activation='tanh'):\n"
                      "    sys.exit(5)\n"),
    "twin_none.py": "def loss_and_grads(params, X, y, activation='tanh'):\n    return None\n",
    "twin_raises.py": ("def loss_and_grads(params, X, y, activation='tanh'):\n"
                       "    raise RuntimeError('not written yet')\n"),
}
# Files from the repository a PATH.py option may be given: (source, name in the case folder).
USER_FILES = (("tests/byo_files/swish_numpy.py", "act_ok.py"),
              ("tests/byo_files/swish_wrong.py", "act_wrong.py"),
              ("tests/byo_files/no_function.py", "no_function.py"),
              ("tests/byo_files/raises_inside.py", "raises_inside.py"),
              ("examples/mlp_correct.py", "twin_ok.py"),
              ("examples/bug_transposed.py", "twin_bad.py"))
CODE_SPECS = ("act_ok.py:swish", "act_wrong.py:swish", "act_ok.py:absent", "act_ok.py",
              "act_syntax.py:f", "act_raises.py:f", "act_exits.py:f", "act_interrupts.py:f",
              "act_not_callable.py:f", "act_none.py:f", "act_nan.py:f", "act_shape.py:f",
              "act_text.py:f", "act_exits_on_call.py:f", "act_recurses.py:f", "act_imports.py:f",
              "twin_exits.py", "twin_ok.py", "twin_ok.py:loss_and_grads", "twin_bad.py",
              "twin_none.py", "twin_raises.py", "no_function.py", "raises_inside.py",
              "missing.py", "missing.py:f", "afile", "afile:f", "emptydir", "emptydir/x.py",
              ":", ".py", "x.py:", "os", "os:getcwd", "math:sin", "numpy:tanh",
              "no_such_module_xyz", "no_such_module_xyz:f", "compare.twins:TWINS")
# Paths relative to the case's working folder, for every option that names a
# file or a folder: missing, a file where a folder is wanted and the reverse,
# a folder that cannot be written, a path under a file, files of the wrong
# form, names the file system refuses.
PATHS = ("missing", "missing/deeper", "afile", "afile/sub", "afile.png", "emptydir",
         "fulldir", "rodir", "rodir/new", "rodir/new.png", "run", "run/", "run/metrics.json",
         "badrun", "results.json", "empty.json", "list.json", "new.png", "new.json", "new.txt",
         "", ".", "x" * 300, "two\nlines", "-", "ü")
RUN_FILES = ("config.json", "metrics.json", "checkpoint.npz", "curves.png")

WHOLE_EDGES = ("0", "-1", "1", "2", "-0", "+1", " 7 ", "1_0", "1.0", "1.5", "1e3", "0x10",
               "", "abc", "nan", "inf", "-inf", "١٢", str(2 ** 31 - 1), str(2 ** 31),
               str(2 ** 63), str(2 ** 64), "9" * 400, "9" * 5000)
REAL_EDGES = ("0", "-0", "-1", "1", "0.5", "1e-308", "5e-324", "1e308", "1.7976931348623157e308",
              "1e309", "inf", "-inf", "nan", "-nan", "", "abc", "1e", str(2 ** 64), "0x10",
              " 2 ", "1_0.5", "9" * 400)
TEXT_EDGES = ("", " ", "x", "-", "--", "ü", "a" * 300, "two\nlines", "NONE", "all")
# Network addresses: well-formed ones on this machine where nothing listens, and
# malformed ones. No other host is ever named.
ADDRESSES = ("tcp://127.0.0.1:1", "127.0.0.1:65535", "[::1]:8786", "tcp://localhost:9",
             "127.0.0.1:0", "127.0.0.1:65536", "tcp://127.0.0.1", "ftp://127.0.0.1:1",
             "tcp://user@127.0.0.1:1", "127.0.0.1:1/x", "tcp://:1", "::1:1")
# Values no option of a kind may accept: given one, a command line must exit 2.
NEVER_VALID = {
    "whole": {"-1", "1.0", "1.5", "1e3", "0x10", "", "abc", "nan", "inf", "-inf", "9" * 5000},
    "real": {"nan", "-nan", "inf", "-inf", "1e309", "", "abc", "1e", "0x10"},
    "text": {"", " ", "-", "--", "ü", "a" * 300, "two\nlines"},
    "address": {"", " ", "-", "--", "ü", "a" * 300, "two\nlines", "127.0.0.1:0",
                "127.0.0.1:65536", "tcp://127.0.0.1", "ftp://127.0.0.1:1", "127.0.0.1:1/x",
                "tcp://:1"},
    "code": {"", " ", "-", "--", "ü", "a" * 300, "two\nlines", ":", ".py", "x.py:"},
    "names": {"", ",", "nope"},
}
# Words after a command that no parser takes.
STRAYS = ("--no-such-option", "extra", "-x")


@dataclass(frozen=True)
class OptionSpec:
    """One argparse action of one command, and the values the fuzzer gives it.

    ``values`` holds word tuples: each is what follows the option string (or
    stands alone, for a positional); ``()`` gives a flag alone.
    """

    command: Command
    dest: str
    flags: tuple[str, ...]
    kind: str
    nargs: Any
    appends: bool
    values: tuple[Words, ...] = field(repr=False)
    choices: tuple[str, ...] | None = None
    ranges: tuple[tuple[int, int], ...] = ()   # the ranges its help states

    @property
    def positional(self) -> bool:
        return not self.flags

    @property
    def is_help(self) -> bool:
        return "--help" in self.flags

    def out_of_domain(self, value: Words) -> str:
        """Why ``value`` lies outside this option's domain ("" when it may not)."""
        for word in value:
            if word == "":
                return f"{(self.flags or (self.dest,))[0]} is given an empty value"
            if self.choices is not None and word not in self.choices:
                return f"{self.flags[0]} {word!r} is not one of its choices"
            if word in NEVER_VALID.get(self.kind, ()):
                return f"{(self.flags or (self.dest,))[0]} {word[:40]!r} is never a {self.kind}"
            if self.ranges and word.strip().lstrip("+-").isdigit():
                number = int(word)
                if not any(lo <= number <= hi for lo, hi in self.ranges):
                    return f"{self.flags[0]} {word} is outside the range its help states"
        return ""


def subcommands(parser: argparse.ArgumentParser, prefix: Command = ()
                ) -> Iterator[tuple[Command, argparse.ArgumentParser]]:
    """Every (command words, parser) under ``parser``, itself first, parents before children."""
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from subcommands(child, (*prefix, name))


def leaf_commands() -> list[Command]:
    """The commands that run something (the parsers without subcommands of their own)."""
    return [words for words, parser in subcommands(build_parser())
            if words and not any(isinstance(a, argparse._SubParsersAction)
                                 for a in parser._actions)]


def command_specs() -> dict[Command, list[OptionSpec]]:
    """Every command's options (the subcommand choice itself left out) with their pools."""
    found = {}
    for words, parser in subcommands(build_parser()):
        found[words] = [spec(words, a) for a in parser._actions
                        if not isinstance(a, argparse._SubParsersAction)]
    return found


def parser_for(command: Command) -> argparse.ArgumentParser:
    return dict(subcommands(build_parser()))[command]


def spec(command: Command, action: argparse.Action) -> OptionSpec:
    """The OptionSpec of ``action``: its kind and pool, from what argparse holds about it."""
    kind = kind_of(action)
    one = tuple(dict.fromkeys(_pool(kind, action)))      # each value once, in order
    nargs = action.nargs
    if nargs in ("+", "*") or isinstance(nargs, int) and nargs > 1:
        values = _lists(one, nargs)
    elif nargs == 0:
        values = ((),)
    else:
        values = tuple((v,) for v in one)
    choices = None if action.choices is None else tuple(map(str, action.choices))
    return OptionSpec(command, action.dest, tuple(action.option_strings), kind, nargs,
                      isinstance(action, argparse._AppendAction), values, choices,
                      help_ranges(action))


def kind_of(action: argparse.Action) -> str:
    """flag, choice, whole, real, path, code, address, names or text."""
    if action.nargs == 0:
        return "flag"
    if action.choices is not None:
        return "choice"
    hints = f"{action.metavar or ''} {action.dest} {action.help or ''}"
    convert = action.type
    if isinstance(convert, type) and issubclass(convert, PurePath):
        return "path"
    if convert not in (None, str):
        if _converts(convert, "1") and not _converts(convert, "1.5"):
            return "whole"
        if _converts(convert, "1.5"):
            return "real"
    if "PATH.py" in hints:
        return "code"
    if action.metavar == "ADDRESS":
        return "address"
    if re.search(r"DIR|FILE|RESULTS|\bout\b|_dir\b", f"{action.metavar or ''} {action.dest}"):
        return "path"
    if "," in str(action.metavar or ""):
        return "names"
    return "text"


def _converts(convert: Any, text: str) -> bool:
    try:
        convert(text)
    except (argparse.ArgumentTypeError, ValueError, TypeError):
        return False
    return True


def help_words(action: argparse.Action) -> tuple[str, ...]:
    """The lower-case words of an option's help and metavar: the names it documents."""
    text = f"{action.help or ''} {action.metavar or ''}"
    return tuple(sorted(set(re.findall(r"\b[a-z][a-z0-9_]+\b", text))))


def help_ranges(action: argparse.Action) -> tuple[tuple[int, int], ...]:
    """The ranges an option's help states ("1..400", "1 to 100")."""
    found = re.findall(r"(\d[\d,]*)\s*(?:\.\.|to)\s*(\d[\d,]*)", action.help or "")
    return tuple((int(lo.replace(",", "")), int(hi.replace(",", ""))) for lo, hi in found)


def help_bounds(action: argparse.Action) -> tuple[int, ...]:
    """Each end of a range the help states, and one beyond it."""
    return tuple(sorted({n for lo, hi in help_ranges(action)
                         for n in (lo - 1, lo, hi, hi + 1)}))


def data_bounds() -> tuple[int, ...]:
    """The sizes of the catalog's splits and the CPUs, and one beyond each (the data-set edges)."""
    sizes = {spec.count(split) for spec in CATALOG.values() for split in SPLITS}
    sizes.add(os.cpu_count() or 1)
    return tuple(sorted({n + d for n in sizes for d in (0, 1)}))


def _pool(kind: str, action: argparse.Action) -> tuple[str, ...]:
    """The single values of one option (before nargs makes lists of them)."""
    words = help_words(action)
    if kind == "choice":
        choices = tuple(str(c) for c in action.choices or ())
        return (*choices, "nope", "", choices[0].upper(), f"{choices[0]} ", choices[0] * 2)
    if kind == "whole":
        literals = tuple(w for w in str(action.metavar or "").lower().split("|")
                         if w.isalpha())
        return (*WHOLE_EDGES, *map(str, help_bounds(action)), *map(str, data_bounds()),
                *literals)
    if kind == "real":
        return REAL_EDGES
    if kind == "path":
        return PATHS
    if kind == "code":
        return (*CODE_SPECS, *words[:8], *TEXT_EDGES)
    if kind == "address":
        return (*ADDRESSES, *TEXT_EDGES)
    if kind == "names":
        return (*words, ",".join(words[:2]), f"{words[0]},{words[0]}" if words else "x,x",
                ",", f"{words[0] if words else 'x'},", "nope", *TEXT_EDGES)
    return (*words, *TEXT_EDGES)


def _lists(one: tuple[str, ...], nargs: Any) -> tuple[Words, ...]:
    """Lists for a multi-value option: none, one, a value twice, and pairs across the pool."""
    lists: list[Words] = [(), ("1", "2", "3")]
    lists += [(v,) for v in one]
    lists += [(v, v) for v in one[:6]]
    lists += [(a, b) for a, b in zip(one, one[1:])]
    if isinstance(nargs, int):
        lists = [words for words in lists if len(words) == nargs] or [one[:nargs]]
    return tuple(lists)


def fast_words(command: Command, fuzzed: Sequence[str]) -> list[Words]:
    """The fast options of ``command`` as word groups, leaving out the fuzzed dests' ones."""
    parser = parser_for(command)
    by_flag = {s: a.dest for a in parser._actions for s in a.option_strings}
    dropped = {flag for dest in fuzzed for flag in FAST_DROPPED_BY.get(command, {}).get(dest, ())}
    groups = []
    for key, words in FAST.get(command, {}).items():
        if by_flag.get(key, key) in fuzzed or key in dropped:
            continue
        groups.append(words if key not in by_flag else (key, *words))
    return groups


@dataclass(frozen=True)
class Shared:
    """What every case folder is laid from: made once, copied or linked per case."""

    mnist: Path            # the session's MNIST cache folder (compare.data.cache.dataset_dir)
    run: Path              # a finished tiny ``twinprop train`` run folder
    results: Path          # a tiny ``twinprop bench --out`` results file


def lay_world(case: Path, shared: Shared) -> tuple[Path, Path]:
    """Lay the files a case's options may name; return (working folder, data cache root).

    The cache holds hard links to the session's MNIST files (copies where
    links cannot be made): a case may replace them, never change them.
    """
    cwd, cache = case / "cwd", case / "cache"
    (cwd / "emptydir").mkdir(parents=True)
    (cwd / "fulldir").mkdir()
    (cwd / "fulldir" / "keep.txt").write_text("a file of the user's\n")
    (cwd / "rodir").mkdir()
    (cwd / "rodir" / "keep.txt").write_text("a file of the user's\n")
    (cwd / "afile").write_text("not what any option expects\n")
    (cwd / "afile.png").write_text("not a picture\n")
    (cwd / "empty.json").write_text("{}\n")
    (cwd / "list.json").write_text("[]\n")
    shutil.copytree(shared.run, cwd / "run")
    shutil.copytree(shared.run, cwd / "badrun")
    (cwd / "badrun" / "metrics.json").write_text('{"buffered": [{"epoch": "one"}]}\n')
    shutil.copy2(shared.results, cwd / "results.json")
    for source, name in USER_FILES:
        shutil.copy2(REPO / source, cwd / name)
    for name, text in USER_CODE.items():
        (cwd / name).write_text(text)
    mnist = cache / shared.mnist.name
    mnist.mkdir(parents=True)
    for path in shared.mnist.iterdir():
        try:
            os.link(path, mnist / path.name)
        except OSError:
            shutil.copy2(path, mnist / path.name)
    return cwd, cache


@contextlib.contextmanager
def read_only_folder(cwd: Path) -> Iterator[None]:
    """``rodir`` cannot be written for the duration (faked for root, as the data tests do)."""
    with read_only(cwd / "rodir"):
        yield


def remove_case(case: Path) -> None:
    """Delete a case folder, whatever its runs left read-only in it."""
    for folder, dirs, _ in os.walk(case):
        for name in dirs:
            with contextlib.suppress(OSError):
                os.chmod(Path(folder) / name, 0o755)
    shutil.rmtree(case, ignore_errors=True)


# ---- keeping the pools honest ----------------------------------------------------------

def test_every_command_and_option_of_the_parser_has_a_pool() -> None:
    specs = command_specs()
    leaves = leaf_commands()
    assert {("train",), ("data", "show"), ("bench",)} <= set(leaves)
    for command in leaves:
        for option in specs[command]:
            assert option.values, (command, option.dest)
            if option.kind not in ("flag", "choice"):
                # at least one value each side of any domain: an empty one and a number
                assert any(v and v[0] == "" for v in option.values), (command, option.dest)


def test_every_fast_option_is_an_option_of_its_command() -> None:
    specs = command_specs()
    for command, options in FAST.items():
        known = {f for o in specs[command] for f in o.flags} | {
            o.dest for o in specs[command] if o.positional}
        assert set(options) <= known, (command, set(options) - known)
    for command, drops in FAST_DROPPED_BY.items():
        dests = {o.dest for o in specs[command]}
        assert set(drops) <= dests and all(set(f) <= set(FAST[command]) for f in drops.values())


def test_kinds_follow_what_the_parser_knows() -> None:
    specs = {(o.command, o.dest): o for options in command_specs().values() for o in options}
    assert specs[(("data", "show"), "count")].kind == "whole"
    # the help's documented range gives its edges and one beyond each
    count = {v[0] for v in specs[(("data", "show"), "count")].values}
    assert {"0", "1", "400", "401"} <= count
    assert specs[(("train",), "lr")].kind == "real"
    assert specs[(("train",), "out")].kind == "path"
    assert specs[(("gradcheck",), "out")].kind == "path"
    assert specs[(("gradcheck",), "twin")].kind == "code"
    assert specs[(("compare",), "twins")].kind == "names"
    assert specs[(("bench",), "dtypes")].kind == "choice"
    assert specs[(("reproduce",), "scheduler")].kind == "address"
    assert ("full",) in specs[(("train",), "batch_size")].values
    n_train = CATALOG["mnist"].count("train")
    assert (str(n_train + 1),) in specs[(("train",), "train_subset")].values


def test_values_outside_a_domain_are_known() -> None:
    specs = {(o.command, o.dest): o for options in command_specs().values() for o in options}
    count = specs[(("data", "show"), "count")]
    assert count.out_of_domain(("401",)) and count.out_of_domain(("0",))
    assert not count.out_of_domain(("400",)) and not count.out_of_domain(("1",))
    assert specs[(("train",), "lr")].out_of_domain(("nan",))
    assert not specs[(("train",), "lr")].out_of_domain(("1e308",))
    assert specs[(("bench",), "dtypes")].out_of_domain(("float32", "nope"))
    assert not specs[(("bench",), "dtypes")].out_of_domain(("float32", "float64"))
    assert specs[(("train",), "seed")].out_of_domain(("-1",))
    assert not specs[(("train",), "seed")].out_of_domain((str(2 ** 64),))


def test_fast_words_leave_out_the_fuzzed_option_and_what_it_drops() -> None:
    words = fast_words(("bench",), ["profile_autodiff"])
    flat = [w for group in words for w in group]
    assert "--samples" not in flat and "--no-torch" not in flat and "--steps" in flat
    flat = [w for group in fast_words(("train",), ["epochs"]) for w in group]
    assert "--epochs" not in flat and "--hidden" in flat


@pytest.mark.parametrize("command", sorted(FAST))
def test_fast_options_alone_parse(command: Command) -> None:
    argv = [*command, *[w for group in fast_words(command, []) for w in group]]
    build_parser().parse_args(argv)
