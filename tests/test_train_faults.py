"""Fault injection: every file of a run folder, damaged every way, is refused.

One run folder is trained once; each test copies it, damages one file, runs
the command that would use it (``train --resume``, ``plot``), and checks
that the command is refused in one line with exit status 2, no traceback,
and that the folder is byte for byte what it was before the command.
"""

import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_train_cli import TINY, run_cli, use_blobs

from compare.cli.app import main

Damage = Callable[[Path], None]
RESUME = ["train", "--resume", "--epochs", "3", "--quiet", "--out"]


@pytest.fixture(autouse=True)
def blobs(monkeypatch: pytest.MonkeyPatch) -> Any:
    return use_blobs(monkeypatch)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished two-epoch run of the buffered twin (trained once for the module)."""
    out = tmp_path_factory.mktemp("trained") / "run"
    with pytest.MonkeyPatch.context() as patch:
        use_blobs(patch)
        assert main(["train", *TINY, "--out", str(out), "--quiet"]) == 0
    return out


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its bytes (None for a folder)."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def damaged_copy(trained: Path, tmp_path: Path, damage: Damage) -> Path:
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    damage(run)
    return run


def assert_refused(argv: list[str], run: Path, capsys: pytest.CaptureFixture[str],
                   match: str, names: str = "") -> None:
    """``argv`` exits 2 with one line holding ``match`` (and ``names``), changing nothing."""
    before = snapshot(run)
    code, _, err = run_cli(argv, capsys)
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("twinprop") and "Traceback" not in err
    assert match in err and (f"{run}/{names}" if names else str(run)) in err, err
    assert snapshot(run) == before


# --- ways to damage each file -------------------------------------------------

def write(name: str, content: "bytes | str") -> Damage:
    def damage(run: Path) -> None:
        data = content.encode() if isinstance(content, str) else content
        (run / name).write_bytes(data)
    return damage


def truncate(name: str) -> Damage:
    def damage(run: Path) -> None:
        data = (run / name).read_bytes()
        (run / name).write_bytes(data[:len(data) // 2])
    return damage


def folder_instead(name: str) -> Damage:
    def damage(run: Path) -> None:
        (run / name).unlink()
        (run / name).mkdir()
    return damage


def edit_json(name: str, edit: Callable[[dict], object]) -> Damage:
    def damage(run: Path) -> None:
        content = json.loads((run / name).read_text())
        changed = edit(content)
        (run / name).write_text(json.dumps(content if changed is None else changed))
    return damage


def edit_checkpoint(edit: Callable[[dict[str, np.ndarray], dict], object]) -> Damage:
    """Rewrite checkpoint.npz after ``edit(arrays, state)`` changed them in place
    (or returned a state to store instead)."""
    def damage(run: Path) -> None:
        path = run / "checkpoint.npz"
        with np.load(path) as npz:
            arrays = {k: npz[k] for k in npz.files}
        state = json.loads(str(arrays["trainer_state_json"]))
        replaced = edit(arrays, state)
        if "trainer_state_json" in arrays:
            arrays["trainer_state_json"] = np.array(json.dumps(
                state if replaced is None else replaced))
        with open(path, "wb") as f:
            np.savez(f, **arrays)
    return damage


def set_key(key: str, value: object) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        d[key] = value
    return edit


def set_option(key: str, value: object) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        d["config"][key] = value
    return edit


def set_state(key: str, value: object) -> Callable[[dict[str, np.ndarray], dict], None]:
    def edit(arrays: dict[str, np.ndarray], state: dict) -> None:
        state[key] = value
    return edit


def set_array(key: str, change: Callable[[np.ndarray], np.ndarray]
              ) -> Callable[[dict[str, np.ndarray], dict], None]:
    def edit(arrays: dict[str, np.ndarray], state: dict) -> None:
        arrays[key] = change(arrays[key])
    return edit


def with_nan(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.flat[0] = np.nan
    return a


def drop_state(arrays: dict[str, np.ndarray], state: dict) -> None:
    del arrays["trainer_state_json"]


def extra_array(arrays: dict[str, np.ndarray], state: dict) -> None:
    arrays["buffered.9.W"] = np.zeros((2, 2))


def first_loss(metrics: dict) -> None:
    metrics["buffered"][0]["train_loss"] += 1e-9


def renumber(metrics: dict) -> None:
    metrics["buffered"][1]["epoch"] = 7


def uneven_twins(metrics: dict) -> dict:
    epochs = [dict(e, max_param_diff=0.0) for e in metrics["buffered"]]
    return {"buffered": epochs, "manual": epochs[:1]}


def one_layer_fewer(arrays: dict[str, np.ndarray], state: dict) -> None:
    state["n_layers"] = 1
    del arrays["buffered.1.W"], arrays["buffered.1.b"]


def member_without_header(run: Path) -> None:
    """A zip member that np.save did not write: np.load hands it back as bytes."""
    with zipfile.ZipFile(run / "checkpoint.npz", "a") as archive:
        archive.writestr("notes", b"hello")


def drop_field(metrics: dict) -> None:
    del metrics["buffered"][0]["test_acc"]


CONFIG_DAMAGES = {
    "empty": (write("config.json", ""), "not valid JSON"),
    "truncated": (truncate("config.json"), "not valid JSON"),
    "not an object": (write("config.json", "[1, 2]"), "not of the form"),
    "missing key": (edit_json("config.json", lambda d: d.pop("data") and None),
                    "not of the form"),
    "twins a string": (edit_json("config.json", set_key("twins", "buffered")),
                       "names its twins"),
    "config a list": (edit_json("config.json", set_key("config", [1])), "not an object"),
    "lr a string": (edit_json("config.json", set_option("lr", "fast")), "lr must be a number"),
    "hidden a string": (edit_json("config.json", set_option("hidden", "6")),
                        "list of layer widths"),
    "negative seed": (edit_json("config.json", set_option("seed", -1)), "seed"),
    "unknown option": (edit_json("config.json", set_option("momentum", 0.9)),
                       "unknown config keys"),
    "folder": (folder_instead("config.json"), "config.json is not a file"),
}

METRICS_DAMAGES = {
    "empty": (write("metrics.json", ""), "not valid JSON"),
    "truncated": (truncate("metrics.json"), "not valid JSON"),
    "a list": (write("metrics.json", "[]"), "not an object of twins"),
    "epochs not a list": (write("metrics.json", '{"buffered": 3}'), "not a list of epochs"),
    "field missing": (edit_json("metrics.json", drop_field), "holding"),
    "accuracy above 1": (edit_json("metrics.json", lambda m: m["buffered"][0].update(
        train_acc=1.5)), "train_acc = 1.5"),
    "NaN loss": (write("metrics.json", '{"buffered": [{"epoch": 1, "train_loss": NaN}]}'),
                 "holding"),
    "renumbered": (edit_json("metrics.json", renumber), "numbers"),
    "folder": (folder_instead("metrics.json"), "metrics.json"),
    "twins of unequal length": (edit_json("metrics.json", uneven_twins),
                                "different numbers of epochs"),
}

CHECKPOINT_DAMAGES = {
    "empty": (write("checkpoint.npz", b""), "is empty"),
    "truncated": (truncate("checkpoint.npz"), "unreadable"),
    "not an archive": (write("checkpoint.npz", "hello"), "not an .npz archive"),
    "wrong shape": (edit_checkpoint(set_array("buffered.0.b", lambda b: b[:1])),
                    "b1 of shape (1,)"),
    "wrong dtype": (edit_checkpoint(set_array("buffered.0.W", lambda W: W.astype(np.float32))),
                    "dtype float32"),
    "integer array": (edit_checkpoint(set_array("buffered.1.W", lambda W: W.astype(int))),
                      "not a 2-D float array"),
    "NaN parameter": (edit_checkpoint(set_array("buffered.1.W", with_nan)), "non-finite"),
    "layer count edited": (edit_checkpoint(set_state("n_layers", 1)), "layers of"),
    "layer count nonsense": (edit_checkpoint(set_state("n_layers", "2")), "n_layers"),
    "layer count huge": (edit_checkpoint(set_state("n_layers", 10**12)),
                         "but holds only 4 arrays"),
    "a member that is no array": (member_without_header, "holds 'notes', which is not an array"),
    "a layer fewer": (edit_checkpoint(one_layer_fewer), "holds 1 layers for buffered, but the "
                                                        "network [12, 6, 3] has 2"),
    "epoch 0": (edit_checkpoint(set_state("epoch", 0)), "at epoch 0"),
    "epoch past its config": (edit_checkpoint(set_state("epoch", 9)), "at epoch 9"),
    "epoch a string": (edit_checkpoint(set_state("epoch", "2")), "at epoch '2'"),
    "epoch beyond its metrics": (edit_checkpoint(set_state("epoch", 1)), "holds metrics"),
    "twins edited": (edit_checkpoint(set_state("twins", ["manual"])), "does not hold the arrays"),
    "other options": (edit_checkpoint(lambda a, s: s["config"].update(lr=0.1)),
                      "other options (lr)"),
    "state without a format": (edit_checkpoint(lambda a, s: s.pop("format") and None),
                               "format None"),
    "no state": (edit_checkpoint(drop_state), "no trainer state"),
    "state a list": (edit_checkpoint(lambda a, s: [s]), "trainer state that is not an object"),
    "twins a string": (edit_checkpoint(set_state("twins", "buffered")), "names its twins"),
    "an extra array": (edit_checkpoint(extra_array), "unexpected ['buffered.9.W']"),
    "other format": (edit_checkpoint(set_state("format", 2)), "format 2"),
    "folder": (folder_instead("checkpoint.npz"), "is not a file"),
}


@pytest.mark.parametrize("way", sorted(METRICS_DAMAGES))
def test_a_damaged_metrics_json_is_refused_by_plot_and_resume(
        way: str, trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    damage, match = METRICS_DAMAGES[way]
    run = damaged_copy(trained, tmp_path, damage)
    assert_refused(["plot", str(run)], run, capsys, match, "metrics.json")
    assert_refused([*RESUME, str(run)],
                   run, capsys, match, "metrics.json")


def test_a_metrics_json_that_disagrees_with_the_checkpoint_is_refused_by_resume(
        trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = damaged_copy(trained, tmp_path, edit_json("metrics.json", first_loss))
    assert_refused([*RESUME, str(run)],
                   run, capsys, "disagrees with checkpoint.npz", "metrics.json")


RESUME_DAMAGES = {**{("config.json", way): v for way, v in CONFIG_DAMAGES.items()},
                  **{("checkpoint.npz", way): v for way, v in CHECKPOINT_DAMAGES.items()}}


@pytest.mark.parametrize("name, way", sorted(RESUME_DAMAGES))
def test_a_damaged_config_or_checkpoint_is_refused_by_resume(
        name: str, way: str, trained: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    damage, match = RESUME_DAMAGES[name, way]
    run = damaged_copy(trained, tmp_path, damage)
    assert_refused([*RESUME, str(run)], run, capsys, match, name)


def test_metrics_json_without_the_checkpoint_is_refused(
        trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = damaged_copy(trained, tmp_path, lambda r: (r / "checkpoint.npz").unlink())
    assert_refused([*RESUME, str(run)],
                   run, capsys, "records 2 epochs but there is no checkpoint.npz", "metrics.json")


@pytest.mark.parametrize("argv", [
    ["train", "--resume", "--epochs", "3"], ["train", "--force", *TINY], ["plot"]])
def test_a_folder_in_place_of_curves_png_is_refused_before_training(
        argv: list[str], trained: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    run = damaged_copy(trained, tmp_path, folder_instead("curves.png"))
    where = [str(run)] if argv == ["plot"] else ["--out", str(run), "--quiet"]
    assert_refused([*argv, *where], run, capsys, "is", "curves.png")


@pytest.mark.parametrize("first_epoch_done", [True, False])
def test_resuming_with_other_twins_is_refused(first_epoch_done: bool, trained: Path,
                                              tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Also for a run stopped before its first epoch ended: no checkpoint names its twins."""
    def stopped_early(run: Path) -> None:
        (run / "checkpoint.npz").unlink()
        (run / "metrics.json").write_text('{"buffered": []}')

    run = damaged_copy(trained, tmp_path, (lambda r: None) if first_epoch_done else stopped_early)
    assert_refused(["train", "--twin", "autodiff", "--resume", "--out", str(run), "--quiet"],
                   run, capsys, "holds a run of ['buffered'], not ['autodiff']")


def test_a_damaged_curves_png_is_only_output_and_is_redrawn(
        trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing reads curves.png: plot and resume draw it anew from metrics.json."""
    run = damaged_copy(trained, tmp_path, truncate("curves.png"))
    code, _, _ = run_cli(["plot", str(run)], capsys)
    assert code == 0 and (run / "curves.png").read_bytes() == (trained / "curves.png").read_bytes()


def test_a_sound_copy_resumes(trained: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    """The damages above are refused, not everything: the undamaged copy resumes."""
    run = damaged_copy(trained, tmp_path, lambda r: None)
    code, _, err = run_cli([*RESUME, str(run)],
                           capsys)
    assert code == 0, err
    assert len(json.loads((run / "metrics.json").read_text())["buffered"]) == 3
