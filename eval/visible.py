"""Visible-text extraction: only what a person viewing the rendered document sees.

HTML: elements hidden by the ``hidden`` attribute, ``aria-hidden``, or CSS (inline, or a simple class or id rule
in the page's ``<style>``: ``display:none``, ``visibility:hidden``, ``font-size:0``, ``opacity:0``, positions far
off-screen, white text with no dark background set) are dropped with everything inside them; comments, scripts,
styles and attributes never count. PDF: text drawn in an invisible render mode (3, 7), text filled white, and text
an image is drawn over afterwards are dropped; metadata is never text. Markdown: HTML comments, link and image
titles, image alt text and raw HTML hidden as above are dropped, and the rest stays source text, so a chunk of a
visible Markdown passage is found verbatim in it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_HIDING = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?:px|pt|em|%)?\s*(?:;|$)"
                     r"|opacity\s*:\s*0(?:\.0+)?\s*(?:;|$)|(?:left|top|text-indent)\s*:\s*-\d{4,}", re.I)
_WHITE = re.compile(r"(?<![-\w])color\s*:\s*(?:#fff(?:fff)?|white|rgb\(\s*255\s*,\s*255\s*,\s*255\s*\))", re.I)
_DARK_BG = re.compile(r"background(?:-color)?\s*:\s*(?!#fff|white|transparent)", re.I)


def _hidden_selectors(soup: Any) -> tuple[set[str], set[str]]:
    classes: set[str] = set()
    ids: set[str] = set()
    for style in soup.find_all("style"):
        for selectors, rules in re.findall(r"([^{}]+)\{([^}]*)\}", style.get_text()):
            if _HIDING.search(rules) or (_WHITE.search(rules) and not _DARK_BG.search(rules)):
                for selector in selectors.split(","):
                    selector = selector.strip()
                    if re.fullmatch(r"\.[\w-]+", selector):
                        classes.add(selector[1:])
                    elif re.fullmatch(r"#[\w-]+", selector):
                        ids.add(selector[1:])
    return classes, ids


def visible_html(markup: str) -> str:
    """The text a browser shows of an HTML page (title excluded)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    classes, ids = _hidden_selectors(soup)
    for tag in soup.find_all(True):
        if tag.decomposed:
            continue
        style = str(tag.get("style") or "")
        hidden = (tag.has_attr("hidden") or str(tag.get("aria-hidden", "")).lower() == "true"
                  or bool(_HIDING.search(style)) or (bool(_WHITE.search(style)) and not _DARK_BG.search(style))
                  or bool(classes & set(tag.get("class") or [])) or tag.get("id") in ids)
        if hidden or tag.name in ("title", "script", "style", "noscript", "template"):
            tag.decompose()
    return soup.get_text("\n")


def visible_markdown(text: str) -> str:
    """Markdown source with what its preview does not show taken out."""
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r'(\]\([^)\s]+)\s+"[^"]*"\)', r"\1)", text)  # link and image titles
    text = re.sub(r"!\[[^\]]*\]", "![]", text)  # image alt text
    text = re.sub(r"(?m)^(\s*\[[^\]]+\]:\s*\S+)\s+\"[^\"]*\"\s*$", r"\1", text)  # reference titles
    if "<" in text:
        text = re.sub(r"<(\w+)[^>]*?(?:style=\"[^\"]*\"|hidden)[^>]*>.*?</\1>",
                      lambda m: "" if _HIDING.search(m[0].split(">", 1)[0]) or " hidden" in m[0].split(">", 1)[0]
                      else m[0], text, flags=re.S)
    return text


def visible_pdf(path: Path) -> str:
    """The text a PDF viewer shows: no invisible render modes, no white fill, nothing under a later image."""
    from pypdf import PdfReader

    return "\n".join(_visible_page(page) for page in PdfReader(path, strict=False).pages)


def _visible_page(page: Any) -> str:
    state: dict[str, Any] = {"mode": 0, "white": False, "order": 0}
    stack: list[dict[str, Any]] = []
    pieces: list[tuple[str, float, float, int]] = []
    covers: list[tuple[float, float, float, float, int]] = []

    def before(op: bytes, args: Any, cm: Any, tm: Any) -> None:
        state["order"] += 1
        if op == b"q":
            stack.append(dict(state))
        elif op == b"Q" and stack:
            order = state["order"]
            state.update(stack.pop())
            state["order"] = order
        elif op == b"Tr" and args:
            state["mode"] = int(args[0])
        elif op in (b"rg", b"g", b"k", b"sc", b"scn") and args:
            values = [float(a) for a in args if isinstance(a, (int, float))]
            white = [1.0] * len(values) if op != b"k" else [0.0] * len(values)
            state["white"] = bool(values) and values == white
        elif op == b"Do":
            x0, y0 = float(cm[4]), float(cm[5])
            x1, y1 = x0 + float(cm[0]), y0 + float(cm[3])
            covers.append((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1), state["order"]))

    def text(value: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if not value or state["mode"] in (3, 7) or state["white"]:
            return
        x = float(tm[4]) * float(cm[0]) + float(tm[5]) * float(cm[2]) + float(cm[4])
        y = float(tm[4]) * float(cm[1]) + float(tm[5]) * float(cm[3]) + float(cm[5])
        pieces.append((value, x, y, state["order"]))

    page.extract_text(visitor_operand_before=before, visitor_text=text)
    return "".join(value for value, x, y, order in pieces
                   if not any(x0 <= x <= x1 and y0 <= y <= y1 and drawn > order for x0, y0, x1, y1, drawn in covers))


def words(text: str) -> str:
    """Text reduced to lower-case words separated by single spaces (for containment checks)."""
    return " ".join(re.findall(r"\w+", text.lower()))
