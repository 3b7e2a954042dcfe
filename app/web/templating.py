"""The one Jinja2 environment of the HTML pages (autoescape always on) and its display filters."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from app import textformat, timefmt
from app.auth.identity import Caller
from app.calls.sipmsg import call_id_in
from app.display import BIDI_CONTROLS, show_bidi
from app.signatures.verdict import inconclusive_case
from app.web.csrf import csrf_field

TEMPLATES_DIR = Path(__file__).resolve().parent.parent.parent / "templates"
SEVERITIES = ("critical", "error", "warning", "info")
BUG_SEARCH = "https://bst.cloudapps.cisco.com/bugsearch/bug/"


def human_size(size: int | None) -> str:
    """1536 -> '1.5 KiB'; bytes below 1 KiB are shown exactly."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


_SIP_METHOD = re.compile(r"(?:\bMethod=|\bCSeq:[ \t]*\d+[ \t]+)([A-Z]{3,12})\b")
FOLDED_ALWAYS = frozenset({"OPTIONS", "REGISTER"})


def call_link(text: str) -> tuple[str, str] | None:
    """(query string of the call list, link text) for the SIP message a log text names: its
    call by Call-ID, or for OPTIONS and REGISTER (keep-alive traffic, counted per peer and
    method, never listed as calls) the rows of that method; None when it names no Call-ID."""
    call_id = call_id_in(text)
    if not call_id:
        return None
    method = _SIP_METHOD.search(text)
    if method is not None and method[1] in FOLDED_ALWAYS:
        return urlencode({"method": method[1]}), f"its {method[1]} traffic"
    return urlencode({"q": call_id}), "its call"


def utc_time(moment: datetime | str | None) -> str:
    """A moment in the one format of every page: '2026-11-27 14:03:05.123Z' (app.timefmt)."""
    return timefmt.utc(moment)


def iso_time(moment: datetime | str | None) -> str:
    """For `datetime` attributes: '2026-11-27T14:03:05.123Z'."""
    return timefmt.iso(moment)


def when(moment: datetime | str | None) -> Markup:
    """A `<time>` element showing the moment in UTC, the node's local time (where the log gave
    one) in its title; empty for None. Text that is no time is shown as it is, escaped."""
    if moment is None or moment == "":
        return Markup("")
    shown = timefmt.utc(moment)
    machine = timefmt.iso(moment)
    if not machine:
        return Markup("{}").format(show_bidi(str(moment)))
    node_time = timefmt.local(moment)
    title = f"node's local time: {node_time}" if node_time else "UTC"
    return Markup('<time datetime="{}" title="{}">{}</time>').format(machine, title, shown)


def markdown(text: str | None) -> Markup:
    """A signature text (the Markdown subset of app.textformat) as safe HTML."""
    return textformat.to_html(show_bidi(text) if text else text)


def url_path(value: str) -> str:
    """A file name made safe to put in a URL path (slashes kept, everything else quoted)."""
    return quote(value, safe="/")


def bug_url(bug_id: str) -> str:
    return BUG_SEARCH + quote(bug_id, safe="")


def fact_value(value: Any) -> str:
    """A fact as text: lists joined with commas, None as an empty string."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(fact_value(item) for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


_HIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f" + "".join(sorted(BIDI_CONTROLS)) + "]")
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _control_picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    return "\u2421" if code == 0x7F else chr(0x2400 + code)


def visible_text(value: Any) -> Any:
    """Every `{{ … }}` of every page: bidirectional controls shown as `<U+202E>` (app.display),
    so a name cannot read as something else, and control characters other than tab and line
    ends as their pictures (`␀`, `␛`: a log's binary junk stays visible, and no NUL reaches the
    page); markup built by the templates is left as it is."""
    if isinstance(value, str) and not isinstance(value, Markup) and _HIDDEN.search(value):
        return _CONTROLS.sub(_control_picture, show_bidi(value))
    return value


def viewer(request: Any) -> Caller | None:
    """Who the page is for (set by web/guard.py), None on pages that did not resolve it."""
    caller = getattr(request.state, "caller", None)
    return caller if isinstance(caller, Caller) else None


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,  # every template, whatever its name: log text is hostile
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=visible_text,
    )
    env.filters.update(
        human_size=human_size,
        utc_time=utc_time,
        iso_time=iso_time,
        when=when,
        markdown=markdown,
        url_path=url_path,
        bug_url=bug_url,
        fact_value=fact_value,
        sip_call_id=call_id_in,
        call_link=call_link,
    )
    env.globals.update(
        SEVERITIES=SEVERITIES,
        csrf_field=csrf_field,
        viewer=viewer,
        inconclusive_case=inconclusive_case,
    )
    return env


templates = Jinja2Templates(env=_environment())
