"""The workspace's SGD step for one sample (batch 1), on 1-D views made once.

At batch 1 a step is a few dozen numpy calls on vectors of 10 to 784 numbers
and one 784 x 100 matrix-vector product; the calls' fixed overhead (about a
microsecond each), not arithmetic, is most of its time. So this path, the
same equations as :meth:`manual.workspace.Workspace._step`, is written to
make as few calls as it can:

* every vector it touches (x_k, z_k, dz_k, dA_k and the rows and prefixes
  the deferred first-layer update uses) is a 1-D view made once in
  ``__init__``, never sliced per step; ``np.dot`` takes vectors directly;
* softmax, its normalisation, lr and the paper's 1/B (= 1) are folded into one
  multiply of the 10 logits: lr L' = (lr / sum e) e - lr y with e = exp(s - max s);
* the label is a Python int, so ``- lr y`` is one scalar update, not a one-hot,
  and the 10 logits' max and sum are taken in Python (``tolist``), cheaper
  than a numpy reduction's call at that size;
* x_k W_k is computed as W_k^T x_k, which OpenBLAS runs faster (W_k^T is
  Fortran-ordered), and tanh's backward rule needs no scalar conversion.

Shapes: x_0 (n_0,), z_k, dz_k (n_{k+1},), W_k (n_k, n_{k+1}); p = the
number of samples whose first-layer update is pending (p < R = ``pending_rows``).
"""

import math

import numpy as np


class OneSample:
    """1-D views into a batch-1 :class:`manual.workspace.Workspace`'s buffers."""

    def __init__(self, ws):
        self.ws = ws
        K, R = len(ws.sizes) - 1, ws.pending_rows
        self.act = ws.act
        self.K = K
        self.x_rows = [ws.x[p] for p in range(R)]               # x_0 of pending sample p
        self.dz0_rows = [ws.dz[0][p] for p in range(R)]         # lr dz_0 of pending sample p
        self.x_pending = [ws.x[:p] for p in range(R)]           # X_p, (p, n_0)
        self.dz0_pending = [ws.dz[0][:p] for p in range(R)]     # lr dz_p, (p, n_1)
        self.overlap = [ws.overlap[0, :p] for p in range(R)]    # x X_p^T, (p,)
        self.correction = ws.correction[0]                      # (x X_p^T)(lr dz_p), (n_1,)
        self.z = [z[0] for z in ws.z]
        self.a = [a[0] for a in ws.a]                           # x_{k+1} = g(z_k)
        self.a_col = [a[0][:, None] for a in ws.a]              # x_{k+1} as a column, for outer products
        self.dA = [None] + [dA[0] for dA in ws.dA[1:]]
        self.dz = [None] + [dz[0] for dz in ws.dz[1:]]          # lr dz_k, k >= 1
        self.tmp = [t[0] for t in ws.tmp]
        self.mask = [m[0] for m in ws.mask]

    def step(self, params, label, lr):
        """One SGD step on the sample in ``ws.x[ws.pending]``; return its loss.

        Args:
            params: list of K pairs (W_k, b_k); updated in place, except that
                W_0's update joins the pending ones (see Workspace.flush).
            label: int, the sample's class y.
            lr: learning rate.
        """
        ws, act, last = self.ws, self.act, self.K - 1
        p = ws.pending
        x = self.x_rows[p]
        for k in range(self.K):
            W, b = params[k]
            z = self.z[k]
            np.dot(W.T, x, out=z)                               # z_k = x_k W_k + b_k, as W_k^T x_k (a faster gemv)
            if k == 0 and p:                                    # W_0 still lacks X_p^T (lr dz_p):
                overlap = self.overlap[p]
                np.dot(self.x_pending[p], x, out=overlap)       # x X_p^T
                np.dot(overlap, self.dz0_pending[p], out=self.correction)
                np.subtract(z, self.correction, out=z)          # x W_0 - (x X_p^T)(lr dz_p)
            np.add(z, b, out=z)
            if k == last:
                break
            x = self.a[k]
            act.forward(z, x, self.tmp[k], self.mask[k])        # x_{k+1} = g(z_k)

        # L = log sum exp(s) - s_y = log sum e - (s_y - max s), e = exp(s - max s);
        # the 10 logits' max and sum e are taken in Python (tolist), cheaper
        # than a numpy reduction's call at this size.
        dz = self.dz0_rows[p] if last == 0 else self.dz[last]
        top = max(z.tolist())
        np.subtract(z, top, out=dz)                             # s - max s
        shifted_at_label = float(dz[label])
        np.exp(dz, out=dz)                                      # e
        total = math.fsum(dz.tolist())                          # sum e, >= 1
        loss = math.log(total) - shifted_at_label
        np.multiply(dz, lr / total, out=dz)                     # lr softmax(s) = lr e / sum e
        dz[label] -= lr                                         # lr dA_K = lr L' = lr (softmax(s) - y), B = 1

        for k in range(last, -1, -1):
            W, b = params[k]
            if k > 0:
                dA = self.dA[k]
                np.dot(W, dz, out=dA)                           # dA_k = dz_k W_k^T (before W_k moves)
                dz_prev = self.dz0_rows[p] if k == 1 else self.dz[k - 1]
                act.backward(dA, self.z[k - 1], self.a[k - 1], dz_prev,
                             self.tmp[k - 1], self.mask[k - 1])  # dz_{k-1} = dA_k g'(z_{k-1})
            np.subtract(b, dz, out=b)                           # b_k <- b_k - lr db_k, db_k = dz_k
            if k == 0:
                break
            dW = ws.dW[k]
            np.multiply(self.a_col[k - 1], dz, out=dW)          # dW_k = x_k^T dz_k, an outer product
            np.subtract(W, dW, out=W)                           # W_k <- W_k - lr dW_k
            dz = dz_prev
        ws.pending = p + 1                                      # W_0 <- W_0 - lr dW_0 in flush()
        if p + 1 == ws.pending_rows:
            ws.flush(params)                                    # no room for another sample
        return loss
