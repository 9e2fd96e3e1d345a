"""The real MNIST, as load_dataset delivers it, matches the published facts.

Uses the real cache (fetched on the first run, reused afterwards). The
expected numbers are typed here from LeCun's page and the checksum tables,
independently of compare/data/datasets.py, so a typo there cannot hide.
"""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from compare.data import cache
from compare.data.datasets import FASHION_MNIST
from compare.data.load import load_dataset

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
FIRST_TEN_TRAIN_LABELS = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
TRAIN_PIXELS_SHA256 = "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757"


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist")


def test_mnist_has_the_canonical_split_shapes_and_types(mnist):
    assert mnist.x_train.shape == (60000, 784) and mnist.x_test.shape == (10000, 784)
    assert mnist.x_train.dtype == np.float64
    assert mnist.y_train.dtype == np.int64 and mnist.y_train.shape == (60000,)
    assert mnist.n_classes == 10 and mnist.x_val is None


def test_mnist_class_counts_match_the_published_ones(mnist):
    assert np.bincount(mnist.y_train, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(mnist.y_test, minlength=10).tolist() == TEST_COUNTS


def test_mnist_first_ten_train_labels(mnist):
    assert mnist.y_train[:10].tolist() == FIRST_TEN_TRAIN_LABELS


def test_mnist_train_pixels_are_the_canonical_bytes_over_255(mnist):
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


def test_mnist_second_load_comes_from_the_cache_and_float32_matches(mnist):
    again = load_dataset("mnist", dtype="float32", quiet=True)
    assert again.source.startswith("cache ")
    assert again.x_train.dtype == np.float32
    np.testing.assert_allclose(again.x_train[:2000], mnist.x_train[:2000], rtol=0, atol=1e-7)


def test_fashion_mnist_has_6000_and_1000_images_per_class():
    if not (Path("/usr/share/datasets/fashion-mnist").is_dir() or cache.is_complete(FASHION_MNIST)):
        pytest.skip("Debian's dataset-fashion-mnist package is not installed")
    ds = load_dataset("fashion-mnist", dtype="float32", quiet=True)
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    assert ds.y_train[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert ds.class_names[9] == "Ankle boot"
