"""The workspace's loss and gradients for one sample (batch 1), on views made once.

At batch 1 a call is a few dozen numpy calls on vectors of 10 to 784
numbers, one 784 x 100 matrix-vector product and one outer product of the
same size; the calls' fixed overhead and the passes over the 784 x 100
arrays, not arithmetic, are most of its time. So this path, the same
equations as :meth:`manual.workspace.Workspace.loss_and_grads`, makes as few
calls as it can and touches each large array once:

* every vector it touches is a view made once in ``__init__``, never sliced
  per call: rows ``(1, n)`` for x_{k+1}, z_k and dz_k, columns ``(n, 1)``
  (their transposes) for the outer products; the sample's own column is
  ``X.T``, a view of the caller's row;
* the label is a Python int, so ``softmax(s) - y`` is one scalar update, not
  a one-hot, and the 10 logits' max and sum are taken in Python
  (``tolist``), cheaper than a numpy reduction's call at that size;
* db_k = dz_k at batch 1, so the bias gradients the workspace returns are
  the dz_k rows themselves (see :class:`manual.workspace.Workspace`), not
  copies of them;
* the weight gradients x_k^T dz_k are outer products, written by ``np.dot``
  of a column and a row straight into the workspace's buffers (a matrix
  product with an inner dimension of 1): BLAS writes them faster than
  numpy's broadcasting multiply (``np.outer``) does.

Shapes: X (1, n_0), z_k, dz_k (1, n_{k+1}), W_k (n_k, n_{k+1}).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from manual.workspace import Params, Workspace


class OneSample:
    """Views into a capacity-1 :class:`manual.workspace.Workspace`'s buffers."""

    def __init__(self, ws: Workspace) -> None:
        self.fn_into, self.deriv_into = ws.fn_into, ws.deriv_into
        self.last = len(ws.sizes) - 2                           # index of the output layer
        self.z, self.a, self.keep = ws.z, ws.a, ws.keep         # rows (1, n)
        self.dz, self.dA, self.dW = ws.dz, ws.dA, ws.dW         # dA[k - 1] = dA_k
        self.columns = [a.T for a in ws.a]                      # x_{k+1} as (n_{k+1}, 1)
        self.logits, self.softmax = ws.z[-1][0], ws.dz[-1][0]   # (n_K,) views

    def loss_and_grads(self, params: Params, X: NDArray, label: int) -> float:
        """Loss of one sample; its gradient is left in the workspace's dW and db (= dz).

        Args:
            params: list of K pairs (W_k, b_k).
            X: (1, n_0) the sample.
            label: int, its class y.
        """
        fn_into, deriv_into, last = self.fn_into, self.deriv_into, self.last
        x = X
        for k in range(last):
            W, b = params[k]
            z, a = self.z[k], self.a[k]
            np.dot(x, W, out=z)
            np.add(z, b, out=z)                                 # z_k = x_k W_k + b_k
            fn_into(z, a, self.keep[k])                         # x_{k+1} = g(z_k)
            x = a
        W, b = params[last]
        np.dot(x, W, out=self.z[last])
        np.add(self.z[last], b, out=self.z[last])               # s = z_{K-1}

        # L = log sum exp(s) - s_y = log sum e - (s_y - max s), e = exp(s - max s);
        # the 10 logits' max and sum e are taken in Python (tolist), cheaper
        # than a numpy reduction's call at this size.
        s, p = self.logits, self.softmax
        np.subtract(s, max(s.tolist()), out=p)                  # s - max s
        shifted_at_label = float(p[label])
        np.exp(p, out=p)                                        # e
        total = math.fsum(p.tolist())                           # sum e, >= 1
        np.multiply(p, 1 / total, out=p)                        # softmax(s)
        p[label] -= 1                                           # dA_K = L' = softmax(s) - y, B = 1

        for k in range(last, 0, -1):                            # db_k = dz_k: nothing to copy
            dz = self.dz[k]
            np.dot(self.columns[k - 1], dz, out=self.dW[k])     # dW_k = x_k^T dz_k
            dA = self.dA[k - 1]
            np.dot(dz, params[k][0].T, out=dA)                  # dA_k = dz_k W_k^T
            dz = self.dz[k - 1]
            deriv_into(self.z[k - 1], self.keep[k - 1], dz)     # g'(z_{k-1})
            np.multiply(dz, dA, out=dz)                         # dz_{k-1} = dA_k g'(z_{k-1})
        np.dot(X.T, self.dz[0], out=self.dW[0])                 # dW_0 = x_0^T dz_0
        return math.log(total) - shifted_at_label
