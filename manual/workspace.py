"""The hand-derived SGD step, fast: every array allocated once, reused every step.

Same equations as :mod:`manual.network` (which stays the plain, readable
version that the gradient checks read), written through ``out=`` into the
buffers of a :class:`Workspace`. Four costs of the plain version go away:

* numpy hands short-lived temporaries of a few hundred KB back to the
  operating system and faults them in again on the next step (up to 3.5x
  slower, varying from process to process); here no step allocates an array
  larger than a batch of labels;
* ``x_k^T dz_k`` with an inner dimension of 1 (batch 1) is many times slower
  in OpenBLAS as a matrix product than as the outer product it is, so batch 1
  uses a broadcast product for the small layers;
* at small batches, the first layer's update ``W_0 <- W_0 - lr x_0^T dz_0``
  is the largest cost of a step (two passes over a 784 x 100 array for
  784 x 100 multiply-adds); it is applied for up to ``DEFER_ROWS`` samples at
  once, as one matrix product, and the forward pass in between adds the
  pending part exactly (see :meth:`Workspace.flush`);
* at batch 1 the step is a few dozen calls on short vectors, and each
  numpy call's fixed cost (about a microsecond) is most of the time; that
  step runs on 1-D views made once (:mod:`manual.workspace_one`).

Usage::

    ws = Workspace([784, 100, 10], "tanh", batch_size=250, dtype="float64")
    loss = ws.step(params, X, y, lr)          # params updated in place
    losses = sgd_epoch(params, x_train, y_train, batches, lr, ws)

Shapes: B = batch (at most ``batch_size``; a shorter last batch uses the
first B rows of every buffer), n_k = ``sizes[k]``, K = number of layers.
"""

import numpy as np

from compare.common.dtypes import check_dtype
from compare.common.errors import ConfigError
from compare.common.validate import check_labels
from manual.inplace import get_inplace
from manual.workspace_one import OneSample

# Batches smaller than this defer the first layer's weight update until this
# many samples are pending (rounded down to whole batches).
DEFER_ROWS = 32


class Workspace:
    """Buffers for one network shape, activation, batch size and dtype.

    Attributes (lists indexed by layer k = 0..K-1; arrays (batch_size, n)
    unless said otherwise; R = ``pending_rows``, = batch_size when not deferring):
        x:    (R, n_0), the batch x_0; when deferring, the inputs of the
              steps whose first-layer update is pending, then this batch.
        z:    z_k, (batch_size, n_{k+1}); z_{K-1} are the logits.
        a:    x_{k+1} = g(z_k) for the hidden layers.
        dz:   lr dz_k; dz_0 is (R, n_1) like x; dz_{K-1} first holds softmax(s).
        dA:   lr dA_k for k >= 1 (dA_0, the gradient at the data, is never needed).
        dW, db: (n_k, n_{k+1}) and (n_{k+1},), lr dW_k and lr db_k.
        tmp, mask: scratch of each hidden layer (float and bool).
        pending: rows of x and dz_0 whose update W_0 has not received yet.
    """

    def __init__(self, sizes, activation="tanh", batch_size=250, dtype="float64"):
        self.sizes = [int(n) for n in sizes]
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise ConfigError(f"layer sizes {sizes} need at least two positive widths, "
                              "e.g. [784, 100, 10]")
        if int(batch_size) < 1:
            raise ConfigError(f"batch size {batch_size} must be at least 1")
        self.act = get_inplace(activation)
        self.activation = activation
        self.batch_size = B = int(batch_size)
        self.dtype = dt = check_dtype(dtype)
        self.defer = B < DEFER_ROWS
        self.pending_rows = R = (DEFER_ROWS // B) * B if self.defer else B
        self.pending = 0
        self._owner = None              # id of the params the pending rows belong to
        widths = self.sizes[1:]
        hidden = self.sizes[1:-1]
        self.x = np.zeros((R, self.sizes[0]), dt)
        self.z = [np.zeros((B, n), dt) for n in widths]
        self.a = [np.zeros((B, n), dt) for n in hidden]
        self.dz = [np.zeros((R if k == 0 else B, n), dt) for k, n in enumerate(widths)]
        self.dA = [None] + [np.zeros((B, n), dt) for n in hidden]
        self.tmp = [np.zeros((B, n), dt) for n in hidden]
        self.mask = [np.zeros((B, n), bool) for n in hidden]
        self.dW = [np.zeros((m, n), dt) for m, n in zip(self.sizes[:-1], widths)]
        self.db = [np.zeros(n, dt) for n in widths]
        self.row_max = np.zeros((B, 1), dt)
        self.row_sum = np.zeros((B, 1), dt)
        self.row_lse = np.zeros((B, 1), dt)
        self.rows = np.arange(B)
        self.ones = np.ones(R, dt)
        self.overlap = np.zeros((B, R), dt)             # x X_p^T
        self.correction = np.zeros((B, widths[0]), dt)  # (x X_p^T) (lr dz_p)
        # batch 1: the same step on 1-D views made once (manual.workspace_one)
        self.one = OneSample(self) if B == 1 and self.defer else None

    def buffers(self):
        """Every array the workspace owns (for checks that they are reused)."""
        return [self.x, *self.z, *self.a, *self.dz, *self.dA[1:], *self.tmp, *self.mask,
                *self.dW, *self.db, self.row_max, self.row_sum, self.row_lse, self.rows,
                self.ones, self.overlap, self.correction]

    def step(self, params, X, y, lr, flush=True, check=True):
        """One SGD step on ``params`` in place; return the batch's mean loss.

        Args:
            params: list of K pairs (W (n_k, n_{k+1}), b (n_{k+1},)) of the
                workspace's dtype; updated in place.
            X: (B, n_0) inputs, B <= batch_size.
            y: (B,) integer labels in [0, n_K).
            lr: learning rate (float).
            flush: False lets a small-batch workspace keep the first layer's
                weight update pending (faster); then call :meth:`flush`
                before anything else reads ``params``.
            check: False skips validating params, X and y (about 7 us, an
                eighth of a batch-1 step), for callers that validated them
                once for a whole run, as the trainer and :func:`sgd_epoch` do;
                X must then be an ndarray.
        Returns:
            float, the loss L before the update.
        """
        if check:
            X = self._check(params, X, y)
        if self.defer or X.dtype != self.dtype:
            np.copyto(self.x[self.pending:self.pending + len(X)], X, casting="same_kind")
            X = self.x[self.pending:self.pending + len(X)]
        loss = self._step(params, X, y, lr)
        if flush:
            self.flush(params)
        return loss

    def flush(self, params):
        """Apply the pending first-layer update: W_0 <- W_0 - X_p^T (lr dz_p).

        While rows are pending, W_0 lacks sum_i x_i^T (lr dz_i) over the
        pending samples i; the forward pass adds it back to x W_0 exactly as
        -(x X_p^T)(lr dz_p), so every step sees the weights plain SGD has.
        """
        if self.pending:
            p, W = self.pending, params[0][0]
            np.matmul(self.x[:p].T, self.dz[0][:p], out=self.dW[0])   # lr dW_0, all pending samples
            np.subtract(W, self.dW[0], out=W)                         # W_0 <- W_0 - lr dW_0
            self.pending = 0
        self._owner = None

    def _claim(self, params):
        """Refuse to step ``params`` while another set's first-layer update is pending."""
        if self._owner is not None and self._owner != id(params):
            raise ConfigError("this workspace holds a pending update of other parameters; "
                              "call flush(params) for those before stepping these")
        self._owner = id(params)

    def _step(self, params, X, y, lr):
        """:meth:`step` without the checks; X is ``self.x[pending:pending + B]`` when deferring."""
        if self.defer:
            self._claim(params)
        if self.one is not None:
            return self.one.step(params, int(y[0]), lr)         # X is self.x[self.pending]
        B = len(X)
        loss = self._forward_loss(params, X, y, B)
        self._backward_update(params, X, B, lr)
        return loss

    def _forward_loss(self, params, X, y, B):
        """Forward pass and loss; leaves L' = softmax(s) - y in the output layer's dz. Returns L."""
        last = len(params) - 1
        x = X
        for k, (W, b) in enumerate(params):
            z = self.z[k][:B]
            np.matmul(x, W, out=z)                              # z_k = x_k W_k + b_k
            if k == 0 and self.pending:
                p = self.pending                                # W_0 still lacks X_p^T (lr dz_p):
                np.matmul(x, self.x[:p].T, out=self.overlap[:B, :p])
                np.matmul(self.overlap[:B, :p], self.dz[0][:p], out=self.correction[:B])
                np.subtract(z, self.correction[:B], out=z)      # x W_0 - (x X_p^T)(lr dz_p)
            np.add(z, b, out=z)
            if k == last:
                break
            x = self.a[k][:B]
            self.act.forward(z, x, self.tmp[k][:B], self.mask[k][:B])   # x_{k+1} = g(z_k)

        # Softmax cross-entropy by log-sum-exp, L = -(1/B) sum_i log softmax(s_i)[y_i]
        logits, P, rows = z, self._dz(last, B), self.rows[:B]
        row_max, row_sum, lse = self.row_max[:B], self.row_sum[:B], self.row_lse[:B]
        np.maximum.reduce(logits, axis=1, keepdims=True, out=row_max)
        np.subtract(logits, row_max, out=P)                     # s - max s
        shifted_at_label = P[rows, y]                           # (B,), small
        np.exp(P, out=P)
        np.add.reduce(P, axis=1, keepdims=True, out=row_sum)
        np.log(row_sum, out=lse)                                # logsumexp(s) - max s
        loss = (float(lse.sum()) - float(shifted_at_label.sum())) / B

        np.divide(P, row_sum, out=P)                            # softmax(s)
        P[rows, y] -= 1                                         # L' = softmax(s) - y (no one-hot)
        return loss

    def _dz(self, k, B):
        """The rows of dz_k for this step (dz_0's follow the pending rows)."""
        if k == 0:
            return self.dz[0][self.pending:self.pending + B]
        return self.dz[k][:B]

    def _backward_update(self, params, X, B, lr):
        """Backward pass from L', updating W_k and b_k as soon as each is known.

        Every delta here carries the factor lr, folded in once at the output
        (B x n_K numbers): dA_k, dz_k, then dW_k and db_k all come out times
        lr, ready to subtract, and no pass over a weight-sized array scales them.
        """
        last = len(params) - 1
        P = self._dz(last, B)
        np.multiply(P, lr / B, out=P)                           # lr dA_K = lr L' / B (the paper divides by B)
        for k in reversed(range(len(params))):
            W, b = params[k]
            dz = self._dz(k, B)                                 # lr dz_k (dz_{K-1} = dA_K, g' = 1)
            x = X if k == 0 else self.a[k - 1][:B]
            if k > 0:
                dA = self.dA[k][:B]
                np.matmul(dz, W.T, out=dA)                      # dA_k = dz_k W_k^T (before W_k moves)
                self.act.backward(dA, self.z[k - 1][:B], x, self._dz(k - 1, B),
                                  self.tmp[k - 1][:B], self.mask[k - 1][:B])
                #                                                 dz_{k-1} = dA_k g'(z_{k-1})
            db = self.db[k]
            if B == 1:
                np.subtract(b, dz[0], out=b)                    # b_k <- b_k - lr db_k, db_k = dz_k
            else:
                np.matmul(self.ones[:B], dz, out=db)            # db_k = sum dz_k = 1^T dz_k
                np.subtract(b, db, out=b)                       # b_k <- b_k - lr db_k
            if k == 0 and self.defer:
                self.pending += B                               # W_0 <- W_0 - lr dW_0 in flush()
                if self.pending + self.batch_size > self.pending_rows:
                    self.flush(params)                          # no room for another batch
                continue
            dW = self.dW[k]
            if B == 1:
                np.multiply(x.T, dz, out=dW)                    # dW_k = x_k^T dz_k, an outer product
            else:
                np.matmul(x.T, dz, out=dW)                      # dW_k = x_k^T dz_k
            np.subtract(W, dW, out=W)                           # W_k <- W_k - lr dW_k

    def _check(self, params, X, y):
        """Return X as an array, or raise if params, X or y do not fit."""
        shapes = [W.shape for W, _ in params]
        expected = list(zip(self.sizes[:-1], self.sizes[1:]))
        if shapes != expected or any(W.dtype != self.dtype or b.dtype != self.dtype
                                     for W, b in params):
            raise ConfigError(f"parameters {shapes} do not fit this workspace "
                              f"({expected}, {self.dtype}); build it with Workspace(sizes, "
                              f"activation, batch_size, dtype) for these parameters")
        X = np.asarray(X)
        B = X.shape[0] if X.ndim == 2 else -1
        if X.ndim != 2 or X.shape[1] != self.sizes[0] or not 1 <= B <= self.batch_size:
            raise ConfigError(f"input of shape {X.shape} does not fit a workspace for batches "
                              f"of up to {self.batch_size} x {self.sizes[0]}; give X as "
                              f"(batch, {self.sizes[0]}) or build a larger workspace")
        check_labels(y, B, self.sizes[-1])
        return X


def sgd_epoch(params, X, y, batches, lr, ws):
    """One epoch of minibatch SGD through ``ws``, gathering each batch into ``ws.x``.

    Args:
        params: list of K pairs (W, b) of ``ws.dtype``; updated in place.
        X: (N, n_0) training inputs of ``ws.dtype``.
        y: (N,) integer labels.
        batches: list of index arrays (compare.data.batches.batch_indices), each
            of at most ``ws.batch_size`` indices into X.
        lr: learning rate.
        ws: a :class:`Workspace` for these parameters.
    Returns:
        float64 array (len(batches),), each step's loss.
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != ws.sizes[0] or X.dtype != ws.dtype:
        raise ConfigError(f"training inputs {X.shape} {X.dtype} do not fit a workspace for "
                          f"{ws.sizes[0]} {ws.dtype} features; cast them to {ws.dtype}")
    check_labels(y, len(X), ws.sizes[-1])
    n = len(X)
    if any(len(idx) > ws.batch_size or len(idx) == 0 for idx in batches):
        raise ConfigError(f"a batch is empty or larger than the workspace's {ws.batch_size}; "
                          f"build the workspace for the largest batch")
    every = np.concatenate(batches) if len(batches) else np.zeros(0, np.int64)
    if every.size and (every.min() < 0 or every.max() >= n):
        raise ConfigError(f"batch indices outside [0, {n}); take them from "
                          "compare.data.batches.batch_indices for these data")
    ws._check(params, X[:1], y[:1])
    losses = np.empty(len(batches))
    if ws.one is not None:
        ws._claim(params)
        rows = ws.one.x_rows
        # one sample per batch: its row and label as Python ints, so each step
        # gathers x_0 by a plain row copy and takes y without an array
        samples = zip(every.tolist(), y[every].tolist())
        try:
            for i, (row, label) in enumerate(samples):
                rows[ws.pending][...] = X[row]                  # x_0
                losses[i] = ws.one.step(params, label, lr)
        finally:
            ws.flush(params)
        return losses
    try:
        for i, idx in enumerate(batches):
            xb = ws.x[ws.pending:ws.pending + len(idx)]
            # mode="clip" lets take write straight into xb (mode="raise"
            # buffers a copy); the indices were range-checked above.
            np.take(X, idx, axis=0, out=xb, mode="clip")
            losses[i] = ws._step(params, xb, y[idx], lr)
    finally:
        ws.flush(params)
    return losses
