"""Every parameter perturbed on its own, evaluated in vectorised batches.

Perturbing one weight ``W_k[i, j]`` by ``s`` changes only column j of that
layer's pre-activation, by ``s * x_k[:, i]``; perturbing ``b_k[j]`` changes
the same column by ``s``. Treating the bias as the weight of an extra input
that is always 1, every perturbation of layer k is

    dz_k[:, j] = s * xa[:, i],     xa = [x_k, 1]  (B, n_k + 1),

so the changed column for all (i, j) at once is an outer sum of cached
arrays. The change then travels through the rest of the network by
:func:`compare.gradcheck.lossfn.delta_loss`. This replaces 2N full forward
passes (N parameters) by a few array operations per column block.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from compare.gradcheck.lossfn import Cache, Delta, _hidden_step, delta_loss

# Elements per intermediate array (complex doubles: 16 bytes each) that one
# vectorised block may allocate; bounds the memory at a few tens of MB.
BLOCK_ELEMENTS = 2_000_000


@dataclass
class LayerChanges:
    """Loss changes for every coordinate of one layer.

    Attributes:
        dW: (S, n_k, n_{k+1}) change of the loss for each step s and weight.
        db: (S, n_{k+1}) the same for the biases.
        kink_W / kink_b: bool, some hidden pre-activation changes side of the
            kink for a step of this size (None unless tracked).
        exact_W / exact_b: bool, a pre-activation exactly on the kink moves.
    """

    dW: NDArray
    db: NDArray
    kink_W: NDArray | None = None
    kink_b: NDArray | None = None
    exact_W: NDArray | None = None
    exact_b: NDArray | None = None


def layer_changes(cache: Cache, k: int, steps: ArrayLike, pin_slope: float | None = None,
                  track: bool = False) -> LayerChanges:
    """Loss change for each step in ``steps`` applied to each parameter of layer k.

    Args:
        cache: Cache of the base point.
        k: layer index.
        steps: (S,) real or complex step sizes.
        pin_slope: derivative convention for units exactly on the kink
            (see :func:`delta_loss`), or None.
        track: label coordinates whose steps cross or touch the kink.
    Returns:
        LayerChanges.
    """
    steps = np.asarray(steps)
    assert isinstance(steps, np.ndarray)
    x = cache.inputs[k]
    batch, n_in = x.shape
    n_out = cache.params[k][0].shape[1]
    xa = np.concatenate([x, np.ones((batch, 1))], axis=1)          # (B, n_in + 1)
    # An input that is 0 for the whole batch (a blank MNIST border pixel)
    # leaves the loss exactly unchanged: its weights' rows need no work.
    live = np.flatnonzero((xa != 0).any(axis=0))
    # dz[s, i, b] = steps[s] * xa[b, i]: the column change, the same for every j
    dcol = steps[:, None, None] * xa.T[live][None]                   # (S, live, B)
    # Work in blocks of (input rows) x (output columns) whose largest
    # intermediate, (S, rows, cols, B, width of the next layer), fits the budget.
    width = cache.params[k + 1][0].shape[1] if k + 1 < cache.n_layers else 1
    per_pair = len(steps) * batch * width
    row_block = max(1, min(len(live), BLOCK_ELEMENTS // per_pair))
    col_block = max(1, BLOCK_ELEMENTS // (per_pair * row_block))
    dL = np.zeros((len(steps), n_in + 1, n_out), dtype=np.result_type(steps, float))
    crossed = np.zeros((len(steps), n_in + 1, n_out), bool) if track else None
    exact = np.zeros_like(crossed) if track else None
    for r0 in range(0, len(live), row_block):
        rows = live[r0:r0 + row_block]
        for j0 in range(0, n_out, col_block):
            cols = np.arange(j0, min(n_out, j0 + col_block))
            out = _column_block(cache, k, dcol[:, r0:r0 + row_block], cols, pin_slope, track)
            dL[:, rows[:, None], cols] = out.dL
            if crossed is not None and exact is not None:
                crossed[:, rows[:, None], cols] = out.crossed
                exact[:, rows[:, None], cols] = out.exact
    result = LayerChanges(dW=dL[:, :n_in], db=dL[:, n_in])
    if crossed is not None and exact is not None:
        # A coordinate is a kink if either of its steps crosses or touches it.
        any_crossed = np.any(crossed, axis=0)
        any_exact = np.any(exact, axis=0)
        result.kink_W, result.kink_b = any_crossed[:n_in], any_crossed[n_in]
        result.exact_W, result.exact_b = any_exact[:n_in], any_exact[n_in]
    return result


def _column_block(cache: Cache, k: int, dcol: NDArray, cols: NDArray,
                  pin_slope: float | None, track: bool) -> Delta:
    """Loss changes for the perturbations of columns ``cols`` of layer k.

    Args:
        dcol: (S, I, B) column change for each step and input row i.
        cols: (J,) output columns j.
    Returns:
        Delta with arrays of shape (S, n_rows, J).
    """
    S, n_rows, B = dcol.shape
    J = len(cols)
    if k == cache.n_layers - 1:
        # Output layer: only logit j moves; the loss change of one sample is
        # log1p(p_j expm1(d)) - d [y == j].
        d = dcol[:, :, None, :]                                      # (S, I, 1, B)
        p = cache.probs[:, cols].T[None, None]                       # (1, 1, J, B)
        is_label = (cache.y[None, :] == cols[:, None])[None, None]   # (1, 1, J, B)
        per_sample = np.log1p(p * np.expm1(d)) - d * is_label
        shape = (S, n_rows, J)
        return Delta(per_sample.mean(axis=-1),
                     np.zeros(shape, bool) if track else None,
                     np.zeros(shape, bool) if track else None)
    # Hidden layer: z_k[:, j] moves; evaluate g on the moved columns only.
    dz = np.broadcast_to(dcol[:, :, None, :], (S, n_rows, J, B))
    lead = (S, n_rows, J)
    crossed = np.zeros(lead, bool) if track else None
    exact = np.zeros(lead, bool) if track else None
    sub = _ColumnView(cache, k, cols)
    dx, crossed, exact = _hidden_step(sub, 0, dz[..., None], pin_slope, track,
                                      crossed, exact)               # (S, I, J, B, 1)
    # dz_{k+1} = dx[:, :, j] outer W_{k+1}[j, :]
    W_next = cache.params[k + 1][0][cols]                            # (J, n_next)
    dz_next = dx * W_next[None, None, :, None, :]                    # (S, I, J, B, n_next)
    out = delta_loss(cache, k + 1, dz_next, pin_slope=pin_slope, track=track)
    if out.crossed is not None and out.exact is not None:
        out.crossed = out.crossed | crossed
        out.exact = out.exact | exact
    return out


class _ColumnView:
    """A view of layer k restricted to columns ``cols``, shaped (J, B, 1).

    Lets :func:`_hidden_step` treat each column as its own one-unit layer,
    so g is evaluated on B values per perturbation instead of B * n.
    """

    def __init__(self, cache: Cache, k: int, cols: NDArray) -> None:
        self.act = cache.act
        self.zs = [cache.zs[k][:, cols].T[..., None]]                 # (J, B, 1)
        self.inputs = [None, cache.inputs[k + 1][:, cols].T[..., None]]


def all_changes(cache: Cache, steps: ArrayLike, pin_slope: float | None = None,
                track: bool = False) -> list[LayerChanges]:
    """:func:`layer_changes` for every layer; a list of LayerChanges."""
    return [layer_changes(cache, k, steps, pin_slope, track)
            for k in range(cache.n_layers)]


