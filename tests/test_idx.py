"""IDX files: exact round trips, and every malformed file rejected by name."""

import gzip
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from compare.common.errors import DataError
from compare.data.idx import check_pair, decode_idx, encode_idx, read_idx, write_idx

shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=6)


@given(array=hnp.arrays(np.uint8, shapes), compress=st.booleans())
def test_idx_round_trip_preserves_shape_and_bytes_of_any_uint8_array(
        array: npt.NDArray[np.uint8], compress: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.idx"
        write_idx(path, array, compress=compress)
        assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
        back = read_idx(path)
    assert back.dtype == np.uint8
    assert back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_idx_header_is_the_canonical_big_endian_layout() -> None:
    images = np.zeros((2, 28, 28), np.uint8)
    header = encode_idx(images)[:16]
    assert int.from_bytes(header[:4], "big") == 2051
    assert [int.from_bytes(header[i:i + 4], "big") for i in (4, 8, 12)] == [2, 28, 28]
    assert int.from_bytes(encode_idx(np.zeros(7, np.uint8))[:4], "big") == 2049


def _images() -> bytes:
    return encode_idx(np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3))


def _set_byte(data: bytes, index: int, value: int) -> bytes:
    changed = bytearray(data)
    changed[index] = value
    return bytes(changed)


MALFORMED = {
    "bad magic": _set_byte(_images(), 0, 0x1F),
    "wrong type byte": _set_byte(_images(), 2, 0x0D),
    "truncated": _images()[:-1],
    "trailing bytes": _images() + b"\x00\x00",
}


@pytest.mark.parametrize("fault", sorted(MALFORMED))
@pytest.mark.parametrize("compress", [False, True])
def test_malformed_idx_file_raises_data_error_naming_file_and_fault(
        tmp_path: Path, fault: str, compress: bool) -> None:
    data = MALFORMED[fault]
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(DataError) as err:
        read_idx(path, expect_ndim=3)
    assert fault in str(err.value)
    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_header_shorter_than_its_dimensions_is_truncated() -> None:
    with pytest.raises(DataError, match="truncated"):
        decode_idx(bytes([0, 0, 8, 3, 0, 0]), expect_ndim=3)
    with pytest.raises(DataError, match="truncated"):
        decode_idx(b"\x00\x00")


def test_labels_file_where_images_are_expected_is_bad_magic() -> None:
    labels = encode_idx(np.zeros(5, np.uint8))
    with pytest.raises(DataError, match="bad magic 2049.*expected 2051"):
        decode_idx(labels, expect_ndim=3)


def test_corrupt_gzip_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(_images())[:-8])
    with pytest.raises(DataError, match="corrupt gzip"):
        read_idx(path)


def test_count_mismatch_between_images_and_labels_is_named() -> None:
    with pytest.raises(DataError, match="count mismatch: 2 images but 3 labels"):
        check_pair(np.zeros((2, 3, 3), np.uint8), np.zeros(3, np.uint8), 10, "pair")


def test_label_out_of_range_is_named_with_its_index() -> None:
    labels = np.array([0, 9, 10, 1], np.uint8)
    with pytest.raises(DataError, match="label out of range: label 10 at index 2"):
        check_pair(np.zeros((4, 3, 3), np.uint8), labels, 10, "pair")
    check_pair(np.zeros((4, 3, 3), np.uint8), labels, 11, "pair")  # in range for 11 classes
