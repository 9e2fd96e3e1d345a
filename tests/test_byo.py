"""Bring your own backprop: a user's loss_and_grads is checked, and each bug is named.

The user files are in examples/ (the documented ones) and tests/byo_files/
(more styles and bugs), written the way a student would write them. The
networks are small and the data synthetic, so that each check takes a
fraction of a second; tests/test_byo_cli.py runs the command on MNIST.
"""

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from compare.common.init import init_params
from compare.gradcheck import diagnose, selftest
from compare.gradcheck.api import (
    GradientCheckError,
    assert_gradients_correct,
    check_gradients,
)
from compare.gradcheck.byo import UserCheck, check_user
from compare.gradcheck.report import FAIL
from compare.gradcheck.usercode import UserCodeError, load_function
from compare.gradcheck.usertwin import load_user_twin
from compare.twins import Params

ROOT = Path(__file__).resolve().parent.parent
FILES = ROOT / "tests" / "byo_files"
EXAMPLES = ROOT / "examples"


def problem(hidden: tuple[int, ...] = (12,), n_in: int = 20, batch: int = 8,
            seed: int = 0) -> tuple[Params, NDArray, NDArray]:
    """A network with nonzero biases on random inputs in [0, 1)."""
    rng = np.random.default_rng(seed)
    params: Params = [(W, 0.2 * rng.standard_normal(b.shape))
                      for W, b in init_params([n_in, *hidden, 10], init="xavier", seed=seed)]
    return params, rng.random((batch, n_in)), rng.integers(0, 10, batch)


def run(path: Path, activation: str = "tanh", hidden: tuple[int, ...] = (12,),
        mode: str = "full",
        data: tuple[Params, NDArray, NDArray] | None = None) -> UserCheck:
    params, X, y = data or problem(hidden)
    return check_user(load_user_twin(str(path)), params, X, y, activation, mode)


def failing(check: UserCheck) -> dict[str, list[str]]:
    """{tensor: [kinds]} of the failing rows (first row of each tensor)."""
    out: dict[str, list[str]] = {}
    for row in check.rows:
        if row.verdict == FAIL and row.tensor not in out:
            out[row.tensor] = [d.kind for d in row.diagnosis]
    return out


CORRECT = [
    (EXAMPLES / "mlp_correct.py", "tanh", (12,)),
    (EXAMPLES / "mlp_correct.py", "sigmoid", (12, 7)),
    (EXAMPLES / "mlp_correct.py", "relu", (12,)),
    (FILES / "onehot_dict.py", "tanh", (12,)),
    (FILES / "onehot_dict.py", "relu", (12,)),
    (FILES / "sample_loop.py", "sigmoid", (12, 6)),
    (FILES / "l2_weight_decay.py", "tanh", (12,)),
    (FILES / "summed.py", "tanh", (12,)),
]


@pytest.mark.parametrize("mode", ["full", "fast"])
@pytest.mark.parametrize("path, activation, hidden", CORRECT,
                         ids=[f"{p.stem}-{a}" for p, a, _ in CORRECT])
def test_correct_implementations_in_other_styles_pass(
        path: Any, activation: Any, hidden: Any, mode: Any) -> None:
    check = run(path, activation, hidden, mode)
    bad = [(r.oracle, r.tensor, r.max_abs, r.tolerance) for r in check.rows
           if r.verdict == FAIL]
    assert not bad
    assert check.model.fits


def test_the_loss_model_names_what_each_users_loss_is() -> None:
    params, X, y = problem()
    assert run(EXAMPLES / "mlp_correct.py").model.equals_paper
    summed = run(FILES / "summed.py").model
    assert summed.scale == len(y) and not any(summed.penalty)
    l2 = run(FILES / "l2_weight_decay.py").model
    assert l2.scale == 1.0
    assert l2.penalty == pytest.approx([5e-3, 0.0, 5e-3, 0.0], abs=1e-12)
    assert "0.0025 ||W1||^2" in l2.describe()
    l1 = run(FILES / "l1_times_batch.py").model
    assert not l1.fits


def test_the_twins_are_compared_only_where_the_loss_is_the_papers() -> None:
    oracles = {r.oracle for r in run(EXAMPLES / "mlp_correct.py").rows}
    assert {"mlp_correct vs manual", "mlp_correct vs autodiff"} <= oracles
    rows = run(FILES / "l2_weight_decay.py").rows
    assert not any(r.oracle.endswith(("vs manual", "vs autodiff")) for r in rows)
    assert any(r.oracle == "l2_weight_decay vs twins" and r.verdict == "skip" for r in rows)


# (file, activation, hidden, {tensor: expected first kind}) for files with one bug each
BUGGY = [
    (EXAMPLES / "bug_batch_mean.py", "tanh", (12,),
     dict.fromkeys(("W1", "b1", "W2", "b2"), "scale")),
    (EXAMPLES / "bug_sigmoid_derivative.py", "sigmoid", (12,),
     {"W1": "activation_derivative", "b1": "activation_derivative"}),
    (EXAMPLES / "bug_transposed.py", "tanh", (10,), {"W1": "transpose", "W2": "transpose"}),
    (EXAMPLES / "bug_no_bias_grad.py", "tanh", (12,), {"b1": "zero", "b2": "zero"}),
    (EXAMPLES / "bug_layers_swapped.py", "tanh", (10, 10),
     {"W1": "swap", "b1": "swap", "W3": "swap", "b3": "swap"}),
    (EXAMPLES / "bug_l2_missing.py", "tanh", (12,),
     {"W1": "regularization", "W2": "regularization"}),
    (FILES / "sign_flipped.py", "tanh", (12,), dict.fromkeys(("W1", "b1", "W2", "b2"), "sign")),
    (FILES / "wb_swapped.py", "tanh", (12,), dict.fromkeys(("W1", "b1", "W2", "b2"), "swap")),
    (FILES / "tanh_output_form.py", "tanh", (12,),
     {"W1": "activation_derivative", "b1": "activation_derivative"}),
    (FILES / "relu_no_derivative.py", "relu", (12,),
     {"W1": "activation_derivative", "b1": "activation_derivative"}),
    (FILES / "l2_extra.py", "tanh", (12,), {"W1": "regularization", "W2": "regularization"}),
    (FILES / "sample_loop_off_by_one.py", "tanh", (12,),
     dict.fromkeys(("W1", "b1", "W2", "b2"), "partial")),
    (FILES / "unit_loop_off_by_one.py", "tanh", (12,), {"W1": "partial", "b1": "partial"}),
    (FILES / "mse_delta.py", "tanh", (12,), dict.fromkeys(("W1", "b1", "W2", "b2"), "other")),
    (FILES / "l1_times_batch.py", "tanh", (12,),
     dict.fromkeys(("W1", "b1", "W2", "b2"), "scale")),
]


@pytest.mark.parametrize("path, activation, hidden, expected", BUGGY,
                         ids=[p.stem for p, *_ in BUGGY])
def test_each_classic_bug_fails_and_is_named(
        path: Any, activation: Any, hidden: Any, expected: Any) -> None:
    check = run(path, activation, hidden)
    found = failing(check)
    assert set(found) == set(expected)
    for tensor, kind in expected.items():
        assert found[tensor][0] == kind, (tensor, check.rows)
    for row in check.rows:
        if row.verdict == FAIL and row.tensor != "loss":
            assert row.diagnosis and all(d.detail for d in row.diagnosis)


@pytest.mark.parametrize("path, activation, kind", [
    (EXAMPLES / "bug_batch_mean.py", "tanh", "scale"),
    (FILES / "sign_flipped.py", "tanh", "sign"),
    (FILES / "tanh_output_form.py", "tanh", "activation_derivative"),
    (FILES / "l1_times_batch.py", "tanh", "scale"),
])
@pytest.mark.parametrize("mode", ["fast", "sweep", "complex"])
def test_the_other_modes_fail_and_name_the_kind_too(
        path: Any, activation: Any, kind: Any, mode: Any) -> None:
    found = failing(run(path, activation, mode=mode))
    assert found and all(kinds[0] == kind for kinds in found.values())


def test_the_diagnoses_say_what_the_numbers_are() -> None:
    B = problem()[2].size
    scale = run(EXAMPLES / "bug_batch_mean.py").rows[0].diagnosis[0]
    assert scale.values["c"] == B and f"c = {B} = the batch size" in scale.detail
    partial = next(r for r in run(FILES / "sample_loop_off_by_one.py").rows
                   if r.tensor == "b2" and r.diagnosis).diagnosis[0]
    assert partial.values["samples_left_out"] == [B - 1]
    units = next(r for r in run(FILES / "unit_loop_off_by_one.py").rows
                 if r.tensor == "W1" and r.diagnosis).diagnosis[0]
    assert units.values["columns"] == [11]
    derivative = next(r for r in run(FILES / "tanh_output_form.py").rows if r.diagnosis)
    assert derivative.diagnosis[0].values["derivative"] == "output_form_of_z"
    reg = next(r for r in run(EXAMPLES / "bug_l2_missing.py").rows if r.diagnosis)
    assert reg.diagnosis[0].values["coefficient"] == pytest.approx(-1e-3, rel=1e-6)
    assert "leaves out its gradient" in reg.diagnosis[0].detail
    shape = next(r for r in run(EXAMPLES / "bug_transposed.py", hidden=(10,)).rows
                 if r.tensor == "W1")
    assert shape.note == "grad W1 has shape (10, 20), W1 has (20, 10): transposed?"


def test_a_wrong_derivative_exactly_at_the_kink_is_named_kink() -> None:
    # selftest.problem: a blank input and zero biases put relu units exactly on 0
    check = run(FILES / "relu_ge.py", "relu", data=selftest.problem())
    found = failing(check)
    assert found and all(kinds == ["kink"] for kinds in found.values())
    detail = next(r for r in check.rows if r.diagnosis).diagnosis[0].detail
    assert "relu'(0) = 1" in detail
    # on inputs where no pre-activation is exactly 0 the same code is right
    assert not failing(run(FILES / "relu_ge.py", "relu"))


def test_a_kind_is_claimed_only_when_it_explains_the_error_within_the_fd_error() -> None:
    params, X, y = problem()
    correct = load_user_twin(str(EXAMPLES / "mlp_correct.py")).fn
    noise = np.random.default_rng(1)

    def almost_scaled(params: Params, X: NDArray, y: NDArray,
                      activation: str = "tanh") -> tuple[float, Params]:
        loss, grads = correct(params, X, y, activation)
        return loss, [(len(y) * dW * (1 + 1e-6 * noise.standard_normal(dW.shape)),
                       len(y) * db) for dW, db in grads]

    check = check_gradients(almost_scaled, params, X, y)
    found = failing(check)
    assert found["b1"] == ["scale"] and found["b2"] == ["scale"]
    assert found["W1"] == ["other"] and found["W2"] == ["other"]


def test_every_kind_of_the_vocabulary_is_produced_by_some_file() -> None:
    produced = {kind for _, _, _, expected in BUGGY for kind in expected.values()}
    assert produced | {"kink"} == set(diagnose.KINDS)


def test_the_api_passes_correct_code_and_raises_with_table_and_diagnosis() -> None:
    params, X, y = problem()
    good = load_user_twin(str(EXAMPLES / "mlp_correct.py")).fn
    assert_gradients_correct(good, params, X, y, activation="tanh")
    bad = load_user_twin(str(EXAMPLES / "bug_batch_mean.py")).fn
    with pytest.raises(GradientCheckError) as caught:
        assert_gradients_correct(bad, params, X, y, activation="tanh")
    message = str(caught.value)
    assert message.startswith("gradients wrong in W1, W2, b1, b2")
    assert "max abs err" in message and "diagnosis: [scale]" in message
    assert isinstance(caught.value, AssertionError)


def test_the_api_docstring_example_runs() -> None:
    from compare.gradcheck import api
    code = api.__doc__.split("::", 1)[1].split("It raises", 1)[0]
    code = code.replace("from my_mlp import loss_and_grads",
                        "from mlp_correct import loss_and_grads")
    import sys
    sys.path.insert(0, str(EXAMPLES))
    try:
        namespace: dict[str, Any] = {}
        exec(compile(code.replace("\n    ", "\n"), "example", "exec"), namespace)
        namespace["test_my_backprop"]()
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.mark.parametrize("name, message", [
    ("no_function.py", "defines no function loss_and_grads (it defines loss_and_gradients)"),
    ("returns_grads_only.py", "not one number; return (loss, grads)"),
    ("raises_inside.py", "raised ValueError: cannot reshape array"),
])
def test_an_unusable_file_is_one_line_naming_the_file_and_the_fix(name: Any, message: Any) -> None:
    with pytest.raises(UserCodeError) as caught:
        run(FILES / name)
    text = str(caught.value)
    assert str(FILES / name) in text and message in text and "\n" not in text


def test_a_misshapen_return_value_is_a_one_line_error() -> None:
    params, X, y = problem()

    def three_layers(params: Params, X: NDArray, y: NDArray, activation: str) -> Any:
        return 1.0, [(np.zeros(1), np.zeros(1))] * 3

    def dict_missing(params: Params, X: NDArray, y: NDArray, activation: str) -> Any:
        return 1.0, {"W1": params[0][0]}

    def nan_loss(params: Params, X: NDArray, y: NDArray, activation: str) -> Any:
        return float("nan"), [(W, b) for W, b in params]

    for fn, text in ((three_layers, "grads has 3 items for a 2-layer network"),
                     (dict_missing, "the grads dict has no b1, W2, b2"),
                     (nan_loss, "the loss it returned is nan")):
        with pytest.raises(UserCodeError, match=text):
            check_gradients(fn, params, X, y)


def test_a_function_that_ignores_its_activation_argument_is_told_so() -> None:
    check = run(FILES / "sample_loop_off_by_one.py", "sigmoid")
    assert not check.model.fits
    assert any("paper network's loss with tanh, not with sigmoid" in n for n in check.notes)


def test_the_check_gives_the_blas_its_thread_count_back() -> None:
    from compare.bench.blas import blas_threads
    before = blas_threads()
    seen = []

    def spy(params: Params, X: NDArray, y: NDArray, activation: str) -> Any:
        seen.append(blas_threads())
        return load_user_twin(str(EXAMPLES / "mlp_correct.py")).fn(params, X, y, activation)

    params, X, y = problem()
    check_gradients(spy, params, X, y)
    assert blas_threads() == before
    assert before is None or set(seen) == {1}


@pytest.mark.parametrize("mode", ["fast", "full-black-box"])
def test_a_failing_direction_of_the_users_own_loss_is_bisected_to_the_bad_element(
        mode: str) -> None:
    params, X, y = problem()
    correct = load_user_twin(str(EXAMPLES / "mlp_correct.py")).fn

    def one_element_off(params: Params, X: NDArray, y: NDArray,
                        activation: str = "tanh") -> tuple[float, Params]:
        loss, grads = correct(params, X, y, activation)
        grads[0][0][3, 5] += 1e-3
        if mode != "fast":      # an L1 term: a loss the check can only call
            loss += 1e-3 * sum(float(np.abs(W).sum()) for W, _ in params)
            grads = [(dW + 1e-3 * np.sign(W), db) for (dW, db), (W, _) in zip(grads, params)]
        return loss, grads

    check = check_gradients(one_element_off, params, X, y, mode="fast" if mode == "fast"
                            else "full")
    row = next(r for r in check.rows if r.oracle.endswith("vs own loss") and r.tensor == "W1")
    assert row.verdict == FAIL and row.localised == (3, 5)
    assert check.model.fits == (mode == "fast")


def test_a_file_that_calls_sys_exit_on_import_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    # found by tests/test_cli_fuzz.py: twinprop exited with the file's status, silently
    script = tmp_path / "script.py"
    script.write_text("import sys\n\n\ndef loss_and_grads(params, X, y, activation):\n"
                      "    pass\n\n\nsys.exit(3)\n")
    with pytest.raises(UserCodeError) as caught:
        load_function(str(script), "loss_and_grads", "loss_and_grads(params, X, y, activation)")
    assert str(caught.value) == (f"{script}: importing it called sys.exit(3) at line 8 "
                                 f"(sys.exit(3)); put what runs the script under "
                                 f"if __name__ == '__main__':")


@pytest.mark.parametrize("mode", ["full", "fast", "sweep"])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_a_correct_loss_with_kinks_of_its_own_passes_as_a_black_box(
        activation: str, mode: str) -> None:
    # an L1 term: large sweep steps cross |W|'s kinks, which the check must
    # find from the loss's own values (it cannot fit the loss to the paper's)
    check = run(FILES / "l1_correct.py", activation, mode=mode)
    assert not check.model.fits
    assert not [(r.oracle, r.tensor, r.note) for r in check.rows if r.verdict == FAIL]
    if mode == "sweep":
        assert any(any(curve["crossed"]) for curve in check.sweep_data.values())


def test_a_bug_in_one_element_still_fails_the_sweep_of_a_loss_with_kinks() -> None:
    params, X, y = problem()
    correct = load_user_twin(str(EXAMPLES / "mlp_correct.py")).fn

    def l1_one_element_off(params: Params, X: NDArray, y: NDArray,
                           activation: str = "tanh") -> tuple[float, Params]:
        loss, grads = correct(params, X, y, activation)
        loss += 1e-3 * sum(float(np.abs(W).sum()) for W, _ in params)
        grads = [(dW + 1e-3 * np.sign(W), db) for (dW, db), (W, _) in zip(grads, params)]
        grads[0][0][3, 5] += 1e-4
        return loss, grads

    check = check_gradients(l1_one_element_off, params, X, y, mode="sweep")
    assert set(failing(check)) == {"W1"}


def test_within_the_fd_error_the_diagnosis_blames_the_twins_only_when_a_twin_row_failed(
        ) -> None:
    A = np.array([[1.0, -2.0], [0.5, 3.0]])
    ev = diagnose.Evidence(names=["W1"], analytic=[A], tensors=[np.ones((2, 2))],
                           measured=[diagnose.Measured(A + 1e-9, np.full((2, 2), 1e-6))],
                           batch=4, activation="tanh")
    twin = diagnose.diagnose(ev, 0, oracle="mine vs manual")[0]
    assert twin.kind == "other" and "twins' exact gradients" in twin.detail
    # a sweep or own-loss row failed, and no twin row: that is what the text says
    other = diagnose.diagnose(ev, 0, oracle="mine vs FD")[0]
    assert other.kind == "other" and "twin" not in other.detail
    assert "mine vs FD" in other.detail


def test_a_gradient_off_by_less_than_fd_can_tell_fails_only_against_the_twins() -> None:
    params, X, y = problem()
    correct = load_user_twin(str(EXAMPLES / "mlp_correct.py")).fn

    def nudged(params: Params, X: NDArray, y: NDArray,
               activation: str = "tanh") -> tuple[float, Params]:
        loss, grads = correct(params, X, y, activation)
        return loss, [(dW * (1 + 1e-9), db) for dW, db in grads]

    check = check_gradients(nudged, params, X, y)
    failed = {(r.oracle, r.tensor): r for r in check.rows if r.verdict == FAIL}
    assert failed and all(oracle.endswith(("vs manual", "vs autodiff", "vs buffered"))
                          for oracle, _ in failed)
    assert all("twins' exact gradients" in r.diagnosis[0].detail for r in failed.values())


def test_a_passing_black_box_sweep_calls_the_users_function_only_for_its_steps() -> None:
    from compare.gradcheck import byo, sweep
    check = run(FILES / "l1_correct.py", mode="sweep")
    assert not failing(check)
    steps = len(sweep.STEPS) * 4 * byo.SWEEP_BLACK_BOX_DIRECTIONS * len(check.sweep_data)
    # the loss model's points (the first is the call at the point), the steps;
    # nothing for a diagnosis
    assert check.calls == check.model.points + steps
