"""The runner on a Dask distributed cluster (the optional ``cluster`` extra), on 127.0.0.1.

Every folder Dask makes (its scratch space, the scheduler's and the worker's
work folders) goes to the test's own temporary directory, which is removed
afterwards; the working directory and the system temp folder are left alone.
"""

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from compare.common.errors import ConfigError
from compare.reproduce import figures as F
from compare.reproduce import runner
from compare.reproduce.cache import RunCache
from compare.train.config import TrainConfig

TWINS = ("manual", "autodiff")


def tiny(seed: int) -> TrainConfig:
    return TrainConfig(activation="tanh", hidden=(8,), init="xavier", batch_size=50,
                       epochs=1, seed=seed, train_subset=200, test_subset=100)


WORKERS_SEEN: list[str] = []


def train_noting_the_worker(config: TrainConfig, twins: tuple[str, ...],
                            data_dir: Path | None) -> Any:
    """The real run function, noting which Dask worker ran it."""
    from dask.distributed import get_worker
    WORKERS_SEEN.append(get_worker().address)  # raises ValueError outside a worker
    return runner.train(config, twins, data_dir)


def needs_dask() -> Any:
    return pytest.importorskip("dask.distributed",
                               reason="Dask is not installed: pip install twinprop[cluster]")


@pytest.fixture
def dask_scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder for everything Dask writes, removed afterwards.

    Dask's ``temporary-directory`` points into it; the working directory and
    tempfile's folder are moved into it too, so a file written to either
    shows up here instead of being left behind.
    """
    import dask
    root = tmp_path / "dask"
    cwd, system_tmp = tmp_path / "cwd", tmp_path / "system-tmp"
    for folder in (root, cwd, system_tmp):
        folder.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    with dask.config.set({"temporary-directory": str(root)}):
        yield root
    assert list(cwd.iterdir()) == [], "Dask wrote into the working directory"
    assert list(system_tmp.iterdir()) == [], "Dask wrote into the system temp folder"
    shutil.rmtree(root)


def test_missing_dask_is_a_one_line_config_error_naming_the_extra(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # makes the import fail
    with pytest.raises(ConfigError, match=r"pip install twinprop\[cluster\]"):
        runner.import_distributed()


@pytest.mark.network
@pytest.mark.slow
@pytest.mark.slow
def test_two_runs_train_on_a_local_dask_cluster_and_are_cached(
        tmp_path: Path, dask_scratch: Path) -> None:
    distributed = needs_dask()
    runs = [F.Run("2", f"seed {s}", s, tiny(s)) for s in (0, 1)]
    out = tmp_path / "out"
    # In-process worker threads, but a real TCP scheduler on 127.0.0.1.
    with distributed.LocalCluster(n_workers=1, processes=False, threads_per_worker=2,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        scratch = dask_scratch / "dask-scratch-space"
        work_dirs = {p.name for p in scratch.iterdir() if p.is_dir()}
        assert any(name.startswith("worker-") for name in work_dirs), work_dirs
        lines: list[str] = []
        WORKERS_SEEN.clear()
        outcomes = runner.run_all(runs, RunCache(out), TWINS,
                                  scheduler=cluster.scheduler_address,
                                  run_fn=train_noting_the_worker, log=lines.append)
        assert "2 to train on the Dask cluster at tcp://127.0.0.1" in lines[0]
        assert WORKERS_SEEN == [next(iter(cluster.workers.values())).address] * 2
        assert len(outcomes) == 2
        for outcome in outcomes.values():
            assert outcome.ok and set(outcome.metrics) == set(TWINS)
            assert outcome.metrics["manual"][-1]["max_param_diff"] < 1e-10
        # Different seeds, different runs: their results must differ.
        losses = {o.metrics["manual"][-1]["train_loss"] for o in outcomes.values()}
        assert len(losses) == 2
        again: list[str] = []
        runner.run_all(runs, RunCache(out), TWINS, scheduler=cluster.scheduler_address,
                       log=again.append)
        assert "2 cached, 0 to train" in again[0]
    # The cluster is closed: its work folders are gone with it.
    left = [p.name for p in scratch.iterdir() if p.is_dir()]
    assert left == [], left


def test_an_unreachable_scheduler_is_a_config_error(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, dask_scratch: Path) -> None:
    needs_dask()
    monkeypatch.setattr(runner, "CONNECT_TIMEOUT", 1)
    runs = [F.Run("2", "seed 0", 0, tiny(0))]
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        runner.run_all(runs, RunCache(tmp_path / "out"), TWINS,
                       scheduler="tcp://127.0.0.1:9", log=lambda s: None)
