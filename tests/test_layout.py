"""The rules of the house, read from the code's own imports.

* ``manual`` never imports autograd; ``manual`` and ``autodiff`` never
  import each other: agreement between independent twins means something.
* The twins import from ``compare`` only its leaf modules (``compare.common``),
  and those import nothing else of ``compare``.
* Outside ``compare/twins.py`` (the registry), the trainer, the checks, the
  reproduction and the benchmark never import a twin: they take twins from
  the registry. They may read the activation registry (``manual.activations``).
* ``compare/`` keeps at most a dozen modules at its top level; its parts are
  folders, and a part imports only parts on a lower level (``LEVELS``), so
  the parts never import each other in a circle.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOP_LEVEL_LIMIT = 12
PARTS = ("common", "data", "train", "gradcheck", "derivatives", "reproduce", "bench", "cli")
# Each part of compare/ may import the parts on lower levels only.
LEVELS = {"common": 0, "data": 1, "train": 2, "gradcheck": 2,
          "derivatives": 3, "reproduce": 3, "bench": 3, "cli": 4}


def _is_module(name):
    """True when ``name`` is a module or package of this repository."""
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(path):
    """Every module a file imports, anywhere in it (relative imports are not used here).

    ``from a import b`` counts as importing ``a.b`` when that is a module of
    this repository, else as importing ``a``.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                names.add(full if _is_module(full) else node.module)
    return names


def files_of(package):
    return sorted((ROOT / package).rglob("*.py"))


def offending(package, rule):
    """[(file, imported module)] for every import in ``package`` that ``rule`` refuses."""
    return [(str(path.relative_to(ROOT)), name) for path in files_of(package)
            for name in sorted(imports_of(path)) if rule(path, name)]


def _is(name, *roots):
    return any(name == root or name.startswith(root + ".") for root in roots)


def test_manual_never_imports_autograd_or_autodiff():
    assert offending("manual", lambda path, name: _is(name, "autograd", "autodiff")) == []


def test_autodiff_never_imports_manual():
    assert offending("autodiff", lambda path, name: _is(name, "manual")) == []


@pytest.mark.parametrize("twin", ["manual", "autodiff"])
def test_twins_import_only_the_leaf_modules_of_compare(twin):
    def refused(path, name):
        return _is(name, "compare") and not _is(name, "compare.common")
    assert offending(twin, refused) == []


def test_the_leaf_modules_import_nothing_else_of_compare():
    def refused(path, name):
        return _is(name, "compare") and not _is(name, "compare.common")
    assert offending("compare/common", refused) == []


def test_twins_are_taken_from_the_registry():
    """Only compare/twins.py imports a twin; others may read the activation registry."""
    allowed = {"manual.activations"}

    def refused(path, name):
        if path.name == "twins.py" and path.parent.name == "compare":
            return False
        if "derivatives" in path.parts and name == "autodiff":
            return False        # the derivative study differentiates each activation alone
        return _is(name, "manual", "autodiff") and name not in allowed
    assert offending("compare", refused) == []


def test_compare_shows_its_parts_as_folders():
    top = [p.name for p in (ROOT / "compare").glob("*.py")]
    assert len(top) <= TOP_LEVEL_LIMIT, sorted(top)
    for part in PARTS:
        assert (ROOT / "compare" / part / "__init__.py").is_file(), part


def test_the_parts_of_compare_import_only_parts_below_them():
    assert sorted(LEVELS) == sorted(PARTS)

    def upward(path, name):
        part = path.relative_to(ROOT / "compare").parts[0]
        other = name.split(".")[1] if _is(name, "compare") and name.count(".") else None
        return other in LEVELS and other != part and LEVELS[other] >= LEVELS[part]

    assert [hit for part in PARTS for hit in offending(f"compare/{part}", upward)] == []


def test_importing_the_manual_twin_loads_no_autograd():
    code = ("import sys, manual, manual.buffered; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('autograd', 'autodiff')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    assert out.strip() == "[]"
