"""Set up a local virtual environment and run the demo or the tests.

Run from the repository root with nothing but Python 3.10+::

    python3 -m compare.bootstrap demo    # fetch MNIST, train and compare the twins
    python3 -m compare.bootstrap test    # run the whole test suite (pytest)

It makes ``.venv`` if there is none and installs the project into it
(editable, with the ``dev`` and ``cluster`` extras, so the Dask path is tested
too) whenever ``pyproject.toml`` changed since the last install. ``test``
first runs the lint (ruff) and the type checker (mypy), both configured in
pyproject.toml, then pytest. Standard library only: it runs before anything
is installed.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".twinprop-installed"
EXTRAS = "dev,cluster"

# The main job, one twinprop command per step: get MNIST, prove the
# hand-derived gradients right, then train both twins in lockstep with the
# paper's best setting and draw their curves side by side.
DEMO_STEPS = [
    ["data", "fetch"],
    ["data", "info"],
    ["gradcheck"],
    ["compare", "--out", "runs/demo", "--force"],
    ["derivatives", "--out", "runs/demo/derivatives", "--force"],
]


# What the test command runs before pytest (each configured in pyproject.toml).
LINT = [["ruff", "check", "."], ["mypy"]]


def venv_bin(name: str) -> Path:
    """Path of an executable inside the virtual environment."""
    folder = "Scripts" if os.name == "nt" else "bin"
    return VENV / folder / name


def ensure_venv() -> None:
    """Create ``.venv`` and install the project, unless already up to date."""
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + EXTRAS.encode()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == want:
        return
    if not venv_bin("python").exists():
        print(f"bootstrap: creating {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    print("bootstrap: installing twinprop and its dependencies into .venv", flush=True)
    run([venv_bin("python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    run([venv_bin("python"), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[{EXTRAS}]"])
    STAMP.write_text(want + "\n")


def run(cmd: list[object], env: dict[str, str] | None = None) -> None:
    """Run ``cmd``; exit with its status if it fails."""
    status = subprocess.call([str(c) for c in cmd], cwd=ROOT, env=env)
    if status != 0:
        sys.exit(status)


def main(argv: list[str] | None = None) -> int:
    """``demo`` or ``test [pytest options]``; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ("demo", "test"):
        print("usage: python3 -m compare.bootstrap demo|test [pytest options]", file=sys.stderr)
        return 2
    ensure_venv()
    if argv[0] == "demo":
        for step in DEMO_STEPS:
            print(f"\n$ twinprop {' '.join(step)}", flush=True)
            run([venv_bin("twinprop"), *step])
        print(f"\nThe twins' curves: {ROOT / 'runs/demo/curves.png'} "
              f"(data: runs/demo/metrics.json); the derivative study: runs/demo/derivatives/",
              flush=True)
        return 0
    for check in LINT:
        print(f"bootstrap: {' '.join(check)}", flush=True)
        run([venv_bin("python"), "-m", *check])
    env = dict(os.environ, HYPOTHESIS_PROFILE=os.environ.get("HYPOTHESIS_PROFILE", "ci"))
    run([venv_bin("python"), "-m", "pytest", *argv[1:]], env=env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
