"""Signature YAML files → validated model objects; every problem raises SignatureError(file, field).

The loader's checks are the authority on the format (schema.json only helps editors): required
fields, allowed values, regexes that the linear-time engine (RE2) compiles, facts that name
existing groups and named groups that some fact uses, `id` == file stem, unique ids, `contains`
literals of at least 5 characters (not a bare field name such as `Level="`) present in every
example. A file with `kind: alarm-table` is expanded by app/signatures/alarms.py into one
signature per row; errors then name the table file and the row (`alarms[3].title`).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.bundle.sources import SOURCES
from app.errors import SignatureError
from app.parsing.linear_regex import LinearRegex, RegexError, compile_linear, deferred_linear
from app.signatures import cache
from app.signatures.alarms import alarm_documents, is_alarm_table
from app.signatures.built_cache import read_built, write_built
from app.signatures.lint import check_library
from app.signatures.model import (
    FACT_TYPES,
    NO_MATCH,
    SEVERITIES,
    STATUSES,
    AppliesTo,
    CountSeverity,
    Example,
    FactRule,
    Follow,
    MapRule,
    Pattern,
    Signature,
    Texts,
)
from app.signatures.prefilter import prefilter_gap
from app.signatures.render import (
    RESERVED_NAMES,
    TEXT_FIELDS,
    TextSyntaxError,
    compile_text,
    template_code,
    use_precompiled,
)
from app.signatures.required import pieces_of, use_known_pieces
from app.signatures.versions import version_key

MIN_LITERAL = 5
MAX_FOLLOW_LINES = 50
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BARE_FIELD = re.compile(r'^\s*[A-Za-z][\w.-]*="?\s*$')  # `Level="`: on every line, no filter
_REQUIRED = ("id", "title", "severity", "status", "product", "match", "text", "examples")
_OPTIONAL = (
    "applies_to",
    "bug_ids",
    "references",
    "facts",
    "group_by",
    "snippets",
    "family",
    "refines",
    "severity_by_count",
)
FAMILIES = (
    "alarm",
    "cert",
    "cluster",
    "dns",
    "licensing",
    "mra",
    "ntp",
    "platform",
    "sip",
    "tls",
    "ucm",
    "other",
)
"""Catalogue families: a signature's `family:`, else `alarm` for alarm rows, else the first word
of its id when that is a family, else `other`."""
ALARM_PREFIX = "expressway-alarm-"
PACKAGED_LIBRARY = Path(__file__).parent / "library"
"""The library shipped with the package (app.signatures.LIBRARY_DIR)."""
SOURCE_MARKERS = ("seed", "real-log")
_EXAMPLE_KEYS = ("name", "line", "lines", "expect", "count", "source", "variant_of")
"""An example's `source` besides a URL: the seed TAC article (../shared/seeds, doc 218018) or a
real public log (../shared/data/real)."""


def library_files(root: Path) -> list[Path]:
    """All signature files under `root`, sorted by their path relative to it."""
    return list(_by_name(root).values())


def library_contents(root: Path) -> dict[str, bytes]:
    """Every signature file's bytes by its path relative to `root`, in library order."""
    return {name: path.read_bytes() for name, path in _by_name(root).items()}


def _by_name(root: Path) -> dict[str, Path]:
    """The signature files under `root` by their path relative to it, in that path's order
    (each relative path made once: pathlib makes it slowly, ~10 µs a file)."""
    found = {path.relative_to(root).as_posix(): path for path in root.rglob("*.yaml")}
    return {name: found[name] for name in sorted(found)}


def ruleset_version(root: Path, contents: Mapping[str, bytes] | None = None) -> str:
    """Short sha256 over the sorted library files (relative path and bytes)."""
    digest = hashlib.sha256()
    for name, data in (library_contents(root) if contents is None else contents).items():
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(data)
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def load_signatures(
    root: Path,
    *,
    include_deprecated: bool = False,
    contents: Mapping[str, bytes] | None = None,
    cache_dir: Path | None = None,
    detached: list[tuple[str, str]] | None = None,
) -> list[Signature]:
    """Load and validate every file under `root`; duplicate ids, `refines` naming no signature
    and a positive example line that a second signature reports too are refused (lint.py).

    A library other than the packaged one may be a subset of it (a bench library, a directory
    holding a few of its files): a `refines` naming a packaged signature that is not in it is
    accepted, the refining signature then reports on its own, and the pair is appended to
    `detached`. In the packaged library every `refines` must name one of its signatures.

    `contents` are the files' bytes when already read (`library_contents`); with `cache_dir`,
    parsed YAML, compiled templates and the regexes' named groups come from
    app.signatures.cache when it holds this exact library (its regexes are then compiled on
    first use), and are stored there after a successful load otherwise; the signatures
    themselves come from app.signatures.built_cache when it holds them for this library and
    directory (nothing is built again), and are stored there after a successful load.
    """
    files = library_contents(root) if contents is None else contents
    key = cache.entry_key(files) if cache_dir is not None else ""
    cached = cache.read(cache_dir, key) if cache_dir is not None else None
    if cached is not None:
        use_precompiled(cached.templates)
        use_known_pieces(cached.pieces)
    # An entry is only written once every check below passed for exactly these files, with
    # this code (both are in its key): the costly cross-checks (counterexample search, overlap
    # of examples) are not repeated for it. Each document is still built and checked, unless
    # the built entry (written after such a load, same key) holds the signatures themselves.
    linted = cached is not None and all(name in cached.files for name in files)
    elsewhere = None if _is_packaged(root) else packaged_ids
    if cache_dir is not None and linted:
        try:  # what a load of these files with this code built and checked (built_cache)
            stored = read_built(cache_dir, key, root)
        except LookupError:
            pass
        else:
            found = check_library(stored, elsewhere=elsewhere, overlap=False)
            if detached is not None:
                detached.extend(found)
            return [s for s in stored if s.status != "deprecated" or include_deprecated]
    fresh = cache.Entry()
    # a hit defers each regex's RE2 compilation (it compiled when the entry was written);
    # otherwise each is compiled now, and its groups are kept for the entry written below
    regexes = cached.regexes if cached is not None and linted else fresh.regexes
    signatures: list[Signature] = []
    built: list[Signature] = []  # deprecated ones too: `refines` may name them
    seen: dict[str, str] = {}
    for name, raw in files.items():
        data = _cached_yaml(cached, name)
        if data is None:
            data = _parse_yaml(raw, name)
            fresh.remember(name, data)
            linted = False
        documents = load_document(data, root / name, display=name, lint=not linted, regexes=regexes)
        for signature in documents:
            if signature.id in seen:
                raise SignatureError(
                    signature.file,
                    "id",
                    f"duplicate id '{signature.id}' (also in {seen[signature.id]})",
                )
            seen[signature.id] = signature.file
            built.append(signature)
            if signature.status != "deprecated" or include_deprecated:
                signatures.append(signature)
    found = check_library(built, elsewhere=elsewhere, overlap=not linted)
    if detached is not None:
        detached.extend(found)
    if cache_dir is not None and cached is None:
        fresh.templates = template_code(s.text for s in signatures)
        fresh.pieces = pieces_of(fresh.regexes)
        cache.write(cache_dir, key, fresh)
    if cache_dir is not None and (cached is not None or fresh.complete):
        write_built(cache_dir, key, root, built)
    return signatures


def _is_packaged(root: Path) -> bool:
    try:
        return root.resolve() == PACKAGED_LIBRARY.resolve()
    except OSError:
        return False


@functools.cache
def packaged_ids() -> frozenset[str]:
    """Every signature id of the packaged library, deprecated ones included (loaded once)."""
    return frozenset(s.id for s in load_signatures(PACKAGED_LIBRARY, include_deprecated=True))


def _cached_yaml(entry: cache.Entry | None, name: str) -> Any:
    return entry.document(name) if entry is not None else None


def _parse_yaml(raw: bytes, name: str) -> Any:
    import yaml  # only when a file is not in the cache (~10 ms of start-up otherwise)

    safe_loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster
    try:
        return yaml.load(raw.decode("utf-8"), Loader=safe_loader)
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SignatureError(name, "(file)", f"not readable YAML: {exc}") from exc


def load_document(
    data: Any,
    path: Path,
    *,
    display: str,
    lint: bool = True,
    regexes: cache.RegexGroups | None = None,
) -> list[Signature]:
    """The signatures of one parsed file at `path` (shown as `display`).

    `lint=False` skips the prefilter counterexample search (for a document that passed it
    before: a cache hit); every other check is made. `regexes` holds the named groups of
    patterns RE2 compiled before: with `lint=False` a pattern found there is compiled on its
    first match (app.parsing.linear_regex.deferred_linear); any other is compiled now, and its
    groups are added to `regexes`."""
    name = display
    if is_analyzer_signature(data):
        from app.signatures.analyzer_docs import AnalyzerBuilder  # it extends _Builder

        analyzer = AnalyzerBuilder(name, path.stem, fixture_dir=path.parent)
        analyzer.lint = lint
        analyzer.regexes = regexes
        return [analyzer.build(data)]
    if not is_alarm_table(data):
        return [_Builder(name, path.stem, lint=lint, regexes=regexes).build(data)]
    return [
        _Builder(name, str(document["id"]), prefix, lint=lint, regexes=regexes).build(document)
        for prefix, document in alarm_documents(data, name)
    ]


def is_analyzer_signature(data: Any) -> bool:
    """Whether a document's findings come from an analyzer (`match: {analyzer: …}`), not lines."""
    match = data.get("match") if isinstance(data, Mapping) else None
    return isinstance(match, Mapping) and "analyzer" in match


class _Builder:
    """Validates one parsed YAML document; `fail` names the file and the field.

    `prefix` locates a document generated from a table row (`alarms[3].`) in its file.
    """

    lint = True  # run the prefilter counterexample search (see load_document)
    regexes: cache.RegexGroups | None = None  # named groups of known patterns (load_document)

    def __init__(
        self,
        file: str,
        stem: str,
        prefix: str = "",
        *,
        lint: bool = True,
        regexes: cache.RegexGroups | None = None,
    ) -> None:
        self.file = file
        self.stem = stem
        self.prefix = prefix
        self.lint = lint
        self.regexes = regexes

    def fail(self, field: str, problem: str) -> SignatureError:
        return SignatureError(self.file, f"{self.prefix}{field}", problem)

    # -- small typed getters -------------------------------------------------------------
    def mapping(self, value: Any, field: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(field, "must be a mapping")
        return value

    def text(self, data: Mapping[str, Any], key: str, field: str) -> str:
        value = data.get(key)
        if value is None:
            raise self.fail(field, "missing required field")
        if not isinstance(value, str) or not value.strip():
            raise self.fail(field, "must be a non-empty string")
        return value

    def str_list(self, value: Any, field: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(field, "must be a list of non-empty strings")
        return tuple(value)

    def regex(self, value: Any, field: str) -> LinearRegex:
        if not isinstance(value, str) or not value:
            raise self.fail(field, "must be a non-empty regex string")
        known = self.regexes.get(value) if self.regexes is not None else None
        if known is not None and not self.lint:  # compiled when the cache entry was written
            return deferred_linear(value, dict(known))
        try:
            compiled = compile_linear(value)
        except RegexError as linear_error:
            try:
                re.compile(value)
            except re.error as exc:
                raise self.fail(field, f"regex does not compile: {exc}") from exc
            raise self.fail(
                field,
                f"regex cannot run in linear time (RE2 refuses it: {linear_error}); "
                "lookaround, backreferences, possessive quantifiers and \\Z are not "
                "available: rewrite it without them (RE2 syntax: "
                "https://github.com/google/re2/wiki/Syntax)",
            ) from linear_error
        if self.regexes is not None:
            self.regexes[value] = tuple(compiled.groupindex.items())
        return compiled

    # -- the document --------------------------------------------------------------------
    def build(self, data: Any) -> Signature:
        doc = self.mapping(data, "(top level)")
        for key in _REQUIRED:
            if key not in doc:
                raise self.fail(key, "missing required field")
        for key in doc:
            if key not in _REQUIRED and key not in _OPTIONAL:
                raise self.fail(str(key), "unknown field")
        sig_id = self.text(doc, "id", "id")
        if sig_id != self.stem:
            raise self.fail("id", f"'{sig_id}' must equal the file name stem '{self.stem}'")
        if not _ID.match(sig_id):
            raise self.fail("id", "must be kebab-case (a-z, 0-9, '-')")
        severity = self.text(doc, "severity", "severity")
        if severity not in SEVERITIES:
            raise self.fail("severity", f"'{severity}' is not one of {', '.join(SEVERITIES)}")
        status = self.text(doc, "status", "status")
        if status not in STATUSES:
            raise self.fail("status", f"'{status}' is not one of {', '.join(STATUSES)}")

        match = self.mapping(doc["match"], "match")
        source = self.text(match, "source", "match.source")
        if source not in SOURCES:
            raise self.fail(
                "match.source",
                f"unknown source '{source}': one of {', '.join(SOURCES)} (app/bundle/sources.py)",
            )
        contains = self.contains(match.get("contains"))
        patterns = self.patterns(match.get("patterns"))
        self.prefilter(patterns, contains)
        facts = self.facts(doc.get("facts"), patterns)
        used = {rule.source_group for rule in facts}
        for index, pattern in enumerate(patterns):
            unused = sorted(set(pattern.regex.groupindex) - used)
            if unused:
                raise self.fail(
                    f"match.patterns[{index}].regex",
                    f"named group(s) {', '.join(unused)} used by no fact "
                    "(make them non-capturing or add a fact)",
                )
        fact_names = {rule.name for rule in facts} | {k for p in patterns for k in p.facts}
        group_by = self.group_by(doc.get("group_by"), fact_names)
        references = self.str_list(doc.get("references"), "references")
        for index, url in enumerate(references):
            if not url.startswith(("https://", "http://")):
                raise self.fail(f"references[{index}]", "must be an http(s) URL")
        return Signature(
            id=sig_id,
            title=self.text(doc, "title", "title"),
            severity=severity,
            status=status,
            product=self.text(doc, "product", "product"),
            source=source,
            contains=contains,
            patterns=patterns,
            facts=facts,
            group_by=group_by,
            text=self.texts(doc["text"]),
            examples=self.examples(doc["examples"], contains, status),
            applies_to=self.applies_to(doc.get("applies_to")),
            bug_ids=self.str_list(doc.get("bug_ids"), "bug_ids"),
            references=references,
            follow=self.follow(doc.get("snippets"), fact_names),
            file=self.file,
            family=self.family(doc.get("family"), sig_id),
            refines=self.refines(doc.get("refines"), sig_id),
            severity_by_count=self.severity_by_count(doc.get("severity_by_count"), severity),
        )

    def contains(self, value: Any) -> tuple[str, ...]:
        if value is None:
            raise self.fail("match.contains", "missing required field (literal prefilter)")
        literals = self.str_list(value, "match.contains")
        if not literals:
            raise self.fail("match.contains", "needs at least one literal")
        for index, literal in enumerate(literals):
            if len(literal) < MIN_LITERAL:
                raise self.fail(
                    f"match.contains[{index}]",
                    f"literal '{literal}' is shorter than {MIN_LITERAL} characters",
                )
            if "\n" in literal or "\r" in literal:
                raise self.fail(f"match.contains[{index}]", "literal must not contain a newline")
            if _BARE_FIELD.match(literal):
                raise self.fail(
                    f"match.contains[{index}]",
                    f"literal '{literal}' is a bare field name found on most lines; "
                    "use a rare value or phrase",
                )
        return literals

    def prefilter(self, patterns: tuple[Pattern, ...], contains: tuple[str, ...]) -> None:
        """Refuse literals that a line a regex accepts need not hold (a counterexample shows it)."""
        if not self.lint:
            return
        for index, pattern in enumerate(patterns):
            gap = prefilter_gap(pattern.regex, contains)
            if gap is not None:
                raise self.fail(
                    f"match.patterns[{index}].regex",
                    f"accepts lines holding none of the match.contains literals, e.g. {gap!r}: "
                    "such lines never reach the regex (choose literals every match contains)",
                )

    def family(self, value: Any, sig_id: str) -> str:
        if value is None:
            if sig_id.startswith(ALARM_PREFIX):
                return "alarm"
            first = sig_id.split("-")[0]
            return first if first in FAMILIES else "other"
        if value not in FAMILIES:
            raise self.fail("family", f"'{value}' is not one of {', '.join(FAMILIES)}")
        return str(value)

    def refines(self, value: Any, sig_id: str) -> tuple[str, ...]:
        ids = self.str_list([value] if isinstance(value, str) else value, "refines")
        if sig_id in ids:
            raise self.fail("refines", "a signature cannot refine itself")
        return ids

    def severity_by_count(self, value: Any, severity: str) -> tuple[CountSeverity, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not value:
            raise self.fail("severity_by_count", "must be a list of {at_least, severity}")
        rules: list[CountSeverity] = []
        for index, item in enumerate(value):
            field = f"severity_by_count[{index}]"
            entry = self.mapping(item, field)
            at_least = entry.get("at_least")
            if not isinstance(at_least, int) or isinstance(at_least, bool) or at_least < 2:
                raise self.fail(f"{field}.at_least", "must be an integer of at least 2")
            if rules and at_least <= rules[-1].at_least:
                raise self.fail(f"{field}.at_least", "thresholds must increase")
            level = entry.get("severity")
            if level not in SEVERITIES or level == severity:
                raise self.fail(
                    f"{field}.severity", f"must be one of {', '.join(SEVERITIES)}, not {severity}"
                )
            for key in entry:
                if key not in ("at_least", "severity"):
                    raise self.fail(f"{field}.{key}", "unknown field")
            rules.append(CountSeverity(at_least=at_least, severity=str(level)))
        return tuple(rules)

    def patterns(self, value: Any) -> tuple[Pattern, ...]:
        if value is None:
            raise self.fail("match.patterns", "missing required field")
        if not isinstance(value, list) or not value:
            raise self.fail("match.patterns", "must be a non-empty list")
        patterns = []
        for index, item in enumerate(value):
            field = f"match.patterns[{index}]"
            entry = self.mapping(item, field)
            regex = self.regex(entry.get("regex"), f"{field}.regex")
            constants = dict(self.mapping(entry.get("facts") or {}, f"{field}.facts"))
            for key in constants:
                if not isinstance(key, str) or not _NAME.match(key) or key in RESERVED_NAMES:
                    raise self.fail(f"{field}.facts.{key}", "not an allowed fact name")
            patterns.append(Pattern(regex=regex, facts=constants))
        return tuple(patterns)

    def facts(self, value: Any, patterns: tuple[Pattern, ...]) -> tuple[FactRule, ...]:
        rules: list[FactRule] = []
        groups = {name for p in patterns for name in p.regex.groupindex}
        for name, item in self.mapping(value or {}, "facts").items():
            field = f"facts.{name}"
            if not isinstance(name, str) or not _NAME.match(name) or name in RESERVED_NAMES:
                raise self.fail(field, "not an allowed fact name")
            entry = self.mapping(item, field)
            source_group = entry.get("from")
            if not isinstance(source_group, str) or not source_group:
                raise self.fail(f"{field}.from", "missing required field (named group)")
            if source_group not in groups:
                raise self.fail(
                    f"{field}.from", f"named group '{source_group}' is not defined by any pattern"
                )
            fact_type = entry.get("type", "str")
            if fact_type not in FACT_TYPES:
                raise self.fail(f"{field}.type", f"'{fact_type}' is not one of int, str")
            optional = entry.get("optional", False)
            if not isinstance(optional, bool):
                raise self.fail(f"{field}.optional", "must be true or false")
            rules.append(
                FactRule(
                    name=name,
                    source_group=source_group,
                    type=fact_type,
                    optional=optional,
                    value_map=self.value_map(entry.get("map"), f"{field}.map"),
                )
            )
        return tuple(rules)

    def value_map(self, value: Any, field: str) -> tuple[MapRule, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(field, "must be a list of {if, then}")
        rules = []
        for index, item in enumerate(value):
            entry = self.mapping(item, f"{field}[{index}]")
            if "then" not in entry:
                raise self.fail(f"{field}[{index}].then", "missing required field")
            rules.append(
                MapRule(
                    test=self.regex(entry.get("if"), f"{field}[{index}].if"), then=entry["then"]
                )
            )
        return tuple(rules)

    def group_by(self, value: Any, fact_names: set[str]) -> tuple[str, ...]:
        keys = self.str_list(value, "group_by") if value is not None else ("node",)
        for key in keys:
            if key != "node" and key not in fact_names:
                raise self.fail("group_by", f"'{key}' is neither 'node' nor a fact name")
        return keys

    def texts(self, value: Any) -> Texts:
        data = self.mapping(value, "text")
        sources = {name: self.text(data, name, f"text.{name}") for name in TEXT_FIELDS}
        for key in data:
            if key not in TEXT_FIELDS:
                raise self.fail(f"text.{key}", "unknown field")
        compiled = {}
        for name, source in sources.items():
            try:
                compiled[name] = compile_text(source)
            except TextSyntaxError as exc:
                raise self.fail(f"text.{name}", f"template syntax error: {exc}") from exc
        return Texts(**sources, compiled=compiled)

    def examples(
        self, value: Any, contains: tuple[str, ...], status: str = "experimental"
    ) -> tuple[Example, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail("examples", "must be a non-empty list")
        examples = [self.example(item, index, contains) for index, item in enumerate(value)]
        names = [example.name for example in examples]
        if len(set(names)) != len(names):
            raise self.fail("examples", "example names must be unique")
        if not any(example.positive for example in examples):
            raise self.fail("examples", "needs at least one positive example (expect: {facts})")
        if all(example.positive for example in examples):
            raise self.fail("examples", "needs at least one negative example (expect: no_match)")
        self.example_sources(examples, status)
        for index, literal in enumerate(contains):
            if not any(literal in line for e in examples if e.positive for line in e.lines):
                raise self.fail(
                    f"match.contains[{index}]",
                    f"literal '{literal}' is in no positive example (add one that needs it)",
                )
        return tuple(examples)

    def example_sources(self, examples: list[Example], status: str) -> None:
        """A stable signature's positive line examples each name the source showing the line."""
        by_name = {example.name: example for example in examples}
        for index, example in enumerate(examples):
            field = f"examples[{index}]"
            if example.variant_of is not None:
                base = by_name.get(example.variant_of)
                if base is None or base.source is None or not base.positive:
                    raise self.fail(
                        f"{field}.variant_of",
                        f"'{example.variant_of}' is not a positive example with a source here",
                    )
            if status != "stable" or not example.positive or not example.lines:
                continue
            if example.source is None and example.variant_of is None:
                raise self.fail(
                    f"{field}.source",
                    "a stable signature names the public source of each positive example "
                    f"(a URL, {' or '.join(SOURCE_MARKERS)}; or variant_of: a sourced example); "
                    "without one, make the signature experimental",
                )

    def example(self, item: Any, index: int, contains: tuple[str, ...]) -> Example:
        field = f"examples[{index}]"
        entry = self.mapping(item, field)
        name = self.text(entry, "name", f"{field}.name")
        if ("line" in entry) == ("lines" in entry):
            raise self.fail(f"{field}.line", "give exactly one of 'line' or 'lines'")
        if "line" in entry:
            lines: tuple[str, ...] = (self.text(entry, "line", f"{field}.line"),)
        else:
            lines = self.str_list(entry["lines"], f"{field}.lines")
            if not lines:
                raise self.fail(f"{field}.lines", "must not be empty")
        if any("\n" in line for line in lines):
            raise self.fail(f"{field}.line", "one line per entry; use 'lines' for several")
        if not any(literal in line for line in lines for literal in contains):
            raise self.fail(
                f"{field}.line", "contains none of the match.contains literals (prefilter)"
            )
        if "expect" not in entry:
            raise self.fail(f"{field}.expect", "missing required field")
        raw_expect = entry["expect"]
        expect: dict[str, Any] | None
        if raw_expect == NO_MATCH:
            expect = None
        else:
            expect = dict(self.mapping(raw_expect, f"{field}.expect"))
        count = entry.get("count")
        if count is not None and (not isinstance(count, int) or count < 1 or expect is None):
            raise self.fail(f"{field}.count", "must be a positive integer on a positive example")
        source = entry.get("source")
        if source is not None and not (
            isinstance(source, str)
            and (source.startswith(("https://", "http://")) or source in SOURCE_MARKERS)
        ):
            raise self.fail(
                f"{field}.source", f"must be an http(s) URL or one of {', '.join(SOURCE_MARKERS)}"
            )
        variant_of = entry.get("variant_of")
        if variant_of is not None and (not isinstance(variant_of, str) or expect is None):
            raise self.fail(f"{field}.variant_of", "names a positive example of this signature")
        for key in entry:
            if key not in _EXAMPLE_KEYS:
                raise self.fail(f"{field}.{key}", "unknown field")
        return Example(
            name=name,
            lines=lines,
            expect=expect,
            count=count,
            source=source,
            variant_of=variant_of,
        )

    def applies_to(self, value: Any) -> AppliesTo:
        if value is None:
            return AppliesTo()
        data = self.mapping(value, "applies_to")
        versions: dict[str, str | None] = {}
        for key in ("min_version", "max_version"):
            raw = data.get(key)
            if raw is not None and (not isinstance(raw, str) or version_key(raw) is None):
                raise self.fail(f"applies_to.{key}", f"'{raw}' is not a version like X14.2.1")
            versions[key] = raw
        for key in data:
            if key not in ("products", "min_version", "max_version", "only_on_product"):
                raise self.fail(f"applies_to.{key}", "unknown field")
        products = self.str_list(data.get("products"), "applies_to.products")
        only_on_product = data.get("only_on_product", False)
        if not isinstance(only_on_product, bool):
            raise self.fail("applies_to.only_on_product", "must be true or false")
        if only_on_product and not products:
            raise self.fail("applies_to.only_on_product", "needs applies_to.products")
        return AppliesTo(
            products=products,
            min_version=versions["min_version"],
            max_version=versions["max_version"],
            only_on_product=only_on_product,
        )

    def follow(self, value: Any, fact_names: set[str]) -> Follow | None:
        if value is None:
            return None
        data = self.mapping(value, "snippets")
        if "follow" not in data:
            return None
        entry = self.mapping(data["follow"], "snippets.follow")
        within = entry.get("within_lines")
        if not isinstance(within, int) or isinstance(within, bool):
            raise self.fail("snippets.follow.within_lines", "must be an integer")
        if not 1 <= within <= MAX_FOLLOW_LINES:
            raise self.fail("snippets.follow.within_lines", f"must be 1..{MAX_FOLLOW_LINES}")
        same_facts = self.str_list(entry.get("same_facts"), "snippets.follow.same_facts")
        for name in same_facts:
            if name not in fact_names:
                raise self.fail("snippets.follow.same_facts", f"'{name}' is not a fact name")
        return Follow(
            regex=self.regex(entry.get("regex"), "snippets.follow.regex"),
            within_lines=within,
            same_facts=same_facts,
        )
