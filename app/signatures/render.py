"""Sandboxed Jinja rendering of a signature's texts from a finding's facts.

Autoescape is OFF on purpose: the output is plain text (Markdown at most) that the web layer
escapes when it puts it in HTML. Undefined names render empty and are falsy, so templates can
test optional facts with `{% if depth is defined %}` or `{% if ip %}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Template
from jinja2.sandbox import SandboxedEnvironment

TEXT_FIELDS = ("description", "condition", "further_info", "action")
RESERVED_NAMES = frozenset(
    {"facts", "node", "bug_ids", "count", "first_seen", "last_seen", "signature_id", "title"}
)

_ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


def compile_text(source: str) -> Template:
    """Compile one template; raises jinja2.TemplateSyntaxError on bad syntax."""
    return _ENV.from_string(source)


def render_text(template: Template, context: Mapping[str, Any]) -> str:
    """Render with the facts and finding metadata in scope; surrounding whitespace stripped."""
    return template.render(dict(context)).strip()


def text_context(
    facts: Mapping[str, Any],
    *,
    node: str | None,
    bug_ids: tuple[str, ...],
    signature_id: str,
    title: str,
    count: int,
    first_seen: str | None,
    last_seen: str | None,
) -> dict[str, Any]:
    """The names a template sees: every fact by name, plus `facts` and the finding metadata."""
    context: dict[str, Any] = dict(facts)
    context.update(
        facts=dict(facts),
        node=node,
        bug_ids=list(bug_ids),
        signature_id=signature_id,
        title=title,
        count=count,
        first_seen=first_seen,
        last_seen=last_seen,
    )
    return context
