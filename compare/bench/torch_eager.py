"""The same network and SGD in PyTorch eager mode, as a yardstick for the bench.

Optional: PyTorch is the ``bench`` extra (a CPU build). Same starting
parameters as the twins (copied from compare.common.init), the same batches,
``x W + b`` layers with the hidden activation, mean softmax cross-entropy,
plain SGD.
"""

import importlib.util
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compare.bench.candidates import Run, fresh_params


def torch_available() -> bool:
    """True when PyTorch can be imported (without importing it)."""
    return importlib.util.find_spec("torch") is not None


def torch_info(threads: int | None) -> dict[str, Any]:
    """Import PyTorch, give it ``threads`` intra-op threads, describe it.

    Returns:
        dict with ``version``, ``threads`` (as PyTorch reports them after
        setting) and ``interop_threads``.
    """
    import torch

    if threads is not None:
        torch.set_num_threads(int(threads))
    return {"version": torch.__version__, "threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads()}


_ACTIVATIONS = {
    "sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu", "softplus": "softplus",
}
TORCH_ACTIVATIONS = tuple(_ACTIVATIONS)


def make_torch_eager(X: NDArray[np.floating], y: NDArray[np.int64], sizes: Sequence[int],
                     activation: str, lr: float, seed: int) -> Run:
    """A candidate ``run(batches)``: one PyTorch eager SGD step per batch.

    Args:
        X, y: (N, n_0) numpy data (shared with PyTorch, not copied) and (N,) labels.
        sizes, activation, lr, seed: as for the twins' candidates.
    """
    import torch
    import torch.nn.functional as F

    if activation not in _ACTIVATIONS:
        raise ValueError(f"the PyTorch yardstick has no activation {activation!r}")
    g = getattr(torch, _ACTIVATIONS[activation])
    params = []
    for W, b in fresh_params(sizes, X.dtype, seed):
        params += [torch.from_numpy(W).requires_grad_(), torch.from_numpy(b).requires_grad_()]
    optimizer = torch.optim.SGD(params, lr=lr)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(np.asarray(y, dtype=np.int64))
    layers = list(zip(params[0::2], params[1::2]))

    def run(batches: Sequence[NDArray[np.int64]]) -> None:
        for idx in batches:
            idx_t = torch.from_numpy(idx)
            x = X_t[idx_t]
            for W, b in layers[:-1]:
                x = g(torch.addmm(b, x, W))
            W, b = layers[-1]
            loss = F.cross_entropy(torch.addmm(b, x, W), y_t[idx_t])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss.item()

    return run
