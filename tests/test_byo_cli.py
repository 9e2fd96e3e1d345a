"""``twinprop gradcheck --twin`` and ``--activation PATH.py:NAME`` from the command line."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from compare.cli.app import main

ROOT = Path(__file__).resolve().parent.parent
FILES = ROOT / "tests" / "byo_files"
EXAMPLES = ROOT / "examples"
SMALL = ["--hidden", "4", "--batch", "3"]      # 784-4-10 on 3 real MNIST images


@pytest.mark.network
@pytest.mark.slow
def test_the_documented_command_checks_the_correct_example_from_the_repository_root() -> None:
    proc = subprocess.run([sys.executable, "-m", "compare", "gradcheck", "--twin",
                           "examples/mlp_correct.py", *SMALL], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("twinprop gradcheck --twin: is your backprop right? "
                               "(mlp_correct, from examples/mlp_correct.py)")
    assert "yours is the paper network's loss" in proc.stdout
    assert "mode full:" in proc.stdout and "calls of your function" in proc.stdout
    assert lines[-1].startswith("PASS")


@pytest.mark.network
def test_a_buggy_example_exits_1_and_prints_the_diagnosis(
        capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["gradcheck", "--twin", str(EXAMPLES / "bug_batch_mean.py"), *SMALL])
    out = capsys.readouterr().out
    assert status == 1
    assert out.count("diagnosis: [scale]") == 4           # once per tensor, not per row
    assert "c = 3 = the batch size: the 1/B factor is missing" in out
    assert out.strip().splitlines()[-1].startswith("FAIL")


@pytest.mark.network
def test_json_has_kind_and_detail_on_every_failing_check(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status = main(["gradcheck", "--twin", str(EXAMPLES / "bug_no_bias_grad.py"), "--json",
                   "--out", str(tmp_path / "report"), *SMALL])
    assert status == 1
    report = json.loads(capsys.readouterr().out)
    assert report["twin"]["name"] == "bug_no_bias_grad" and not report["passed"]
    assert report["user"]["tanh"]["loss_model"]["equals_paper"]
    failed = [c for c in report["checks"] if c["verdict"] == "FAIL"]
    assert {c["tensor"] for c in failed} == {"b1", "b2"}
    for check in failed:
        assert check["diagnosis"] and check["diagnosis"][0]["kind"] == "zero"
        assert check["diagnosis"][0]["detail"].startswith(f"grad {check['tensor']} is all zeros")
    assert json.loads((tmp_path / "report" / "gradcheck.json").read_text())["checks"]


@pytest.mark.network
@pytest.mark.parametrize("mode", ["fast", "sweep", "complex"])
def test_every_mode_runs_on_a_user_file(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, mode: Any) -> None:
    args = ["gradcheck", "--twin", str(EXAMPLES / "bug_batch_mean.py"), "--mode", mode,
            "--out", str(tmp_path), *SMALL]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "diagnosis: [scale]" in out and f"mode {mode}:" in out
    if mode == "sweep":
        assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.network
def test_a_module_and_function_name_can_be_given(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FILES))
    assert main(["gradcheck", "--twin", "onehot_dict:loss_and_grads", *SMALL]) == 0
    assert "(onehot_dict, from onehot_dict)" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--twin", str(FILES / "no_function.py")], "defines no function loss_and_grads"),
    (["--twin", str(FILES / "raises_inside.py")], "raised ValueError"),
    (["--twin", "no/such/file.py"], "no/such/file.py: no such file"),
    (["--twin", "no_such_module_here"], "no module named 'no_such_module_here'"),
    (["--twin", str(FILES / "summed.py"), "--selftest"], "drop --twin"),
    (["--hidden", "100000", "100000"], "needs about"),
    (["--batch", "60001"], "--batch 60001 is more than the 60000 training images"),
    (["--activation", "nothing.py:f"], "nothing.py: no such file"),
    (["--activation", f"{FILES / 'swish_autograd.py'}"], "name the function as"),
])
def test_unusable_input_is_refused_up_front_with_one_line(
        capsys: pytest.CaptureFixture[str], args: Any, message: Any) -> None:
    assert main(["gradcheck", *SMALL, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("twinprop: error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_an_output_folder_that_is_a_file_is_refused_before_work(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["gradcheck", "--twin", str(EXAMPLES / "mlp_correct.py"),
                 "--out", str(blocker / "sub"), *SMALL]) == 2
    captured = capsys.readouterr()
    assert "is under" in captured.err and "checking" not in captured.err


@pytest.mark.parametrize("seed", ["-1", "x"])
def test_a_bad_seed_is_a_usage_error(capsys: pytest.CaptureFixture[str], seed: Any) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["gradcheck", "--seed", seed])
    assert caught.value.code == 2


@pytest.mark.network
def test_the_table_stays_aligned_for_long_oracle_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gradcheck", "--activation", "tanh", *SMALL]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("activation"))
    column = lines[head].index("verdict")
    rows = [line for line in lines[head + 2:] if line.startswith("tanh ")]
    assert any("buffered vs autodiff" in row for row in rows)
    assert all(row[column:].startswith(("pass", "FAIL", "skip")) for row in rows)


@pytest.mark.network
def test_your_own_activation_is_checked_in_the_suite(capsys: pytest.CaptureFixture[str]) -> None:
    spec = f"{FILES / 'swish_autograd.py'}:swish"
    assert main(["gradcheck", "--activation", spec, *SMALL]) == 0
    out = capsys.readouterr().out
    for oracle in ("swish_prime vs FD", "swish_prime vs complex", "swish_prime vs autograd",
                   "manual vs FD", "autodiff vs FD"):
        assert f"swish       {oracle}" in out
    wrong = f"{FILES / 'swish_wrong.py'}:swish"
    assert main(["gradcheck", "--activation", wrong, *SMALL]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out.splitlines()[-1] and "swish swish_prime vs FD g'" in out


@pytest.mark.network
def test_an_activation_autograd_cannot_trace_leaves_the_autodiff_twin_out(
        capsys: pytest.CaptureFixture[str]) -> None:
    spec = f"{FILES / 'leaky_where.py'}:leaky"
    assert main(["gradcheck", "--activation", spec, *SMALL]) == 0
    out = capsys.readouterr().out
    assert "the autodiff twin is left out: leaky is not written with autograd.numpy" in out
    assert "autodiff vs FD" not in out


def test_the_derivative_study_checks_your_activation(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    good = f"{FILES / 'swish_autograd.py'}:swish"
    assert main(["derivatives", "--out", str(tmp_path / "a"), "--activation", good]) == 0
    assert "PASS" in capsys.readouterr().out
    check = json.loads((tmp_path / "a" / "check.json").read_text())
    assert {row["oracle"] for row in check} == {"swish_prime vs FD", "swish_prime vs complex",
                                                "swish_prime vs autograd"}
    assert "## Your derivative, checked" in (tmp_path / "a" / "summary.md").read_text()
    wrong = f"{FILES / 'swish_wrong.py'}:swish"
    assert main(["derivatives", "--out", str(tmp_path / "b"), "--activation", wrong]) == 1
    assert "FAIL: 3 of 3 derivative checks failed" in capsys.readouterr().out


@pytest.mark.parametrize("body, message", [
    ("return None", "f(z) returned None for an input of shape (7, 1); return an array"),
    ("return 'z'", "f(z) returned 'z', not numbers; return an array"),
    ("return z[0]", "f(z) returned shape (1,) for an input of shape (7, 1); return an array"),
])
def test_an_activation_returning_no_array_of_the_inputs_shape_says_what_to_return(
        tmp_path: Path, body: str, message: str) -> None:
    # found by tests/test_cli_fuzz.py: the line named no way out, and took None for shape ()
    from compare.gradcheck.useractivation import load_activation
    from compare.gradcheck.usercode import UserCodeError
    path = tmp_path / "act.py"
    path.write_text(f"def f(z):\n    {body}\n\n\ndef f_prime(z):\n    return z\n")
    with pytest.raises(UserCodeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_activation(f"{path}:f")


@pytest.mark.parametrize("spec", ["act.py:", ":"])
def test_an_activation_without_a_name_is_told_the_right_form(spec: str) -> None:
    # found by tests/test_cli_fuzz.py: "act.py:" was told to write "act.py::NAME"
    from compare.gradcheck.useractivation import load_activation
    from compare.gradcheck.usercode import UserCodeError
    with pytest.raises(UserCodeError) as caught:
        load_activation(spec)
    assert f"name the function as {spec[:-1]}:NAME " in str(caught.value)


NOT_EVERYWHERE_FINITE = [
    # log(z + 4): correct where it is defined, NaN below z = -4
    ("import numpy as np\n\ndef f(z):\n    return np.log(z + 4.0)\n\n\n"
     "def f_prime(z):\n    return 1 / (z + 4.0)\n", "f(z) is not finite at z = -6"),
    # a pole at z = 0.5, with its exact derivative
    ("import numpy as np\n\ndef f(z):\n    return 1 / (z - 0.5)\n\n\n"
     "def f_prime(z):\n    return -1 / (z - 0.5) ** 2\n", "f(z) is not finite at z = 0.5"),
]


@pytest.mark.parametrize("command", [["derivatives", "--out", "{tmp}/study"],
                                     ["gradcheck", *SMALL]])
@pytest.mark.parametrize("source, message", NOT_EVERYWHERE_FINITE)
def test_an_activation_not_finite_where_it_is_checked_is_refused_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], source: str,
        message: str) -> None:
    # The log's NaN below -4 passed the check unseen (gradcheck: PASS), and the
    # pole made both commands end in an internal error: only 7 points in
    # [-3, 3] were checked to be finite, not the grid the check uses.
    path = tmp_path / "act.py"
    path.write_text(source)
    argv = [part.format(tmp=tmp_path) for part in command]
    status = main([*argv, "--activation", f"{path}:f"])
    err = capsys.readouterr().err
    assert status == 2, err
    assert err.count("\n") == 1 and err.startswith("twinprop: error: ")
    assert message in err and "make f and f_prime finite for every z" in err


def test_a_derivative_check_that_meets_nan_fails_and_says_where() -> None:
    # log(z + 6.000001) is finite on the grid, but its central differences at
    # z = -6 reach below its domain: NaN, which passed as agreement.
    from compare.gradcheck.report import FAIL
    from compare.gradcheck.useractivation import derivative_rows
    from manual.activations import Activation
    act = Activation("lg", lambda z: np.log(z + 6.000001), lambda z: 1 / (z + 6.000001), None)
    with np.errstate(all="ignore"):
        rows, _ = derivative_rows(act)
    fd = rows[0]
    assert fd.oracle == "lg_prime vs FD" and fd.verdict == FAIL and fd.failed >= 1
    assert fd.note.startswith("worst at z = -6:")
    assert fd.diagnosis and "not finite" in fd.diagnosis[0].detail


def test_the_diagnosis_of_a_derivative_off_nowhere_on_the_grid_is_empty() -> None:
    # Every point within its tolerance, yet no simple rule fits (c = 1.5 misses
    # the tight point): the diagnosis found no point off and took the minimum of
    # an empty array.
    from compare.gradcheck.useractivation import derivative_diagnosis
    from manual.activations import ACTIVATIONS
    z = np.array([0.5, 1.0])
    true, hand, tol = np.array([1.0, 1.0]), np.array([1.0, 2.0]), np.array([1e-9, 1.0])
    assert derivative_diagnosis(ACTIVATIONS["tanh"], z, hand, true, tol) == []


def test_the_derivative_study_checks_finiteness_on_its_own_grid(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The study's grid, np.linspace(-4, 4, 801), is not the check's to the last
    # bit: a pole on one of its points passed the loader (finite, if huge, on
    # the check's grid) and the study divided by zero.
    path = tmp_path / "act.py"
    path.write_text("import numpy as np\n\nPOLE = np.linspace(-4, 4, 801)[3]\n\n\n"
                    "def f(z):\n    return 1 / (z - POLE)\n\n\n"
                    "def f_prime(z):\n    return -1 / (z - POLE) ** 2\n")
    status = main(["derivatives", "--out", str(tmp_path / "study"), "--activation",
                   f"{path}:f"])
    err = capsys.readouterr().err
    assert status == 2, err
    assert err.count("\n") == 1 and "f(z) is not finite at z = -3.97 (1 of the 801 points" in err


def test_an_activation_file_is_imported_once(tmp_path: Path) -> None:
    from compare.gradcheck.useractivation import load_activation
    log = tmp_path / "imports.txt"
    path = tmp_path / "act.py"
    path.write_text(f"import numpy as np\n\nwith open({str(log)!r}, 'a') as f:\n"
                    "    f.write('x')\n\n\ndef f(z):\n    return np.tanh(z)\n\n\n"
                    "def f_prime(z):\n    return 1 - np.tanh(z) ** 2\n\n\nf_kink = None\n")
    act = load_activation(f"{path}:f")
    assert log.read_text() == "x"
    assert act.fn.__globals__ is act.deriv.__globals__


def test_a_derivative_off_only_beyond_the_finite_differences_is_diagnosed_by_what_failed(
        tmp_path: Path) -> None:
    """Off by 1e-11: within the finite differences' tolerance, beyond the complex step's."""
    from compare.gradcheck.report import FAIL
    from compare.gradcheck.useractivation import derivative_rows, load_activation
    source = (Path(__file__).parent / "byo_files" / "swish_autograd.py").read_text()
    path = tmp_path / "swish_off.py"
    path.write_text(source.replace("return s + z * s * (1 - s)",
                                   "return s + z * s * (1 - s) + 1e-11"))
    rows, _ = derivative_rows(load_activation(f"{path}:swish"))
    verdicts = {row.oracle.split(" vs ")[1]: row.verdict for row in rows}
    assert verdicts["FD"] != FAIL and verdicts["complex"] == FAIL
    kinds = [d.kind for row in rows if row.verdict == FAIL for d in row.diagnosis]
    assert "scale" not in kinds, [d.detail for row in rows for d in row.diagnosis]
