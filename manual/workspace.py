"""The hand-derived loss and gradients through buffers allocated once.

The same equations as :mod:`manual.network` (which stays the plain,
readable version), written through ``out=`` into the arrays of a
:class:`Workspace`, with the activations' in-place forms from
:mod:`manual.activations` (the same derivative formulas as the plain twin).
Three costs of the plain version go away:

* numpy hands short-lived temporaries of a few hundred KB back to the
  operating system and faults them in again on the next call; here no call
  allocates a float array of a layer's size (sigmoid, softplus and leaky_relu
  make a boolean mask of one, an eighth of that in float64);
* one-hot label matrices are never built: ``softmax(s) - y`` subtracts 1 at
  the labels' positions;
* at batch 1 a call is a few dozen numpy calls on short vectors, and each
  call's fixed cost is most of the time; that case runs on 1-D views made
  once (:mod:`manual.workspace_one`).

Shapes: B = batch (at most ``capacity``; a smaller batch uses the first B
rows of every buffer), n_k = ``sizes[k]``, K = number of layers.
"""

import numpy as np
from numpy.typing import NDArray

from manual.activations import Activation, Into
from manual.workspace_one import OneSample

Params = list[tuple[NDArray, NDArray]]


class Workspace:
    """Buffers for one network shape, activation, batch capacity and dtype.

    Attributes (lists indexed by layer k = 0..K-1; arrays (capacity, n)):
        z:    z_k, (capacity, n_{k+1}); z_{K-1} are the logits.
        a:    x_{k+1} = g(z_k) for the hidden layers.
        keep: what the activation's derivative needs from its forward pass.
        dz:   dz_k; dz_{K-1} first holds softmax(s).
        dA:   dA_k for k >= 1 (dA_0, the gradient at the data, is never needed).
        dW, db: (n_k, n_{k+1}) and (n_{k+1},), the gradients returned (at
              capacity 1, db_k is a view of dz_k's row).
    """

    def __init__(self, sizes: list[int], activation: Activation, capacity: int,
                 dtype: np.dtype) -> None:
        self.sizes = list(sizes)
        self.fn_into, self.deriv_into = in_place_forms(activation)
        self.capacity = B = capacity
        self.dtype = dt = np.dtype(dtype)
        widths, hidden = self.sizes[1:], self.sizes[1:-1]
        self.z = [np.zeros((B, n), dt) for n in widths]
        self.a = [np.zeros((B, n), dt) for n in hidden]
        self.keep = [np.zeros((B, n), dt) for n in hidden]
        self.dz = [np.zeros((B, n), dt) for n in widths]
        self.dA = [np.zeros((B, n), dt) for n in widths[:-1]]
        self.dW = [np.zeros((m, n), dt) for m, n in zip(self.sizes[:-1], widths)]
        # db_k = dz_k at batch 1: there the bias gradients are the dz_k rows
        self.db = ([dz[0] for dz in self.dz] if B == 1 else
                   [np.zeros(n, dt) for n in widths])
        self.row_max = np.zeros((B, 1), dt)
        self.row_sum = np.zeros((B, 1), dt)
        self.rows = np.arange(B)
        self.ones = np.ones(B, dt)
        self.grads = [(_read_only(dW), _read_only(db)) for dW, db in zip(self.dW, self.db)]
        self.one = OneSample(self) if B == 1 else None

    def buffers(self) -> list[NDArray]:
        """Every array the workspace owns (for checks that they are reused)."""
        return [*self.z, *self.a, *self.keep, *self.dz, *self.dA, *self.dW,
                *self.db, self.row_max, self.row_sum, self.rows, self.ones]

    def loss_and_grads(self, params: Params, X: NDArray, y: NDArray) -> tuple[float, Params]:
        """Mean softmax cross-entropy of the batch and its gradient.

        Args:
            params: K pairs (W (n_k, n_{k+1}), b (n_{k+1},)) of the workspace's dtype.
            X: (B, n_0) of that dtype, 1 <= B <= capacity.
            y: (B,) integer labels in [0, n_K).
        Returns:
            loss (float) and K pairs (dW_k, db_k): read-only views of this
            workspace's buffers, overwritten by its next call.
        """
        if self.one is not None:
            return self.one.loss_and_grads(params, X, int(y[0])), self.grads
        B = len(X)
        loss = self._forward_loss(params, X, y, B)
        self._backward(params, X, B)
        return loss, self.grads

    def _forward_loss(self, params: Params, X: NDArray, y: NDArray, B: int) -> float:
        """Forward pass and loss; leaves dA_K = (softmax(s) - y) / B in dz_{K-1}. Returns L."""
        last = len(params) - 1
        x = X
        for k, (W, b) in enumerate(params):
            z = self.z[k][:B]
            np.matmul(x, W, out=z)
            np.add(z, b, out=z)                                 # z_k = x_k W_k + b_k
            if k == last:
                break
            x = self.a[k][:B]
            self.fn_into(z, x, self.keep[k][:B])                # x_{k+1} = g(z_k)

        # Softmax cross-entropy by log-sum-exp, L = -(1/B) sum_i log softmax(s_i)[y_i]
        logits, P, rows = z, self.dz[last][:B], self.rows[:B]
        row_max, row_sum = self.row_max[:B], self.row_sum[:B]
        np.maximum.reduce(logits, axis=1, keepdims=True, out=row_max)
        np.subtract(logits, row_max, out=P)                     # s - max s
        shifted_at_label = P[rows, y]                           # (B,), small
        np.exp(P, out=P)
        np.add.reduce(P, axis=1, keepdims=True, out=row_sum)
        loss = (float(np.log(row_sum).sum()) - float(shifted_at_label.sum())) / B

        np.multiply(row_sum, B, out=row_sum)
        np.divide(P, row_sum, out=P)                            # softmax(s) / B
        P[rows, y] -= 1 / B                                     # dA_K = (softmax(s) - y) / B
        return loss

    def _backward(self, params: Params, X: NDArray, B: int) -> None:
        """The paper's backward pass from dA_K, into dW_k and db_k."""
        for k in reversed(range(len(params))):
            W = params[k][0]
            dz = self.dz[k][:B]                                 # dz_{K-1} = dA_K (g' = 1)
            x = X if k == 0 else self.a[k - 1][:B]
            np.matmul(x.T, dz, out=self.dW[k])                  # dW_k = x_k^T dz_k
            np.matmul(self.ones[:B], dz, out=self.db[k])        # db_k = sum dz_k = 1^T dz_k
            if k == 0:
                break                                           # dA_0 (at the data) is never needed
            dA = self.dA[k - 1][:B]
            np.matmul(dz, W.T, out=dA)                          # dA_k = dz_k W_k^T
            dz = self.dz[k - 1][:B]
            self.deriv_into(self.z[k - 1][:B], self.keep[k - 1][:B], dz)   # g'(z_{k-1})
            np.multiply(dz, dA, out=dz)                         # dz_{k-1} = dA_k g'(z_{k-1})


def in_place_forms(act: Activation) -> tuple[Into, Into]:
    """The activation's ``fn_into`` and ``deriv_into`` (Activation fills both when made)."""
    fn_into, deriv_into = act.fn_into, act.deriv_into
    if fn_into is None or deriv_into is None:
        raise TypeError(f"activation {act.name!r} has no in-place forms")
    return fn_into, deriv_into


def _read_only(array: NDArray) -> NDArray:
    """A view of ``array`` that cannot be written through."""
    view = array.view()
    view.flags.writeable = False
    return view
