"""load_dataset and ``twinprop data``: scaling, splits, every fault refused in one line.

The fault-injection tests damage each file of the cache and of a --data-dir
in each way a file gets damaged, and check that every command refuses it in
one line with exit status 2, names the file and the way out, and leaves the
cache byte for byte as it was (``data fetch --repair`` excepted, which must
repair just the damaged file).
"""

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from fake_data import (
    Arrays,
    LocalServer,
    gz_bytes,
    isolate,
    make_arrays,
    make_spec,
    read_only,
    snapshot,
    unreadable,
    write_folder,
)

from compare.cli.app import main
from compare.common.errors import ConfigError, DataError
from compare.data import cache, datasets
from compare.data.arrays import fetch_into_cache, load_arrays
from compare.data.datasets import DatasetSpec, Key
from compare.data.idx import encode_idx
from compare.data.load import load_dataset

REPO = Path(__file__).resolve().parents[1]
Tiny = tuple[DatasetSpec, Arrays, Path]


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Tiny:
    """A generated data set registered as "tiny", its files in tmp_path/dir (gz).

    The working folder is tmp_path, so a default output lands there.
    """
    isolate(monkeypatch, tmp_path)
    monkeypatch.chdir(tmp_path)
    arrays = make_arrays()
    spec = make_spec(arrays)
    monkeypatch.setitem(datasets.CATALOG, "tiny", spec)
    return spec, arrays, write_folder(tmp_path / "dir", spec, arrays)


def _one_line_error(capsys: pytest.CaptureFixture[str], status: int) -> str:
    out, err = capsys.readouterr()
    assert status == 2 and out == "", (status, out, err)
    # The project's errors say "twinprop: error:", argparse's "twinprop data ACTION: error:".
    assert err.count("\n") == 1 and err.startswith("twinprop") and ": error: " in err, err
    assert "Traceback" not in err
    return err


# ---- loading ---------------------------------------------------------------------------

def test_images_are_bytes_over_255_and_labels_int64(tiny: Tiny) -> None:
    spec, arrays, folder = tiny
    for dtype in ("float64", "float32", np.float32):
        ds = load_dataset("tiny", data_dir=folder, dtype=dtype, quiet=True)
        raw = arrays[("train", "images")]
        assert ds.x_train.dtype == np.dtype(dtype)
        assert ds.x_train.shape == (raw.shape[0], raw[0].size)
        expected = raw.reshape(len(raw), -1).astype(np.float64) / 255.0
        np.testing.assert_array_equal(ds.x_train, expected.astype(dtype))
        assert ds.x_train.min() >= 0 and ds.x_train.max() <= 1
        assert ds.y_train.dtype == np.int64 and ds.y_test.dtype == np.int64
        np.testing.assert_array_equal(ds.y_test, arrays[("test", "labels")])
        assert ds.x_val is None and ds.y_val is None
        assert ds.n_classes == 3 and ds.class_names == ("a", "b", "c")
        assert ds.source == f"data-dir {folder}"


def test_validation_split_is_carved_from_train_by_seed(tiny: Tiny) -> None:
    _, arrays, folder = tiny
    full = load_dataset("tiny", data_dir=folder, quiet=True)
    ds = load_dataset("tiny", data_dir=folder, validation=5, seed=3, quiet=True)
    assert ds.y_val is not None and ds.x_val is not None
    assert len(ds.y_val) == 5 and len(ds.y_train) == len(full.y_train) - 5
    # Together the two splits are the training set, each row exactly once.
    rows = {r.tobytes() for r in full.x_train}
    together = [r.tobytes() for r in np.concatenate([ds.x_train, ds.x_val])]
    assert len(set(together)) == len(together) and set(together) == rows
    again = load_dataset("tiny", data_dir=folder, validation=5, seed=3, quiet=True)
    np.testing.assert_array_equal(again.x_val, ds.x_val)
    other = load_dataset("tiny", data_dir=folder, validation=5, seed=4, quiet=True)
    assert other.x_val is not None and not np.array_equal(other.x_val, ds.x_val)
    frac = load_dataset("tiny", data_dir=folder, validation=0.25, quiet=True)
    assert frac.y_val is not None and len(frac.y_val) == round(0.25 * len(full.y_train))
    np.testing.assert_array_equal(ds.x_test, full.x_test)


def test_unsupported_dtype_is_a_config_error(tiny: Tiny) -> None:
    with pytest.raises(ConfigError, match="float16"):
        load_dataset("tiny", data_dir=tiny[2], dtype="float16", quiet=True)


@pytest.mark.parametrize("bad", [-1, 24, 1.5, "x"])
def test_validation_out_of_range_is_a_config_error_before_any_read(
        tiny: Tiny, tmp_path: Path, bad: float) -> None:
    with pytest.raises(ConfigError, match="validation"):
        load_dataset("tiny", data_dir=tmp_path / "no-such-folder", validation=bad, quiet=True)


def test_batches_follow_seed_and_epoch_only(tiny: Tiny) -> None:
    ds = load_dataset("tiny", data_dir=tiny[2], quiet=True)
    first = [y.tolist() for _, y in ds.batches(5, seed=1, epoch=2)]
    assert first == [y.tolist() for _, y in ds.batches(5, seed=1, epoch=2)]
    assert first != [y.tolist() for _, y in ds.batches(5, seed=1, epoch=3)]
    assert sorted(sum(first, [])) == sorted(ds.y_train.tolist())


def test_data_dir_fault_is_reported_even_when_the_cache_is_complete(tiny: Tiny) -> None:
    spec, _, folder = tiny
    assert main(["data", "fetch", "--dataset", "tiny", "--data-dir", str(folder),
                 "--quiet"]) == 0
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="no t10k-labels-idx1-ubyte or t10k-labels-idx1-ubyte.gz"):
        load_dataset("tiny", data_dir=folder, quiet=True)
    assert load_dataset("tiny", quiet=True).source.startswith("cache ")


def test_data_dir_with_other_data_fails_the_checksum(tiny: Tiny, tmp_path: Path) -> None:
    spec, _, _ = tiny
    other = write_folder(tmp_path / "other", spec, make_arrays(seed=1))
    with pytest.raises(DataError, match="SHA-256 .* is not tiny's"):
        load_dataset("tiny", data_dir=other, quiet=True)


def test_fetch_from_data_dir_fills_the_cache_and_info_then_reads_it(
        tiny: Tiny, capsys: pytest.CaptureFixture[str]) -> None:
    spec, arrays, folder = tiny
    assert main(["data", "fetch", "--dataset", "tiny", "--data-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "24 train + 9 test images, every file's SHA-256 verified" in out
    assert f"from data-dir {folder}" in out
    assert cache.scan(spec).complete
    assert main(["data", "fetch", "--dataset", "tiny"]) == 0
    assert "nothing to fetch" in capsys.readouterr().out
    assert main(["data", "info", "--dataset", "tiny", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["source"] == f"cache {cache.dataset_dir(spec)}" and info["cached"]
    for split in datasets.SPLITS:
        labels = arrays[(split, "labels")]
        assert info["splits"][split]["class_counts"] == np.bincount(labels, minlength=3).tolist()
        assert info["splits"][split]["images_shape"] == [len(labels), 20]
    assert info["splits"]["train"]["pixels_sha256"] == datasets.pixel_sha256(
        arrays[("train", "images")])


def test_info_text_names_source_cache_counts_and_checksums(
        tiny: Tiny, capsys: pytest.CaptureFixture[str]) -> None:
    spec, arrays, folder = tiny
    assert main(["data", "info", "--dataset", "tiny", "--data-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"data-dir {folder}" in out and str(cache.dataset_dir(spec)) in out
    assert "(not cached)" in out
    assert datasets.pixel_sha256(arrays[("test", "images")]) in out
    counts = np.bincount(arrays[("train", "labels")], minlength=3)
    assert " ".join(f"{n}:{c}" for n, c in zip("abc", counts)) in out


def test_show_writes_a_png_and_no_temporary_file(
        tiny: Tiny, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "png" / "grid.png"
    assert main(["data", "show", "--dataset", "tiny", "--data-dir", str(tiny[2]),
                 "--out", str(out), "--count", "7"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert os.listdir(out.parent) == ["grid.png"]
    assert "7 train images" in capsys.readouterr().out


# ---- malformed files in --data-dir, named by their fault ------------------------------------

FAULTS: dict[str, Callable[[Arrays], bytes]] = {
    "bad magic": lambda a: b"\x01" + encode_idx(a[("train", "images")])[1:],
    "wrong type byte": lambda a: encode_idx(a[("train", "images")])[:2] + b"\x0c"
    + encode_idx(a[("train", "images")])[3:],
    "truncated": lambda a: encode_idx(a[("train", "images")])[:-1],
    "trailing bytes": lambda a: encode_idx(a[("train", "images")]) + b"\x00",
    "count mismatch": lambda a: encode_idx(a[("train", "images")][:-1]),
}


@pytest.mark.parametrize("fault", [*FAULTS, "label out of range"])
def test_cli_reports_each_malformed_file_in_one_line_with_exit_2(
        tiny: Tiny, fault: str, capsys: pytest.CaptureFixture[str]) -> None:
    spec, arrays, folder = tiny
    if fault == "label out of range":
        labels = arrays[("train", "labels")].copy()
        labels[4] = 3
        name, data = "train-labels-idx1-ubyte", encode_idx(labels)
    else:
        name, data = "train-images-idx3-ubyte", FAULTS[fault](arrays)
    (folder / f"{name}.gz").unlink()
    (folder / name).write_bytes(data)
    err = _one_line_error(capsys, main(["data", "info", "--dataset", "tiny",
                                        "--data-dir", str(folder)]))
    assert fault in err


# ---- each file damaged in each way: cache and --data-dir ---------------------------------

def _swap_two_labels(raw: bytes) -> bytes:
    # make_arrays puts labels 0, 1, 2 first: positions 0 and 1 always differ.
    data = bytearray(raw)
    data[8], data[9] = data[9], data[8]
    return bytes(data)


def _change_one_pixel(raw: bytes) -> bytes:
    data = bytearray(raw)
    data[16 + (len(raw) - 16) // 2] ^= 0x01
    return bytes(data)


def _other_magic(raw: bytes) -> bytes:
    # An images file claiming to be labels and vice versa.
    return bytes([0, 0, 8, 1 if raw[3] == 3 else 3]) + raw[4:]


BYTE_FAULTS: dict[str, Callable[[bytes], bytes]] = {
    "empty": lambda raw: b"",
    "truncated": lambda raw: raw[:-1],
    "pixel changed": _change_one_pixel,
    "labels swapped": _swap_two_labels,
    "wrong magic": _other_magic,
}
SAYS = {"empty": "truncated: 0 bytes", "truncated": "truncated", "pixel changed": "SHA-256",
        "labels swapped": "SHA-256", "wrong magic": "bad magic", "folder": "is a folder",
        "unreadable": "cannot read"}
KEYS: list[Key] = [(s, k) for s in datasets.SPLITS for k in datasets.KINDS]
CASES = [(key, fault) for key in KEYS for fault in SAYS
         if not (fault == "pixel changed" and key[1] == "labels")
         and not (fault == "labels swapped" and key[1] == "images")]
IDS = [f"{split}-{kind}-{fault.replace(' ', '-')}" for (split, kind), fault in CASES]


@contextlib.contextmanager
def damaged(path: Path, fault: str) -> Iterator[None]:
    """Damage the file ``path`` in the way ``fault`` names, for the duration."""
    if fault == "unreadable":
        with unreadable(path):
            yield
        return
    if fault == "folder":
        path.unlink()
        path.mkdir()
    else:
        path.write_bytes(BYTE_FAULTS[fault](path.read_bytes()))
    yield


def _stamp(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, st.st_ctime_ns


@pytest.mark.parametrize("key, fault", CASES, ids=IDS)
def test_damaged_cache_file_is_refused_in_one_line_and_repair_mends_only_it(
        tiny: Tiny, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        key: Key, fault: str) -> None:
    spec, arrays, folder = tiny
    assert main(["data", "fetch", "--dataset", "tiny", "--data-dir", str(folder),
                 "--quiet"]) == 0
    capsys.readouterr()
    root = cache.cache_root()
    path = cache.cached_path(spec, key)
    stamps = {k: _stamp(cache.cached_path(spec, k)) for k in KEYS}
    png = tmp_path / "out" / "grid.png"
    with damaged(path, fault):
        before = snapshot(root)
        for command in (["data", "info"], ["data", "fetch"], ["data", "show", "--out", str(png)]):
            err = _one_line_error(capsys, main([*command, "--dataset", "tiny"]))
            assert f"cache file {path}" in err and SAYS[fault] in err, err
            assert "run 'twinprop data fetch --dataset tiny --repair'" in err
            assert snapshot(root) == before
        with pytest.raises(DataError, match="--repair"):
            load_dataset("tiny", quiet=True)
        assert snapshot(root) == before and not png.exists()
        status = main(["data", "fetch", "--dataset", "tiny", "--repair",
                       "--data-dir", str(folder)])
        out, err = capsys.readouterr()
        assert status == 0 and f"repaired {spec.files[key].name} from" in out, err
    loaded = cache.load(spec)
    for k in KEYS:
        np.testing.assert_array_equal(loaded[k], arrays[k])
        if k != key:   # the intact files were kept, not rewritten
            assert _stamp(cache.cached_path(spec, k)) == stamps[k]


@pytest.mark.parametrize("key, fault", CASES, ids=IDS)
def test_damaged_data_dir_file_is_refused_in_one_line_and_nothing_is_cached(
        tiny: Tiny, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        key: Key, fault: str) -> None:
    spec, arrays, _ = tiny
    folder = write_folder(tmp_path / "raw", spec, arrays, compress=False)
    path = folder / spec.files[key].name
    root = cache.cache_root()
    with damaged(path, fault):
        before = snapshot(folder)
        for command in (["data", "info"], ["data", "fetch"]):
            err = _one_line_error(capsys, main([*command, "--dataset", "tiny",
                                                "--data-dir", str(folder)]))
            assert f"--data-dir {path}" in err and SAYS[fault] in err, err
            assert snapshot(folder) == before and snapshot(root) == {}
        with pytest.raises(DataError, match=str(path)):
            load_dataset("tiny", data_dir=folder, quiet=True)


def test_damaged_cache_is_refused_by_the_console_command_without_a_traceback(
        tmp_path: Path) -> None:
    folder = tmp_path / "cache" / "mnist"
    folder.mkdir(parents=True)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(b"")
    env = dict(os.environ, TWINPROP_DATA=str(tmp_path / "cache"), TWINPROP_MIRRORS="",
               TWINPROP_REGISTRY="off")
    proc = subprocess.run([sys.executable, "-m", "compare", "data", "info"],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert f"cache file {folder / 't10k-labels-idx1-ubyte'}" in proc.stderr
    assert "twinprop data fetch --dataset mnist --repair" in proc.stderr
    assert (folder / "t10k-labels-idx1-ubyte").read_bytes() == b""


def test_console_command_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x08\x03")
    env = dict(os.environ, TWINPROP_DATA=str(tmp_path / "cache"), TWINPROP_MIRRORS="",
               TWINPROP_REGISTRY="off")
    proc = subprocess.run([sys.executable, "-m", "compare", "data", "info",
                           "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("twinprop: error: ") and "truncated" in proc.stderr


# ---- output locations and option domains, checked before any download --------------------

@pytest.fixture
def mirror(tiny: Tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    """A local mirror of "tiny" named by TWINPROP_MIRRORS; its ``requests`` show any download."""
    spec, arrays, _ = tiny
    served = tmp_path / "served"
    served.mkdir()
    for key, fspec in spec.files.items():
        (served / f"{fspec.name}.gz").write_bytes(gz_bytes(arrays[key]))
    with LocalServer(served) as server:
        monkeypatch.setenv("TWINPROP_MIRRORS", server.url)
        yield server


def test_the_local_mirror_serves_a_fetch_when_nothing_is_wrong(
        tiny: Tiny, mirror: LocalServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "fetch", "--dataset", "tiny", "--quiet"]) == 0
    assert len(mirror.requests) == 4 and f"from mirror {mirror.url}" in capsys.readouterr().out


@pytest.mark.parametrize("command", [["data", "fetch"], ["data", "info"],
                                     ["data", "show", "--out", "OUT/x.png"]])
@pytest.mark.parametrize("problem", ["a file", "under a file", "read-only"])
def test_unusable_cache_folder_is_refused_before_any_download(
        tiny: Tiny, mirror: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], command: list[str], problem: str) -> None:
    place = tmp_path / "place"
    if problem == "a file":
        place.write_text("not a folder")
        monkeypatch.setenv("TWINPROP_DATA", str(place))
    elif problem == "under a file":
        place.write_text("not a folder")
        monkeypatch.setenv("TWINPROP_DATA", str(place / "cache"))
    else:
        place.mkdir()
        monkeypatch.setenv("TWINPROP_DATA", str(place))
    argv = [a.replace("OUT", str(tmp_path / "out")) for a in command] + ["--dataset", "tiny"]
    with read_only(place) if problem == "read-only" else contextlib.nullcontext():
        err = _one_line_error(capsys, main(argv))
    assert "TWINPROP_DATA" in err and str(place) in err
    assert mirror.requests == []
    assert not (tmp_path / "out").exists()


def test_a_complete_read_only_cache_can_still_be_read(
        tiny: Tiny, capsys: pytest.CaptureFixture[str]) -> None:
    spec, arrays, folder = tiny
    assert main(["data", "fetch", "--dataset", "tiny", "--data-dir", str(folder),
                 "--quiet"]) == 0
    with read_only(cache.dataset_dir(spec)):
        assert load_dataset("tiny", quiet=True).source.startswith("cache ")


@pytest.mark.parametrize("out, says", [
    ("{file}/grid.png", "is a file, not a folder"),
    ("{file}/sub/grid.png", "which is a file"),
    ("{ro}/grid.png", "not writable"),
    ("{ro}/new/grid.png", "cannot be created"),
    ("{tmp}/grid.txt", "does not end in .png"),
    ("{tmp}/a-folder.png", "is a folder"),
])
def test_unusable_show_out_is_refused_before_any_download(
        tiny: Tiny, mirror: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        out: str, says: str) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "ro").mkdir()
    (tmp_path / "a-folder.png").mkdir()
    target = out.format(file=tmp_path / "file", ro=tmp_path / "ro", tmp=tmp_path)
    with read_only(tmp_path / "ro"):
        err = _one_line_error(capsys, main(["data", "show", "--dataset", "tiny",
                                            "--out", target]))
    assert "--out" in err and says in err
    assert mirror.requests == []


@pytest.mark.parametrize("argv, says", [
    (["data", "show", "--count", "0"], "0 is not in 1..400"),
    (["data", "show", "--count", "401"], "401 is not in 1..400"),
    (["data", "show", "--count", "many"], "'many' is not a whole number"),
    (["data", "show", "--count", "25"], "--count 25 is more than the 24 train images"),
    (["data", "show", "--split", "valid"], "invalid choice: 'valid'"),
    (["data", "info", "--dataset", "nope"], "invalid choice: 'nope'"),
    (["data", "info", "--data-dir", "{tmp}/missing"], "does not exist"),
    (["data", "fetch", "--data-dir", "{tmp}/file"], "is not a folder"),
    (["data", "fetch", "--repair", "--json"], "unrecognized arguments: --json"),
])
def test_each_option_outside_its_domain_exits_2_in_one_line_before_any_download(
        tiny: Tiny, mirror: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        argv: list[str], says: str) -> None:
    (tmp_path / "file").write_text("x")
    argv = [a.format(tmp=tmp_path) for a in argv]
    if "--dataset" not in argv:
        argv += ["--dataset", "tiny"]
    try:
        status = main(argv)
    except SystemExit as exit_info:   # argparse's usage errors
        status = int(exit_info.code or 0)
    err = _one_line_error(capsys, status)
    assert says in err
    assert mirror.requests == []


def test_cache_location_prefers_twinprop_data_then_xdg_then_home(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TWINPROP_DATA", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_root() == tmp_path / "a"
    monkeypatch.delenv("TWINPROP_DATA")
    assert cache.cache_root() == tmp_path / "xdg" / "twinprop"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_root() == tmp_path / "home" / ".cache" / "twinprop"
    assert cache.dataset_dir(datasets.MNIST) == tmp_path / "home" / ".cache" / "twinprop" / "mnist"


def test_the_suite_reads_its_own_cache_never_the_users(tmp_path: Path) -> None:
    """conftest points this process and every subprocess at the session's cache."""
    users = Path.home() / ".cache" / "twinprop"
    here = cache.cache_root()
    assert os.environ["TWINPROP_DATA"] == str(here)
    proc = subprocess.run([sys.executable, "-c", "from compare.data import cache; "
                           "print(cache.cache_root())"],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.stdout.strip() == str(here)
    chosen = os.environ.get("TWINPROP_TEST_DATA")
    if chosen:          # the cache the person running the tests named, whichever it is
        assert here.resolve() == Path(chosen).expanduser().resolve()
    else:               # beside the session's own temp folder, never the user's
        assert here != users
        assert here.parent == Path(tempfile.gettempdir()).parent


def _count_cache_checks(monkeypatch: pytest.MonkeyPatch) -> list[Key]:
    """The keys whose cached bytes get their SHA-256 checked, in order, from now on."""
    checked: list[Key] = []
    real = cache.check_sha256

    def counting(spec: DatasetSpec, key: Key, raw: bytes, where: str, fix: str) -> None:
        checked.append(key)
        real(spec, key, raw, where, fix)
    monkeypatch.setattr(cache, "check_sha256", counting)
    return checked


def test_a_fetch_with_nothing_to_do_reads_each_cached_file_once_and_no_data_dir_file(
        tiny: Tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    spec, arrays, folder = tiny
    fetch_into_cache(spec, data_dir=folder, quiet=True)
    checked = _count_cache_checks(monkeypatch)
    for path in folder.iterdir():
        path.unlink()   # nothing is needed from the folder: it is not read at all
    got, source, done = fetch_into_cache(spec, data_dir=folder, quiet=True)
    assert sorted(checked) == sorted(spec.files)
    assert source == f"cache {cache.dataset_dir(spec)}" and not any(done.values())
    assert all(np.array_equal(got[key], arrays[key]) for key in spec.files)


def test_after_a_fill_only_the_filled_file_is_read_back_and_verified(
        tiny: Tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    spec, arrays, folder = tiny
    fetch_into_cache(spec, data_dir=folder, quiet=True)
    gone: Key = ("test", "labels")
    cache.cached_path(spec, gone).unlink()
    checked = _count_cache_checks(monkeypatch)
    got, source, done = fetch_into_cache(spec, data_dir=folder, quiet=True)
    # The scan verifies the three cached files, the fill's read-back the fourth.
    assert sorted(checked) == sorted(spec.files) and checked[-1] == gone
    assert done["added"] == [spec.files[gone].name] and source == f"data-dir {folder}"
    assert list(got) == list(spec.files)
    assert all(np.array_equal(got[key], arrays[key]) for key in spec.files)


def test_a_load_that_fetches_a_missing_file_reads_each_cached_file_once(
        tiny: Tiny, mirror: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    spec, arrays, _ = tiny
    fetch_into_cache(spec, quiet=True)
    gone: Key = ("train", "images")
    cache.cached_path(spec, gone).unlink()
    checked = _count_cache_checks(monkeypatch)
    got, _ = load_arrays(spec, quiet=True)
    assert sorted(checked) == sorted(spec.files) and checked[-1] == gone
    assert len(mirror.requests) == 5
    assert list(got) == list(spec.files)
    assert all(np.array_equal(got[key], arrays[key]) for key in spec.files)
