"""What ``twinprop bench`` times: SGD steps of each twin, and the bare matmuls.

Each ``make_*`` function returns a candidate: a callable ``run(batches)``
that performs one SGD step per index array in ``batches`` on its own copy of
the parameters (or, for the matmul limit, only the matrix products those
steps need). The bench calls ``run`` repeatedly and times it; nothing here
measures time.

Shapes: data X (N, n_0) of the candidate's dtype, y (N,) int64; sizes
``[n_0, ..., n_K]``; each batch an int64 index array of at most B rows.
"""

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import DTypeLike, NDArray

from compare.common.init import init_params
from compare.train.sgd import SGD
from compare.twins import Params, get_twin

Run = Callable[[Sequence[NDArray[np.int64]]], None]
"""A candidate: ``run(batches)``, one SGD step (or its products) per index array."""


def flops_per_sample(sizes: Sequence[int]) -> int:
    """Floating-point operations of the matrix products of one sample's SGD step.

    Per layer k (n_in x n_out), one multiply-add each (2 flops) of: the
    forward product x_k W_k, the weight gradient x_k^T dz_k and, except for
    the first layer (whose input is the data), dA_k = dz_k W_k^T.

    Args:
        sizes: [n_0, ..., n_K].
    Returns:
        int.
    """
    return sum(2 * n_in * n_out * (2 if k == 0 else 3)
               for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])))


def fresh_params(sizes: Sequence[int], dtype: DTypeLike, seed: int) -> Params:
    """The same starting parameters for every candidate: list of (W, b)."""
    return init_params(list(sizes), init="xavier", seed=seed, dtype=dtype)


def make_twin(twin: str, X: NDArray[np.floating], y: NDArray[np.int64], sizes: Sequence[int],
              activation: str, lr: float, seed: int, batch_size: int) -> Run:
    """A registered twin's step exactly as the trainer takes it: gather into a
    buffer, then ``compare.train.sgd.SGD`` (the twin's loss_and_grads, then
    W -= lr dW).

    Args:
        twin: name of a registered twin (compare.twins.TWINS).
        X, y: (N, n_0) data of the run's dtype and (N,) labels.
        sizes, activation, lr, seed: the network, its activation, the
            learning rate and the parameters' seed.
        batch_size: the largest batch (rows of the gather buffer).
    """
    stepper = SGD(get_twin(twin), activation)
    params = fresh_params(sizes, X.dtype, seed)
    gathered = np.empty((batch_size, X.shape[1]), X.dtype)

    def run(batches: Sequence[NDArray[np.int64]]) -> None:
        for idx in batches:
            xb = np.take(X, idx, axis=0, out=gathered[:len(idx)], mode="clip")
            stepper.step(params, xb, y[idx], lr)

    return run


def make_matmul_limit(sizes: Sequence[int], dtype: DTypeLike, batch_size: int, seed: int,
                      outer_at_batch_1: bool = False) -> Run:
    """Only the matrix products of each SGD step, into preallocated buffers.

    Per step and layer: z = x W, dW = x^T dz and (k > 0) dA = dz W^T, with
    np.matmul at exactly the shapes of that step (a shorter last batch uses
    the first rows). With ``outer_at_batch_1``, a one-row batch's x^T dz is
    an outer product (np.multiply with broadcasting) instead, since OpenBLAS
    is many times slower at a matrix product with an inner dimension of 1.
    """
    rng = np.random.default_rng(seed)
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers.append({
            "x": rng.random((batch_size, n_in)).astype(dtype),
            "W": rng.standard_normal((n_in, n_out)).astype(dtype),
            "z": np.zeros((batch_size, n_out), dtype),
            "dz": rng.standard_normal((batch_size, n_out)).astype(dtype),
            "dW": np.zeros((n_in, n_out), dtype),
            "dA": np.zeros((batch_size, n_in), dtype),
        })

    def run(batches: Sequence[NDArray[np.int64]]) -> None:
        for idx in batches:
            B = len(idx)
            for k, layer in enumerate(layers):
                x, dz = layer["x"][:B], layer["dz"][:B]
                np.matmul(x, layer["W"], out=layer["z"][:B])
                if B == 1 and outer_at_batch_1:
                    np.multiply(x.T, dz, out=layer["dW"])
                else:
                    np.matmul(x.T, dz, out=layer["dW"])
                if k > 0:
                    np.matmul(dz, layer["W"].T, out=layer["dA"][:B])

    return run
