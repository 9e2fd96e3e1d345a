"""The loss the gradient checks differentiate numerically, written for them.

The checks must evaluate the very function the twins differentiate, so the
hidden activations are the manual twin's own ``activations.ACTIVATIONS[name].fn``
(looked up at call time); the affine layers and the softmax cross-entropy
are written here, in a form that also accepts complex numbers (for the
complex step) and that computes *changes* of the loss precisely.

A finite difference subtracts two nearly equal losses, so rounding in the
loss becomes error in the derivative. Recomputing the whole loss at
``theta + h`` and ``theta - h`` loses ``eps * |L|`` twice; instead
:func:`delta_loss` propagates the *change* of each layer's pre-activation,
``dz``, through the rest of the network (the unchanged parts are shared
exactly) and finishes with the change of the per-sample loss

    l(z + dz) - l(z) = log(sum_c p_c exp(dz_c)) - dz_y
                     = log1p(sum_c p_c expm1(dz_c)) - dz_y,

where ``p = softmax(z)`` at the base point. No large number is subtracted
from another, so the finite difference keeps its digits.
"""

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from compare.twins import Params
from manual import activations
from manual.activations import Activation


def twin_activation(name: "str | Activation") -> Activation:
    """The manual twin's :class:`Activation` called ``name`` (looked up now)."""
    return activations.get_activation(name)


@dataclass
class Cache:
    """A forward pass at the base point, kept for the perturbed evaluations.

    Attributes:
        params: list of K pairs (W (n_k, n_{k+1}), b (n_{k+1},)).
        y: (B,) int labels.
        act: the hidden activation (manual's Activation).
        inputs: K arrays, inputs[k] = x_k (B, n_k) the input of layer k
            (x_0 = X, x_{k+1} = g(z_k)).
        zs: K-1 arrays, zs[k] = z_k (B, n_{k+1}) for the hidden layers.
        probs: (B, C) softmax of the logits.
        loss: float, the mean cross-entropy.
        max_logit: float, the largest |logit| (sets the rounding floor).
    """

    params: Params
    y: NDArray
    act: Activation
    inputs: list[NDArray]
    zs: list[NDArray]
    probs: NDArray
    loss: float
    max_logit: float

    @property
    def n_layers(self) -> int:
        return len(self.params)


def log_softmax(logits: NDArray) -> NDArray:
    """Row-wise log softmax of (..., C) logits, real or complex.

    The shift is the real part's maximum: a constant per row, so the
    function stays analytic for the complex step.
    """
    shift = logits.real.max(axis=-1, keepdims=True)
    shifted = logits - shift
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def mean_cross_entropy(logits: NDArray, y: NDArray) -> NDArray:
    """Mean over the batch of -log softmax(logits)[y]; logits (B, C), y (B,)."""
    return -log_softmax(logits)[np.arange(len(y)), y].mean()


def loss_value(params: Params, X: NDArray, y: NDArray,
               activation: "str | Activation") -> NDArray:
    """The loss by a plain forward pass (real or complex parameters).

    Args:
        params: list of K pairs (W, b); X (B, n_0); y (B,); activation: a name.
    Returns:
        scalar loss (complex if the parameters are).
    """
    g = twin_activation(activation).fn
    x = X
    for W, b in params[:-1]:
        x = g(x @ W + b)
    W, b = params[-1]
    return mean_cross_entropy(x @ W + b, y)


def build_cache(params: Params, X: NDArray, y: NDArray,
                activation: "str | Activation") -> Cache:
    """Run the forward pass once and keep every intermediate.

    Args:
        params: list of K pairs (W, b), float64; X (B, n_0); y (B,) ints;
        activation: a hidden-activation name.
    Returns:
        Cache.
    """
    act = twin_activation(activation)
    inputs, zs = [np.asarray(X, dtype=np.float64)], []
    for W, b in params[:-1]:
        z = inputs[-1] @ W + b
        zs.append(z)
        inputs.append(act.fn(z))
    W, b = params[-1]
    logits = inputs[-1] @ W + b
    log_probs = log_softmax(logits)
    y = np.asarray(y)
    loss = float(-log_probs[np.arange(len(y)), y].mean())
    return Cache(params=list(params), y=y, act=act, inputs=inputs, zs=zs,
                 probs=np.exp(log_probs), loss=loss,
                 max_logit=float(np.abs(logits).max()))


@dataclass
class Delta:
    """What :func:`delta_loss` returns.

    Attributes:
        dL: (...) change of the mean loss.
        crossed: (...) bool, a hidden pre-activation changed side of the
            kink (None unless tracked).
        exact: (...) bool, a hidden pre-activation sitting exactly on the
            kink was moved (None unless tracked).
    """

    dL: NDArray
    crossed: NDArray | None = None
    exact: NDArray | None = None


class Layers(Protocol):
    """What :func:`_hidden_step` reads: a Cache, or a view of some of its columns."""

    act: Activation
    zs: list[NDArray]
    inputs: list[Any]


def _hidden_step(cache: Layers, k: int, dz: NDArray, pin_slope: float | None,
                 track: bool, crossed: NDArray | None,
                 exact: NDArray | None) -> tuple[NDArray, NDArray | None, NDArray | None]:
    """Change of layer k's output for a change dz (..., B, n) of its input z_k."""
    act, z = cache.act, cache.zs[k]
    moved = dz != 0
    if track and act.kink is not None:
        assert crossed is not None and exact is not None
        side = np.sign(z - act.kink)
        new_side = np.sign((z + dz).real - act.kink)
        axes = (-2, -1)
        crossed = crossed | ((new_side != side) & moved).any(axis=axes)
        exact = exact | ((side == 0) & moved).any(axis=axes)
    dx = act.fn(z + dz) - cache.inputs[k + 1]
    if pin_slope is not None and act.kink is not None:
        # Units exactly on the kink follow the straight line of the
        # convention's slope: g(kink) + slope * dz.
        on_kink = z == act.kink
        if on_kink.any():
            dx = np.where(on_kink, pin_slope * dz, dx)
    return dx, crossed, exact


def output_change(cache: Cache, dlogits: NDArray) -> NDArray:
    """Change of the mean loss for a change dlogits (..., B, C) of the logits."""
    label_change = dlogits[..., np.arange(len(cache.y)), cache.y]      # (..., B)
    # sum_c p_c expm1(dz_c) as one contraction (no (..., B, C) temporary)
    weighted = np.einsum("...bc,bc->...b", np.expm1(dlogits), cache.probs)
    return (np.log1p(weighted) - label_change).mean(axis=-1)


def delta_loss(cache: Cache, start: int, dz: NDArray,
               deltas: dict[int, tuple[NDArray | None, NDArray | None]] | None = None,
               pin_slope: float | None = None, track: bool = False) -> Delta:
    """Change of the loss when layer ``start``'s pre-activation changes by dz.

    Args:
        cache: Cache of the base point.
        start: layer index k whose pre-activation z_k changes.
        dz: (..., B, n_{k+1}) the change of z_k (real or complex); the
            leading axes index perturbations evaluated together.
        deltas: optional {layer: (dW (..., n_m, n_{m+1}) or None, db (..., n_{m+1})
            or None)} for layers m > start whose parameters change too.
        pin_slope: if given, hidden units exactly on the kink at the base
            point respond with this slope (a derivative convention) instead
            of the activation itself.
        track: record which perturbations cross or touch the kink.
    Returns:
        Delta with dL of shape (...).
    """
    deltas = deltas or {}
    lead = dz.shape[:-2]
    crossed = np.zeros(lead, bool) if track else None
    exact = np.zeros(lead, bool) if track else None
    last = cache.n_layers - 1
    for k in range(start, last + 1):
        if k == last:
            return Delta(output_change(cache, dz), crossed, exact)
        dx, crossed, exact = _hidden_step(cache, k, dz, pin_slope, track, crossed, exact)
        # layer k + 1's pre-activation moves with its input, and with its own
        # parameters if they change too
        W = cache.params[k + 1][0]
        dW, db = deltas.get(k + 1, (None, None))
        dz = dx @ W
        if dW is not None:
            dz = dz + (cache.inputs[k + 1] + dx) @ dW
        if db is not None:
            dz = dz + db[..., None, :]
    raise AssertionError("unreachable: the output layer returns")
