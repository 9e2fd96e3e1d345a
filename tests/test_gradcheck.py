"""The gradient checks: they pass on the correct twins, fail on broken ones,
and their parts (structured differences, kinks, tolerances) do what they say."""

import time
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

import autodiff
import manual
from compare.common.init import init_params
from compare.gradcheck import (
    complex_step,
    directional,
    finite_diff,
    full,
    kinks,
    selftest,
    sweep,
)
from compare.gradcheck import tolerance as T
from compare.gradcheck.lossfn import build_cache
from compare.gradcheck.report import FAIL, PASS, SKIP, TensorCheck
from compare.gradcheck.structured import all_changes
from compare.twins import TWINS, Params

ACTIVATIONS = tuple(manual.ACTIVATIONS)
SMOOTH = tuple(a for a in ACTIVATIONS if manual.ACTIVATIONS[a].kink is None)


def small_problem(seed: int = 0, sizes: tuple[int, ...] = (6, 5, 4, 10),
                  batch: int = 5) -> tuple[Params, NDArray, NDArray]:
    """A small network with nonzero biases and inputs in [0, 1)."""
    rng = np.random.default_rng(seed)
    params = [(W, 0.3 * rng.standard_normal(b.shape))
              for W, b in init_params(list(sizes), init="xavier", seed=seed)]
    X = rng.random((batch, sizes[0]))
    y = rng.integers(0, sizes[-1], size=batch)
    return params, X, y


def verdicts(rows: list[TensorCheck]) -> dict[tuple[str, str], str]:
    return {(r.oracle, r.tensor): r.verdict for r in rows}


def failed_tensors(rows: list[TensorCheck], oracle: str) -> set[str]:
    return {r.tensor for r in rows if r.oracle == oracle and r.verdict == FAIL}


def broken_manual(monkeypatch: pytest.MonkeyPatch, tensor: int = 0,
                  index: tuple[int, ...] = (2, 3), amount: float = 1e-3) -> None:
    """Replace manual.loss_and_grads by one that is wrong in one element."""
    correct = manual.loss_and_grads

    def wrong(params: Params, X: NDArray, y: NDArray,
              activation: str = "tanh") -> tuple[float, Params]:
        loss, grads = correct(params, X, y, activation)
        flat = [t.copy() for pair in grads for t in pair]
        flat[tensor][index] += amount
        return loss, [(flat[2 * k], flat[2 * k + 1]) for k in range(len(grads))]

    monkeypatch.setattr(manual, "loss_and_grads", wrong)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_structured_differences_equal_naive_per_coordinate_differences(activation: Any) -> None:
    params, X, y = small_problem(sizes=(4, 3, 3, 10), batch=4)
    h = T.STEP
    cache = build_cache(params, X, y, activation)
    structured = [d for lc in all_changes(cache, finite_diff.steps(h))
                  for d in (lc.dW, lc.db)]
    naive = [d for pair in finite_diff.naive_central_differences(params, X, y, activation, h)
             for d in pair]
    for dL, reference in zip(structured, naive):
        central = finite_diff.differences(dL, h).central_h
        # Both are D(h); they differ only by the rounding of the naive pass's
        # full-loss subtraction, about eps |L| / h.
        np.testing.assert_allclose(central, reference, rtol=0, atol=100 * T.EPS * 3 / h)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_mode_passes_on_the_correct_twins(activation: Any) -> None:
    params, X, y = small_problem()
    rows = (full.run_full(params, X, y, activation)
            + directional.run_fast(params, X, y, activation)
            + complex_step.run_complex(params, X, y, activation)
            + sweep.run_sweep(params, X, y, activation)[0])
    bad = [(r.oracle, r.tensor, r.max_abs, r.tolerance, r.note) for r in rows
           if r.verdict == FAIL]
    assert not bad
    oracles = {r.oracle for r in rows}
    assert {"manual vs FD", "autodiff vs FD", "manual vs autodiff",
            "manual vs complex", "autodiff vs complex"} <= oracles


@pytest.mark.network
def test_full_mode_checks_every_parameter_of_784_100_10_on_real_mnist() -> None:
    from compare.gradcheck.suite import load_batch
    X, y, _ = load_batch(32, seed=0)
    params = init_params([784, 100, 10], init="xavier", seed=0)
    start = time.perf_counter()
    rows = full.run_full(params, X, y, "tanh")
    seconds = time.perf_counter() - start
    assert all(r.verdict == PASS for r in rows)
    for oracle in ("manual vs FD", "autodiff vs FD", "manual vs autodiff"):
        checked = sum(r.checked for r in rows if r.oracle == oracle and r.tensor != "loss")
        assert checked == 79_510
    assert seconds < 60          # about 2-4 s on 2 cores; the bound only catches a blow-up


def test_relative_error_is_finite_and_zero_when_both_values_are_zero() -> None:
    a = np.array([0.0, 0.0, 1e-300, 1.0, -2.0])
    n = np.array([0.0, 1e-20, 0.0, 1.0 + 1e-12, 2.0])
    rel = T.relative_error(a, n, scale=1e-10)
    assert np.all(np.isfinite(rel))
    assert rel[0] == 0.0
    assert rel[1] == pytest.approx(1e-10)          # both below the scale: tiny
    assert rel[3] == pytest.approx(1e-12, rel=1e-3)
    assert rel[4] == pytest.approx(2.0)


def test_a_passing_tensor_of_zeros_reports_zero_relative_error() -> None:
    # Inputs that are 0 for the whole batch give exactly zero gradients and
    # exactly zero differences; the report must show 0, not NaN.
    params, X, y = small_problem()
    X[:, 0] = 0.0
    rows = full.run_full(params, X, y, "tanh")
    assert all(np.isfinite(r.max_rel) for r in rows)
    assert all(r.verdict == PASS for r in rows)


def kink_problem() -> tuple[Params, NDArray, NDArray]:
    """1 input, 2 relu units: unit 0 sits 3e-6 above 0 (within a step), unit 1 at -1.5."""
    params = [(np.array([[1.0, 1.0]]), np.array([-1.0 + 3e-6, -2.5])),
              (np.linspace(-1, 1, 20).reshape(2, 10), np.zeros(10))]
    X, y = np.array([[1.0]]), np.array([3])
    return params, X, y


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_a_step_across_zero_is_labelled_kink_and_checked_by_one_sided_slopes(
        activation: Any) -> None:
    params, X, y = kink_problem()
    cache, diffs, kink, exact = full.coordinate_differences(params, X, y, activation)
    # W1[0, 0] and b1[0] move unit 0 (3e-6 from the kink) by 1e-5: kinks.
    assert kink[0].tolist() == [[True, False]]
    assert kink[1].tolist() == [True, False]
    assert not kink[2].any() and not kink[3].any()     # output layer: no hidden unit moves
    assert not any(e.any() for e in exact)
    # The central difference straddles the kink and is far from the derivative ...
    _, grads = manual.loss_and_grads(params, X, y, activation)
    assert abs(diffs[1].numeric[0] - grads[0][1][0]) > 100 * T.floor(cache.loss, T.STEP)
    # ... yet the twins pass, by the one-sided-slope rule.
    rows = full.run_full(params, X, y, activation)
    assert all(r.verdict == PASS for r in rows)
    row = next(r for r in rows if r.oracle == "manual vs FD" and r.tensor == "b1")
    assert row.kinks == 1


def test_a_value_outside_the_one_sided_slopes_fails_at_a_kink(
        monkeypatch: pytest.MonkeyPatch) -> None:
    params, X, y = kink_problem()
    _, diffs, _, _ = full.coordinate_differences(params, X, y, "relu")
    width = abs(diffs[1].right_h2[0] - diffs[1].left_h2[0])     # the slopes' gap at b1[0]
    assert width > 0.01
    broken_manual(monkeypatch, tensor=1, index=(0,), amount=1.5 * width)
    rows = full.run_full(params, X, y, "relu")
    assert failed_tensors(rows, "manual vs FD") == {"b1"}
    assert failed_tensors(rows, "autodiff vs FD") == set()


def test_kink_conventions_at_exactly_zero() -> None:
    relu = kinks.conventions("relu")
    assert relu is not None
    assert relu == {"documented": 0.0, **{f"{twin} measured": 0.0 for twin in TWINS},
                    "autograd np.maximum": 0.5, "central difference": 0.5}
    leaky = kinks.conventions("leaky_relu")
    assert leaky is not None
    assert leaky["documented"] == 0.01
    assert all(leaky[f"{twin} measured"] == 0.01 for twin in TWINS)
    assert leaky["autograd np.maximum"] == pytest.approx(0.505)
    assert leaky["central difference"] == pytest.approx(0.505)
    assert kinks.conventions("tanh") is None


def test_exact_zero_pre_activations_are_held_to_the_twins_convention(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A blank input with zero biases puts every relu unit of that sample at 0.
    params, X, y = selftest.problem()
    rows = full.run_full(params, X, y, "relu")
    assert all(r.verdict == PASS for r in rows)
    # relu'(0) = 1 instead of the documented 0 is caught, though 1 lies
    # between the one-sided slopes of a single unit.
    kink_bug = next(b for b in selftest.BUGS if "kink" in b.name)
    for twin in ("manual", "buffered"):
        monkeypatch.setattr(TWINS[twin], "loss_and_grads",
                            kink_bug.inject(TWINS[twin].loss_and_grads))
    rows = full.run_full(params, X, y, "relu")
    assert failed_tensors(rows, "manual vs FD") == {"b1", "b2"}
    assert failed_tensors(rows, "buffered vs FD") == {"b1", "b2"}
    assert not failed_tensors(rows, "autodiff vs FD")


@pytest.mark.parametrize("mode", ["full", "fast", "complex"])
def test_a_monkeypatched_broken_manual_twin_fails_and_is_named(
        monkeypatch: pytest.MonkeyPatch, mode: Any) -> None:
    params, X, y = small_problem()
    broken_manual(monkeypatch, tensor=0, index=(2, 3), amount=1e-3)
    run: Any = {"full": full.run_full, "fast": directional.run_fast,
                "complex": complex_step.run_complex}[mode]
    rows = run(params, X, y, "tanh")
    numeric_oracle = "manual vs complex" if mode == "complex" else "manual vs FD"
    assert failed_tensors(rows, numeric_oracle) == {"W1"}
    assert failed_tensors(rows, "manual vs autodiff") == {"W1"}
    assert not failed_tensors(rows, numeric_oracle.replace("manual", "autodiff"))
    row = next(r for r in rows if r.oracle == numeric_oracle and r.tensor == "W1")
    if mode == "fast":
        assert row.localised == (2, 3)
    else:
        assert row.worst == (2, 3)
        assert row.analytic - row.numeric == pytest.approx(1e-3, rel=1e-6)


def test_the_twins_must_agree_more_closely_than_finite_differences_can_tell(
        monkeypatch: pytest.MonkeyPatch) -> None:
    params, X, y = small_problem()
    correct = autodiff.loss_and_grads

    def slightly_off(params: Params, X: NDArray, y: NDArray,
                     activation: str = "tanh") -> tuple[float, Params]:
        loss, grads = correct(params, X, y, activation)
        return loss, [(dW + 1e-10, db) for dW, db in grads]

    monkeypatch.setattr(autodiff, "loss_and_grads", slightly_off)
    rows = full.run_full(params, X, y, "tanh")
    assert failed_tensors(rows, "manual vs autodiff") == {"W1", "W2", "W3"}


def test_a_twin_whose_loss_differs_from_the_checked_function_fails_the_loss_row(
        monkeypatch: pytest.MonkeyPatch) -> None:
    params, X, y = small_problem()
    correct = manual.loss_and_grads
    monkeypatch.setattr(manual, "loss_and_grads",
                        lambda *a, **k: (correct(*a, **k)[0] + 1e-6, correct(*a, **k)[1]))
    rows = full.run_full(params, X, y, "sigmoid")
    assert failed_tensors(rows, "manual vs FD") == {"loss"}


def test_random_directions_are_unit_and_never_all_one_sign() -> None:
    rng = np.random.default_rng(0)
    for kind in directional.KINDS:
        for shape in [(2,), (3, 1), (784, 100)]:
            V = directional.random_directions(shape, 50, rng, kind)
            flat = V.reshape(50, -1)
            np.testing.assert_allclose(np.linalg.norm(flat, axis=1), 1.0)
            assert ((flat > 0).any(axis=1) & (flat < 0).any(axis=1)).all()


def test_richardson_estimate_bounds_the_error_of_a_known_derivative() -> None:
    x, h = 0.7, 1e-2
    d_h = (np.sin(x + h) - np.sin(x - h)) / (2 * h)
    d_h2 = (np.sin(x + h / 2) - np.sin(x - h / 2)) / h
    value, error = finite_diff.richardson(d_h, d_h2)
    true_error_h2 = abs(d_h2 - np.cos(x))
    assert error == pytest.approx(true_error_h2, rel=0.01)     # estimates D(h/2)'s error
    assert abs(value - np.cos(x)) < error / 100                # extrapolation: far better


def test_sweep_shows_slope_two_for_a_right_gradient_and_fails_a_wrong_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    params, X, y = small_problem()
    rows, data = sweep.run_sweep(params, X, y, "sigmoid")
    slopes = [r.slope for r in rows if r.slope is not None]
    assert len(slopes) >= 6 and all(1.9 < s < 2.1 for s in slopes)
    broken_manual(monkeypatch, tensor=2, index=(1, 1), amount=1e-4)
    rows, _ = sweep.run_sweep(params, X, y, "sigmoid")
    assert failed_tensors(rows, "manual vs FD") == {"W2"}


def test_complex_mode_skips_activations_with_a_kink() -> None:
    params, X, y = small_problem()
    rows = complex_step.run_complex(params, X, y, "relu")
    assert {r.verdict for r in rows if "complex" in r.oracle} == {SKIP}
    assert all(r.verdict == PASS for r in rows if r.oracle == "manual vs autodiff")


@pytest.mark.parametrize("activation", SMOOTH)
def test_complex_step_matches_the_manual_gradient_to_1e_13(activation: Any) -> None:
    params, X, y = small_problem()
    cache = build_cache(params, X, y, activation)
    numeric = complex_step.complex_step_gradients(cache)
    _, grads = manual.loss_and_grads(params, X, y, activation)
    for n, g in zip(numeric, [t for pair in grads for t in pair]):
        np.testing.assert_allclose(n, g, rtol=0, atol=1e-13)


def test_selftest_flags_every_injected_bug_in_every_twin() -> None:
    result = selftest.run_selftest()
    assert all(c.clean for c in result["controls"])
    assert {c.twin for c in result["controls"]} == set(TWINS)
    assert len(result["bugs"]) == 6 * len(TWINS)
    for outcome in result["bugs"]:
        assert outcome.caught, (outcome.name, outcome.twin)
        # only a derivative bug in a framework-derived twin is not applicable
        assert outcome.applicable or outcome.twin == "autodiff"
    assert sum(not o.applicable for o in result["bugs"]) == 2
    assert result["passed"]


def test_selftest_fails_when_the_checks_are_made_blind(monkeypatch: pytest.MonkeyPatch) -> None:
    # A checker that passes everything must not pass its own selftest.
    monkeypatch.setattr(T, "FLOOR_ULPS", 1e20)
    monkeypatch.setattr(T, "TWIN_TOL", 1e6)
    result = selftest.run_selftest()
    assert not result["passed"]
    assert not any(o.caught for o in result["bugs"] if o.applicable)


def test_signed_directions_catch_errors_that_cancel_along_a_positive_direction(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Two elements of dW1 exchanged: the error (+d, -d) sums to zero, so an
    # all-positive (constant) direction cannot see it; signed directions can.
    params, X, y = small_problem()
    correct = manual.loss_and_grads

    def exchanged(params: Params, X: NDArray, y: NDArray,
                  activation: str = "tanh") -> tuple[float, Params]:
        loss, grads = correct(params, X, y, activation)
        dW = grads[0][0].copy()
        dW[0, 0], dW[1, 2] = dW[1, 2], dW[0, 0]
        return loss, [(dW, grads[0][1])] + grads[1:]

    _, grads = correct(params, X, y, "tanh")
    error = exchanged(params, X, y)[1][0][0] - grads[0][0]
    assert abs(error).max() > 1e-3
    assert abs(np.sum(error) / np.sqrt(error.size)) < 1e-15     # invisible to v = 1/sqrt(n)
    monkeypatch.setattr(manual, "loss_and_grads", exchanged)
    rows = directional.run_fast(params, X, y, "tanh")
    assert failed_tensors(rows, "manual vs FD") == {"W1"}
    row = next(r for r in rows if r.oracle == "manual vs FD" and r.tensor == "W1")
    assert row.localised in {(0, 0), (1, 2)}
