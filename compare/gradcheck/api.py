"""The gradient check as one call for a user's own tests.

In a pytest file::

    import numpy as np
    from compare.gradcheck.api import assert_gradients_correct
    from my_mlp import loss_and_grads

    def test_my_backprop():
        rng = np.random.default_rng(0)
        params = [(0.1 * rng.standard_normal((20, 8)), np.zeros(8)),
                  (0.1 * rng.standard_normal((8, 10)), np.zeros(10))]
        X, y = rng.random((16, 20)), rng.integers(0, 10, 16)
        assert_gradients_correct(loss_and_grads, params, X, y, activation="tanh")

It raises :class:`GradientCheckError` (an AssertionError, so pytest shows it
as a failed assertion) with the same table and diagnosis as
``twinprop gradcheck --twin``.
"""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from compare.common.errors import ConfigError
from compare.gradcheck.byo import UserCheck, check_user
from compare.gradcheck.report import FAIL, format_table
from compare.gradcheck.suite import MODES
from compare.gradcheck.usertwin import UserTwin, as_user_twin
from compare.twins import Params
from manual.activations import Activation


class GradientCheckError(AssertionError):
    """The gradients are wrong; the message holds the table and the diagnosis.

    Attributes:
        check: the full :class:`~compare.gradcheck.byo.UserCheck`.
    """

    def __init__(self, message: str, check: UserCheck) -> None:
        super().__init__(message)
        self.check = check


def check_gradients(loss_and_grads: Callable[..., Any],
                    params: Sequence[tuple[ArrayLike, ArrayLike]], X: ArrayLike,
                    y: ArrayLike, activation: "str | Activation" = "tanh", *,
                    mode: str = "full", directions: int = 8, seed: int = 0,
                    twins: Sequence[str] | None = None) -> UserCheck:
    """Check ``loss_and_grads`` at (params, X, y); return what was found.

    Args:
        loss_and_grads: ``f(params, X, y, activation) -> (loss, grads)``.
        params: K pairs (W (n_k, n_{k+1}), b (n_{k+1},)); the network's
            output layer is softmax cross-entropy over ``n_K`` classes.
        X: (B, n_0) inputs; y: (B,) integer labels in [0, n_K).
        activation: a built-in activation name, or an Activation.
        mode: full (every element), fast, sweep or complex.
        directions: random directions per tensor for your own loss.
        twins: registered twins to compare with (default: all; () for none).
    Returns:
        UserCheck: its ``rows`` hold the verdicts and diagnoses.
    Raises:
        ConfigError: the inputs do not describe such a network.
        UserCodeError: the function raised, or returned something unusable.
    """
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    pairs: Params = [(np.array(W, dtype=np.float64), np.array(b, dtype=np.float64))
                     for W, b in params]
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    _check_shapes(pairs, X, y)
    user = loss_and_grads if isinstance(loss_and_grads, UserTwin) else as_user_twin(
        loss_and_grads)
    return check_user(user, pairs, X, y, activation, mode, directions=directions, seed=seed,
                      twins=None if twins is None else tuple(twins))


def assert_gradients_correct(loss_and_grads: Callable[..., Any],
                             params: Sequence[tuple[ArrayLike, ArrayLike]], X: ArrayLike,
                             y: ArrayLike, activation: "str | Activation" = "tanh",
                             **options: Any) -> UserCheck:
    """Like :func:`check_gradients`, but raise :class:`GradientCheckError` on a failure.

    Returns:
        The UserCheck, when every check passed.
    """
    check = check_gradients(loss_and_grads, params, X, y, activation, **options)
    failed = [r for r in check.rows if r.verdict == FAIL]
    if failed:
        raise GradientCheckError(failure_message(check), check)
    return check


def failure_message(check: UserCheck) -> str:
    """The failing rows as a table, their diagnoses, and what the loss is."""
    failed = [r for r in check.rows if r.verdict == FAIL]
    tensors = sorted({r.tensor for r in failed})
    lines = [f"gradients wrong in {', '.join(tensors)} ({len(failed)} failed checks)",
             f"your loss is {check.model.describe()}", format_table(failed)]
    return "\n".join(lines)


def _check_shapes(params: list, X: np.ndarray, y: np.ndarray) -> None:
    """The inputs describe an MLP with softmax cross-entropy, or ConfigError."""
    if not params:
        raise ConfigError("params is empty; give [(W1, b1), (W2, b2), ...]")
    width = X.shape[1] if X.ndim == 2 else None
    if width is None:
        raise ConfigError(f"X has shape {X.shape}; give (batch, inputs)")
    for k, (W, b) in enumerate(params, start=1):
        if W.ndim != 2 or W.shape[0] != width or b.shape != (W.shape[1],):
            raise ConfigError(f"layer {k}: W{k} {W.shape} and b{k} {b.shape} do not follow "
                              f"from a layer of width {width}; W is (n_in, n_out), b (n_out,)")
        width = W.shape[1]
    if y.shape != (X.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ConfigError(f"y must be ({X.shape[0]},) integer labels, not {y.dtype} "
                          f"{y.shape}")
    if y.size and (y.min() < 0 or y.max() >= width):
        raise ConfigError(f"labels must lie in [0, {width}); they span [{y.min()}, {y.max()}]")
