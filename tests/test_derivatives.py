"""The derivatives study: hand, autograd and finite-difference derivatives agree,
the V-curves have the slopes theory predicts, the kink conventions are the
documented ones, and ``twinprop derivatives`` writes (and protects) its files."""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from autograd import elementwise_grad

from compare.cli import app as cli
from compare.derivatives import study as derivatives
from compare.derivatives.summary import summarize
from manual.activations import LEAKY_SLOPE

SMOOTH = ("sigmoid", "tanh", "softplus")
LINEAR_ON_STENCILS = ("relu", "leaky_relu", "identity")


@pytest.fixture(scope="module")
def table() -> dict[str, Any]:
    return derivatives.derivative_table()


def test_hand_derivative_matches_autograd_and_central_differences_away_from_kinks(
        table: dict[str, Any]) -> None:
    for name in derivatives.ACTIVATION_NAMES:
        row = table["activations"][name]
        # The oracle must be the autograd twin's own function, not the stand-in.
        assert row["autograd_source"].startswith("autodiff"), row["autograd_source"]
        # Both are closed forms evaluated in float64 with |g'| <= 1: a few ulps.
        assert row["max_abs_autograd_minus_hand"] <= 1e-14, name
        # At step eps^(1/3) the central difference is off by ~eps^(2/3)·|g| <= ~1e-10
        # on [-4, 4] (the V-curve minimum); a wrong derivative is off by >= 1e-3.
        assert row["max_abs_fd_minus_hand"] <= 1e-8, name
        # Only the kinked activations lose points, and only the one stencil at 0.
        expected_excluded = 1 if name in derivatives.KINKED else 0
        assert row["excluded_near_kink"] == expected_excluded, name


def test_wrong_hand_derivative_is_caught_by_both_oracles() -> None:
    """The tolerances above are not vacuous: a 1 % error in g' is far outside them."""
    act = derivatives.activations.ACTIVATIONS["tanh"]
    z = derivatives.Z_GRID
    wrong = 1.01 * act.deriv(z)
    fd = derivatives.central_difference(act.fn, z, 6e-6)
    twin_fn, _ = derivatives.autograd_activation("tanh")
    auto = elementwise_grad(twin_fn)(z)
    assert np.max(np.abs(fd - wrong)) > 1e-3
    assert np.max(np.abs(auto - wrong)) > 1e-3


def test_vcurve_truncation_side_has_slope_two_in_float64() -> None:
    curves = derivatives.vcurves(names=SMOOTH + LINEAR_ON_STENCILS, dtypes=("float64", "float32"))
    block64 = curves["dtypes"]["float64"]
    for name in SMOOTH:
        row = block64["activations"][name]
        assert row["truncation_side"], name
        assert 1.9 <= row["truncation_slope"] <= 2.1, (name, row["truncation_slope"])
        assert -1.2 <= row["rounding_slope"] <= -0.8, (name, row["rounding_slope"])
        # The best step is eps^(1/3) up to the constant (3|g| / |g'''|)^(1/3).
        assert 0.1 <= row["best_step"] / block64["eps_cbrt"] <= 10, (name, row["best_step"])
    for dtype, block in curves["dtypes"].items():
        for name in SMOOTH:
            row = block["activations"][name]
            assert 0.1 <= row["best_step"] / block["eps_cbrt"] <= 10, (dtype, name)
        for name in LINEAR_ON_STENCILS:
            # g linear on each stencil: no truncation error, so no V.
            assert not block["activations"][name]["truncation_side"], (dtype, name)
    # float32's best error is worse than float64's by roughly (eps32/eps64)^(2/3).
    best64 = min(block64["activations"][n]["min_error"] for n in SMOOTH)
    best32 = min(curves["dtypes"]["float32"]["activations"][n]["min_error"] for n in SMOOTH)
    assert best32 / best64 > 1e4


def test_vcurve_of_a_wrong_derivative_has_a_floor_not_slope_two() -> None:
    act = derivatives.activations.ACTIVATIONS["sigmoid"]
    err = derivatives.fd_errors(act.fn, lambda z: 1.001 * act.deriv(z),
                                derivatives.BASE_POINTS, derivatives.STEPS, "float64")
    fit = derivatives.fit_vcurve(derivatives.STEPS, np.median(err, axis=1), "float64")
    assert fit["truncation_slope"] is None or abs(fit["truncation_slope"]) < 0.5


def test_kink_conventions_are_as_documented() -> None:
    kinks = derivatives.kink_study()
    relu, leaky = kinks["relu"], kinks["leaky_relu"]
    # relu'(0): manual twin 0 (manual/activations.py), autograd twin 0
    # (x * (x > 0)), np.maximum under autograd splits the tie: 1/2.
    assert (relu["hand"], relu["twin_autograd"], relu["maximum_autograd"]) == (0.0, 0.0, 0.5)
    assert relu["left"] == [0.0] * 3 and relu["right"] == [1.0] * 3
    assert relu["central"] == [0.5] * 3  # exact: (h - 0) / 2h
    assert relu["hand_between_one_sided"]
    # leaky_relu'(0): both twins take the left slope; np.maximum averages.
    mid = (1 + LEAKY_SLOPE) / 2
    assert leaky["hand"] == pytest.approx(LEAKY_SLOPE, abs=0)
    assert leaky["twin_autograd"] == pytest.approx(LEAKY_SLOPE, rel=1e-15)
    assert leaky["maximum_autograd"] == pytest.approx(mid, rel=1e-15)
    assert leaky["central"] == pytest.approx([mid] * 3, rel=1e-12)
    assert leaky["left"] == pytest.approx([LEAKY_SLOPE] * 3, rel=1e-12)
    assert leaky["right"] == pytest.approx([1.0] * 3, rel=1e-12)
    # The window shows central differences ramping from the left slope to
    # the right one over |z| < h, and the hand derivative jumping at 0.
    win = relu["window"]
    z = win["z"]
    assert np.all(win["central"][z <= -win["step"]] == 0)
    assert np.allclose(win["central"][z >= win["step"]], 1, rtol=1e-12, atol=0)
    assert np.all(win["hand"] == (z > 0))


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = cli.main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.slow
def test_cli_writes_every_file_with_summary_numbers_from_the_data(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "deriv"
    status, stdout, _ = _run(["derivatives", "--out", str(out)], capsys)
    assert status == 0
    from compare.cli.derivatives import OUTPUT_FILES
    written = [name for name in OUTPUT_FILES if name != "check.json"]   # only for your own
    assert sorted(p.name for p in out.iterdir()) == sorted(written)
    for name in written:
        assert f"wrote {out / name}" in stdout
        if name.endswith(".png"):
            assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = {stem: json.loads((out / f"{stem}.json").read_text())
            for stem in ("derivatives", "vcurves", "kink")}
    summary = (out / "summary.md").read_text()
    # The summary is a function of the JSON on disk, not of anything else.
    assert summary == summarize(data["derivatives"], data["vcurves"], data["kink"])
    sigmoid64 = data["vcurves"]["dtypes"]["float64"]["activations"]["sigmoid"]
    assert (f"| float64 | sigmoid | {sigmoid64['best_step']:.2g} | {sigmoid64['min_error']:.2g} "
            f"| {sigmoid64['truncation_slope']:.2f} | {sigmoid64['rounding_slope']:.2f} |"
            ) in summary
    assert "| relu at z = 0 | 0 | 1 | 0.5 | 0 | 0 | 0.5 |" in summary


def test_cli_refuses_to_overwrite_without_force(
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "deriv"
    out.mkdir()
    (out / "summary.md").write_text("an earlier run\n")
    status, stdout, stderr = _run(["derivatives", "--out", str(out)], capsys)
    assert status == 2
    assert stderr.count("\n") == 1 and stderr.startswith("twinprop: error: ")
    assert "--force" in stderr and "summary.md" in stderr
    assert (out / "summary.md").read_text() == "an earlier run\n"
    assert [p.name for p in out.iterdir()] == ["summary.md"]

    # With --force it overwrites. The figures are drawn by the test above;
    # stub them here to keep the suite fast.
    from compare.derivatives import plots as plot_derivatives
    for fn in ("plot_derivatives", "plot_derivative_errors", "plot_vcurves", "plot_kink"):
        monkeypatch.setattr(plot_derivatives, fn, lambda data: b"\x89PNG stub")
    status, _, _ = _run(["derivatives", "--out", str(out), "--force"], capsys)
    assert status == 0
    assert (out / "summary.md").read_text().startswith("# Activation derivatives")


def test_cli_rejects_a_file_as_out_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "not-a-dir"
    target.write_text("x")
    status, _, stderr = _run(["derivatives", "--out", str(target)], capsys)
    assert status == 2
    assert stderr.count("\n") == 1 and "is a file" in stderr


def test_figures_draw_data_whose_unmeasurable_values_are_none() -> None:
    # log(z + 4) has no value below z = -4: its JSON holds None there, in g, the
    # hand derivative and the central difference alike. The figures drew the
    # central difference with np.asarray, an object array, and failed on None.
    from compare.derivatives import plots
    from compare.jsonable import to_jsonable
    from manual.activations import Activation
    act = Activation("lg", lambda z: np.log(z + 4.0), lambda z: 1 / (z + 4.0), None)
    with np.errstate(all="ignore"):
        table = to_jsonable(derivatives.derivative_table(names=[act]), nonfinite_as_none=True)
    assert None in table["activations"]["lg"]["fd"]
    for draw in (plots.plot_derivatives, plots.plot_derivative_errors):
        assert draw(table)[:8] == b"\x89PNG\r\n\x1a\n"


def test_force_removes_the_files_of_an_earlier_run_that_this_run_does_not_write(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # An earlier run of your own activation and of relu left check.json and
    # kink.json; a run of tanh alone writes neither, and left them beside its
    # new summary.md as if they were its own.
    from compare.derivatives import plots as plot_derivatives
    for fn in ("plot_derivatives", "plot_derivative_errors", "plot_vcurves", "plot_kink"):
        monkeypatch.setattr(plot_derivatives, fn, lambda data: b"\x89PNG stub")
    out = tmp_path / "deriv"
    out.mkdir()
    for name in ("check.json", "kink.json", "kink.png", "summary.md", "notes.txt"):
        (out / name).write_text("an earlier run\n")
    status, stdout, _ = _run(["derivatives", "--out", str(out), "--activation", "tanh",
                              "--force"], capsys)
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([
        "derivatives.json", "derivatives.png", "derivative_errors.png", "vcurves.json",
        "vcurves.png", "summary.md", "notes.txt"])
    assert (out / "notes.txt").read_text() == "an earlier run\n"      # not the study's own
