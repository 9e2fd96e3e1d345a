"""The real MNIST, as load_dataset delivers it, matches the published facts.

MNIST comes from the session's cache (see conftest: fetched from the
registry at most once per session, hence the ``network`` mark). The expected
numbers are typed here from LeCun's page and the checksum tables,
independently of compare/data/datasets.py, so a typo there cannot hide.
Fashion-MNIST is tested when Debian's package is installed, skipped otherwise.
"""

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from fake_data import snapshot

from compare.cli.app import main
from compare.data import cache
from compare.data.datasets import FASHION_MNIST, MNIST
from compare.data.load import Dataset, load_dataset

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
FIRST_TEN_TRAIN_LABELS = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
TRAIN_PIXELS_SHA256 = "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757"
RAW_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
# As Debian's dataset-fashion-mnist package ships them.
FASHION_GZ_SHA256 = {
    "train-images-idx3-ubyte": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "t10k-images-idx3-ubyte": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}
needs_fashion = pytest.mark.skipif(
    not FASHION_DIR.is_dir(),
    reason="Debian's dataset-fashion-mnist package is not installed "
           "(apt-get install dataset-fashion-mnist)")


@pytest.fixture(scope="module")
def mnist(mnist_cache: Path) -> Dataset:
    return load_dataset("mnist", quiet=True)


@pytest.mark.network
def test_mnist_has_the_canonical_split_shapes_and_types(mnist: Dataset) -> None:
    assert mnist.x_train.shape == (60000, 784) and mnist.x_test.shape == (10000, 784)
    assert mnist.x_train.dtype == np.float64
    assert mnist.y_train.dtype == np.int64 and mnist.y_train.shape == (60000,)
    assert mnist.n_classes == 10 and mnist.x_val is None


@pytest.mark.network
def test_mnist_class_counts_match_the_published_ones(mnist: Dataset) -> None:
    assert np.bincount(mnist.y_train, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(mnist.y_test, minlength=10).tolist() == TEST_COUNTS


@pytest.mark.network
def test_mnist_first_ten_train_labels(mnist: Dataset) -> None:
    assert mnist.y_train[:10].tolist() == FIRST_TEN_TRAIN_LABELS


@pytest.mark.network
@pytest.mark.slow
def test_mnist_train_pixels_are_the_canonical_bytes_over_255(mnist: Dataset) -> None:
    pixels = np.empty(mnist.x_train.shape, np.uint8)
    for rows in np.array_split(np.arange(60000), 6):  # chunks: no 376 MB temporaries
        chunk = mnist.x_train[rows]
        pixels[rows] = np.rint(chunk * 255)
        # Every float is exactly a byte / 255, not merely close to one.
        np.testing.assert_array_equal(pixels[rows] / 255, chunk)
    assert hashlib.sha256(pixels.tobytes()).hexdigest() == TRAIN_PIXELS_SHA256
    hist = np.bincount(pixels.ravel(), minlength=256)
    values = np.arange(256) / 255
    mean = hist @ values / hist.sum()
    std = np.sqrt(hist @ (values - mean) ** 2 / hist.sum())
    assert mean == pytest.approx(0.13066, abs=5e-6)
    assert std == pytest.approx(0.30811, abs=5e-6)


@pytest.mark.network
def test_mnist_cache_holds_the_four_published_raw_files(mnist_cache: Path) -> None:
    assert sorted(p.name for p in mnist_cache.iterdir()) == sorted(RAW_SHA256)
    for name, digest in RAW_SHA256.items():
        assert hashlib.sha256((mnist_cache / name).read_bytes()).hexdigest() == digest
    assert {f.name: f.sha256 for f in MNIST.files.values()} == RAW_SHA256


@pytest.mark.network
def test_mnist_second_load_comes_from_the_cache_and_float32_matches(mnist: Dataset) -> None:
    again = load_dataset("mnist", dtype="float32", quiet=True)
    assert again.source.startswith("cache ")
    assert again.x_train.dtype == np.float32
    np.testing.assert_allclose(again.x_train[:2000], mnist.x_train[:2000], rtol=0, atol=1e-7)


def _swap(data: bytearray, i: int, j: int) -> None:
    data[i], data[j] = data[j], data[i]


@pytest.mark.network
@pytest.mark.parametrize("name, damage", [
    ("t10k-labels-idx1-ubyte", lambda d: _swap(d, 8 + 0, 8 + 1)),     # test labels 7 and 2
    ("train-labels-idx1-ubyte", lambda d: _swap(d, 8 + 0, 8 + 1)),    # train labels 5 and 0
    ("t10k-images-idx3-ubyte", lambda d: d.__setitem__(16 + 200, d[16 + 200] ^ 1)),
])
def test_real_cache_with_one_change_is_refused_then_repaired(
        mnist_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], name: str, damage: object) -> None:
    copy = tmp_path / "cache" / "mnist"
    shutil.copytree(mnist_cache, copy)
    monkeypatch.setenv("TWINPROP_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("TWINPROP_REGISTRY", "off")
    data = bytearray((copy / name).read_bytes())
    damage(data)  # type: ignore[operator]
    (copy / name).write_bytes(bytes(data))
    before = snapshot(copy)
    assert main(["data", "info", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"cache file {copy / name}: SHA-256" in err and err.count("\n") == 1
    assert "twinprop data fetch --dataset mnist --repair" in err
    assert snapshot(copy) == before
    # The session's intact cache folder serves as --data-dir for the repair.
    assert main(["data", "fetch", "--repair", "--data-dir", str(mnist_cache), "--quiet"]) == 0
    assert f"repaired {name} from data-dir" in capsys.readouterr().out
    assert hashlib.sha256((copy / name).read_bytes()).hexdigest() == RAW_SHA256[name]


@needs_fashion
def test_fashion_mnist_catalog_checksums_are_those_of_debians_files() -> None:
    for fspec in FASHION_MNIST.files.values():
        gz = (FASHION_DIR / f"{fspec.name}.gz").read_bytes()
        assert hashlib.sha256(gz).hexdigest() == FASHION_GZ_SHA256[fspec.name]
        assert fspec.gz_sha256 == FASHION_GZ_SHA256[fspec.name]
        raw = gzip.decompress(gz)
        assert (len(raw), hashlib.sha256(raw).hexdigest()) == (fspec.size, fspec.sha256)


@needs_fashion
@pytest.mark.slow
def test_fashion_mnist_is_cached_from_the_package_and_has_6000_and_1000_per_class(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWINPROP_DATA", str(tmp_path / "cache"))
    ds = load_dataset("fashion-mnist", dtype="float32", quiet=True)
    assert ds.source == f"folder {FASHION_DIR}"
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    assert ds.y_train[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert ds.class_names[9] == "Ankle boot"
    assert load_dataset("fashion-mnist", quiet=True).source.startswith("cache ")
    assert cache.scan(FASHION_MNIST).complete
