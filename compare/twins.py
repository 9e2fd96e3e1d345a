"""The twin interface, stated once, and the registry of twins.

A *twin* is an implementation of the paper's network: a feed-forward net
``[(W (n_in, n_out), b (n_out,)), ...]`` with a hidden activation after every
layer but the last, then mean softmax cross-entropy over integer labels. Any
object with the three names of :class:`Twin` is one; a module is the usual
form (``manual``, ``manual.buffered``, ``autodiff``).

The trainer, every gradient check, the reproduction and the benchmark take
their twins from :data:`TWINS` and nowhere else, so every twin that trains is
under every check. Entries are the twins' modules, and their functions are
looked up at each call, so replacing ``TWINS[name].loss_and_grads`` (a test
injecting a bug, say) changes what trains and what is checked alike.
"""

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

import autodiff
import manual
from compare.common.errors import ConfigError
from manual import buffered

Params = list[tuple[NDArray[np.floating], NDArray[np.floating]]]
"""K pairs ``(W_k (n_k, n_{k+1}), b_k (n_{k+1},))`` of one float dtype."""


class Twin(Protocol):
    """What every twin provides.

    ``activation`` is the name of one of ``ACTIVATION_NAMES``, or an
    activation object with ``name``, ``fn(z)``, ``deriv(z)`` and ``kink``
    (``manual.activations.Activation``; ``fn`` written with
    ``autograd.numpy`` where a twin differentiates it itself).
    """

    ACTIVATION_NAMES: tuple[str, ...]
    """The hidden activations the twin knows by name."""

    def forward(self, params: Params, X: NDArray, activation: str = "tanh") -> NDArray:
        """Logits (B, n_K) of the network for inputs X (B, n_0), in the parameters' dtype."""
        ...

    def loss_and_grads(self, params: Params, X: NDArray, y: NDArray,
                       activation: str = "tanh") -> tuple[float, Params]:
        """Mean softmax cross-entropy of (X (B, n_0), y (B,)) and its gradient.

        The gradient is K pairs ``(dW_k, db_k)`` shaped and typed like
        ``params``. They may be buffers the twin reuses on its next call
        (the buffered twin's are): use or copy them before calling again.
        """
        ...


TWINS: dict[str, Twin] = {
    "manual": manual,
    "buffered": buffered,
    "autodiff": autodiff,
}

# Twins whose derivative at an activation's kink is whatever their framework
# finds (they have no hand-written derivative to be held to); the checks hold
# every other twin, a user's included, to the activation's documented g'(kink).
FRAMEWORK_DERIVED = frozenset({"autodiff"})

DESCRIPTIONS: dict[str, str] = {
    "manual": "hand-derived backpropagation, plain numpy (manual/network.py)",
    "buffered": "the same hand-derived equations through preallocated buffers "
                "(manual/buffered.py)",
    "autodiff": "its own forward pass in autograd.numpy, every gradient from autograd "
                "(autodiff/network.py)",
}


def get_twin(name: str) -> Twin:
    """The registered twin called ``name``.

    Raises:
        ConfigError: no twin of that name.
    """
    try:
        return TWINS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown twin {name!r}; choose one of {', '.join(TWINS)}") from None


def check_twin_names(names: "str | tuple[str, ...] | list[str]") -> tuple[str, ...]:
    """``names`` as a tuple of distinct registered twin names, or raise ConfigError."""
    names = tuple(n for n in names.split(",") if n) if isinstance(names, str) else tuple(names)
    if not names or len(set(names)) != len(names):
        raise ConfigError(f"name one or more distinct twins, not {list(names)}; "
                          f"choose from {', '.join(TWINS)}")
    for name in names:
        get_twin(name)
    return names


def tensor_names(params: Params) -> list[str]:
    """["W1", "b1", "W2", "b2", ...] for a list of (W, b) pairs."""
    return [f"{kind}{k + 1}" for k in range(len(params)) for kind in ("W", "b")]


def flat_tensors(pairs: Params) -> list[NDArray]:
    """[W1, b1, W2, b2, ...] from a list of (W, b) pairs."""
    return [t for pair in pairs for t in pair]
