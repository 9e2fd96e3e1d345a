"""The small Markdown subset the report uses, as one self-contained HTML page.

Handles headings, paragraphs, bullet lists, pipe tables, fenced code, inline
code, bold and links; an image on a line of its own is embedded as a base64
data URI, so the page needs no file beside it to show its figures.
"""

import base64
import html
import re
from pathlib import Path

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

_IMAGE = re.compile(r"^!\[([^\]]*)\]\(([^)]+)\)$")
_RULE = re.compile(r"^\|[\s:|-]+$")  # a table's header separator, |---|---|
_INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)]+)\)")


def inline(text):
    """Escape ``text`` and render `code`, **bold** and [links](href)."""
    out, last = [], 0
    for match in _INLINE.finditer(text):
        out.append(html.escape(text[last:match.start()]))
        code, bold, label, href = match.groups()
        if code is not None:
            out.append(f"<code>{html.escape(code)}</code>")
        elif bold is not None:
            out.append(f"<strong>{html.escape(bold)}</strong>")
        else:
            out.append(f'<a href="{html.escape(href, quote=True)}">{html.escape(label)}</a>')
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def image_tag(alt, path, base):
    """An <img> whose source is the PNG's bytes (base64), not a file reference."""
    data = base64.b64encode((Path(base) / path).read_bytes()).decode("ascii")
    return f'<p><img alt="{html.escape(alt, quote=True)}" src="data:image/png;base64,{data}"></p>'


def _cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def to_html(markdown, base, title):
    """Render ``markdown`` as a whole HTML page.

    Args:
        markdown: the report text.
        base: folder that image paths in the text are relative to.
        title: the page title.
    Returns:
        str, HTML with every image embedded.
    """
    lines, body, i = markdown.splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.startswith("```"):
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")),
                       len(lines))
            body.append(f"<pre>{html.escape(chr(10).join(lines[i + 1:end]))}</pre>")
            i = end + 1
        elif line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")), 6)
            body.append(f"<h{level}>{inline(line[level:].strip())}</h{level}>")
            i += 1
        elif _IMAGE.match(line.strip()):
            alt, path = _IMAGE.match(line.strip()).groups()
            body.append(image_tag(alt, path, base))
            i += 1
        elif line.startswith("|") and i + 1 < len(lines) and _RULE.match(lines[i + 1]):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append(lines[i])
                i += 1
            head, rows = _cells(block[0]), [_cells(r) for r in block[2:]]
            body.append("<table><tr>" + "".join(f"<th>{inline(c)}</th>" for c in head)
                        + "</tr>" + "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r)
                                            + "</tr>" for r in rows) + "</table>")
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{inline(lines[i][2:])}</li>")
                i += 1
            body.append("<ul>" + "".join(items) + "</ul>")
        else:
            para = []
            while (i < len(lines) and lines[i].strip()
                   and not lines[i].startswith(("#", "- ", "```"))
                   and not (lines[i].startswith("|") and i + 1 < len(lines)
                            and _RULE.match(lines[i + 1]))
                   and not _IMAGE.match(lines[i].strip())):
                para.append(lines[i].strip())
                i += 1
            body.append(f"<p>{inline(' '.join(para))}</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")
