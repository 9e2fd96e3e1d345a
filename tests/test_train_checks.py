"""Checks before any work: output locations, option domains, memory, leftovers of a kill.

Every refusal here must come before the data set is loaded (the loader
counts its calls), in one line with exit status 2, and must leave the disk
as it was.
"""

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_train_cli import TINY, run_cli, use_blobs

import autodiff
import compare.cli.train
import compare.data.load
import compare.train.trainer
from compare.common.errors import ConfigError
from compare.train import memory
from compare.train.checkpoint import load_checkpoint
from compare.train.config import TrainConfig, catalog_sizes
from compare.train.memory import GIB, check_memory, estimate_bytes


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The CLI loads the blobs (their sizes stand in for the catalog's); returns the loads."""
    data = use_blobs(monkeypatch)
    calls: list[dict[str, Any]] = []

    def load(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return data

    monkeypatch.setattr(compare.data.load, "load_dataset", load)
    return calls


def refused(argv: list[str], capsys: pytest.CaptureFixture[str], loads: list[dict[str, Any]],
            match: str) -> str:
    code, _, err = run_cli(argv, capsys)
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err and match in err, err
    assert loads == [], "refused only after loading the data"
    return err


# --- output locations ---------------------------------------------------------

@pytest.mark.parametrize("command", ["train", "compare"])
def test_out_under_a_file_is_refused_before_the_data_loads(
        command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        loads: list[dict[str, Any]]) -> None:
    (tmp_path / "file").write_text("mine")
    refused([command, *TINY, "--out", str(tmp_path / "file" / "run"), "--quiet"], capsys, loads,
            "which is a file")
    refused([command, *TINY, "--out", str(tmp_path / "file"), "--quiet"], capsys, loads,
            "is a file")
    assert (tmp_path / "file").read_text() == "mine"


def test_out_in_a_folder_without_write_permission_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], loads: list[dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests may run as root, for whom every folder is writable: deny like a read-only folder.
    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: real(p, mode) and Path(p) != locked)
    refused(["train", *TINY, "--out", str(locked / "run"), "--quiet"], capsys, loads,
            f"cannot be created: {locked} is not writable")
    assert list(locked.iterdir()) == []


def test_the_default_out_is_checked_too(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        loads: list[dict[str, Any]],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").write_text("not a folder")
    refused(["train", *TINY, "--quiet"], capsys, loads, "runs, which is a file")


def test_plot_out_must_be_a_writable_file_path(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               loads: list[dict[str, Any]]) -> None:
    run = tmp_path / "run"
    assert run_cli(["train", *TINY, "--out", str(run), "--quiet"], capsys)[0] == 0
    loads.clear()
    (tmp_path / "file").write_text("mine")
    refused(["plot", str(run), "--out", str(tmp_path)], capsys, loads, "is a folder")
    refused(["plot", str(run), "--out", str(tmp_path / "file" / "c.png")], capsys, loads,
            "is a file")
    refused(["plot", str(tmp_path / "nowhere")], capsys, loads, "does not exist")
    refused(["plot", str(tmp_path / "file")], capsys, loads, "is not a folder")


def test_force_and_resume_together_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               loads: list[dict[str, Any]]) -> None:
    refused(["train", *TINY, "--force", "--resume", "--out", str(tmp_path), "--quiet"], capsys,
            loads, "choose one")
    refused(["train", "--resume", "--quiet"], capsys, loads, "needs the run folder")
    refused(["train", "--resume", "--out", str(tmp_path / "none"), "--quiet"], capsys, loads,
            "nothing to resume")


# --- option domains -----------------------------------------------------------

@pytest.mark.parametrize("bad, match", [
    (["--train-subset", "121"], "--train-subset 121 is larger than the 120 training"),
    (["--test-subset", "41"], "--test-subset 41 is larger than the 40 test"),
    (["--train-subset", "0"], "train_subset must be a whole number >= 1"),
    (["--batch-size", "121"], "batch size 121 is larger than the 120"),
    (["--train-subset", "50", "--batch-size", "51"], "larger than the 50 training"),
    (["--seed", "-1"], "seed must be a whole number >= 0"),
    (["--lr", "inf"], "must be a finite number > 0"),
    (["--decay", "-0.5"], "must be a finite number >= 0"),
    (["--decay", "nan"], "must be a finite number >= 0"),
    (["--schedule", "step", "--decay", "1.5"], "in (0, 1]"),
    (["--schedule", "exponential", "--decay", "1000"], "brings the rate to 0 by epoch 2"),
    (["--step-every", "0"], "step_every 0 must be a whole number >= 1"),
    (["--hidden", "6", "--hidden", "-2"], "hidden layer widths must be whole numbers >= 1"),
    (["--hidden", "0"], "0]; fix --hidden, e.g. --hidden 100 --hidden 50"),
])
def test_every_option_outside_its_domain_is_refused_before_the_data_loads(
        bad: list[str], match: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        loads: list[dict[str, Any]]) -> None:
    refused(["train", *TINY, *bad, "--out", str(tmp_path / "r"), "--quiet"], capsys, loads, match)
    assert not (tmp_path / "r").exists()


def test_subsets_are_checked_against_the_catalogs_sizes_without_loading() -> None:
    n = catalog_sizes("mnist")
    assert (n.n_train, n.n_test, n.n_features, n.n_classes) == (60_000, 10_000, 784, 10)
    with pytest.raises(ConfigError, match="larger than the 60000 training examples of mnist"):
        TrainConfig(train_subset=60_001)
    with pytest.raises(ConfigError, match="larger than the 10000 test examples"):
        TrainConfig(test_subset=10_001)
    with pytest.raises(ConfigError, match="must be an object of options"):
        TrainConfig.from_dict([1, 2])
    assert TrainConfig(train_subset=60_000, batch_size=60_000).batch_size == 60_000


def test_a_network_too_large_for_memory_is_refused_with_the_estimate(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], loads: list[dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The blobs are small: a machine of 1 GiB stands in for a network too wide for this one.
    monkeypatch.setattr(memory, "machine_bytes", lambda: GIB)
    err = refused(["train", *TINY[2:], "--hidden", "10000000", "--out", str(tmp_path / "r"),
                   "--quiet"], capsys, loads, "needs about")
    sizes = compare.cli.train.catalog_sizes("blobs")
    need = estimate_bytes(TrainConfig(hidden=(10_000_000,), batch_size=16, epochs=2, seed=1),
                          1, sizes)
    assert (f"--hidden 10000000 with --batch-size 16 and 1 twin needs about {need / GIB:.1f} GiB"
            f"; this machine has 1.0 GiB") in err


def test_a_network_wider_than_a_float_can_count_is_refused_with_the_estimate() -> None:
    # found by tests/test_cli_fuzz.py: the GiB of the message overflowed a float
    wide = TrainConfig(hidden=(10 ** 400,))
    with pytest.raises(ConfigError, match=r"--hidden 1000\d+ with --batch-size 250 and 1 twin "
                                          r"needs about \d{390,} GiB; this machine has"):
        check_memory(wide, ("manual",), catalog_sizes("mnist"))


def test_the_memory_estimate_grows_with_the_network_and_the_twins() -> None:
    sizes = catalog_sizes("mnist")
    small, wide = TrainConfig(), TrainConfig(hidden=(100_000,))
    assert estimate_bytes(wide, 1, sizes) > estimate_bytes(small, 1, sizes)
    assert estimate_bytes(wide, 3, sizes) > 2.5 * (estimate_bytes(wide, 1, sizes)
                                                   - estimate_bytes(small, 1, sizes))
    # the first layer's weights alone, once per parameter-sized copy
    assert estimate_bytes(wide, 1, sizes) > memory.PARAM_COPIES * 784 * 100_000 * 8
    need = check_memory(small, ("manual",), sizes, available=estimate_bytes(small, 1, sizes))
    half = GIB // 2
    assert need > half
    with pytest.raises(ConfigError, match=f"needs about {need / GIB:.1f} GiB; this machine "
                                          f"has {half / GIB:.1f} GiB"):
        check_memory(small, ("manual",), sizes, available=half)


# --- leftovers of a killed run --------------------------------------------------

def leave_temporary(folder: Path, name: str) -> Path:
    """A temporary exactly as compare.atomic.atomic_path makes one, as a kill leaves it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    os.write(fd, b"half a file")
    os.close(fd)
    return Path(tmp)


def test_a_killed_runs_temporaries_are_removed_by_the_next_resume(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], loads: list[dict[str, Any]]) -> None:
    run = tmp_path / "run"
    assert run_cli(["train", *TINY, "--out", str(run), "--quiet"], capsys)[0] == 0
    stale = [leave_temporary(run, name) for name in
             ("config.json", "metrics.json", "checkpoint.npz", "curves.png")]
    mine = [run / ".metrics.json.mine.tmp", run / "notes.tmp", run / ".checkpoint.npz.tmp"]
    for path in mine:
        path.write_text("mine")
    code, _, err = run_cli(["train", "--resume", "--epochs", "3", "--out", str(run), "--quiet"],
                           capsys)
    assert code == 0, err
    assert not any(p.exists() for p in stale)
    assert all(p.read_text() == "mine" for p in mine)


def test_a_folder_holding_only_temporaries_takes_a_new_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], loads: list[dict[str, Any]]) -> None:
    """A run killed while writing its first file left only a temporary: start it again."""
    run = tmp_path / "run"
    run.mkdir()
    stale = leave_temporary(run, "config.json")
    code, _, err = run_cli(["train", *TINY, "--out", str(run), "--quiet"], capsys)
    assert code == 0, err
    assert not stale.exists() and (run / "config.json").is_file()


# --- failed runs keep their folder whole ------------------------------------------

def test_divergence_exits_1_and_leaves_every_completed_epoch_loadable(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], loads: list[dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = autodiff.loss_and_grads
    calls = {"n": 0}

    def nan_in_epoch_2(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        loss, grads = real(*args, **kwargs)
        return (float("nan") if calls["n"] == 11 else loss), grads   # 8 steps an epoch

    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(autodiff, "loss_and_grads", nan_in_epoch_2)
        code, _, err = run_cli(["train", "--twin", "autodiff", *TINY, "--epochs", "3",
                                "--out", str(run), "--quiet"], capsys)
    assert code == 1 and err.count("\n") == 1 and "diverged at epoch 2, step 3" in err
    _, state = load_checkpoint(run / "checkpoint.npz")
    assert state["epoch"] == 1
    assert len(json.loads((run / "metrics.json").read_text())["autodiff"]) == 1
    assert (run / "curves.png").read_bytes()[:4] == b"\x89PNG"
    code, _, err = run_cli(["train", "--resume", "--out", str(run), "--quiet"], capsys)
    assert code == 0, err


def test_a_failed_save_exits_1_naming_what_the_folder_still_holds(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], loads: list[dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = compare.train.trainer.save_checkpoint
    calls = {"n": 0}

    def disk_full_at_epoch_2(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        real(*args, **kwargs)

    monkeypatch.setattr(compare.train.trainer, "save_checkpoint", disk_full_at_epoch_2)
    run = tmp_path / "run"
    code, _, err = run_cli(["train", *TINY, "--out", str(run), "--quiet"], capsys)
    assert code == 1 and err.count("\n") == 1 and "No space left on device" in err
    assert "still holds the 1 completed epoch" in err and f"--resume --out {run}" in err
    assert load_checkpoint(run / "checkpoint.npz")[1]["epoch"] == 1
    assert np.isfinite(json.loads((run / "metrics.json").read_text())["buffered"][0]["test_loss"])
