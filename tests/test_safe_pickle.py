"""The restricted unpickler rebuilds numpy arrays and refuses every other global."""

import io
import os
import pickle
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from compare.common.errors import DataError
from compare.data import safe_pickle


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_restricted_unpickler_loads_pickled_numpy_arrays(protocol: int) -> None:
    rng = np.random.default_rng(0)
    data: tuple[np.ndarray, np.ndarray] = (
        (rng.integers(0, 256, (5, 784)) / 256).astype(np.float32),
        rng.integers(0, 10, 5).astype(np.int64))
    back: tuple[np.ndarray, np.ndarray] = safe_pickle.loads(pickle.dumps(data, protocol=protocol))
    for original, loaded in zip(data, back, strict=True):
        assert loaded.dtype == original.dtype
        np.testing.assert_array_equal(loaded, original)


def test_restricted_unpickler_reads_python2_array_pickles_as_latin1() -> None:
    # What Python 2 wrote for np.arange(3, dtype=uint8): the data is a str.
    py2 = (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x01cnumpy\nndarray\nq\x02K\x00"
           b"\x85U\x01b\x87Rq\x03(K\x01K\x03\x85cnumpy\ndtype\nq\x04U\x02u1K\x00K\x01\x87Rq\x05"
           b"(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89U\x03\x00\x01\x02tb.")
    np.testing.assert_array_equal(safe_pickle.loads(py2), np.arange(3, dtype=np.uint8))


class _Calls:
    """Pickles as a call of ``func(*args)``: what a malicious pickle does."""

    def __init__(self, func: Callable[..., object], args: tuple[object, ...]) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Callable[..., object], tuple[object, ...]]:
        return self.func, self.args


def test_restricted_unpickler_refuses_os_system_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Calls(os.system, (f"touch {marker}",)), protocol=2)
    with pytest.raises(DataError, match=r"refused to unpickle.*(posix|os)\.system"):
        safe_pickle.loads(payload)
    assert not marker.exists()
    # The same bytes through the standard unpickler would have run the command.
    assert b"system" in payload


@pytest.mark.parametrize("func, args", [
    (eval, ("1+1",)),
    (getattr, ("text", "upper")),
    (subprocess.Popen, (["true"],)),
    (np.load, ("x.npy",)),
    (io.open, ("x", "w")),
    (np.frombuffer, (b"\x00", np.uint8)),   # a numpy global, yet not an array builder
])
def test_restricted_unpickler_refuses_any_other_global(
        func: Callable[..., object], args: tuple[object, ...]) -> None:
    with pytest.raises(DataError, match="refused to unpickle"):
        safe_pickle.loads(pickle.dumps(_Calls(func, args), protocol=2))


def test_restricted_unpickler_refuses_an_array_holding_a_forbidden_object() -> None:
    arr = np.array([None, _Calls(os.getcwd, ())], dtype=object)
    with pytest.raises(DataError, match="refused to unpickle"):
        safe_pickle.loads(pickle.dumps(arr, protocol=2))


def test_truncated_pickle_is_a_data_error() -> None:
    data = pickle.dumps(np.arange(100), protocol=2)
    with pytest.raises(DataError, match="cannot unpickle"):
        safe_pickle.loads(data[:len(data) // 2])
