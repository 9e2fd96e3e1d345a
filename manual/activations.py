"""Hidden-layer activations, each with its hand-derived derivative beside it.

One registry, :data:`ACTIVATIONS`, maps a name to an :class:`Activation`;
adding an activation means adding one entry here.

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
"""

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from compare.common.errors import ConfigError

LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class Activation:
    """A named activation ``g``, its derivative ``g'``, and where ``g`` has a kink.

    Attributes:
        name: registry key.
        fn: ``z -> g(z)``, any shape.
        deriv: ``z -> g'(z)`` (a function of the pre-activation ``z``).
        kink: the input where ``g`` is not differentiable, or None.
    """

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    deriv: Callable[[np.ndarray], np.ndarray]
    kink: Optional[float]


def _abs(z):
    """|z| for real z; for complex z, ``z`` or ``-z`` chosen by the real part.

    The complex branch keeps ``exp(-_abs(z))`` analytic near the real axis,
    which complex-step checks need; for real input this is ``np.abs``.
    """
    if np.iscomplexobj(z):
        return np.where(z.real >= 0, z, -z)
    return np.abs(z)


def _positive(z):
    """Boolean mask ``z > 0`` (of the real part for complex input)."""
    return z.real > 0


# sigmoid ----------------------------------------------------------------------
# g(z) = 1 / (1 + exp(-z)). With e = exp(-|z|) in (0, 1]:
#   z >= 0: g = 1 / (1 + e);   z < 0: g = e / (1 + e)    (same value, no overflow)
def sigmoid(z):
    e = np.exp(-_abs(z))
    return np.where(z.real >= 0, 1 / (1 + e), e / (1 + e))


# g'(z) = g(z) (1 - g(z))   (the paper)   = e / (1 + e)**2   for either sign of z
def sigmoid_deriv(z):
    e = np.exp(-_abs(z))
    return e / (1 + e) ** 2


# tanh -------------------------------------------------------------------------
# g(z) = tanh(z)  (numpy's tanh is already accurate and saturates quietly)
def tanh(z):
    return np.tanh(z)


# g'(z) = 1 - tanh(z)**2   (the paper)   = sech(z)**2 = 4 e2 / (1 + e2)**2,
# e2 = exp(-2|z|), which keeps relative precision where tanh(z) rounds to +-1.
def tanh_deriv(z):
    e2 = np.exp(-2 * _abs(z))
    return 4 * e2 / (1 + e2) ** 2


# relu -------------------------------------------------------------------------
# g(z) = max(0, z)
def relu(z):
    return np.where(_positive(z), z, 0)


# g'(z) = 1 if z > 0 else 0. At exactly z == 0 (the kink) we take 0, the
# subgradient most libraries use; the paper's text says 1 there ("0 if x < 0,
# 1 otherwise"). The two agree everywhere except at z == 0 exactly.
def relu_deriv(z):
    return _positive(z).astype(z.real.dtype)


# leaky relu -------------------------------------------------------------------
# g(z) = z if z > 0 else 0.01 z
def leaky_relu(z):
    return np.where(_positive(z), z, LEAKY_SLOPE * z)


# g'(z) = 1 if z > 0 else 0.01 (0.01 at the kink, matching relu's choice)
def leaky_relu_deriv(z):
    dtype = z.real.dtype
    return np.where(_positive(z), dtype.type(1), dtype.type(LEAKY_SLOPE))


# softplus ---------------------------------------------------------------------
# g(z) = log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|))   (no overflow)
def softplus(z):
    return np.where(z.real >= 0, z, 0) + np.log1p(np.exp(-_abs(z)))


# g'(z) = exp(z) / (1 + exp(z)) = sigmoid(z)
def softplus_deriv(z):
    return sigmoid(z)


# identity ---------------------------------------------------------------------
# g(z) = z ;  g'(z) = 1
def identity(z):
    return z


def identity_deriv(z):
    return np.ones_like(z)


ACTIVATIONS = {
    act.name: act
    for act in (
        Activation("sigmoid", sigmoid, sigmoid_deriv, kink=None),
        Activation("tanh", tanh, tanh_deriv, kink=None),
        Activation("relu", relu, relu_deriv, kink=0.0),
        Activation("leaky_relu", leaky_relu, leaky_relu_deriv, kink=0.0),
        Activation("softplus", softplus, softplus_deriv, kink=None),
        Activation("identity", identity, identity_deriv, kink=None),
    )
}


def get_activation(name):
    """Return the :class:`Activation` called ``name``, or raise ConfigError."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}"
        ) from None
