"""Write files so that a crash never leaves a half-written one behind.

Every writer goes to a temporary file in the destination's folder, then
renames it over the destination: rename within one file system is atomic, so
readers see either the old file or the whole new one.
"""

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from compare.common.errors import ConfigError


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


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    # mkstemp makes 0600 files; results are meant to be shared like any file
    # the user writes, so honour the umask instead.
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask():
    """The process's umask (reading it requires setting it; set it back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path, data):
    """Atomically write ``data`` (bytes) to ``path``."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def write_text(path, text):
    """Atomically write ``text`` (str, UTF-8) to ``path``."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path, obj):
    """Atomically write ``obj`` as indented JSON to ``path``."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")
