"""Vouch for every byte: decode IDX files and match them against the catalog.

A copy is accepted only when each of its four files decodes as well-formed
IDX, each split's images and labels belong together, and each file's raw
bytes have the catalog's SHA-256. The structural checks come first because
they name the fault ("truncated", "bad magic", "label out of range"); the
checksum then catches everything else, down to one changed pixel or two
swapped labels.
"""

import hashlib

import numpy as np
import numpy.typing as npt

from compare.common.errors import DataError
from compare.data.datasets import SPLITS, DatasetSpec, Key
from compare.data.idx import check_pair, decode_idx


def expect_ndim(key: Key) -> int:
    """Dimensions of the file ``key``: 3 for images (n, rows, cols), 1 for labels (n,)."""
    return 3 if key[1] == "images" else 1


def decode(key: Key, raw: bytes, where: str, fix: str) -> npt.NDArray[np.uint8]:
    """Decode one file's raw IDX bytes; DataError ``where: fault; fix`` if malformed.

    Returns:
        uint8 array, images (n, rows, cols) or labels (n,), a view of ``raw``.
    """
    return decode_idx(raw, where=where, expect_ndim=expect_ndim(key), fix=fix)


def check_sha256(spec: DatasetSpec, key: Key, raw: bytes, where: str, fix: str) -> None:
    """DataError unless ``raw`` has the catalog's SHA-256 for file ``key``."""
    want = spec.files[key].sha256
    got = hashlib.sha256(raw).hexdigest()
    if got != want:
        raise DataError(f"{where}: SHA-256 {got[:16]}... is not {spec.name}'s {want[:16]}...: "
                        f"its bytes differ from the canonical {spec.files[key].name}; {fix}")


def check_copy(spec: DatasetSpec, raws: dict[Key, bytes], wheres: dict[Key, str],
               fix: str) -> dict[Key, npt.NDArray[np.uint8]]:
    """Check a whole copy (four files' raw bytes) and return its arrays.

    Args:
        spec: the data set.
        raws: {(split, kind): the file's raw IDX bytes}.
        wheres: {(split, kind): how messages name the file}.
        fix: the way out every message ends with.
    Returns:
        {(split, kind): uint8 array}, images (n, rows, cols), labels (n,); views of ``raws``.
    Raises:
        DataError naming the first faulty file and its fault.
    """
    arrays = {key: decode(key, raws[key], wheres[key], fix) for key in spec.files}
    for split in SPLITS:
        check_pair(arrays[(split, "images")], arrays[(split, "labels")], spec.n_classes,
                   where=f"{wheres[(split, 'labels')]} with its images", fix=fix)
    for key in spec.files:
        check_sha256(spec, key, raws[key], wheres[key], fix)
    return arrays
