"""The one data pipeline both twins share: a verified data set, scaled and split.

Where the bytes come from and how every one of them is checked is
:mod:`compare.data.arrays`; here they become float images and int64 labels.
"""

import numbers
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from compare.common.dtypes import DTYPES
from compare.common.errors import ConfigError
from compare.data.arrays import load_arrays
from compare.data.batches import batch_indices
from compare.data.datasets import get_spec


@dataclass
class Dataset:
    """A loaded data set; images are floats in [0, 1] (byte / 255), labels int64.

    x_train (n_train, 784), y_train (n_train,), x_test (n_test, 784),
    y_test (n_test,), x_val / y_val (n_val, 784) / (n_val,) or None.
    """

    name: str
    x_train: npt.NDArray[np.floating]
    y_train: npt.NDArray[np.int64]
    x_test: npt.NDArray[np.floating]
    y_test: npt.NDArray[np.int64]
    x_val: npt.NDArray[np.floating] | None
    y_val: npt.NDArray[np.int64] | None
    n_classes: int
    source: str
    class_names: tuple[str, ...]

    def batches(self, batch_size: int | None, seed: int, epoch: int
                ) -> Iterator[tuple[npt.NDArray[np.floating], npt.NDArray[np.int64]]]:
        """Yield (X (b, 784), y (b,)) minibatches of the training set in the
        order fixed by (seed, epoch) (see :mod:`compare.data.batches`)."""
        for idx in batch_indices(len(self.y_train), batch_size, seed, epoch):
            yield self.x_train[idx], self.y_train[idx]


def load_dataset(name: str = "mnist", data_dir: "str | os.PathLike[str] | None" = None,
                 dtype: "str | npt.DTypeLike" = "float64", validation: float = 0, seed: int = 0,
                 quiet: bool = False) -> Dataset:
    """Load a data set as floats in [0, 1], fetching it into the cache if needed.

    Args:
        name: "mnist" or "fashion-mnist".
        data_dir: a folder holding the four IDX files (.gz or raw); when given,
            only this folder is read.
        dtype: "float64" or "float32" for the images.
        validation: number of training images (or, if a float in (0, 1), the
            fraction of them) moved into a validation split, chosen by ``seed``;
            0 for none.
        seed: seeds the validation split.
        quiet: no progress lines on stderr.
    Returns:
        Dataset.
    """
    try:
        dtype_name = np.dtype(dtype).name  # accepts "float32", np.float32, np.dtype("float32")
    except TypeError:
        dtype_name = repr(dtype)
    if dtype_name not in DTYPES:
        raise ConfigError(f"dtype {dtype_name!r} is not supported; use one of "
                          f"{', '.join(DTYPES)}")
    spec = get_spec(name)
    n_val = _validation_count(validation, spec.count("train"))
    arrays, source = load_arrays(spec, data_dir=data_dir, quiet=quiet)
    x_train = to_float(arrays[("train", "images")], dtype_name)
    y_train = arrays[("train", "labels")].astype(np.int64)
    x_val: npt.NDArray[np.floating] | None = None
    y_val: npt.NDArray[np.int64] | None = None
    if n_val:
        train_idx, val_idx = split_indices(len(y_train), n_val, seed)
        x_train, x_val = x_train[train_idx], x_train[val_idx]
        y_train, y_val = y_train[train_idx], y_train[val_idx]
    return Dataset(
        name=spec.name, x_train=x_train, y_train=y_train,
        x_test=to_float(arrays[("test", "images")], dtype_name),
        y_test=arrays[("test", "labels")].astype(np.int64),
        x_val=x_val, y_val=y_val, n_classes=spec.n_classes, source=source,
        class_names=spec.class_names,
    )


def to_float(images: npt.NDArray[np.uint8], dtype: str = "float64"
             ) -> npt.NDArray[np.floating]:
    """uint8 (n, rows, cols) -> ``dtype`` (n, rows*cols), each value byte / 255."""
    flat = images.reshape(images.shape[0], -1)
    # Division in the target dtype is correctly rounded, so float32 is not a
    # rounded float64 but the nearest float32 to byte/255.
    return np.true_divide(flat, 255, dtype=np.dtype(dtype))


def _validation_count(validation: object, n_train: int) -> int:
    """Number of validation images asked for: an int count or a fraction in (0, 1)."""
    count = -1
    if isinstance(validation, float) and 0 < validation < 1:
        count = int(round(validation * n_train))
    elif isinstance(validation, numbers.Integral) or validation == 0:
        count = int(validation)
    if not 0 <= count < n_train:
        raise ConfigError(f"validation={validation!r} must be a count in 0..{n_train - 1} "
                          f"or a fraction in (0, 1)")
    return count


def split_indices(n: int, n_val: int, seed: int
                  ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Carve ``n_val`` of ``n`` training indices into a validation split.

    Returns:
        (train_idx (n - n_val,), val_idx (n_val,)), each sorted, so both splits
        keep the data set's original order; which images go where depends only
        on ``seed``.
    """
    rng = np.random.default_rng([int(seed), 0x5A11D])
    perm = rng.permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


__all__ = ["Dataset", "load_arrays", "load_dataset", "split_indices", "to_float"]
