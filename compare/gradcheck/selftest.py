"""Proof that the checks fail when they should: known bugs, injected on purpose.

Every bug is injected into every registered twin (``compare.twins.TWINS``):

* bugs of the backward pass's output (a dropped bias gradient, a transposed
  or swapped weight gradient, the 1/B factor missing) transform what the
  twin's ``loss_and_grads`` returns;
* bugs of a derivative (sigmoid's g' taken at the activation, relu'(0) = 1)
  hand the twin an activation whose hand-written ``deriv`` is wrong. A twin
  derived by a framework (``compare.twins.FRAMEWORK_DERIVED``) takes no
  hand-written derivative, so for it such a bug is not applicable.

Each unmodified twin must pass every check (no false alarm), and each bug
must be flagged by both modes (full, fast), naming a tensor the bug changes
and its worst element.

The network is small (8-8-8-4, six samples) so that the whole selftest takes
a few seconds; its two hidden layers are square, so a transposed or swapped
weight gradient still has the right shape, and one input is blank (all
zeros) so that with zero biases every relu pre-activation of that sample is
exactly 0, where a wrong derivative at the kink shows.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compare.common.init import init_params
from compare.gradcheck.directional import check_grad_fn_fast
from compare.gradcheck.full import check_grad_fn
from compare.gradcheck.report import FAIL, TensorCheck
from compare.gradcheck.twins import TWINS, GradFn, loss_and_grads, tensor_names
from compare.twins import FRAMEWORK_DERIVED, Params
from manual import activations
from manual.activations import Activation

SIZES = (8, 8, 8, 4)
BATCH = 6

Pairs = list[tuple[NDArray, NDArray]]
Injector = Callable[[GradFn], GradFn]


def problem(seed: int = 0) -> tuple[Params, NDArray, NDArray]:
    """The selftest's network and data: (params, X (6, 8), y (6,)); X[0] is blank."""
    params = init_params(list(SIZES), init="xavier", seed=seed)
    rng = np.random.default_rng([int(seed), 0x5E1F])
    X = rng.random((BATCH, SIZES[0]))
    X[0] = 0.0
    y = rng.integers(0, SIZES[-1], size=BATCH)
    return params, X, y


def _mutate(transform: Callable[[Pairs, int], Pairs]) -> Injector:
    """A bug: the twin's gradients, copied, then ``transform``ed."""
    def inject(grad_fn: GradFn) -> GradFn:
        def loss_and_grads(params: Params, X: NDArray, y: NDArray,
                           activation: Any) -> tuple[float, Params]:
            loss, grads = grad_fn(params, X, y, activation)
            return loss, transform([(np.array(dW), np.array(db)) for dW, db in grads], len(y))
        return loss_and_grads
    return inject


def _with_deriv(make_deriv: Callable[[Activation], Callable[[NDArray], NDArray]]) -> Injector:
    """A bug: the twin is handed an activation whose g' is ``make_deriv(act)``."""
    def inject(grad_fn: GradFn) -> GradFn:
        def loss_and_grads(params: Params, X: NDArray, y: NDArray,
                           activation: Any) -> tuple[float, Params]:
            act = activations.get_activation(activation)
            broken = Activation(act.name, act.fn, make_deriv(act), act.kink)
            return grad_fn(params, X, y, broken)
        return loss_and_grads
    return inject


def _transpose_second(grads: Pairs, batch: int) -> Pairs:
    grads[1] = (grads[1][0].T.copy(), grads[1][1])
    return grads


def _drop_first_bias(grads: Pairs, batch: int) -> Pairs:
    grads[0] = (grads[0][0], np.zeros_like(grads[0][1]))
    return grads


def _sum_not_mean(grads: Pairs, batch: int) -> Pairs:
    return [(batch * dW, batch * db) for dW, db in grads]


def _swap_first_two(grads: Pairs, batch: int) -> Pairs:
    grads[0], grads[1] = grads[1], grads[0]
    return grads


@dataclass
class Bug:
    """One injected bug: what it is, where it shows, and how to inject it."""

    name: str
    description: str
    activation: str
    expected: tuple[str, ...]        # tensors the bug changes: one must be flagged
    inject: Injector = field(repr=False)  # loss_and_grads -> broken loss_and_grads
    derivative: bool = False         # a bug of a hand-written derivative


BUGS = (
    Bug("wrong sigmoid derivative",
        "g'(g(z)) instead of g'(z): the derivative taken at the activation",
        "sigmoid", ("W1", "b1", "W2", "b2"),
        _with_deriv(lambda act: (lambda z: act.deriv(act.fn(z)))), derivative=True),
    Bug("dropped bias gradient", "db1 returned as zeros", "tanh", ("b1",),
        _mutate(_drop_first_bias)),
    Bug("transposed weight gradient", "dW2 returned transposed (W2 is 8x8)", "tanh",
        ("W2",), _mutate(_transpose_second)),
    Bug("missing 1/batch factor", "the gradient of the summed loss, not the mean",
        "tanh", ("W1", "b1", "W2", "b2", "W3", "b3"), _mutate(_sum_not_mean)),
    Bug("relu derivative wrong at its kink", "relu'(0) = 1 where z is exactly 0 "
        "(the blank input), against the documented relu'(0) = 0", "relu", ("b1", "b2"),
        _with_deriv(lambda act: (lambda z: (z >= 0).astype(z.dtype))), derivative=True),
    Bug("gradients swapped between layers", "(dW1, db1) and (dW2, db2) exchanged "
        "(same shapes)", "tanh", ("W1", "b1", "W2", "b2"), _mutate(_swap_first_two)),
)


@dataclass
class Outcome:
    """The result of checking one function with both modes."""

    name: str
    twin: str
    activation: str
    expected: tuple[str, ...]
    full_failed: list[str]
    fast_failed: list[str]
    full_rows: list[TensorCheck] = field(repr=False)
    fast_rows: list[TensorCheck] = field(repr=False)
    applicable: bool = True

    @property
    def caught(self) -> bool:
        """Both modes flag a tensor the bug changes (True when not applicable)."""
        if not self.applicable:
            return True
        return bool(set(self.expected) & set(self.full_failed)) and \
            bool(set(self.expected) & set(self.fast_failed))

    @property
    def clean(self) -> bool:
        """Neither mode flags anything (what an unmodified twin must show)."""
        return not self.full_failed and not self.fast_failed


def _check(name: str, twin: str, activation: str, expected: tuple[str, ...], grad_fn: GradFn,
           params: Params, X: NDArray, y: NDArray) -> Outcome:
    label = f"{twin} vs FD"
    full = check_grad_fn(grad_fn, params, X, y, activation, label=label)
    fast = check_grad_fn_fast(grad_fn, params, X, y, activation, oracle=label)
    return Outcome(name, twin, activation, expected, _failed(full), _failed(fast), full, fast)


def _failed(rows: list[TensorCheck]) -> list[str]:
    return [r.tensor for r in rows if r.verdict == FAIL]


def run_selftest(seed: int = 0, twins: Sequence[str] | None = None) -> dict[str, Any]:
    """Check every unmodified twin, then every bug in every twin.

    Args:
        twins: names of registered twins (default: all).
    Returns:
        dict: twins, controls (Outcomes of each unmodified twin per
        activation), bugs (Outcomes, one per bug and twin), bug_specs
        (the Bug of each outcome), passed (bool), network, batch, tensors.
    """
    twins = tuple(TWINS) if twins is None else tuple(twins)
    params, X, y = problem(seed)
    names = sorted({bug.activation for bug in BUGS})
    controls = [_check("unmodified", twin, act, (), loss_and_grads(twin), params, X, y)
                for twin in twins for act in names]
    outcomes, specs = [], []
    for bug in BUGS:
        for twin in twins:
            if bug.derivative and twin in FRAMEWORK_DERIVED:
                outcomes.append(Outcome(bug.name, twin, bug.activation, bug.expected,
                                        [], [], [], [], applicable=False))
            else:
                outcomes.append(_check(bug.name, twin, bug.activation, bug.expected,
                                       bug.inject(loss_and_grads(twin)), params, X, y))
            specs.append(bug)
    passed = all(c.clean for c in controls) and all(o.caught for o in outcomes)
    return {"twins": twins, "controls": controls, "bugs": outcomes, "bug_specs": specs,
            "passed": passed, "network": "-".join(map(str, SIZES)), "batch": BATCH,
            "tensors": tensor_names(params)}
