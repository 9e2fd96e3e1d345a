"""Markdown as one self-contained HTML page, through markdown-it-py.

markdown-it-py follows CommonMark and renders GitHub's pipe tables; raw HTML
in the text is escaped, not passed through. Every image is embedded as a
base64 data URI, so the page needs no file beside it to show its figures.
"""

import base64
import html
import mimetypes
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1150px; margin: 2em auto;
       padding: 0 1em; line-height: 1.45; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.88em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.55em; text-align: left;
         vertical-align: top; }
th { background: #f2f2f2; }
img { max-width: 100%; }
code { background: #f4f4f4; padding: 0 0.2em; }
pre { background: #f4f4f4; padding: 0.6em; overflow-x: auto; }
"""


def data_uri(path: Path) -> str:
    """The file's bytes as a ``data:`` URI, typed by its suffix."""
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _parser(base: Path) -> MarkdownIt:
    """A CommonMark parser with tables whose images are read from under ``base``."""
    md = MarkdownIt("commonmark", {"html": False}).enable("table")

    def image(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict,
              env: EnvType) -> str:
        token = tokens[idx]
        alt = self.renderInlineAsText(token.children or [], options, env)
        path = base / str(token.attrGet("src") or "")
        kind = mimetypes.guess_type(path.name)[0] or ""
        if not (kind.startswith("image/") and path.is_file()):
            # Said on the page rather than linked: a link would leave the page.
            return f"<em>[image not found: {html.escape(str(path))}]</em>"
        return f'<img src="{data_uri(path)}" alt="{html.escape(alt, quote=True)}">'

    md.add_render_rule("image", image)
    return md


def to_html(markdown: str, base: "Path | str", title: str) -> str:
    """Render ``markdown`` as a whole HTML page.

    Args:
        markdown: the report text.
        base: folder that image paths in the text are relative to.
        title: the page title.
    Returns:
        The page, with every image embedded.
    """
    env: dict[str, Any] = {}
    body = _parser(Path(base)).render(markdown, env)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>\n"
            + body + "</body></html>\n")
