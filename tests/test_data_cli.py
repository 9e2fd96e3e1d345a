"""load_dataset and ``twinprop data``: sources, scaling, splits, one-line errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fake_data import isolate, make_arrays, make_spec, refused_url, write_folder

from compare.cli.app import main
from compare.common.errors import ConfigError, DataError
from compare.data import cache, datasets
from compare.data.idx import encode_idx
from compare.data.load import load_dataset

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """A generated data set registered as "tiny", its files in tmp_path/dir (gz)."""
    isolate(monkeypatch, tmp_path)
    arrays = make_arrays()
    spec = make_spec(arrays)
    monkeypatch.setitem(datasets.CATALOG, "tiny", spec)
    return spec, arrays, write_folder(tmp_path / "dir", spec, arrays)


def test_images_are_bytes_over_255_and_labels_int64(tiny):
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


def test_validation_split_is_carved_from_train_by_seed(tiny):
    _, arrays, folder = tiny
    full = load_dataset("tiny", data_dir=folder, quiet=True)
    ds = load_dataset("tiny", data_dir=folder, validation=5, seed=3, quiet=True)
    assert len(ds.y_val) == 5 and len(ds.y_train) == len(full.y_train) - 5
    # Together the two splits are the training set, each row exactly once.
    rows = {r.tobytes() for r in full.x_train}
    together = [r.tobytes() for r in np.concatenate([ds.x_train, ds.x_val])]
    assert len(set(together)) == len(together) and set(together) == rows
    again = load_dataset("tiny", data_dir=folder, validation=5, seed=3, quiet=True)
    np.testing.assert_array_equal(again.x_val, ds.x_val)
    other = load_dataset("tiny", data_dir=folder, validation=5, seed=4, quiet=True)
    assert not np.array_equal(other.x_val, ds.x_val)
    frac = load_dataset("tiny", data_dir=folder, validation=0.25, quiet=True)
    assert len(frac.y_val) == round(0.25 * len(full.y_train))
    np.testing.assert_array_equal(ds.x_test, full.x_test)


def test_unsupported_dtype_is_a_config_error(tiny):
    with pytest.raises(ConfigError, match="float16"):
        load_dataset("tiny", data_dir=tiny[2], dtype="float16", quiet=True)


@pytest.mark.parametrize("bad", [-1, 24, 1.5, "x"])
def test_validation_out_of_range_is_a_config_error(tiny, bad):
    with pytest.raises(ConfigError, match="validation"):
        load_dataset("tiny", data_dir=tiny[2], validation=bad, quiet=True)


def test_batches_follow_seed_and_epoch_only(tiny):
    ds = load_dataset("tiny", data_dir=tiny[2], quiet=True)
    first = [y.tolist() for _, y in ds.batches(5, seed=1, epoch=2)]
    assert first == [y.tolist() for _, y in ds.batches(5, seed=1, epoch=2)]
    assert first != [y.tolist() for _, y in ds.batches(5, seed=1, epoch=3)]
    assert sorted(sum(first, [])) == sorted(ds.y_train.tolist())


def test_data_dir_fault_is_reported_even_when_the_cache_is_complete(tiny, tmp_path):
    spec, arrays, folder = tiny
    cache.store(spec, arrays)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="no t10k-labels-idx1-ubyte or t10k-labels-idx1-ubyte.gz"):
        load_dataset("tiny", data_dir=folder, quiet=True)
    assert load_dataset("tiny", quiet=True).source.startswith("cache ")


def test_data_dir_with_other_data_fails_the_content_check(tiny, tmp_path):
    spec, _, _ = tiny
    other = write_folder(tmp_path / "other", spec, make_arrays(seed=1))
    with pytest.raises(DataError, match="class counts|first train labels|SHA-256"):
        load_dataset("tiny", data_dir=other, quiet=True)


def test_damaged_cache_is_reported_with_how_to_refetch(tiny):
    spec, arrays, _ = tiny
    folder = cache.store(spec, arrays)
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(DataError) as err:
        load_dataset("tiny", quiet=True)
    assert "truncated" in str(err.value) and "twinprop data fetch" in str(err.value)


def test_fetch_from_data_dir_fills_the_cache_and_info_then_reads_it(tiny, capsys):
    spec, arrays, folder = tiny
    assert main(["data", "fetch", "--dataset", "tiny", "--data-dir", str(folder)]) == 0
    assert "24 train + 9 test images verified" in capsys.readouterr().out
    assert cache.is_complete(spec)
    assert main(["data", "info", "--dataset", "tiny", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["source"] == f"cache {cache.dataset_dir(spec)}" and info["cached"]
    for split in datasets.SPLITS:
        labels = arrays[(split, "labels")]
        assert info["splits"][split]["class_counts"] == np.bincount(labels, minlength=3).tolist()
        assert info["splits"][split]["images_shape"] == [len(labels), 20]
    assert info["splits"]["train"]["pixels_sha256"] == spec.train_pixels_sha256


def test_info_text_names_source_cache_counts_and_checksums(tiny, capsys):
    spec, _, folder = tiny
    assert main(["data", "info", "--dataset", "tiny", "--data-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"data-dir {folder}" in out and str(cache.dataset_dir(spec)) in out
    assert spec.train_pixels_sha256 in out
    counts = " ".join(f"{n}:{c}" for n, c in zip("abc", spec.class_counts["train"]))
    assert counts in out


def test_show_writes_a_png_and_no_temporary_file(tiny, tmp_path, capsys):
    out = tmp_path / "png" / "grid.png"
    assert main(["data", "show", "--dataset", "tiny", "--data-dir", str(tiny[2]),
                 "--out", str(out), "--count", "7"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert os.listdir(out.parent) == ["grid.png"]
    assert "7 train images" in capsys.readouterr().out


FAULTS = {
    "bad magic": lambda a: b"\x01" + encode_idx(a[("train", "images")])[1:],
    "wrong type byte": lambda a: encode_idx(a[("train", "images")])[:2] + b"\x0c"
    + encode_idx(a[("train", "images")])[3:],
    "truncated": lambda a: encode_idx(a[("train", "images")])[:-1],
    "trailing bytes": lambda a: encode_idx(a[("train", "images")]) + b"\x00",
    "count mismatch": lambda a: encode_idx(a[("train", "images")][:-1]),
}


@pytest.mark.parametrize("fault", [*FAULTS, "label out of range"])
def test_cli_reports_each_malformed_file_in_one_line_with_exit_2(tiny, fault, capsys):
    spec, arrays, folder = tiny
    if fault == "label out of range":
        labels = arrays[("train", "labels")].copy()
        labels[4] = 3
        name, data = "train-labels-idx1-ubyte", encode_idx(labels)
    else:
        name, data = "train-images-idx3-ubyte", FAULTS[fault](arrays)
    (folder / f"{name}.gz").unlink()
    (folder / name).write_bytes(data)
    status = main(["data", "info", "--dataset", "tiny", "--data-dir", str(folder)])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("twinprop: error: ")
    assert fault in err


def test_console_command_exits_2_with_one_line_and_no_traceback(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x08\x03")
    env = dict(os.environ, TWINPROP_DATA=str(tmp_path / "cache"),
               TWINPROP_MIRRORS=refused_url(), TWINPROP_REGISTRY="off")
    proc = subprocess.run([sys.executable, "-m", "compare", "data", "info",
                           "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("twinprop: error: ") and "truncated" in proc.stderr


def test_unknown_dataset_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "info", "--dataset", "nope"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_cache_location_prefers_twinprop_data_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("TWINPROP_DATA", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_root() == tmp_path / "a"
    monkeypatch.delenv("TWINPROP_DATA")
    assert cache.cache_root() == tmp_path / "xdg" / "twinprop"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_root() == tmp_path / "home" / ".cache" / "twinprop"
    assert cache.dataset_dir(datasets.MNIST) == tmp_path / "home" / ".cache" / "twinprop" / "mnist"
