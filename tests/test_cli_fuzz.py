"""Hunt for tracebacks: generated command lines for every subcommand, each checked.

Hypothesis builds command lines from the real parser (see test_cli_fuzz_pools:
every command, option, type, choice and documented range, with values at and
beyond each domain's edges), adds the options that keep a run fast, and runs
each in-process through ``compare.cli.app.main`` in a fresh folder of its own,
with its own copy of the session's MNIST cache. Every run must:

- let no exception escape ``main`` (argparse's exit aside), and end with
  status 0, 1, 2 or 130;
- print no traceback, on stdout or stderr, and no "internal error" (the CLI's
  last resort for a bug: the safety net must never hide one from this test);
- on failure, end stderr with one line starting "twinprop" that names the
  problem; for status 2 (bad input) that line also names the way out;
- leave the process as it found it (registries, sys.path, environment), and
  on status 2 (bad input, refused before any work) its folder too;
- when a value lies outside every domain (beyond a range its option's help
  states, -1 for a count, nan, an empty value, an unknown choice, a stray
  word), end with status 2: a check that lets everything through is caught.

Before the generated lines: each command's fast line alone (it must exit 0),
its --help, and for every option its three most telling values outside the
domain (:func:`edge_cases`), so that a broken check is found in every run.

A run still going after its budget gets a Ctrl-C (KeyboardInterrupt), as a
user would send, and must then stop with 130 and one line; one that does not
stop soon after is a hang, and a finding.

Runs: ``pytest tests/test_cli_fuzz.py`` tries a fixed, derandomized set of
command lines (``CI_EXAMPLES``) and prints how many. For a long hunt:
``TWINPROP_FUZZ_EXAMPLES=5000 TWINPROP_FUZZ_SEED=7 TWINPROP_FUZZ_COLLECT=1
pytest -s tests/test_cli_fuzz.py`` (COLLECT runs them all and lists every
distinct finding at the end instead of stopping at the first);
``HYPOTHESIS_PROFILE=thorough`` alone raises the count to ``THOROUGH_EXAMPLES``;
``TWINPROP_FUZZ_SWEEP=1`` first tries every value of every option's pool once;
``TWINPROP_FUZZ_LOG=FILE`` appends one line per command line tried (status,
seconds, command line, last line of stderr).
"""

import io
import os
import re
import shlex
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import pytest
from conftest import only_this_machine
from fake_data import snapshot
from hypothesis import HealthCheck, Phase, assume, given, seed, settings
from hypothesis import strategies as st
from test_cli_fuzz_pools import (
    ABSENT,
    FAST,
    STRAYS,
    Command,
    OptionSpec,
    Shared,
    Words,
    command_specs,
    fast_words,
    lay_world,
    leaf_commands,
    read_only_folder,
    remove_case,
)

import compare.atomic
import compare.bench.torch_eager as torch_eager
import compare.cli.app
import compare.cli.train
import compare.common.errors
import compare.reproduce.runner
from compare.cli.app import main
from compare.common import init
from compare.data.datasets import CATALOG
from compare.twins import TWINS
from manual import activations

CI_EXAMPLES = 160
THOROUGH_EXAMPLES = 3000
BUDGET_SECONDS = float(os.environ.get("TWINPROP_FUZZ_BUDGET", "3"))  # then Ctrl-C
HANG_SECONDS = 30.0                                                    # after the Ctrl-C
STATUSES = (0, 1, 2, 130)
# Words that name a way out in an error line ("choose ...", "see 'twinprop x --help'").
WAY_OUT = re.compile(
    r"\b(see|choose|use|give|pass|add|drop|leave|remove|delete|move|rename|fix|try|set|"
    r"point|run|start|install|define|make|return|put|name|lower|raise|omit|pick|continue|"
    r"check|write|repair|fetch|free|wait|keep|import|rerun|split|shrink|select|report|train)\b",
    re.IGNORECASE)
# The line that reports a failed run (argparse's say "twinprop COMMAND: error:").
ERROR_LINE = re.compile(r"twinprop[\w -]*: (error|internal error|interrupted)")
# How a check's report on stdout says it failed (exit status 1 without an error line).
VERDICT = re.compile(r'^FAIL: |^  "passed": false', re.MULTILINE)
# The whole process's state that a run must leave as it found it.
STATE: dict[str, Callable[[], object]] = {
    "twins": lambda: list(TWINS),
    "activations": lambda: list(activations.ACTIVATIONS),
    "inits": lambda: list(init.INITS),
    "catalog": lambda: list(CATALOG),
    "sys.path": lambda: list(sys.path),
    "environment": lambda: dict(os.environ),
    "working folder": os.getcwd,
}


class Hung(BaseException):
    """A run went on after its Ctrl-C (a BaseException, so no handler of the CLI takes it)."""


@dataclass
class Outcome:
    """What one command line did."""

    argv: list[str]
    status: object = None
    out: str = ""
    err: str = ""
    escaped: str = ""          # the traceback of an exception that left main
    interrupted: bool = False  # it ran past its budget and got a Ctrl-C
    seconds: float = 0.0
    leaked: tuple[str, ...] = ()  # what of the process's state the run changed
    must_fail: str = ""           # why it must end in status 2, if it must
    touched: tuple[str, ...] = ()  # what it added, removed or changed in its working folder

    @property
    def line(self) -> str:
        return shlex.join(["twinprop", *self.argv])


@dataclass
class Tally:
    """Every command line tried, by status, and the findings (problems found)."""

    tried: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    interrupted: int = 0
    slowest: tuple[float, str] = (0.0, "")
    findings: dict[str, tuple[Outcome, list[str]]] = field(default_factory=dict)

    def add(self, outcome: Outcome, problems: list[str]) -> None:
        self.tried += 1
        self.statuses[str(outcome.status)] += 1
        self.interrupted += outcome.interrupted
        self.slowest = max(self.slowest, (outcome.seconds, outcome.line))
        if problems:
            # one finding per command and kind of problem
            key = f"{outcome.argv[:1]} {problems[0][:60]}"
            self.findings.setdefault(key, (outcome, problems))

    def summary(self) -> str:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items(),
                                                           key=lambda sn: (len(sn[0]), sn[0])))
        return (f"CLI fuzz: {self.tried} command lines tried (exit statuses {statuses}; "
                f"{self.interrupted} given a Ctrl-C after {BUDGET_SECONDS:g} s), "
                f"{len(self.findings)} findings; slowest {self.slowest[0]:.1f} s: "
                f"{self.slowest[1][:120]}")


def report(outcome: Outcome, problems: list[str]) -> str:
    return "\n".join([f"$ {outcome.line}", *(f"  - {p}" for p in problems),
                      f"  status {outcome.status!r} after {outcome.seconds:.1f} s",
                      "  stderr: " + outcome.err[-3000:], *(
                          ["  escaped:\n" + outcome.escaped] if outcome.escaped else [])])


# ---- running one command line -------------------------------------------------------------

@dataclass
class _Alarm:
    """Ctrl-C at the budget, then Hung every HANG_SECONDS after it."""

    fired: int = 0

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.fired += 1
        if self.fired == 1:
            raise KeyboardInterrupt
        raise Hung(f"still running {HANG_SECONDS:g} s after its Ctrl-C")


def run_main(argv: list[str], budget: float) -> Outcome:
    """Run ``main(argv)`` with stdout and stderr captured; never raises."""
    outcome = Outcome(argv)
    out, err = io.StringIO(), io.StringIO()
    alarm = _Alarm()
    previous = signal.signal(signal.SIGALRM, alarm)
    start = time.perf_counter()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            signal.setitimer(signal.ITIMER_REAL, budget, HANG_SECONDS)
            try:
                outcome.status = main(argv)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    except SystemExit as stop:      # argparse: usage errors and --help
        outcome.status = stop.code
    except KeyboardInterrupt:
        if outcome.status is None:  # not the alarm landing after main returned
            outcome.escaped = traceback.format_exc()
    except BaseException:
        outcome.escaped = traceback.format_exc()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    outcome.seconds = time.perf_counter() - start
    outcome.interrupted = alarm.fired > 0
    outcome.out, outcome.err = out.getvalue(), err.getvalue()
    return outcome


def problems_of(outcome: Outcome) -> list[str]:
    """Everything wrong with what a command line did (empty: nothing)."""
    found = []
    if outcome.escaped:
        last = outcome.escaped.strip().splitlines()[-1]
        found.append(f"an exception escaped main: {last}")
    elif outcome.status not in STATUSES:
        found.append(f"exit status {outcome.status!r} is not one of {STATUSES}")
    for name, text in (("stdout", outcome.out), ("stderr", outcome.err)):
        if "Traceback" in text:
            found.append(f"a traceback on {name}")
    lines = outcome.err.rstrip("\n").splitlines()
    for line in lines:
        if line.startswith("twinprop: internal error"):
            found.append(f"an internal error: {line}{_saved_traceback(line)}")
    error_lines = [line for line in lines if ERROR_LINE.match(line)]
    if outcome.status == 1 and not error_lines and VERDICT.search(outcome.out):
        pass    # a check that failed: its report (text or JSON) on stdout says so
    elif outcome.status not in (0, None) and not outcome.escaped:
        last = lines[-1] if lines else ""
        if not last.startswith("twinprop"):
            found.append(f"status {outcome.status} whose stderr does not end in one line "
                         f"starting 'twinprop': {last[:200]!r}")
        elif outcome.status == 2 and not WAY_OUT.search(last):
            found.append(f"status 2 whose line names no way out: {last[:300]!r}")
        if len(error_lines) > 1:
            found.append(f"{len(error_lines)} error lines: {error_lines[:3]}")
    if outcome.must_fail and outcome.status != 2 and not outcome.escaped:
        found.append(f"status {outcome.status} (not 2) though {outcome.must_fail}")
    if outcome.status == 2 and outcome.touched:
        found.append(f"status 2 (bad input, to be refused before any work) after writing "
                     f"{', '.join(outcome.touched[:4])}")
    found += [f"the run changed the process's {name}" for name in outcome.leaked]
    return found


def _saved_traceback(line: str) -> str:
    """The traceback file an internal-error line names, for the report."""
    match = re.search(r"(/\S+\.txt)", line)
    if match and Path(match.group(1)).is_file():
        return "\n" + Path(match.group(1)).read_text()[-4000:]
    return ""


# ---- one case: a command line in its own folder ---------------------------------------

@dataclass
class Case:
    """A generated command line and what it was built from (for the report)."""

    command: Command
    argv: list[str]
    fuzzed: list[str]
    must_fail: str = ""     # why it must end in status 2 ("" when it may succeed)


def single_option_cases(specs: dict[Command, list[OptionSpec]]) -> Iterator[Case]:
    """Every value of every option's pool, one at a time beside the fast options."""
    for command, options in sorted(specs.items()):
        fast = FAST.get(command, {})
        for option in options:
            in_fast = any(key in option.flags or key == option.dest for key in fast)
            for value in option.values + ((ABSENT,) if in_fast else ()):
                yield _single(command, option, value)


def _single(command: Command, option: OptionSpec, value: Words) -> Case:
    """``command`` with ``option`` given ``value`` (or left out) and the other fast options."""
    given: Words = ()
    if value != ABSENT:
        given = (f"{option.flags[0]}={value[0]}",) if option.flags and len(value) == 1 \
            else (*option.flags[:1], *value)
    argv = [*command, *given, *(w for group in fast_words(command, [option.dest])
                                for w in group)]
    return Case(command, argv, [option.dest],
                must_fail(option, [value]) if value != ABSENT else "")


def edge_cases(specs: dict[Command, list[OptionSpec]], per_option: int = 3) -> Iterator[Case]:
    """For every option, a few values outside its domain: each must be refused (status 2).

    Values beyond a range the help states come first, then the pool's others in
    its order; a check that lets everything through is caught here for certain.
    """
    for command, options in sorted(specs.items()):
        for option in options:
            outside = sorted((v for v in option.values if must_fail(option, [v])),
                             key=lambda v: _edge_rank(option, v))
            chosen: list[Words] = []
            numbers: set[int] = set()      # one spelling of each number beyond a range
            for value in outside:
                if "range" in must_fail(option, [value]):
                    if int(value[0]) in numbers:
                        continue
                    numbers.add(int(value[0]))
                chosen.append(value)
            for value in chosen[:per_option]:
                yield _single(command, option, value)


# The values outside a domain that a check of the program (rather than argparse's
# type) must refuse, most telling first.
EDGE_FIRST = ("-1", "nan", "inf", "-inf", "1e309", "nope", "-", "ü")


def _edge_rank(option: OptionSpec, value: Words) -> tuple[int, int]:
    """Beyond a stated range first, nearest its ends first; then EDGE_FIRST's order."""
    first = value[0] if value else ""
    if "range" in must_fail(option, [value]):
        return 0, min(abs(int(first) - end) for pair in option.ranges for end in pair)
    return 1, EDGE_FIRST.index(first) if first in EDGE_FIRST else len(EDGE_FIRST)


def must_fail(option: OptionSpec, values: list[Words]) -> str:
    """Why the values given to ``option`` must make the command line fail ("" if none does).

    The last value counts, unless the option appends (then each counts).
    """
    if option.is_help or not values:
        return ""
    for value in values if option.appends else values[-1:]:
        reason = option.out_of_domain(value)
        if reason:
            return reason
    return ""


@st.composite
def cases(draw: Any, specs: dict[Command, list[OptionSpec]]) -> Case:
    """A command, 1-3 of its options with values from their pools, the fast options, strays."""
    command = draw(st.sampled_from(sorted(specs)))
    options = specs[command]
    # at least one option: the command's fast line alone has run before
    chosen: list[OptionSpec] = draw(st.lists(st.sampled_from(options), min_size=1, max_size=3,
                                             unique_by=lambda o: o.dest)) if options else []
    fast = FAST.get(command, {})
    groups: list[Words] = []
    reasons = []
    for option in chosen:
        in_fast = any(key in option.flags or key == option.dest for key in fast)
        pool = option.values + ((ABSENT,) if in_fast else ())
        values: list[Words] = []
        for _ in range(draw(st.integers(1, 3)) if option.appends else 1):
            value = draw(st.sampled_from(pool))
            if value == ABSENT:
                break
            values.append(value)
        if values and option.flags and draw(st.integers(0, 9)) == 0:   # the flag given twice
            values.append(draw(st.sampled_from(option.values)))
        # an option's words stay together, so that the last value given stays last
        groups.append(tuple(w for value in values for w in _with_flag(draw, option, value)))
        reasons.append(must_fail(option, values))
    groups += fast_words(command, [o.dest for o in chosen])
    stray = draw(st.sampled_from([(), (), (), (), (), (), ("--",), *((s,) for s in STRAYS)]))
    groups = draw(st.permutations(groups)) + [stray]
    argv = [*command, *(word for group in groups for word in group)]
    if stray and stray[0] in STRAYS:
        reasons.append(f"{stray[0]} is no option or argument of twinprop {' '.join(command)}")
    helped = any(o.is_help for o in chosen)
    return Case(command, argv, [o.dest for o in chosen],
                "" if helped else next((r for r in reasons if r), ""))


def _with_flag(draw: Any, option: OptionSpec, value: Words) -> Words:
    """``--flag value``, or ``--flag=value`` (the only way to give a value starting with -)."""
    if not option.flags:
        return value
    flag = draw(st.sampled_from(option.flags))
    if len(value) == 1 and draw(st.booleans()):
        return (f"{flag}={value[0]}",)
    return (flag, *value)


@pytest.fixture(scope="module")
def shared(mnist_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Shared:
    """A finished tiny run and tiny bench results, made once for every case to copy."""
    root = tmp_path_factory.mktemp("fuzz-shared")
    run, results = root / "run", root / "results.json"
    if torch_eager.torch_available():
        # PyTorch sets KMP_DUPLICATE_LIB_OK and TORCHINDUCTOR_CACHE_DIR in
        # os.environ the first time its optimiser is set up: its own doing,
        # once per process. One tiny step here, so that it is not charged to
        # the first case that leaves out bench's --no-torch.
        X, y = np.zeros((2, 4)), np.zeros(2, dtype=np.int64)
        torch_eager.make_torch_eager(X, y, [4, 3, 2], "tanh", 0.1, 0)([np.arange(2)])
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("TWINPROP_REGISTRY", "off")
        for argv in (["train", *_fast_argv(("train",)), "--out", str(run)],
                     ["bench", *_fast_argv(("bench",)), "--out", str(results)]):
            outcome = run_main(argv, budget=120)
            assert outcome.status == 0, report(outcome, ["the setup command failed"])
    return Shared(mnist=mnist_cache, run=run, results=results)


def _fast_argv(command: Command) -> list[str]:
    return [word for group in fast_words(command, []) for word in group]


def run_case(case: Case, root: Path, shared: Shared, budget: float) -> Outcome:
    """Lay a fresh folder and cache for the case, run it there, remove the folder."""
    folder = root / f"case-{time.monotonic_ns()}"
    cwd, cache_root = lay_world(folder, shared)
    before = {name: get() for name, get in STATE.items()}
    with pytest.MonkeyPatch.context() as mp, read_only_folder(cwd):
        mp.chdir(cwd)
        mp.setenv("TWINPROP_DATA", str(cache_root))
        mp.setenv("TWINPROP_REGISTRY", "off")     # nothing is ever fetched
        mp.setenv("TWINPROP_MIRRORS", "")
        # A scheduler address on this machine nobody listens on: fail fast.
        mp.setattr(compare.reproduce.runner, "CONNECT_TIMEOUT", 0.5)
        before["environment"] = dict(os.environ)
        before["working folder"] = os.getcwd()
        files = snapshot(cwd)
        outcome = run_main(case.argv, budget)
        outcome.must_fail = case.must_fail
        after = {name: get() for name, get in STATE.items()}
        now = snapshot(cwd)
    outcome.leaked = tuple(name for name in STATE if after[name] != before[name])
    outcome.touched = tuple(sorted(name for name in files.keys() | now.keys()
                                   if files.get(name) != now.get(name)))
    remove_case(folder)
    return outcome


def examples() -> int:
    if "TWINPROP_FUZZ_EXAMPLES" in os.environ:
        return int(os.environ["TWINPROP_FUZZ_EXAMPLES"])
    return THOROUGH_EXAMPLES if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" \
        else CI_EXAMPLES


@pytest.mark.network          # reads MNIST from the session's cache, fetched once if need be
def test_generated_command_lines_never_end_in_a_traceback(
        shared: Shared, tmp_path_factory: pytest.TempPathFactory,
        capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path_factory.mktemp("fuzz-cases")
    specs = command_specs()
    # Generated lines fuzz the commands that run something, leaving --help out.
    fuzzable = {command: [o for o in options if not o.is_help]
                for command, options in specs.items() if command in leaf_commands()}
    tried: dict[tuple[str, ...], str] = {}       # command line -> its report if it failed
    tally = Tally()
    collect = os.environ.get("TWINPROP_FUZZ_COLLECT") == "1"

    log = open(os.environ["TWINPROP_FUZZ_LOG"], "a") if "TWINPROP_FUZZ_LOG" in os.environ \
        else None

    def check(outcome: Outcome) -> None:
        problems = problems_of(outcome)
        tally.add(outcome, problems)
        if log:
            last = (outcome.err.strip().splitlines() or [""])[-1]
            log.write(f"{outcome.status}\t{outcome.seconds:.2f}\t{outcome.line!r}\t{last!r}\n")
        if problems and not collect:
            raise AssertionError(report(outcome, problems))

    @settings(max_examples=max(1, examples()),
              derandomize="TWINPROP_FUZZ_SEED" not in os.environ, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate] if collect else list(Phase),
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much])
    @given(case=cases(fuzzable))
    def generated(case: Case) -> None:
        key = tuple(case.argv)
        if key in tried:            # each command line runs once; a failure fails again
            assume(bool(tried[key]))
            raise AssertionError(tried[key])
        outcome = run_case(case, root, shared, BUDGET_SECONDS)
        problems = problems_of(outcome)
        tried[key] = report(outcome, problems) if problems else ""
        check(outcome)

    if "TWINPROP_FUZZ_SEED" in os.environ:
        generated = seed(int(os.environ["TWINPROP_FUZZ_SEED"]))(generated)
    try:
        with only_this_machine():
            # First each command's fast command line alone: it must succeed, or
            # the fuzzed ones around it would test nothing but that failure.
            for command in sorted(FAST):
                outcome = run_case(Case(command, [*command, *_fast_argv(command)], []),
                                   root, shared, budget=60)
                if outcome.status != 0:
                    raise AssertionError(report(outcome, ["the fast command line fails"]))
                check(outcome)
            # Each command's help, and each group of commands without its command.
            for command in sorted(specs):
                check(run_case(Case(command, [*command, "--help"], []), root, shared, 60))
                if command not in fuzzable:
                    check(run_case(Case(command, list(command), [], "no command given"),
                                   root, shared, 60))
            for case in edge_cases(fuzzable):
                tried[tuple(case.argv)] = ""
                check(run_case(case, root, shared, BUDGET_SECONDS))
            if os.environ.get("TWINPROP_FUZZ_SWEEP") == "1":
                for case in single_option_cases(specs):
                    check(run_case(case, root, shared, BUDGET_SECONDS))
            if examples() > 0:
                generated()
    finally:
        if log:
            log.close()
        with capsys.disabled():
            print(f"\n{tally.summary()}")
            for outcome, problems in tally.findings.values():
                print(report(outcome, problems))
    assert not tally.findings, f"{len(tally.findings)} findings (listed above)"


# ---- the CLI's own guarantees, and this test's checks, on deliberately broken runs ----------

def test_a_value_with_a_line_break_still_gives_a_one_line_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # found by the fuzzer: a folder name holding a newline split the error in two
    assert main(["plot", str(tmp_path / "two\nlines")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "two\\nlines does not exist" in err


def _plot_raising(error: BaseException, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``twinprop plot`` raise ``error``, as a bug would."""
    def failing(args: Any) -> int:
        raise error

    monkeypatch.setattr(compare.cli.train, "run_plot", failing)


def test_an_exception_no_check_foresaw_is_one_line_naming_its_saved_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _plot_raising(ValueError("a bug\nover two lines"), monkeypatch)
    written: list[Path] = []
    real_write = compare.atomic.write_text

    def spy(path: Path, text: str) -> None:
        written.append(Path(path))
        real_write(path, text)

    monkeypatch.setattr(compare.atomic, "write_text", spy)
    outcome = run_main(["plot", str(tmp_path)], budget=60)
    assert outcome.status == 1 and not outcome.escaped and "Traceback" not in outcome.err
    assert outcome.err.count("\n") == 1
    assert outcome.err.startswith("twinprop: internal error: ValueError: a bug over two lines; "
                                  "this is a bug in twinprop, please report it with the "
                                  "traceback saved in ")
    saved = Path(outcome.err.split("saved in ")[1].strip())
    assert saved.parent == Path(tempfile.gettempdir())
    text = saved.read_text()
    assert text.startswith(f"command: twinprop plot {tmp_path}\n")
    assert "Traceback (most recent call last)" in text and "ValueError: a bug" in text
    # written atomically (a temporary renamed into place): nothing half-written beside it
    assert written == [saved] and not list(saved.parent.glob(f".{saved.name}.*"))


def test_a_traceback_that_cannot_be_saved_is_still_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _plot_raising(KeyError("x"), monkeypatch)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "afile"))
    (tmp_path / "afile").write_text("")
    outcome = run_main(["plot", str(tmp_path)], budget=60)
    assert outcome.status == 1 and outcome.err.count("\n") == 1
    assert outcome.err.startswith("twinprop: internal error: KeyError: 'x'; ")
    assert "please report it with the command line (its traceback could not be saved: " \
        in outcome.err


@pytest.mark.parametrize("error, problem", [
    (ValueError("boom"), "an internal error: twinprop: internal error: ValueError: boom"),
    (Hung("stuck"), "an exception escaped main: "),
    (compare.common.errors.ConfigError("a bad value"), "status 2 whose line names no way out"),
    (compare.common.errors.ConfigError("a bad\nvalue; choose another"), ""),
])
def test_the_checks_flag_what_the_cli_must_never_do(
        error: BaseException, problem: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The last resort turns a bug into one line; the fuzzer must still call it a bug.
    _plot_raising(error, monkeypatch)
    problems = problems_of(run_main(["plot", str(tmp_path)], budget=60))
    if problem:
        assert any(p.startswith(problem) for p in problems), problems
    else:
        assert problems == []


def test_the_checks_flag_a_multi_line_error_and_a_traceback_on_stdout() -> None:
    split = Outcome(["plot"], status=2, err="twinprop: error: a folder; choose\nanother\n")
    assert any("does not end in one line" in p for p in problems_of(split))
    printed = Outcome(["plot"], status=0, out="Traceback (most recent call last):\n")
    assert problems_of(printed) == ["a traceback on stdout"]
    twice = Outcome(["plot"], status=1, err="twinprop: error: a\ntwinprop: error: b\n")
    assert any("2 error lines" in p for p in problems_of(twice))
    assert problems_of(Outcome(["plot"], status=1, out="FAIL: 1 of 3 checks failed\n")) == []
    assert problems_of(Outcome(["plot"], status=3))[0] == "exit status 3 is not one of " \
        "(0, 1, 2, 130)"


def test_a_run_past_its_budget_gets_a_ctrl_c_and_must_stop_with_130(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(args: Any) -> int:
        time.sleep(30)
        return 0

    monkeypatch.setattr(compare.cli.train, "run_plot", slow)
    outcome = run_main(["plot", str(tmp_path)], budget=0.2)
    assert outcome.interrupted and outcome.status == 130 and outcome.seconds < 5
    assert outcome.err == "twinprop: interrupted\n" and problems_of(outcome) == []


@pytest.mark.parametrize("code", [0, 4])
def test_your_code_calling_sys_exit_while_it_is_checked_is_one_line_not_its_status(
        code: int, tmp_path: Path) -> None:
    # found by the fuzzer: twinprop ended silently with the status the user's code exited with
    # (0 would even pass for a check that passed)
    act = tmp_path / "act.py"
    act.write_text(f"import sys\n\n\ndef f(z):\n    sys.exit({code})\n\n\n"
                   "def f_prime(z):\n    return z\n")
    outcome = run_main(["derivatives", "--out", str(tmp_path / "out"), "--activation",
                        f"{act}:f"], budget=60)
    assert outcome.status == 2 and outcome.err.count("\n") == 1
    assert outcome.err == (f"twinprop: error: {act} called sys.exit({code}) at line 5 while "
                           "twinprop ran it; make it return (or raise an exception) instead\n")


def test_a_name_too_long_for_the_file_system_is_bad_input_in_one_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    # found by the fuzzer: exit status 1 (a failed run) for what is bad input
    assert main(["plot", "x" * 300]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("twinprop: error: File name too long: xxx")
    assert err.endswith("; give a shorter file or folder name\n")


@pytest.mark.parametrize("argv", [["plot", ""], ["plot", "run", "--out="],
                                  ["train", "--out", ""], ["gradcheck", "--activation="],
                                  ["bench", "--markdown", "a.json", ""],
                                  ["data", "show", "--out", ""]])
def test_an_empty_value_is_refused_by_every_option(
        argv: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # found by the fuzzer: an empty value (an unset shell variable, say) was taken as the
    # option left out, or as the working folder, and the command went on as if all was well
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(compare.cli.app, "run_command", lambda args: pytest.fail("it ran"))
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1
    assert ": error: argument " in err
    assert "the value is empty; give a value or leave the option out" in err


@pytest.mark.parametrize("argv, words", [
    (["derivatives", "--out", "out", "--activation=--"], "unknown activation '--'"),
    (["gradcheck", "--activation=--"], "unknown activation '--'"),
    (["gradcheck", "--twin=--"], "--"),
    (["reproduce", "--scheduler=--"], "--scheduler '--' is not HOST:PORT"),
])
def test_a_double_dash_given_as_a_value_is_that_value(
        argv: list[str], words: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # found by the fuzzer: argparse (before 3.12) turns --opt=-- into an empty list, which
    # crashed the commands (a list has no .strip) or passed for the option left out
    monkeypatch.chdir(tmp_path)
    outcome = run_main(argv, budget=60)
    assert outcome.status == 2 and problems_of(outcome) == [], report(outcome, [])
    assert outcome.err.startswith("twinprop: error: ") and words in outcome.err


def test_a_run_that_ignores_its_ctrl_c_is_a_hang(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    def stubborn(args: Any) -> int:
        for _ in range(100):
            try:
                time.sleep(0.1)
            except KeyboardInterrupt:
                pass
        return 0

    monkeypatch.setattr(compare.cli.train, "run_plot", stubborn)
    monkeypatch.setattr(sys.modules[__name__], "HANG_SECONDS", 0.3)
    outcome = run_main(["plot", str(tmp_path)], budget=0.1)
    assert outcome.seconds < 5
    assert problems_of(outcome)[0].startswith("an exception escaped main: ")
    assert "Hung: still running 0.3 s after its Ctrl-C" in outcome.escaped


def test_a_run_that_changes_the_process_is_a_finding(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "mnist").mkdir()
    (tmp_path / "results.json").write_text("{}")
    world = Shared(mnist=tmp_path / "mnist", run=tmp_path / "run",
                   results=tmp_path / "results.json")

    def meddling(args: Any) -> int:
        activations.ACTIVATIONS["mine"] = activations.ACTIVATIONS["tanh"]
        return 0

    monkeypatch.setattr(compare.cli.train, "run_plot", meddling)
    try:
        outcome = run_case(Case(("plot",), ["plot", "run"], []), tmp_path / "cases", world, 60)
    finally:
        activations.ACTIVATIONS.pop("mine", None)
    assert outcome.status == 0
    assert problems_of(outcome) == ["the run changed the process's activations"]
