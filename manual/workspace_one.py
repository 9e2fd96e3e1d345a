"""The workspace's loss and gradients for one sample (batch 1), on 1-D views.

At batch 1 a call is a few dozen numpy calls on vectors of 10 to 784
numbers, one 784 x 100 matrix-vector product and one outer product of the
same size; the calls' fixed overhead, not arithmetic, is most of its time.
So this path, the same equations as
:meth:`manual.workspace.Workspace.loss_and_grads`, makes as few calls as it
can:

* every vector it touches (z_k, x_{k+1}, dz_k, dA_k) is a 1-D view made once
  in ``__init__``, never sliced per call; ``np.dot`` takes vectors directly;
* the label is a Python int, so ``softmax(s) - y`` is one scalar update, not
  a one-hot, and the 10 logits' max and sum are taken in Python
  (``tolist``), cheaper than a numpy reduction's call at that size;
* x_k W_k is computed as W_k^T x_k, a matrix-vector product OpenBLAS runs
  faster on the Fortran-ordered W_k^T;
* the weight gradients x_k^T dz_k are outer products, written by ``np.dot``
  of a column and a row straight into the workspace's buffers: BLAS does
  that faster than numpy's broadcasting multiply (``np.outer``) does.

Shapes: x_0 (n_0,), z_k, dz_k (n_{k+1},), W_k (n_k, n_{k+1}).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from manual.workspace import Params, Workspace


class OneSample:
    """1-D views into a capacity-1 :class:`manual.workspace.Workspace`'s buffers."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.act = ws.act
        self.K = len(ws.sizes) - 1
        self.z = [z[0] for z in ws.z]
        self.a = [a[0] for a in ws.a]                           # x_{k+1} = g(z_k)
        self.keep = [keep[0] for keep in ws.keep]
        self.dz = [dz[0] for dz in ws.dz]
        self.dA = [dA[0] for dA in ws.dA]                       # dA[k - 1] = dA_k
        # x_k as (n_k, 1) columns: x_0's is filled per call, the others are
        # views of a_{k-1}
        self.x_column = np.zeros((ws.sizes[0], 1), ws.dtype)
        self.columns = [self.x_column] + [a[:, None] for a in self.a]

    def loss_and_grads(self, params: Params, x: NDArray, label: int) -> float:
        """Loss of one sample; its gradient is left in ``ws.dW`` and ``ws.db``.

        Args:
            params: list of K pairs (W_k, b_k).
            x: (n_0,) the sample.
            label: int, its class y.
        """
        act, last = self.act, self.K - 1
        np.copyto(self.x_column[:, 0], x)
        inputs = [x]
        for k in range(self.K):
            W, b = params[k]
            z = self.z[k]
            np.dot(W.T, inputs[k], out=z)                       # z_k = x_k W_k + b_k, as W_k^T x_k
            np.add(z, b, out=z)
            if k == last:
                break
            act.fn_into(z, self.a[k], self.keep[k])             # x_{k+1} = g(z_k)
            inputs.append(self.a[k])

        # L = log sum exp(s) - s_y = log sum e - (s_y - max s), e = exp(s - max s);
        # the 10 logits' max and sum e are taken in Python (tolist), cheaper
        # than a numpy reduction's call at this size.
        dz = self.dz[last]
        np.subtract(z, max(z.tolist()), out=dz)                 # s - max s
        shifted_at_label = float(dz[label])
        np.exp(dz, out=dz)                                      # e
        total = math.fsum(dz.tolist())                          # sum e, >= 1
        loss = math.log(total) - shifted_at_label
        np.multiply(dz, 1 / total, out=dz)                      # softmax(s)
        dz[label] -= 1                                          # dA_K = L' = softmax(s) - y, B = 1

        ws = self.ws
        for k in range(last, -1, -1):
            np.copyto(ws.db[k], dz)                             # db_k = dz_k
            np.dot(self.columns[k], dz[None, :], out=ws.dW[k])  # dW_k = x_k^T dz_k
            if k == 0:
                break
            dA = self.dA[k - 1]
            np.dot(params[k][0], dz, out=dA)                    # dA_k = dz_k W_k^T
            dz = self.dz[k - 1]
            act.deriv_into(self.z[k - 1], self.keep[k - 1], dz)  # g'(z_{k-1})
            np.multiply(dz, dA, out=dz)                         # dz_{k-1} = dA_k g'(z_{k-1})
        return loss
