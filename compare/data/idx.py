"""Read, write and validate IDX files, the format MNIST ships in.

An IDX file is a 4-byte magic number (two zero bytes, a type byte, the number
of dimensions), one big-endian uint32 per dimension, then the values in C
order. Only the unsigned-byte type (0x08) is used by MNIST and supported here.
A file is valid only if its length is exactly header + product of dimensions.
Files may be gzip-compressed; compression is recognised by its magic bytes,
not by the file name.
"""

import gzip
import os
import zlib

import numpy as np
import numpy.typing as npt

from compare.atomic import write_bytes
from compare.common.errors import DataError

UBYTE = 0x08
IMAGES_MAGIC = 0x00000803  # 2051: uint8, 3 dimensions (count, rows, cols)
LABELS_MAGIC = 0x00000801  # 2049: uint8, 1 dimension (count)
_GZIP_MAGIC = b"\x1f\x8b"
_TYPE_NAMES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "short",
               0x0C: "int", 0x0D: "float", 0x0E: "double"}


def encode_idx(array: npt.ArrayLike) -> bytes:
    """Return the IDX bytes of a uint8 array of any shape with at least one dimension."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8 or array.ndim < 1 or array.ndim > 255:
        raise ValueError(f"IDX here holds uint8 arrays of 1..255 dimensions, got "
                         f"{array.dtype} with {array.ndim} dimensions")
    header = bytes([0, 0, UBYTE, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + array.tobytes()


REPLACE = "replace the file with a complete copy"


def decode_idx(data: bytes, where: str = "IDX data", expect_ndim: int | None = None,
               fix: str = REPLACE) -> npt.NDArray[np.uint8]:
    """Decode IDX bytes (raw, not gzip) into a read-only uint8 array without copying.

    Args:
        data: the file's bytes.
        where: the file name used in error messages.
        expect_ndim: if given, the number of dimensions the file must have
            (3 for images, 1 for labels).
        fix: the way out each message ends with.
    Returns:
        uint8 array whose shape is the header's dimensions.
    Raises:
        DataError naming ``where`` and the fault: bad magic, wrong type byte,
        truncated, or trailing bytes.
    """
    if len(data) < 4:
        raise DataError(f"{where}: truncated: {len(data)} bytes, shorter than the "
                        f"4-byte IDX magic number; {fix}")
    if data[0] != 0 or data[1] != 0:
        raise DataError(f"{where}: bad magic 0x{bytes(data[:4]).hex()}: not an IDX file "
                        f"(it must start with two zero bytes); {fix}")
    type_byte, ndim = data[2], data[3]
    if type_byte != UBYTE:
        kind = _TYPE_NAMES.get(type_byte, "unknown type")
        raise DataError(f"{where}: wrong type byte 0x{type_byte:02x} ({kind}); only 0x08 "
                        f"(unsigned byte) is supported; {fix}")
    if ndim == 0 or (expect_ndim is not None and ndim != expect_ndim):
        magic = int.from_bytes(bytes(data[:4]), "big")
        wanted = {3: f"{IMAGES_MAGIC} (images)", 1: f"{LABELS_MAGIC} (labels)"}.get(
            expect_ndim or 0, "at least one dimension")
        raise DataError(f"{where}: bad magic {magic} ({ndim} dimensions), expected {wanted}; "
                        f"are images and labels swapped? {fix}")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DataError(f"{where}: truncated: {len(data)} bytes, shorter than its "
                        f"{header_len}-byte header; {fix}")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header_len + int(np.prod(shape, dtype=np.int64))
    if len(data) < expected:
        raise DataError(f"{where}: truncated: {len(data)} bytes, the header {shape} needs "
                        f"{expected}; {fix}")
    if len(data) > expected:
        raise DataError(f"{where}: {len(data) - expected} trailing bytes after the "
                        f"{expected} bytes the header {shape} describes; {fix}")
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(shape)


def read_bytes(path: "str | os.PathLike[str]") -> bytes:
    """Return a file's bytes, gunzipped if it starts with the gzip magic."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise DataError(f"{path}: cannot read: {err.strerror}; check the path and "
                        f"its permissions") from None
    return gunzip(data, where=str(path))


def gunzip(data: bytes, where: str) -> bytes:
    """``data`` decompressed if it starts with the gzip magic, else as it is."""
    if data[:2] != _GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{where}: corrupt gzip ({err}); replace the file with a "
                        f"complete copy") from None


def read_idx(path: "str | os.PathLike[str]", expect_ndim: int | None = None
             ) -> npt.NDArray[np.uint8]:
    """Read and validate one IDX file (raw or gzip); return its uint8 array.

    See :func:`decode_idx` for ``expect_ndim`` and the faults reported.
    """
    return decode_idx(read_bytes(path), where=str(path), expect_ndim=expect_ndim)


def write_idx(path: "str | os.PathLike[str]", array: npt.ArrayLike, compress: bool = False
              ) -> None:
    """Atomically write a uint8 array as an IDX file, gzip-compressed if ``compress``."""
    data = encode_idx(array)
    if compress:
        # mtime=0 makes the same array always give the same bytes.
        data = gzip.compress(data, mtime=0)
    write_bytes(path, data)


def check_pair(images: npt.NDArray[np.uint8], labels: npt.NDArray[np.uint8], n_classes: int,
               where: str, fix: str | None = None) -> None:
    """Check that an images/labels pair belongs together.

    Args:
        images: uint8 (n, rows, cols).
        labels: uint8 (n,).
        n_classes: labels must lie in ``0..n_classes-1``.
        where: names the pair in error messages.
    Raises:
        DataError on a count mismatch or a label out of range.
    """
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{where}: count mismatch: {images.shape[0]} images but "
                        f"{labels.shape[0]} labels; {fix or 'the two files are not one split'}")
    if labels.size and int(labels.max()) >= n_classes:
        bad = int(np.argmax(labels >= n_classes))
        raise DataError(f"{where}: label out of range: label {int(labels[bad])} at index "
                        f"{bad}, classes are 0..{n_classes - 1}; "
                        f"{fix or 'the labels file is corrupt'}")
