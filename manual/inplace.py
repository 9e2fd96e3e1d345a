"""The activations of :mod:`manual.activations`, written into given buffers.

The workspace's hot path (:mod:`manual.workspace`) calls these once per layer
and step. Each writes its result through ``out=`` into arrays the workspace
allocated once, so no step allocates a temporary array.

``forward(z, out, tmp, mask)`` writes ``a = g(z)`` into ``out``.
``backward(dA, z, a, out, tmp, mask)`` writes ``dz = dA * g'(z)`` into
``out`` (the paper's dz_k = dA_{k+1} g'(z_k)); ``a = g(z)`` from the forward
pass is passed in so that g' can be read off it where the paper does.

All arrays are (B, n) of one float dtype (``mask`` is bool); ``tmp`` and
``mask`` are scratch; ``out`` is a buffer of its own (never ``dA``, ``z`` or ``a``).

Values agree with :mod:`manual.activations` up to rounding. sigmoid and tanh
take g' from the output as the paper writes it (g(1 - g), 1 - g**2); that
loses *relative* precision only where g' is below the rounding unit, where
its *absolute* error (what a gradient step sees) is still below 1e-16.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np

from manual.activations import LEAKY_SLOPE, get_activation


@dataclass(frozen=True)
class InplaceActivation:
    """An activation's forward and backward rule, each writing into ``out``."""

    name: str
    forward: Callable
    backward: Callable


# Arrays up to this many elements are "small": per-call overhead outweighs
# the per-element cost there.
SMALL = 1024


def _exp_minus_abs(z, out):
    """out = exp(-|z|), in (0, 1]: never overflows."""
    np.abs(z, out=out)
    np.negative(out, out=out)
    np.exp(out, out=out)


# sigmoid ----------------------------------------------------------------------
# g(z) = 1 / (1 + e) for z >= 0, e / (1 + e) for z < 0, e = exp(-|z|)
def _sigmoid_forward(z, out, tmp, mask):
    _exp_minus_abs(z, tmp)                              # e
    np.add(tmp, 1, out=out)
    np.reciprocal(out, out=out)                         # 1 / (1 + e)
    np.less(z, 0, out=mask)
    np.multiply(out, tmp, out=out, where=mask)          # e / (1 + e) where z < 0


# g'(z) = g(z) (1 - g(z))   (the paper's g'_sigmoid)
def _sigmoid_backward(dA, z, a, out, tmp, mask):
    np.subtract(1, a, out=tmp)                          # 1 - g
    np.multiply(tmp, a, out=tmp)                        # g (1 - g)
    np.multiply(dA, tmp, out=out)                       # dz = dA g'(z)


# tanh -------------------------------------------------------------------------
# g(z) = tanh(z) = sign(z) (1 - e2) / (1 + e2), e2 = exp(-2|z|) in (0, 1]: no
# overflow, absolute error a few units of rounding, and about twice as fast as
# np.tanh on large float64 arrays (numpy's float64 tanh has no SIMD loop on
# AVX2 machines). Small arrays (batch 1) take np.tanh: one call, not seven.
def _tanh_forward(z, out, tmp, mask):
    if z.size <= SMALL:
        np.tanh(z, out=out)
        return
    np.abs(z, out=tmp)
    np.multiply(tmp, -2, out=tmp)
    np.exp(tmp, out=tmp)                                # e2
    np.subtract(1, tmp, out=out)                        # 1 - e2
    np.add(tmp, 1, out=tmp)                             # 1 + e2
    np.divide(out, tmp, out=out)                        # tanh(|z|)
    np.copysign(out, z, out=out)                        # tanh(z)


# g'(z) = 1 - g(z)**2   (the paper's g'_tanh), applied as dA - (dA g) g: the
# same three passes as dA (1 - g**2), without converting the scalar 1 per call
def _tanh_backward(dA, z, a, out, tmp, mask):
    np.multiply(dA, a, out=tmp)                         # dA g
    np.multiply(tmp, a, out=tmp)                        # dA g**2
    np.subtract(dA, tmp, out=out)                       # dz = dA g'(z) = dA (1 - g**2)


# relu -------------------------------------------------------------------------
# g(z) = max(0, z)
def _relu_forward(z, out, tmp, mask):
    np.maximum(z, 0, out=out)


# g'(z) = 1 if z > 0 else 0 (0 at the kink, as manual.activations.relu_deriv)
def _relu_backward(dA, z, a, out, tmp, mask):
    np.greater(z, 0, out=mask)
    np.multiply(dA, mask, out=out)                      # dz = dA g'(z)


# leaky relu -------------------------------------------------------------------
# g(z) = z if z > 0 else 0.01 z  =  max(z, 0.01 z)
def _leaky_relu_forward(z, out, tmp, mask):
    np.multiply(z, LEAKY_SLOPE, out=tmp)
    np.maximum(z, tmp, out=out)


# g'(z) = 1 if z > 0 else 0.01
def _leaky_relu_backward(dA, z, a, out, tmp, mask):
    np.greater(z, 0, out=mask)
    np.multiply(dA, LEAKY_SLOPE, out=out)               # dz = dA * 0.01 everywhere ...
    np.copyto(out, dA, where=mask)                      # ... and dA * 1 where z > 0


# softplus ---------------------------------------------------------------------
# g(z) = max(z, 0) + log1p(exp(-|z|))
def _softplus_forward(z, out, tmp, mask):
    _exp_minus_abs(z, tmp)
    np.log1p(tmp, out=tmp)
    np.maximum(z, 0, out=out)
    np.add(out, tmp, out=out)


# g'(z) = sigmoid(z)
def _softplus_backward(dA, z, a, out, tmp, mask):
    _sigmoid_forward(z, out, tmp, mask)                 # g'(z) = sigmoid(z)
    np.multiply(dA, out, out=out)                       # dz = dA g'(z)


# identity ---------------------------------------------------------------------
# g(z) = z ; g'(z) = 1
def _identity_forward(z, out, tmp, mask):
    np.copyto(out, z)


def _identity_backward(dA, z, a, out, tmp, mask):
    np.copyto(out, dA)


INPLACE = {
    act.name: act
    for act in (
        InplaceActivation("sigmoid", _sigmoid_forward, _sigmoid_backward),
        InplaceActivation("tanh", _tanh_forward, _tanh_backward),
        InplaceActivation("relu", _relu_forward, _relu_backward),
        InplaceActivation("leaky_relu", _leaky_relu_forward, _leaky_relu_backward),
        InplaceActivation("softplus", _softplus_forward, _softplus_backward),
        InplaceActivation("identity", _identity_forward, _identity_backward),
    )
}


def get_inplace(name):
    """Return the :class:`InplaceActivation` called ``name``, or raise ConfigError."""
    get_activation(name)            # the one place that words the unknown-name error
    return INPLACE[name]
