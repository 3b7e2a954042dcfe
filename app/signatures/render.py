"""Sandboxed Jinja rendering of a signature's texts from a finding's facts.

Autoescape is OFF on purpose: the output is plain text (Markdown at most) that the web layer
escapes when it puts it in HTML. Undefined names render empty and are falsy, so templates can
test optional facts with `{% if depth is defined %}` or `{% if ip %}`.

Jinja is imported when a template is first compiled or rendered: a library whose template code
came from app.signatures.cache builds each template on its first render, so an analysis that
renders nothing does not import Jinja (~20 ms of `loupe analyze` start-up).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from types import CodeType
from typing import TYPE_CHECKING, Any, Protocol

from app import timefmt
from app.report import Finding, Snippet

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.sandbox import SandboxedEnvironment

    from app.signatures.model import Signature, Texts

TEXT_FIELDS = ("description", "condition", "further_info", "action")
RESERVED_NAMES = frozenset(
    {"facts", "node", "bug_ids", "count", "first_seen", "last_seen", "signature_id", "title"}
)


class TextSyntaxError(ValueError):
    """A text that is not a valid template; the message is Jinja's."""


@lru_cache(maxsize=1)
def _env() -> SandboxedEnvironment:
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


def _template(code: CodeType) -> Template:
    from jinja2 import Template

    env = _env()
    # a plain dict of the environment's globals, not the ChainMap Jinja makes by default: every
    # render copies the template's globals into its context, and a ChainMap's copy walks both
    # maps key by key (a third of a finding's rendering); the environment's globals never change
    return Template.from_code(env, code, dict(env.make_globals(None)), None)


class CompiledText(Protocol):
    """A text ready to render: a Jinja template, or plain text that needs none."""

    def render(self, context: Mapping[str, Any], /) -> str: ...


class _PlainText:
    """A text without any Jinja syntax: rendering it is the identity (no compile needed)."""

    __slots__ = ("source",)

    def __init__(self, source: str) -> None:
        self.source = source

    def render(self, context: Mapping[str, Any], /) -> str:
        return self.source


class _JoinedText:
    """A template followed by plain text: only the template part is compiled.

    Alarm rows end their texts with the row's own published prose after a template part that is
    the same for every row: compiling that part once instead of 400 times keeps loading fast.
    """

    __slots__ = ("template", "tail")

    def __init__(self, template: CompiledText, tail: str) -> None:
        self.template = template
        self.tail = tail

    def render(self, context: Mapping[str, Any], /) -> str:
        return self.template.render(context) + self.tail


class _DeferredTemplate:
    """A template whose code is known (compiled by an earlier process: it compiles), built on
    its first render. Two threads rendering it first both build it: the same template."""

    __slots__ = ("code", "template")

    def __init__(self, code: CodeType) -> None:
        self.code = code
        self.template: Template | None = None

    def render(self, context: Mapping[str, Any], /) -> str:
        template = self.template
        if template is None:
            template = self.template = _template(self.code)
        return template.render(context)


_PRECOMPILED: dict[str, CodeType] = {}  # from app.signatures.cache: code by template source
_COMPILED: dict[str, CodeType] = {}  # what this process compiled (or took from the cache)


@lru_cache(maxsize=4096)
def compile_text(source: str) -> CompiledText:
    """Compile one template; raises TextSyntaxError on bad syntax.

    Identical sources share one compiled template (alarm tables repeat theirs row after row),
    text without `{` needs no Jinja at all, and code cached by an earlier process is reused:
    loading a library stays fast.
    """
    if "{" not in source:
        return _PlainText(source)
    end = source.rfind("}") + 1
    head, tail = source[:end], source[end:]
    if (
        tail
        and head.endswith(("%}", "}}"))
        and not head.endswith(("-%}", "-}}"))  # would strip the tail's leading space
        and "\r" not in tail  # Jinja normalises line ends in template data
        and not tail.endswith("\n")  # and drops one trailing newline
    ):
        return _JoinedText(compile_text(head), tail)
    code = _PRECOMPILED.get(source)
    if code is not None:
        _COMPILED[source] = code
        return _DeferredTemplate(code)
    from jinja2 import TemplateSyntaxError

    try:
        code = _env().compile(source)
    except TemplateSyntaxError as exc:
        raise TextSyntaxError(str(exc)) from exc
    _COMPILED[source] = code
    return _template(code)


def use_precompiled(code: Mapping[str, CodeType]) -> None:
    """Let `compile_text` take these code objects (by source) instead of compiling."""
    _PRECOMPILED.update(code)


def template_code(texts: Iterable[Texts]) -> dict[str, CodeType]:
    """The compiled code of every template in `texts` (plain texts need none)."""
    sources = {getattr(t, name) for t in texts for name in TEXT_FIELDS}
    heads = {source[: source.rfind("}") + 1] for source in sources}  # see _JoinedText
    return {source: _COMPILED[source] for source in sources | heads if source in _COMPILED}


def render_text(template: CompiledText, context: Mapping[str, Any]) -> str:
    """Render with the facts and finding metadata in scope; surrounding whitespace stripped.
    (Jinja copies `context` into a context of its own: a template cannot change it.)"""
    return template.render(context).strip()


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
        # shown in the one time format of every page and report (UTC, to the millisecond)
        first_seen=timefmt.utc(first_seen) if first_seen else first_seen,
        last_seen=timefmt.utc(last_seen) if last_seen else last_seen,
    )
    return context


def render_finding(
    signature: Signature,
    facts: Mapping[str, Any],
    *,
    node: str | None,
    count: int,
    first_seen: str | None,
    last_seen: str | None,
    snippets: Sequence[Snippet] = (),
    condition_note: str = "",
) -> Finding:
    """A Finding of `signature` with its four texts rendered from these facts and metadata.

    `condition_note` is appended to the rendered condition (a paragraph of its own).
    """
    context = text_context(
        facts,
        node=node,
        bug_ids=signature.bug_ids,
        signature_id=signature.id,
        title=signature.title,
        count=count,
        first_seen=first_seen,
        last_seen=last_seen,
    )
    texts = {name: render_text(signature.text.compiled[name], context) for name in TEXT_FIELDS}
    if condition_note:
        texts["condition"] = f"{texts['condition']}\n\n{condition_note}".strip()
    return Finding(
        signature_id=signature.id,
        title=signature.title,
        severity=signature.severity_for(count),
        bug_ids=list(signature.bug_ids),
        node=node,
        description=texts["description"],
        condition=texts["condition"],
        further_info=texts["further_info"],
        action=texts["action"],
        facts=dict(facts),
        snippets=list(snippets),
        count=count,
        first_seen=first_seen,
        last_seen=last_seen,
        signature_status=signature.status,
    )
