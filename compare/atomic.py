"""Write files so that a crash never leaves a half-written one behind (and read .npz back).

Every writer goes to a temporary file in the destination's folder, then
renames it over the destination: rename within one file system is atomic, so
readers see either the old file or the whole new one. A process killed
mid-write leaves its temporary (``.<name>.<8 characters>.tmp``) behind;
:func:`remove_stale_temporaries` clears those on the next run in that folder.
"""

import contextlib
import json
import os
import re
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compare.common.errors import ConfigError

_ZIP_MAGIC = b"PK\x03\x04"
# mkstemp's random part: 8 characters of [a-z0-9_].
_RANDOM_PART = r"[a-z0-9_]{8}"


def check_output_dir(path: "str | os.PathLike[str]", what: str) -> Path:
    """Refuse, before any work starts, a folder that a run could not write into.

    The folder may exist or not; what exists of it must be a folder we can
    write into, and the first existing ancestor of a missing one must be a
    writable folder (so it can be created). Nothing is created here.

    Args:
        path: the folder the run will write.
        what: how the user named it, for the message (e.g. "--out", "TWINPROP_DATA").
    Returns:
        ``path`` as a Path.
    Raises:
        ConfigError: one line naming the folder, why, and the way out.
    """
    path = Path(path)
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        where = "is a file" if probe == path else f"is under {probe}, which is a file"
        raise ConfigError(f"{what} {path} {where}, not a folder; choose another {what}")
    if not os.access(probe, os.W_OK | os.X_OK):
        where = "is not writable" if probe == path else (
            f"cannot be created: {probe} is not writable")
        raise ConfigError(f"{what} {path} {where}; choose a folder you can write to")
    return path


def check_output_file(path: "str | os.PathLike[str]", what: str) -> Path:
    """Refuse, before any work starts, a file path that could not be written atomically.

    The file may exist or not, but must not be a folder, and its folder must
    pass :func:`check_output_dir` (the temporary is written beside it).

    Returns:
        ``path`` as a Path.
    Raises:
        ConfigError: one line naming the path, why, and the way out.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{what} {path} is a folder, not a file; move it away or give "
                          f"{what} another file name")
    try:
        check_output_dir(path.parent, what)
    except ConfigError as err:
        raise ConfigError(f"{what} {path} cannot be written: {err}") from None
    return path


@contextlib.contextmanager
def atomic_path(path: "str | os.PathLike[str]") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    # mkstemp makes 0600 files; results are meant to be shared like any file
    # the user writes, so honour the umask instead.
    os.fchmod(fd, 0o666 & ~current_umask())
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def stale_temporaries(folder: "str | os.PathLike[str]", names: Iterable[str]) -> list[Path]:
    """The temporaries :func:`atomic_path` left in ``folder`` for the files ``names``.

    Only names of exactly the form ``.<name>.<8 characters>.tmp`` count, so
    no file of the user's is ever taken for one.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    pattern = re.compile("|".join(rf"\.{re.escape(name)}\.{_RANDOM_PART}\.tmp"
                                  for name in names))
    return sorted(p for p in folder.iterdir() if pattern.fullmatch(p.name) and p.is_file())


def remove_stale_temporaries(folder: "str | os.PathLike[str]",
                             names: Iterable[str]) -> list[Path]:
    """Delete what :func:`stale_temporaries` finds; return the paths deleted.

    Call it only when no other process writes ``folder``: a temporary being
    written right now looks the same as one left by a killed process.
    """
    removed = []
    for path in stale_temporaries(folder, names):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


def current_umask() -> int:
    """The process's umask (reading it requires setting it; set it back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: "str | os.PathLike[str]", data: bytes) -> None:
    """Atomically write ``data`` to ``path``."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def write_text(path: "str | os.PathLike[str]", text: str) -> None:
    """Atomically write ``text`` (UTF-8) to ``path``."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: "str | os.PathLike[str]", obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON to ``path``."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_npz(path: "str | os.PathLike[str]", arrays: dict[str, Any]) -> None:
    """Atomically write arrays (name -> ndarray) to ``path`` as an .npz archive (no pickle)."""
    with atomic_path(path) as tmp:
        # A file object, not a name: np.savez would append ".npz" to the name.
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())


class UnreadableArchive(ValueError):
    """An .npz file that cannot be read; the message says why (no path in it)."""


def read_npz(path: "str | os.PathLike[str]") -> dict[str, NDArray]:
    """Every array of an .npz archive, read without unpickling anything.

    Raises:
        FileNotFoundError: there is no such file.
        UnreadableArchive: the file is empty, not an .npz archive, or damaged.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(len(_ZIP_MAGIC))
        if head != _ZIP_MAGIC:
            # np.load would guess another format (and suggest unpickling it)
            raise UnreadableArchive("is empty" if not head else "is not an .npz archive")
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        # A member not written by np.save (no .npy header) comes back as bytes.
        odd = sorted(name for name, value in arrays.items() if not isinstance(value, np.ndarray))
        if odd:
            raise UnreadableArchive(f"holds {odd[0]!r}, which is not an array")
        return arrays
    except FileNotFoundError:
        raise
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile,
            zipfile.LargeZipFile, zlib.error) as err:
        if isinstance(err, UnreadableArchive):
            raise
        raise UnreadableArchive(f"is unreadable ({type(err).__name__}: {err})") from None
