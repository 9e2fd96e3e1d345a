"""``twinprop gradcheck``: exit status, text and JSON output, files, selftest."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from numpy.typing import NDArray

import manual
from compare.cli.app import main
from compare.twins import TWINS, Params

SMALL = ["--hidden", "4", "--batch", "3"]      # 784-4-10 on 3 real MNIST images


def test_selftest_command_exits_0_and_reports_every_bug_caught() -> None:
    proc = subprocess.run([sys.executable, "-m", "compare", "gradcheck", "--selftest"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for bug in ("wrong sigmoid derivative", "dropped bias gradient",
                "transposed weight gradient", "missing 1/batch factor",
                "relu derivative wrong at its kink", "gradients swapped between layers"):
        lines = [line for line in out.splitlines() if bug in line]
        assert len(lines) == len(TWINS)
        assert all(line.startswith(("[caught]", "[n/a]")) for line in lines)
    # each applicable bug (derivative bugs are n/a for autodiff), both modes
    assert out.count("worst element") == 2 * (6 * len(TWINS) - 2)
    assert "FALSE ALARM" not in out and "MISSED" not in out
    assert out.strip().splitlines()[-1].startswith("PASS")


def test_selftest_json_names_the_tensor_and_worst_element(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gradcheck", "--selftest", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["passed"]
    transposed = next(b for b in report["bugs"] if b["name"] == "transposed weight gradient"
                      and b["twin"] == "buffered")
    assert transposed["full_failed"] == ["W2"] and transposed["caught"]
    row = transposed["rows"][0]
    assert row["tensor"] == "W2" and len(row["worst"]) == 2
    assert row["analytic"] != row["numeric"]


@pytest.mark.network
def test_gradcheck_passes_and_explains_itself_on_the_correct_twins(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gradcheck", "--activation", "tanh", *SMALL]) == 0
    out = capsys.readouterr().out
    assert "network  784-4-10 (3,190 parameters)" in out
    assert "rule" in out and "Richardson" in out
    for oracle in ("manual vs FD", "buffered vs FD", "autodiff vs FD", "manual vs buffered",
                   "manual vs autodiff", "buffered vs autodiff"):
        assert oracle in out
    # 3 twins vs FD and 3 pairs, 5 rows each (loss, W1, b1, W2, b2)
    assert out.strip().splitlines()[-1].startswith("PASS: all 30 checks passed")


@pytest.mark.network
@pytest.mark.parametrize("twin", sorted(TWINS))
@pytest.mark.parametrize("mode", ["full", "fast", "complex"])
def test_gradcheck_exits_1_when_any_twin_is_broken(
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        mode: Any,
        twin: Any) -> None:
    correct = TWINS[twin].loss_and_grads

    def dropped_bias(params: Params, X: NDArray, y: NDArray,
                     activation: str = "tanh") -> tuple[float, Params]:
        loss, grads = correct(params, X, y, activation)
        return loss, [(dW, 0 * db) for dW, db in grads]

    monkeypatch.setattr(TWINS[twin], "loss_and_grads", dropped_bias)
    assert main(["gradcheck", "--activation", "sigmoid", "--mode", mode, *SMALL]) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("FAIL")
    assert f"sigmoid {twin} vs" in last and "b1" in last


@pytest.mark.network
def test_a_wrong_in_place_derivative_fails_the_default_suite(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The buffered twin's own code path is checked: break only its in-place tanh'."""
    act = manual.ACTIVATIONS["tanh"]

    def off_by_a_little(z: NDArray, keep: NDArray, out: NDArray) -> None:
        assert act.deriv_into is not None
        act.deriv_into(z, keep, out)
        out *= 1 + 1e-6

    monkeypatch.setitem(manual.ACTIVATIONS, "tanh",
                        dataclasses.replace(act, deriv_into=off_by_a_little))
    assert main(["gradcheck", "--activation", "tanh", *SMALL]) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert "tanh buffered vs FD W1" in last and "tanh manual vs FD" not in last


@pytest.mark.network
def test_gradcheck_json_is_complete_and_parseable(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status = main(["gradcheck", "--activation", "relu", "--mode", "fast", "--json",
                   "--out", str(tmp_path), *SMALL])
    assert status == 0
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] and report["mode"] == "fast" and report["network"] == [784, 4, 10]
    assert report["kink_conventions"]["relu"]["autograd np.maximum"] == 0.5
    row = next(r for r in report["checks"] if r["tensor"] == "W1")
    for key in ("checked", "max_abs", "max_rel", "worst", "analytic", "numeric", "step",
                "fd_error", "tolerance", "verdict"):
        assert key in row
    assert json.loads((tmp_path / "gradcheck.json").read_text())["passed"]


@pytest.mark.network
def test_sweep_writes_data_and_a_plot(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["gradcheck", "--activation", "softplus", "--mode", "sweep",
                 "--out", str(tmp_path), *SMALL]) == 0
    out = capsys.readouterr().out
    assert "slope 2.0" in out
    for name in ("sweep.json", "sweep.csv", "sweep.png", "gradcheck.json"):
        assert (tmp_path / name).stat().st_size > 0
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    curves = json.loads((tmp_path / "sweep.json").read_text())["curves"]
    assert set(curves["softplus"]["manual"]) == {"W1", "b1", "W2", "b2"}


def test_an_unknown_activation_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gradcheck", "--activation", "swish"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("twinprop: error: unknown activation 'swish'")
    assert len(err.strip().splitlines()) == 1


def test_a_network_wider_than_a_float_can_count_is_refused_in_one_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    # found by tests/test_cli_fuzz.py: the memory estimate's GiB overflowed a float
    wide = str(10 ** 400)
    assert main(["gradcheck", "--hidden", wide, "--activation", "tanh", "--batch", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("twinprop: error: a 784-1000") and "GiB" in err
    assert "narrower --hidden" in err and len(err.strip().splitlines()) == 1
