"""The workspace fast path (manual.workspace) against the plain hand-derived twin.

The oracle is manual.loss_and_grads followed by W -= lr dW, b -= lr db: the
version the gradient checks read. After an epoch of SGD the two must hold
the same parameters up to float rounding.
"""

import tracemalloc

import numpy as np
import pytest

import manual
from compare.common.errors import ConfigError, DataError
from compare.common.init import init_params
from compare.data.batches import batch_indices
from manual.inplace import INPLACE
from manual.workspace import Workspace, sgd_epoch

SIZES = [784, 100, 10]
N = 2000
# (batch size, learning rate): batch 1 takes a smaller rate, as in practice;
# 280 leaves a ragged last batch of 2000 - 7 * 280 = 40.
BATCHES = [(250, 0.1), (1, 0.01), (280, 0.1)]
TOL = {"float64": 1e-12, "float32": 2e-5}


def _data(dtype, n=N, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, SIZES[0])).astype(dtype)
    y = rng.integers(0, SIZES[-1], n)
    return X, y


def _plain_epoch(params, X, y, batches, lr, activation):
    """The oracle: one epoch of the plain path, in place; returns the losses."""
    losses = []
    for idx in batches:
        loss, grads = manual.loss_and_grads(params, X[idx], y[idx], activation)
        for (W, b), (dW, db) in zip(params, grads):
            W -= lr * dW
            b -= lr * db
        losses.append(loss)
    return np.array(losses)


def _copy(params):
    return [(W.copy(), b.copy()) for W, b in params]


def _max_diff(pa, pb):
    return max(float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
               for la, lb in zip(pa, pb) for a, b in zip(la, lb))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch_size,lr", BATCHES)
@pytest.mark.parametrize("activation", sorted(manual.ACTIVATIONS))
def test_fast_path_matches_plain_path_after_an_epoch(activation, batch_size, lr, dtype):
    X, y = _data(dtype)
    batches = batch_indices(N, batch_size, seed=1, epoch=0)
    plain = init_params(SIZES, seed=2, dtype=dtype)
    fast = _copy(plain)
    ws = Workspace(SIZES, activation, batch_size, dtype)

    fast_losses = sgd_epoch(fast, X, y, batches, lr, ws)
    plain_losses = _plain_epoch(plain, X, y, batches, lr, activation)

    assert all(W.dtype == dtype and b.dtype == dtype for W, b in fast)
    assert _max_diff(fast, plain) <= TOL[dtype]
    assert np.max(np.abs(fast_losses - plain_losses)) <= 100 * TOL[dtype]
    assert _max_diff(fast, init_params(SIZES, seed=2, dtype=dtype)) > 1e-3  # it did train


def test_every_step_matches_plain_path_when_flushed_each_step():
    """step(flush=True) leaves params current after every step, even at batch 1."""
    X, y = _data("float64", n=300)
    plain = init_params(SIZES, seed=3)
    fast = _copy(plain)
    ws = Workspace(SIZES, "tanh", 1, "float64")
    for idx in batch_indices(300, 1, seed=0, epoch=0):
        ws.step(fast, X[idx], y[idx], 0.01)
        _plain_epoch(plain, X, y, [idx], 0.01, "tanh")
        assert _max_diff(fast, plain) <= 1e-13


def test_deferred_steps_then_flush_equal_sgd_epoch():
    X, y = _data("float64", n=500)
    batches = batch_indices(500, 3, seed=0, epoch=0)
    a = init_params(SIZES, seed=4)
    b = _copy(a)
    ws_a, ws_b = Workspace(SIZES, "relu", 3), Workspace(SIZES, "relu", 3)
    sgd_epoch(a, X, y, batches, 0.02, ws_a)
    for idx in batches:
        ws_b.step(b, X[idx], y[idx], 0.02, flush=False)
    assert ws_b.pending > 0                     # the first layer's update was held back
    ws_b.flush(b)
    assert ws_b.pending == 0
    assert _max_diff(a, b) == 0.0


def test_float32_stays_float32_in_every_buffer():
    X, y = _data("float32", n=500)
    params = init_params(SIZES, seed=0, dtype="float32")
    for batch_size in (1, 100):
        ws = Workspace(SIZES, "softplus", batch_size, "float32")
        sgd_epoch(params, X, y, batch_indices(500, batch_size, 0, 0), 0.05, ws)
        floats = [a for a in ws.buffers() if a.dtype.kind == "f"]
        assert floats and all(a.dtype == np.float32 for a in floats)
        assert all(W.dtype == np.float32 and b.dtype == np.float32 for W, b in params)


@pytest.mark.parametrize("batch_size", [250, 1])
def test_buffers_are_reused_and_steps_allocate_no_arrays(batch_size):
    X, y = _data("float64", n=1000)
    params = init_params(SIZES, seed=0)
    ws = Workspace(SIZES, "tanh", batch_size, "float64")
    batches = batch_indices(1000, batch_size, 0, 0)[:40]
    ws.step(params, X[batches[0]], y[batches[0]], 0.01)            # warm up
    before = [(id(a), a.__array_interface__["data"][0]) for a in ws.buffers()]
    inputs = [(X[idx], y[idx]) for idx in batches]                 # gathered outside the trace

    tracemalloc.start()
    for xb, yb in inputs:
        ws.step(params, xb, yb, 0.01)
    _, fast_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    xb, yb = inputs[0]
    manual.loss_and_grads(params, xb, yb, "tanh")
    _, plain_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert [(id(a), a.__array_interface__["data"][0]) for a in ws.buffers()] == before
    # The largest allocation a fast step may make is numpy's own iterator
    # buffer for adding the broadcast bias (8192 elements, 64 KiB in float64,
    # kept on the heap); a layer-sized temporary is 200 KB (250 x 100) and
    # the plain step's dW alone is 627 KB (784 x 100).
    assert fast_peak < 80_000
    assert plain_peak > 600_000


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_activations_match_manual_activations(name):
    act, inplace = manual.ACTIVATIONS[name], INPLACE[name]
    z = np.concatenate([np.linspace(-40, 40, 1601), [-1e4, -1e-300, 0.0, 1e-300, 1e4]])
    for shape in [(len(z) // 2, 2), (1, 3)]:                       # large, and small (batch 1)
        zz = z[:np.prod(shape)].reshape(shape)
        out, tmp = np.empty_like(zz), np.empty_like(zz)
        mask = np.empty(zz.shape, bool)
        inplace.forward(zz, out, tmp, mask)
        np.testing.assert_allclose(out, act.fn(zz), rtol=4e-16, atol=4e-16)
        a = out.copy()
        dA = np.cos(zz)
        inplace.backward(dA, zz, a, out, tmp, mask)
        np.testing.assert_allclose(out, dA * act.deriv(zz), rtol=1e-15, atol=1e-15)


def test_workspace_refuses_what_does_not_fit():
    ws = Workspace(SIZES, "tanh", 10)
    params = init_params(SIZES)
    X, y = _data("float64", n=20)
    with pytest.raises(ConfigError):
        ws.step(params, X, y, 0.1)                                  # 20 rows > batch 10
    with pytest.raises(ConfigError):
        ws.step(init_params([784, 50, 10]), X[:10], y[:10], 0.1)    # other shapes
    with pytest.raises(ConfigError):
        ws.step(init_params(SIZES, dtype="float32"), X[:10], y[:10], 0.1)
    with pytest.raises(DataError):
        ws.step(params, X[:10], y[:10] + 10, 0.1)                   # label 10 of 10 classes
    with pytest.raises(DataError):
        ws.step(params, X[:10], -y[:10] - 1, 0.1)
    with pytest.raises(ConfigError):
        sgd_epoch(params, X, y, [np.array([0, 25])], 0.1, ws)       # index past the data
    with pytest.raises(ConfigError):
        Workspace(SIZES, "swish", 10)


def test_pending_update_of_other_params_is_refused():
    X, y = _data("float64", n=4)
    ws = Workspace(SIZES, "tanh", 1)
    a, b = init_params(SIZES, seed=0), init_params(SIZES, seed=1)
    ws.step(a, X[:1], y[:1], 0.1, flush=False)
    with pytest.raises(ConfigError, match="flush"):
        ws.step(b, X[1:2], y[1:2], 0.1, flush=False)
    ws.flush(a)
    ws.step(b, X[1:2], y[1:2], 0.1)


@pytest.mark.parametrize("sizes", [[784, 10], [784, 30, 20, 10]])
@pytest.mark.parametrize("batch_size", [1, 7, 40])
def test_fast_path_matches_plain_path_for_other_depths_and_small_batches(sizes, batch_size):
    """No hidden layer, or three; batches that defer the first layer's update
    (1, 7: 100 samples leave a ragged last batch of 2) and one that does not."""
    rng = np.random.default_rng(5)
    X, y = rng.random((100, 784)), rng.integers(0, 10, 100)
    batches = batch_indices(100, batch_size, seed=0, epoch=0)
    plain = init_params(sizes, seed=6)
    fast = _copy(plain)
    sgd_epoch(fast, X, y, batches, 0.02, Workspace(sizes, "sigmoid", batch_size))
    _plain_epoch(plain, X, y, batches, 0.02, "sigmoid")
    assert _max_diff(fast, plain) <= 1e-13
