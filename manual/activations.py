"""Hidden-layer activations, each with its hand-derived derivative beside it.

One registry, :data:`ACTIVATIONS`, maps a name to an :class:`Activation`;
adding an activation means adding one entry here. This module is the one
source of every derivative the hand-derived twins use: the plain twin
(:mod:`manual.network`) calls ``deriv``, the buffered twin
(:mod:`manual.buffered`) calls ``deriv_into``, and both are the *same*
formula: each reference derivative is its in-place helper called without an
output buffer, so the two cannot drift apart.

Every ``fn`` and ``deriv`` maps an array ``z`` of any shape to an array of the
same shape and dtype (float32 stays float32), never overflows for finite
input, and keeps full *relative* precision where the function saturates.
That last point is why sigmoid and tanh do not evaluate the paper's
derivative formulas literally: ``1 - tanh(z)**2`` and ``s * (1 - s)`` are
exact algebra but lose every significant digit once ``tanh(z)`` or ``s``
rounds to 1 (|z| > ~19 for tanh; the loss of digits starts near |z| ~ 5).
They are evaluated instead through ``e = exp(-|z|)``, which is in (0, 1], so
nothing can overflow, and no two nearly equal numbers are subtracted.

``fn`` also accepts complex input and is analytic there (the branch is chosen
by the real part), so complex-step derivative checks can use it.

The in-place variants, for the buffered twin's hot path:

* ``fn_into(z, out, keep)`` writes ``g(z)`` into ``out`` and leaves in
  ``keep`` what the derivative needs (``exp(-|z|)`` for sigmoid and
  softplus, ``exp(-2|z|)`` for tanh), so the backward pass need not
  exponentiate again;
* ``deriv_into(z, keep, out)`` writes ``g'(z)`` into ``out`` from ``z`` and
  that ``keep``.

All three arrays are real, of one shape and dtype, and ``out`` is distinct
from ``z`` and ``keep``. ``tests/test_activations.py`` holds each variant to
its reference.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np
from numpy.typing import NDArray

from compare.common.errors import ConfigError

Array = NDArray[np.floating]
Into = Callable[[Array, Array, Array], None]

LEAKY_SLOPE = 0.01


# eq=False: compared and hashed by identity (each is made once), which keeps
# the buffered twin's per-call workspace lookup cheap
@dataclass(frozen=True, eq=False)
class Activation:
    """A named activation ``g``, its derivative ``g'``, and where ``g`` has a kink.

    Attributes:
        name: registry key.
        fn: ``z -> g(z)``, any shape.
        deriv: ``z -> g'(z)`` (a function of the pre-activation ``z``).
        kink: the input where ``g`` is not differentiable, or None.
        fn_into: ``(z, out, keep)``: ``out = g(z)``, leaving in ``keep`` what
            ``deriv_into`` needs. Defaults to copying ``fn(z)``.
        deriv_into: ``(z, keep, out)``: ``out = g'(z)``. Defaults to copying
            ``deriv(z)``.
    """

    name: str
    fn: Callable[[NDArray], NDArray]
    deriv: Callable[[NDArray], NDArray]
    kink: float | None = None
    # None (the default) is replaced in __post_init__, so both are always callable
    fn_into: Into = cast(Into, None)
    deriv_into: Into = cast(Into, None)

    def __post_init__(self) -> None:
        # An activation given only by fn and deriv (a user's own, say) still
        # runs in the buffered twin: its in-place forms copy the reference.
        if self.fn_into is None:
            fn = self.fn
            object.__setattr__(self, "fn_into", lambda z, out, keep: np.copyto(out, fn(z)))
        if self.deriv_into is None:
            deriv = self.deriv
            object.__setattr__(self, "deriv_into",
                               lambda z, keep, out: np.copyto(out, deriv(z)))


def _abs(z: NDArray) -> NDArray:
    """|z| for real z; for complex z, ``z`` or ``-z`` chosen by the real part.

    The complex branch keeps ``exp(-_abs(z))`` analytic near the real axis,
    which complex-step checks need; for real input this is ``np.abs``.
    """
    if np.iscomplexobj(z):
        return np.where(z.real >= 0, z, -z)
    return np.abs(z)


def _positive(z: NDArray) -> NDArray[np.bool_]:
    """Boolean mask ``z > 0`` (of the real part for complex input)."""
    return z.real > 0


def _exp_minus_abs_into(z: Array, out: Array) -> Array:
    """out = exp(-|z|), in (0, 1]: never overflows."""
    np.abs(z, out=out)
    np.negative(out, out=out)
    return np.exp(out, out=out)


# sigmoid ----------------------------------------------------------------------
# g(z) = 1 / (1 + exp(-z)). With e = exp(-|z|) in (0, 1]:
#   z >= 0: g = 1 / (1 + e);   z < 0: g = e / (1 + e)    (same value, no overflow)
def sigmoid(z: NDArray) -> NDArray:
    return _sigmoid_from_e(z, np.exp(-_abs(z)))


def _sigmoid_from_e(z: NDArray, e: NDArray, out: NDArray | None = None) -> NDArray:
    """sigmoid(z) from e = exp(-|z|): 1 / (1 + e), times e where z < 0."""
    out = np.add(e, 1, out=np.empty_like(e) if out is None else out)
    np.reciprocal(out, out=out)
    return np.multiply(out, e, out=out, where=z.real < 0)


def sigmoid_into(z: Array, out: Array, keep: Array) -> None:
    _exp_minus_abs_into(z, keep)                        # keep = e
    _sigmoid_from_e(z, keep, out)


# g'(z) = g(z) (1 - g(z))   (the paper)   = e / (1 + e)**2   for either sign of z
def _sigmoid_deriv_from_e(e: NDArray, out: NDArray | None = None) -> NDArray:
    denominator = np.add(e, 1, out=np.empty_like(e) if out is None else out)
    np.multiply(denominator, denominator, out=denominator)      # (1 + e)**2
    return np.divide(e, denominator, out=denominator)


def sigmoid_deriv(z: NDArray) -> NDArray:
    return _sigmoid_deriv_from_e(np.exp(-_abs(z)))


def sigmoid_deriv_into(z: Array, keep: Array, out: Array) -> None:
    _sigmoid_deriv_from_e(keep, out)


# tanh -------------------------------------------------------------------------
# g(z) = tanh(z)  (numpy's tanh is already accurate and saturates quietly)
def tanh(z: NDArray) -> NDArray:
    return np.tanh(z)


# In place: numpy's tanh (relative precision everywhere, vectorised), and
# e2 = exp(-|z|)**2 kept for the derivative.
def tanh_into(z: Array, out: Array, keep: Array) -> None:
    np.tanh(z, out=out)
    _exp_minus_abs_into(z, keep)
    np.multiply(keep, keep, out=keep)                   # keep = e2


# g'(z) = 1 - tanh(z)**2   (the paper)   = sech(z)**2 = 4 e2 / (1 + e2)**2,
# e2 = exp(-2|z|), which keeps relative precision where tanh(z) rounds to +-1.
def _tanh_deriv_from_e2(e2: NDArray, out: NDArray | None = None) -> NDArray:
    denominator = np.add(e2, 1, out=np.empty_like(e2) if out is None else out)
    np.multiply(denominator, denominator, out=denominator)      # (1 + e2)**2
    np.divide(e2, denominator, out=denominator)
    return np.multiply(denominator, 4, out=denominator)


def tanh_deriv(z: NDArray) -> NDArray:
    e = np.exp(-_abs(z))
    return _tanh_deriv_from_e2(e * e)       # e * e, not exp(-2|z|): -2|z| can overflow


def tanh_deriv_into(z: Array, keep: Array, out: Array) -> None:
    _tanh_deriv_from_e2(keep, out)


# relu -------------------------------------------------------------------------
# g(z) = max(0, z)
def relu(z: NDArray) -> NDArray:
    return np.where(_positive(z), z, 0)


def relu_into(z: Array, out: Array, keep: Array) -> None:
    np.maximum(z, 0, out=out)


# g'(z) = 1 if z > 0 else 0. At exactly z == 0 (the kink) we take 0, the
# subgradient most libraries use; the paper's text says 1 there ("0 if x < 0,
# 1 otherwise"). The two agree everywhere except at z == 0 exactly.
def relu_deriv(z: NDArray) -> NDArray:
    out = np.empty(z.shape, z.real.dtype)
    relu_deriv_into(z.real, out, out)
    return out


def relu_deriv_into(z: Array, keep: Array, out: Array) -> None:
    np.greater(z, 0, out=out)                           # 1.0 where z > 0, else 0.0


# leaky relu -------------------------------------------------------------------
# g(z) = z if z > 0 else 0.01 z
def leaky_relu(z: NDArray) -> NDArray:
    return np.where(_positive(z), z, LEAKY_SLOPE * z)


def leaky_relu_into(z: Array, out: Array, keep: Array) -> None:
    np.multiply(z, LEAKY_SLOPE, out=keep)
    np.maximum(z, keep, out=out)                        # max(z, 0.01 z)


# g'(z) = 1 if z > 0 else 0.01 (0.01 at the kink, matching relu's choice)
def leaky_relu_deriv(z: NDArray) -> NDArray:
    out = np.empty(z.shape, z.real.dtype)
    leaky_relu_deriv_into(z.real, out, out)
    return out


def leaky_relu_deriv_into(z: Array, keep: Array, out: Array) -> None:
    positive = z > 0
    out.fill(LEAKY_SLOPE)
    np.copyto(out, 1, where=positive)


# softplus ---------------------------------------------------------------------
# g(z) = log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|))   (no overflow)
def softplus(z: NDArray) -> NDArray:
    return np.where(z.real >= 0, z, 0) + np.log1p(np.exp(-_abs(z)))


def softplus_into(z: Array, out: Array, keep: Array) -> None:
    _exp_minus_abs_into(z, keep)                        # keep = e
    np.log1p(keep, out=out)
    np.add(out, z, out=out, where=z > 0)                # + max(z, 0)


# g'(z) = exp(z) / (1 + exp(z)) = sigmoid(z)
def softplus_deriv(z: NDArray) -> NDArray:
    return sigmoid(z)


def softplus_deriv_into(z: Array, keep: Array, out: Array) -> None:
    _sigmoid_from_e(z, keep, out)                       # sigmoid(z), e = exp(-|z|) kept


# identity ---------------------------------------------------------------------
# g(z) = z ;  g'(z) = 1
def identity(z: NDArray) -> NDArray:
    return z


def identity_into(z: Array, out: Array, keep: Array) -> None:
    np.copyto(out, z)


def identity_deriv(z: NDArray) -> NDArray:
    return np.ones_like(z)


def identity_deriv_into(z: Array, keep: Array, out: Array) -> None:
    out.fill(1)


ACTIVATIONS: dict[str, Activation] = {
    act.name: act
    for act in (
        Activation("sigmoid", sigmoid, sigmoid_deriv, None, sigmoid_into, sigmoid_deriv_into),
        Activation("tanh", tanh, tanh_deriv, None, tanh_into, tanh_deriv_into),
        Activation("relu", relu, relu_deriv, 0.0, relu_into, relu_deriv_into),
        Activation("leaky_relu", leaky_relu, leaky_relu_deriv, 0.0, leaky_relu_into,
                   leaky_relu_deriv_into),
        Activation("softplus", softplus, softplus_deriv, None, softplus_into,
                   softplus_deriv_into),
        Activation("identity", identity, identity_deriv, None, identity_into,
                   identity_deriv_into),
    )
}
ACTIVATION_NAMES: tuple[str, ...] = tuple(ACTIVATIONS)


def get_activation(activation: "str | Activation") -> Activation:
    """The :class:`Activation` called ``activation`` (or ``activation`` itself).

    Raises:
        ConfigError: no activation of that name.
    """
    if isinstance(activation, Activation):
        return activation
    try:
        return ACTIVATIONS[activation]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}"
        ) from None
