"""The buffered twin: the hand-derived gradients through preallocated buffers.

A twin of its own (``compare.twins.TWINS["buffered"]``), under every check
the other twins are under. It computes what :mod:`manual.network` computes,
with the same derivative formulas (both take them from
:mod:`manual.activations`), but every array of a call lives in a
:class:`manual.workspace.Workspace` kept from call to call for the same
network shape, activation and dtype, so training allocates nothing per step.

The gradients it returns are read-only views of those buffers: they stay
valid until the next call for the same network in the same thread; copy
them to keep them.
"""

import threading
from collections import OrderedDict

import numpy as np
from numpy.typing import NDArray

from compare.common.validate import check_input, check_labels
from manual.activations import ACTIVATION_NAMES, Activation, get_activation
from manual.workspace import Params, Workspace, in_place_forms

__all__ = ["ACTIVATION_NAMES", "forward", "loss_and_grads"]

# Per thread (Dask workers train in several threads, and numpy releases the
# GIL inside its products): (weight shapes, activation, dtype, batch == 1) ->
# the workspace of the largest batch seen, most recently used last. A few
# networks at a time is plenty (training uses one), and the bound keeps a long
# property test from holding a workspace for every network it ever tried.
_local = threading.local()
_KEEP = 8


def _workspaces() -> "OrderedDict[tuple, Workspace]":
    """This thread's workspaces."""
    cache = getattr(_local, "workspaces", None)
    if cache is None:
        cache = _local.workspaces = OrderedDict()
    return cache


def _workspace(params: Params, activation: Activation, batch: int) -> Workspace:
    """The workspace for these parameters, with room for ``batch`` rows.

    Batch 1 runs on a path of its own (views made once), so it has its own
    workspace. The key is made of what is at hand (shapes, the dtype object),
    since it is made at every call.
    """
    W0 = params[0][0]
    key = (tuple([W.shape for W, _ in params]), activation, W0.dtype, batch == 1)
    cache = _workspaces()
    ws = cache.get(key)
    if ws is None or ws.capacity < batch:
        sizes = [W0.shape[0], *[W.shape[1] for W, _ in params]]
        ws = cache[key] = Workspace(sizes, activation, batch, W0.dtype)
        if len(cache) > _KEEP:
            cache.popitem(last=False)
    cache.move_to_end(key)
    return ws


def loss_and_grads(params: Params, X: NDArray, y: NDArray,
                   activation: str | Activation = "tanh") -> tuple[float, Params]:
    """Mean softmax cross-entropy and its gradient for every parameter.

    Args:
        params: list of K pairs (W (n_k, n_{k+1}), b (n_{k+1},)).
        X: (B, n_0) inputs.
        y: (B,) integer labels in [0, n_K), any integer dtype.
        activation: name of the hidden activation (or an Activation).
    Returns:
        loss: float.
        grads: list of K pairs (dW_k, db_k), shaped and typed like params;
            read-only, valid until the next call for the same network.
    """
    act = get_activation(activation)
    X = check_input(params, X)
    y = check_labels(y, len(X), params[-1][0].shape[1])
    return _workspace(params, act, len(X)).loss_and_grads(params, X, y)


def forward(params: Params, X: NDArray, activation: str | Activation = "tanh") -> NDArray:
    """Logits of the network, through the activation's in-place form.

    Args:
        params: list of K pairs (W, b); X: (B, n_0); activation: a name.
    Returns:
        (B, n_K) logits (a new array), the dtype of the parameters.
    """
    fn_into = in_place_forms(get_activation(activation))[0]
    x = check_input(params, X)
    for k, (W, b) in enumerate(params):
        z = x @ W
        z += b                                                  # z_k = x_k W_k + b_k
        if k == len(params) - 1:
            return z
        x = np.empty_like(z)
        fn_into(z, x, np.empty_like(z))                         # x_{k+1} = g(z_k)
    raise AssertionError("unreachable: the last layer returns")
