"""Bring your own code: load a user's function or activation from a file or module.

A *spec* names where the code lives:

* ``PATH.py`` or ``PATH.py:NAME`` — a Python file (NAME defaults to the
  function the caller looks for);
* ``package.module`` or ``package.module:NAME`` — an importable module.

Everything that can go wrong while loading (no such file, an import that
raises, no function of that name) is a :class:`UserCodeError`: one line
naming the file and what to fix, which the CLI prints with exit status 2.
"""

import importlib
import importlib.util
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from compare.common.errors import ConfigError


class UserCodeError(ConfigError):
    """The user's file cannot be used as it is (exit status 2)."""


def split_spec(spec: str) -> tuple[str, str | None]:
    """``"a/b.py:f"`` -> ("a/b.py", "f"); ``"pkg.mod"`` -> ("pkg.mod", None)."""
    where, sep, name = spec.rpartition(":")
    # "C:\\x.py" style drive letters and plain paths have no name part
    if not sep or not name or "/" in name or "\\" in name or name.endswith(".py"):
        return spec, None
    return where, name


def is_path(where: str) -> bool:
    """True when ``where`` names a file rather than a module."""
    return where.endswith(".py") or "/" in where or "\\" in where


def load_module(where: str) -> ModuleType:
    """Import a file (``x.py``) or a module (``pkg.mod``), turning failures into one line.

    A file is imported under a private name with its folder on ``sys.path``
    for the duration, so it may import its neighbours.
    """
    if not is_path(where):
        try:
            return importlib.import_module(where)
        except ModuleNotFoundError as err:
            if err.name and where.startswith(err.name):
                raise UserCodeError(f"no module named {where!r}; give a file (PATH.py) or an "
                                    "importable module (package.module:NAME)") from None
            raise UserCodeError(f"{where}: importing it failed: {_one_line(err)}; "
                                "install or fix what it imports") from None
        except Exception as err:
            raise UserCodeError(f"{where}: importing it raised {_one_line(err)}"
                                f"{_where_in(err, None)}; fix the module") from None
    path = Path(where)
    if not path.is_file():
        raise UserCodeError(f"{where}: no such file; give the path of a .py file")
    name = f"_twinprop_user_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserCodeError(f"{where}: not a Python file Python can import; give a .py file")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        raise UserCodeError(f"{where}: syntax error at line {err.lineno}: {err.msg}; "
                            "fix the file") from None
    except SystemExit as err:
        # A script run on import: its exit would end twinprop with its status, silently.
        raise UserCodeError(f"{where}: importing it called sys.exit({err.code!r})"
                            f"{_where_in(err, path)}; put what runs the script under "
                            "if __name__ == '__main__':") from None
    except Exception as err:
        raise UserCodeError(f"{where}: importing it raised {_one_line(err)}"
                            f"{_where_in(err, path)}; fix the file") from None
    finally:
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
    return module


def load_function(spec: str, default_name: str, signature: str) -> tuple[Callable, str, str]:
    """The function a spec names.

    Args:
        spec: ``PATH.py[:NAME]`` or ``package.module[:NAME]``.
        default_name: the function's name when the spec gives none.
        signature: how the function must be called, for the message.
    Returns:
        (function, its name, the file or module it came from).
    Raises:
        UserCodeError: the file or module cannot be loaded, or has no such function.
    """
    where, name = split_spec(spec)
    name = name or default_name
    return function_of(load_module(where), where, name, signature), name, where


def function_of(module: ModuleType, where: str, name: str, signature: str) -> Callable:
    """The function ``name`` of a module already loaded from ``where``.

    Raises:
        UserCodeError: the module has no such function.
    """
    fn = getattr(module, name, None)
    if fn is None:
        defined = sorted(n for n, v in vars(module).items()
                         if callable(v) and not n.startswith("_")
                         and getattr(v, "__module__", None) == module.__name__)
        hint = f" (it defines {', '.join(defined[:5])})" if defined else ""
        raise UserCodeError(f"{where} defines no function {name}{hint}; define "
                            f"{signature}, or name yours as {where}:NAME")
    if not callable(fn):
        raise UserCodeError(f"{where}: {name} is a {type(fn).__name__}, not a function; "
                            f"define {signature}")
    return fn


def _one_line(err: BaseException) -> str:
    """``Type: message`` on one line."""
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _where_in(err: BaseException, path: Path | None) -> str:
    """ " (line N)" of the innermost frame in ``path`` (any frame when None), or ""."""
    frames = list(traceback.extract_tb(err.__traceback__))
    if path is not None:
        target = str(path.resolve())
        frames = [f for f in frames if Path(f.filename).resolve() == Path(target)]
    if not frames:
        return ""
    frame = frames[-1]
    text = f" at line {frame.lineno}"
    if frame.line:
        text += f" ({frame.line.strip()})"
    return text


def describe_exception(err: BaseException, source: str) -> str:
    """``Type: message at line N (code)`` for an exception raised inside user code.

    Args:
        source: the file the user's code lives in (its frames are searched).
    """
    return _one_line(err) + _where_in(err, Path(source))
