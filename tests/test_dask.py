"""The runner on a Dask distributed cluster (the optional ``cluster`` extra), on 127.0.0.1."""

import sys

import pytest

from compare.common.errors import ConfigError
from compare.reproduce import figures as F
from compare.reproduce import runner
from compare.reproduce.cache import RunCache
from compare.train.trainer import TrainConfig

TWINS = ("manual", "autodiff")


def tiny(seed):
    return TrainConfig(activation="tanh", hidden=(8,), init="xavier", batch_size=50,
                       epochs=1, seed=seed, train_subset=200, test_subset=100)


WORKERS_SEEN = []


def train_noting_the_worker(config, twins, data_dir):
    """The real run function, noting which Dask worker ran it."""
    from dask.distributed import get_worker
    WORKERS_SEEN.append(get_worker().address)  # raises ValueError outside a worker
    return runner.train(config, twins, data_dir)


def test_missing_dask_is_a_one_line_config_error_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # makes the import fail
    with pytest.raises(ConfigError, match=r"pip install twinprop\[cluster\]"):
        runner.import_distributed()


def test_two_runs_train_on_a_local_dask_cluster_and_are_cached(tmp_path):
    distributed = pytest.importorskip(
        "dask.distributed", reason="Dask is not installed: pip install twinprop[cluster]")
    runs = [F.Run("2", f"seed {s}", s, tiny(s)) for s in (0, 1)]
    # In-process worker threads, but a real TCP scheduler on 127.0.0.1.
    with distributed.LocalCluster(n_workers=1, processes=False, threads_per_worker=2,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        lines = []
        WORKERS_SEEN.clear()
        outcomes = runner.run_all(runs, RunCache(tmp_path), TWINS,
                                  scheduler=cluster.scheduler_address,
                                  run_fn=train_noting_the_worker, log=lines.append)
        assert "2 to train on the Dask cluster at tcp://127.0.0.1" in lines[0]
        assert WORKERS_SEEN == [next(iter(cluster.workers.values())).address] * 2
        assert len(outcomes) == 2
        for outcome in outcomes.values():
            assert outcome.ok and set(outcome.metrics) == set(TWINS)
            assert outcome.metrics["manual"][-1]["max_param_diff"] < 1e-10
        # Different seeds, different runs: their results must differ.
        accs = {o.metrics["manual"][-1]["train_loss"] for o in outcomes.values()}
        assert len(accs) == 2
        again = []
        runner.run_all(runs, RunCache(tmp_path), TWINS, scheduler=cluster.scheduler_address,
                       log=again.append)
        assert "2 cached, 0 to train" in again[0]


def test_an_unreachable_scheduler_is_a_config_error(monkeypatch, tmp_path):
    pytest.importorskip("dask.distributed", reason="Dask is not installed: "
                                                   "pip install twinprop[cluster]")
    monkeypatch.setattr(runner, "CONNECT_TIMEOUT", 1)
    runs = [F.Run("2", "seed 0", 0, tiny(0))]
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        runner.run_all(runs, RunCache(tmp_path), TWINS, scheduler="tcp://127.0.0.1:9",
                       log=lambda s: None)
