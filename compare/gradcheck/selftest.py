"""Proof that the checks fail when they should: known bugs, injected on purpose.

The bugs go into a *copy* of the manual twin's backward pass (:func:`copy_of_manual`,
the same equations, written again here so that it can be broken without
touching ``manual``). The copy is first shown to equal
``manual.loss_and_grads``, and to pass every check; then each bug is
injected and both modes (full and fast) must flag it, naming a tensor the
bug changes and its worst element.

The network is small (8-8-8-4, six samples) so that the whole selftest takes
a second or two; its two hidden layers are square, so a transposed or
swapped weight gradient still has the right shape, and one input is blank
(all zeros) so that with zero biases every relu pre-activation of that
sample is exactly 0, where a wrong derivative at the kink shows.
"""

from dataclasses import dataclass, field

import numpy as np

import manual
from compare.common.init import init_params
from compare.gradcheck import tolerance as T
from compare.gradcheck.directional import check_grad_fn_fast
from compare.gradcheck.full import check_grad_fn
from compare.gradcheck.lossfn import log_softmax
from compare.gradcheck.report import FAIL
from compare.gradcheck.twins import flat_tensors, loss_and_grads, tensor_names

SIZES = (8, 8, 8, 4)
BATCH = 6


def problem(seed=0):
    """The selftest's network and data: (params, X (6, 8), y (6,)); X[0] is blank."""
    params = init_params(list(SIZES), init="xavier", seed=seed)
    rng = np.random.default_rng([int(seed), 0x5E1F])
    X = rng.random((BATCH, SIZES[0]))
    X[0] = 0.0
    y = rng.integers(0, SIZES[-1], size=BATCH)
    return params, X, y


def copy_of_manual(params, X, y, activation, deriv=None, batch_mean=True):
    """The manual twin's loss and backward pass, written again to be broken.

    Args:
        params, X, y, activation: as for ``manual.loss_and_grads``.
        deriv: replacement for the activation's derivative z -> g'(z).
        batch_mean: False drops the 1/B of the mean loss from the gradient.
    Returns:
        (loss, list of (dW, db)).
    """
    act = manual.get_activation(activation)
    deriv = deriv or act.deriv
    xs, zs = [np.asarray(X, float)], []
    for W, b in params[:-1]:
        zs.append(xs[-1] @ W + b)                      # z_k = x_k W_k + b_k
        xs.append(act.fn(zs[-1]))                      # x_{k+1} = g(z_k)
    W, b = params[-1]
    log_probs = log_softmax(xs[-1] @ W + b)
    batch = np.arange(len(y))
    loss = float(-log_probs[batch, y].mean())
    dz = np.exp(log_probs)
    dz[batch, y] -= 1                                  # dL/dlogits = p - onehot ...
    if batch_mean:
        dz /= len(y)                                   # ... divided by B
    grads = [None] * len(params)
    for k in reversed(range(len(params))):
        grads[k] = (xs[k].T @ dz, dz.sum(axis=0))      # dW_k = x_k^T dz_k, db_k = sum dz_k
        if k:
            dz = (dz @ params[k][0].T) * deriv(zs[k - 1])   # dz_{k-1} = dA_k g'(z_{k-1})
    return loss, grads


def _mutate(transform):
    """A loss_and_grads whose gradients are the copy's, then ``transform``ed."""
    def loss_and_grads(params, X, y, activation):
        loss, grads = copy_of_manual(params, X, y, activation)
        return loss, transform([(dW.copy(), db.copy()) for dW, db in grads])
    return loss_and_grads


def _with_deriv(make_deriv):
    """A loss_and_grads using ``make_deriv(activation)`` as g'."""
    def loss_and_grads(params, X, y, activation):
        act = manual.get_activation(activation)
        return copy_of_manual(params, X, y, activation, deriv=make_deriv(act))
    return loss_and_grads


def _transpose_second(grads):
    grads[1] = (grads[1][0].T.copy(), grads[1][1])
    return grads


def _drop_first_bias(grads):
    grads[0] = (grads[0][0], np.zeros_like(grads[0][1]))
    return grads


def _swap_first_two(grads):
    grads[0], grads[1] = grads[1], grads[0]
    return grads


@dataclass
class Bug:
    """One injected bug: what it is, where it shows, and the broken function."""

    name: str
    description: str
    activation: str
    expected: tuple                  # tensors the bug changes: one must be flagged
    loss_and_grads: object = field(repr=False)


BUGS = (
    Bug("wrong sigmoid derivative",
        "g'(g(z)) instead of g'(z): the derivative taken at the activation",
        "sigmoid", ("W1", "b1", "W2", "b2"),
        _with_deriv(lambda act: (lambda z: act.deriv(act.fn(z))))),
    Bug("dropped bias gradient", "db1 returned as zeros", "tanh", ("b1",),
        _mutate(_drop_first_bias)),
    Bug("transposed weight gradient", "dW2 returned transposed (W2 is 8x8)", "tanh",
        ("W2",), _mutate(_transpose_second)),
    Bug("missing 1/batch factor", "the gradient of the summed loss, not the mean",
        "tanh", ("W1", "b1", "W2", "b2", "W3", "b3"),
        lambda params, X, y, activation: copy_of_manual(params, X, y, activation,
                                                        batch_mean=False)),
    Bug("relu derivative wrong at its kink", "relu'(0) = 1 where z is exactly 0 "
        "(the blank input), against the documented relu'(0) = 0", "relu", ("b1", "b2"),
        _with_deriv(lambda act: (lambda z: (z >= 0).astype(float)))),
    Bug("gradients swapped between layers", "(dW1, db1) and (dW2, db2) exchanged "
        "(same shapes)", "tanh", ("W1", "b1", "W2", "b2"), _mutate(_swap_first_two)),
)


@dataclass
class Outcome:
    """The result of checking one function with both modes."""

    name: str
    activation: str
    expected: tuple
    full_failed: list
    fast_failed: list
    full_rows: list = field(repr=False)
    fast_rows: list = field(repr=False)

    @property
    def caught(self):
        """Both modes flag a tensor the bug changes."""
        return bool(set(self.expected) & set(self.full_failed)) and \
            bool(set(self.expected) & set(self.fast_failed))


def _check(name, activation, expected, grad_fn, params, X, y):
    label = "copy vs FD"
    full = check_grad_fn(grad_fn, params, X, y, activation, label=label)
    fast = check_grad_fn_fast(grad_fn, params, X, y, activation, label=label)
    failed = lambda rows: [r.tensor for r in rows if r.verdict == FAIL]   # noqa: E731
    return Outcome(name, activation, expected, failed(full), failed(fast), full, fast)


def copy_matches_manual(params, X, y):
    """Largest |copy - manual.loss_and_grads| over every activation used here."""
    worst = 0.0
    for activation in sorted({bug.activation for bug in BUGS}):
        loss_c, grads_c = copy_of_manual(params, X, y, activation)
        loss_m, grads_m = loss_and_grads("manual")(params, X, y, activation)
        worst = max(worst, abs(loss_c - loss_m), *(
            float(np.abs(a - b).max()) for a, b in zip(flat_tensors(grads_c), flat_tensors(grads_m))))
    return worst


def run_selftest(seed=0):
    """Check the unmodified copy, then every bug.

    Returns:
        dict: copy_vs_manual (largest difference), controls (Outcomes of the
        unmodified copy per activation), bugs (Outcomes), passed (bool).
    """
    params, X, y = problem(seed)
    match = copy_matches_manual(params, X, y)
    controls = [_check("unmodified copy", act, (), copy_of_manual, params, X, y)
                for act in sorted({bug.activation for bug in BUGS})]
    outcomes = [_check(bug.name, bug.activation, bug.expected, bug.loss_and_grads,
                       params, X, y) for bug in BUGS]
    passed = (match <= T.TWIN_TOL
              and all(not c.full_failed and not c.fast_failed for c in controls)
              and all(o.caught for o in outcomes))
    return {"copy_vs_manual": match, "controls": controls, "bugs": outcomes,
            "bug_specs": BUGS, "passed": passed, "network": "-".join(map(str, SIZES)), "batch": BATCH,
            "tensors": tensor_names(params)}
