"""The SGD step in row chunks: a batch larger than chunk_rows, stepped in bounded memory.

The gradient of the mean loss over N rows is the row-count-weighted mean of
the chunks' gradients, so a chunked step must equal one unchunked step to
rounding, for every registered twin.
"""


import numpy as np
import pytest
from test_trainer import count_steps, make_blobs, tiny

import compare.train.sgd
from compare.common.init import init_params
from compare.train.sgd import SGD
from compare.train.trainer import run_training
from compare.twins import TWINS, Params


def copy_params(params: Params) -> Params:
    return [(W.copy(), b.copy()) for W, b in params]


def assert_same_to_rounding(a: Params, b: Params) -> None:
    for (Wa, ba), (Wb, bb) in zip(a, b, strict=True):
        np.testing.assert_allclose(Wa, Wb, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(ba, bb, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("twin", sorted(TWINS))
def test_a_chunked_step_equals_one_unchunked_step(twin: str, activation: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    X, y = rng.random((50, 12)), rng.integers(0, 3, 50)
    start = init_params([12, 7, 5, 3], init="he", seed=4)
    whole, chunked = copy_params(start), copy_params(start)
    loss_whole = SGD(TWINS[twin], activation, chunk_rows=50).step(whole, X, y, 0.3)
    sizes = count_steps(monkeypatch, twin)
    # 7 rows a chunk: seven chunks of 7 and a last one of 1, weighted 7/50 and 1/50.
    loss_chunked = SGD(TWINS[twin], activation, chunk_rows=7).step(chunked, X, y, 0.3)
    assert sizes == [7] * 7 + [1]
    assert loss_chunked == pytest.approx(loss_whole, rel=1e-13)
    assert_same_to_rounding(chunked, whole)
    assert max(float(np.max(np.abs(W - W0))) for (W, _), (W0, _) in zip(whole, start)) > 1e-3


@pytest.mark.parametrize("twin", sorted(TWINS))
def test_a_step_on_gathered_rows_equals_a_step_on_those_rows(twin: str) -> None:
    rng = np.random.default_rng(5)
    X, y = rng.random((40, 12)), rng.integers(0, 3, 40)
    rows = rng.permutation(40)[:30]
    rows[:3] -= 40           # negative rows count from the end, as numpy indexing has it
    start = init_params([12, 6, 3], seed=1)
    direct, gathered = copy_params(start), copy_params(start)
    SGD(TWINS[twin], "tanh").step(direct, X[rows], y[rows], 0.5)
    SGD(TWINS[twin], "tanh", chunk_rows=8).step(gathered, X, y, 0.5, rows=rows)
    assert_same_to_rounding(gathered, direct)


def test_full_batch_training_hands_the_twin_chunks_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The trainer's full-batch epoch never gives a twin more than CHUNK_ROWS rows."""
    blobs = make_blobs()
    cfg = tiny(batch_size=None, epochs=2)
    whole = run_training(cfg, twins=tuple(TWINS), data=blobs)
    monkeypatch.setattr(compare.train.sgd, "CHUNK_ROWS", 50)
    sizes = count_steps(monkeypatch, "autodiff")
    chunked = run_training(cfg, twins=tuple(TWINS), data=blobs)
    assert sizes == [50, 50, 20] * 2
    for twin in TWINS:
        assert_same_to_rounding(chunked.params[twin], whole.params[twin])
    assert chunked.metrics["manual"][-1]["max_param_diff"] <= 1e-12
