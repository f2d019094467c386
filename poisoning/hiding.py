"""Hiding places: where a document can carry text a human reader does not see, per format.

Each writer produces one document whose visible text is ``visible`` and which carries ``hidden`` in one place a
person viewing the rendered page (a browser, a PDF viewer, a Markdown preview) does not see. Whether the hidden
text reaches a RAG index is then a property of the extractor: ``ragpoison ingest`` (the common loaders' defaults)
keeps some places and not others; visible-text extraction keeps none. Places follow what indirect prompt
injection and RAG poisoning reports use: CSS-hidden elements, white-on-white and off-screen text, attributes and
comments in HTML (Greshake et al., 2023, "Not what you've signed up for"); invisible text render mode, text under
an image, white text and metadata fields in PDF (the "hidden text layer" of PDF poisoning reports); link titles,
comments and raw HTML in Markdown.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

HTML_PAGE = ("<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title>{head}</head>"
             "<body><h1>{title}</h1><p>{visible}</p>{body}</body></html>")


def _html(title: str, visible: str, head: str = "", body: str = "") -> str:
    return HTML_PAGE.format(title=html.escape(title), visible=html.escape(visible), head=head, body=body)


def _h(text: str) -> str:
    return html.escape(text)


HTML_PLACES: dict[str, Callable[[str, str, str], str]] = {
    "hidden-element": lambda t, v, x: _html(t, v, body=f'<div style="display:none">{_h(x)}</div>'),
    "white-text": lambda t, v, x: _html(t, v, body=f'<p style="color:#ffffff">{_h(x)}</p>'),
    "off-screen": lambda t, v, x: _html(t, v, body=f'<p style="position:absolute;left:-9999px">{_h(x)}</p>'),
    "zero-font": lambda t, v, x: _html(t, v, body=f'<span style="font-size:0">{_h(x)}</span>'),
    "css-class": lambda t, v, x: _html(t, v, head="<style>.note-x{display:none}</style>",
                                       body=f'<p class="note-x">{_h(x)}</p>'),
    "attribute": lambda t, v, x: _html(t, v, body=f'<img src="figure.png" alt="{_h(x)}" title="{_h(x)}">'),
    "comment": lambda t, v, x: _html(t, v, body=f"<!-- {x.replace('--', '-')} -->"),
}

MARKDOWN_PLACES: dict[str, Callable[[str, str, str], str]] = {
    "link-title": lambda t, v, x: (f'# {t}\n\n{v}\n\nSee [the guideline](https://example.org/g '
                                   f'"{x.replace(chr(34), "")}").\n'),
    "comment": lambda t, v, x: f"# {t}\n\n{v}\n\n<!-- {x.replace('--', '-')} -->\n",
    "hidden-html": lambda t, v, x: f'# {t}\n\n{v}\n\n<div style="display:none">{_h(x)}</div>\n',
}

PDF_PLACES = ("invisible-render", "white-text", "under-image", "metadata")

PLACES: dict[str, tuple[str, ...]] = {"html": tuple(HTML_PLACES), "pdf": PDF_PLACES,
                                      "markdown": tuple(MARKDOWN_PLACES)}
SUFFIX = {"html": ".html", "pdf": ".pdf", "markdown": ".md"}


def _wrapped(text: str, width: int = 90) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width) or [""]


def _pdf(path: Path, title: str, visible: str, hidden: str, place: str) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4, invariant=1)  # invariant: no timestamps, same bytes each time
    pdf.setTitle(title)
    body = pdf.beginText(40, 800)
    body.textLine(title)
    for line in _wrapped(visible):
        body.textLine(line)
    pdf.drawText(body)
    if place == "metadata":
        pdf.setSubject(hidden)
        pdf.setKeywords(hidden)
    else:
        text = pdf.beginText(40, 600)
        if place == "invisible-render":
            text.setTextRenderMode(3)
        elif place == "white-text":
            text.setFillColorRGB(1, 1, 1)
        lines = _wrapped(hidden)
        for line in lines:
            text.textLine(line)
        pdf.drawText(text)
        if place == "under-image":  # an opaque box drawn over the text, as a figure placed on top of it
            from PIL import Image
            from reportlab.lib.utils import ImageReader

            box = Image.new("RGB", (8, 8), (200, 200, 200))
            pdf.drawImage(ImageReader(box), 30, 600 - 14 * len(lines), width=540, height=14 * len(lines) + 16)
    pdf.save()


def write_document(folder: Path, name: str, fmt: str, place: str, title: str, visible: str, hidden: str) -> Path:
    """Write one document hiding ``hidden`` at ``place``; returns its path."""
    if place not in PLACES.get(fmt, ()):
        raise ValueError(f"unknown hiding place {place!r} for {fmt}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}{SUFFIX[fmt]}"
    if fmt == "pdf":
        _pdf(path, title, visible, hidden, place)
    else:
        writer = HTML_PLACES[place] if fmt == "html" else MARKDOWN_PLACES[place]
        path.write_text(writer(title, visible, hidden), encoding="utf-8")
    return path
