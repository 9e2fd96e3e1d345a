"""The buffered twin (manual.buffered) beyond what every twin is checked for:
its buffers are reused, nothing weight-sized is allocated per call, its
gradients are read-only, and its workspaces are bounded."""

import tracemalloc

import numpy as np
import pytest

import manual
from compare.common.init import init_params
from compare.data.batches import batch_indices
from compare.train.sgd import SGD
from manual import buffered

SIZES = [784, 100, 10]


def _data(dtype, n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, SIZES[0])).astype(dtype), rng.integers(0, SIZES[-1], n)


def _workspace_for(params, batch, activation="tanh"):
    return buffered._workspace(params, manual.get_activation(activation), batch)


@pytest.mark.parametrize("activation", manual.ACTIVATION_NAMES)
@pytest.mark.parametrize("batch_size", [250, 1])
def test_buffers_are_reused_and_calls_allocate_no_weight_sized_array(batch_size, activation):
    X, y = _data("float64", 1000)
    params = init_params(SIZES, seed=0)
    batches = batch_indices(1000, batch_size, 0, 0)[:40]
    inputs = [(X[idx], y[idx]) for idx in batches]                 # gathered outside the trace
    buffered.loss_and_grads(params, *inputs[0], activation)        # warm up
    ws = _workspace_for(params, batch_size, activation)
    before = [(id(a), a.__array_interface__["data"][0]) for a in ws.buffers()]

    tracemalloc.start()
    for xb, yb in inputs:
        _, grads = buffered.loss_and_grads(params, xb, yb, activation)
    _, buffered_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    manual.loss_and_grads(params, *inputs[0], activation)
    _, plain_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert _workspace_for(params, batch_size, activation) is ws
    assert [(id(a), a.__array_interface__["data"][0]) for a in ws.buffers()] == before
    assert all(np.shares_memory(g, buf) for (dW, db), bW, bb in zip(grads, ws.dW, ws.db)
               for g, buf in ((dW, bW), (db, bb)))
    # numpy's iterator buffer for the broadcast bias (8192 elements, 64 KiB in
    # float64) is the largest allocation a call may make; a layer-sized
    # temporary is 200 KB (250 x 100), and the plain twin's dW1 alone 627 KB.
    assert buffered_peak < 80_000
    assert plain_peak > 600_000


def test_gradients_are_read_only_views_that_the_next_call_overwrites():
    X, y = _data("float64", 20)
    params = init_params(SIZES, seed=1)
    _, first = buffered.loss_and_grads(params, X[:10], y[:10], "relu")
    kept = [(dW.copy(), db.copy()) for dW, db in first]
    with pytest.raises(ValueError, match="read-only"):
        first[0][0][0, 0] = 1.0
    _, second = buffered.loss_and_grads(params, X[10:], y[10:], "relu")
    assert second[0][0] is first[0][0]
    assert not np.array_equal(first[0][0], kept[0][0])


def test_float32_stays_float32_in_every_buffer():
    X, y = _data("float32", 500)
    for batch_size in (1, 100):
        params = init_params(SIZES, seed=0, dtype="float32")
        sgd = SGD(buffered, "softplus")
        for idx in batch_indices(500, batch_size, 0, 0)[:20]:
            sgd.step(params, X[idx], y[idx], 0.05)
        ws = buffered._workspace(params, manual.get_activation("softplus"), batch_size)
        floats = [a for a in ws.buffers() if a.dtype.kind == "f"]
        assert floats and all(a.dtype == np.float32 for a in floats)
        assert all(W.dtype == np.float32 and b.dtype == np.float32 for W, b in params)


def test_a_larger_batch_grows_the_workspace_and_the_cache_stays_bounded():
    X, y = _data("float64", 300)
    params = init_params([784, 8, 10], seed=2)
    buffered.loss_and_grads(params, X[:10], y[:10], "tanh")
    buffered.loss_and_grads(params, X, y, "tanh")
    assert _workspace_for(params, 300).capacity == 300
    for width in range(1, 2 * buffered._KEEP):
        buffered.loss_and_grads(init_params([784, width, 10]), X[:3], y[:3], "tanh")
    assert len(buffered._workspaces()) <= buffered._KEEP


def test_threads_training_the_same_network_each_get_their_own_buffers():
    """Dask workers run several threads: two runs of one shape must not share buffers."""
    import threading

    wrong = [0, 0]

    def work(i: int) -> None:
        rng = np.random.default_rng(i)
        params = init_params([784, 100, 10], init="xavier", seed=i)
        X, y = rng.standard_normal((250, 784)), rng.integers(0, 10, 250)
        loss0, grads0 = manual.loss_and_grads(params, X, y, "tanh")
        for _ in range(100):
            loss, grads = buffered.loss_and_grads(params, X, y, "tanh")
            if abs(loss - loss0) > 1e-9 or np.abs(grads[0][0] - grads0[0][0]).max() > 1e-9:
                wrong[i] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == [0, 0]
