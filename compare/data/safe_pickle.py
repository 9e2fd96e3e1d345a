"""Unpickle numpy arrays without letting the pickle run code.

A pickle names the functions it calls by (module, name); the standard
unpickler imports whatever it names, so a crafted file can call os.system.
This one resolves only the few numpy globals that rebuild an ndarray and
refuses every other name before anything is imported.
"""

import codecs
import importlib
import io
import pickle
from typing import IO, Any

import numpy as np

from compare.common.errors import DataError


def _numpy_core(module: str, name: str) -> Any:
    """``numpy._core.module.name`` (numpy >= 2), else ``numpy.core.module.name`` (1.x)."""
    try:
        return getattr(importlib.import_module(f"numpy._core.{module}"), name)
    except ImportError:
        return getattr(importlib.import_module(f"numpy.core.{module}"), name)


_reconstruct = _numpy_core("multiarray", "_reconstruct")
_frombuffer = _numpy_core("numeric", "_frombuffer")

# (module, name) as written in the pickle -> the object it stands for. Both
# spellings of the numpy core module occur: old pickles say numpy.core.
ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    # Python 3 writes an array's bytes in a protocol-2 pickle as
    # _codecs.encode(text, "latin1"); encoding a string runs no code.
    ("_codecs", "encode"): codecs.encode,
    # protocol-5 pickles rebuild arrays from a buffer
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler whose globals are limited to :data:`ALLOWED_GLOBALS`."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise DataError(f"refused to unpickle: the pickle asks for {module}.{name}, "
                            f"which is not one of the numpy array builders allowed; "
                            f"the file is not a plain array pickle, do not load it") from None


def load(fileobj: "IO[bytes] | io.BufferedIOBase", encoding: str = "latin1") -> Any:
    """Unpickle one object from a binary file object, allowing only numpy arrays.

    ``encoding="latin1"`` reads Python 2 pickles of numpy arrays byte-for-byte.
    """
    try:
        return RestrictedUnpickler(fileobj, encoding=encoding).load()
    except DataError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
        raise DataError(f"cannot unpickle the data: {type(err).__name__}: {err}; the file "
                        f"is corrupt or not a numpy array pickle") from None


def loads(data: bytes, encoding: str = "latin1") -> Any:
    """Like :func:`load`, from bytes."""
    return load(io.BytesIO(data), encoding=encoding)
