"""The README and docs/ agree with the code: links resolve, named paths exist,
the architecture page lists every part and every registered twin, and the
README's two commands are the ones CI and the bootstrap run."""

import re
from pathlib import Path

import pytest

from compare.bootstrap import DEMO_STEPS
from compare.twins import TWINS

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
README_LINES = 180


def _links(page: Path) -> list[str]:
    """Relative link and image targets of a Markdown page (no anchors, no URLs)."""
    targets = re.findall(r"\]\(([^)\s]+)\)", page.read_text())
    return [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:", t) and t.split("#")[0]]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page: Path) -> None:
    missing = [t for t in _links(page) if not (page.parent / t).exists()]
    assert missing == []


def test_paths_named_on_the_architecture_page_exist() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`((?:manual|autodiff|compare|tests|examples)/[\w/.]*)`", text))
    assert named, "the page names no paths"
    assert sorted(p for p in named if not (ROOT / p).exists()) == []


def test_the_architecture_page_lists_every_part_and_every_twin() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    parts = sorted(p.name for p in (ROOT / "compare").iterdir()
                   if (p / "__init__.py").is_file())
    assert [p for p in parts if f"`compare/{p}/`" not in text] == []
    listed = re.findall(r"^\| `(\w+)` \| `(manual|autodiff)/", text, flags=re.M)
    assert [name for name, _ in listed] == list(TWINS)
    top = sorted(p.name for p in (ROOT / "compare").glob("*.py") if p.name != "__init__.py")
    assert [m for m in top if f"`{m}`" not in text] == []


def test_the_readme_is_a_front_door() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= README_LINES
    first_screen = "\n".join(text.splitlines()[:40])
    assert "python3 -m compare.bootstrap demo" in first_screen
    assert "python3 -m compare.bootstrap test" in first_screen
    assert re.search(r"!\[[^\]]*\]\([^)]+\.png\)", first_screen), "no figure on the first screen"
    assert "python3 -m compare.bootstrap test" in (ROOT / ".ci" / "run").read_text()
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"docs/{page.name}" in text, f"README does not link docs/{page.name}"


def test_the_demo_runs_commands_that_exist() -> None:
    from compare.cli.app import build_parser
    commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert {step[0] for step in DEMO_STEPS} <= commands
