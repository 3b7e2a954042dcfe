"""Prefilter lint: find a line a regex accepts that holds none of the signature's literals.

The matcher hands only lines holding a `contains` literal to the regexes, so a literal that a
matching line need not hold loses findings without a word (`Action=Continue` against a regex that
allows `Action: Continue`). `prefilter_gap(regex, literals)` builds sample strings the regex
accepts, varying one choice at a time from a baseline (an optional part absent or present, a
repeat once or twice, each listed character of a class, each branch), and returns the first one
that the regex really matches and that holds none of the literals. Only such a concrete
counterexample refuses a signature: a regex the generator cannot follow (lookaround, flags,
backreferences) is never refused.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

from app.parsing.linear_regex import LinearRegex

_sre: Any = importlib.import_module("re._parser")  # sre_parse, without its deprecation warning

MAX_VARIANTS = 256
"""Sample strings kept per part of a regex (and for the whole regex)."""
_POOL = "a0x- .:=_/'\"()[],;@"
"""Characters tried for a class that lists none of its own (a negated class, a category)."""
_CATEGORIES: dict[Any, Callable[[str], bool]] = {
    _sre.CATEGORY_DIGIT: lambda c: c.isascii() and c.isdigit(),
    _sre.CATEGORY_NOT_DIGIT: lambda c: not (c.isascii() and c.isdigit()),
    _sre.CATEGORY_SPACE: lambda c: c in " \t\n\r\f\v",
    _sre.CATEGORY_NOT_SPACE: lambda c: c not in " \t\n\r\f\v",
    _sre.CATEGORY_WORD: lambda c: c.isascii() and (c.isalnum() or c == "_"),
    _sre.CATEGORY_NOT_WORD: lambda c: not (c.isascii() and (c.isalnum() or c == "_")),
}


class _Unsupported(Exception):
    """The regex uses something the sample generator does not follow: no verdict."""


def prefilter_gap(regex: LinearRegex, literals: Sequence[str]) -> str | None:
    """A string `regex` matches that contains none of `literals`, or None if none was found."""
    try:
        parsed = _sre.parse(regex.pattern)
    except Exception:  # the loader reports patterns that do not compile
        return None
    if parsed.state.flags & (_sre.SRE_FLAG_IGNORECASE | _sre.SRE_FLAG_VERBOSE):
        return None
    try:
        samples = _sequence(list(parsed))
    except _Unsupported:
        return None
    for sample in samples:
        if "\n" in sample or any(literal in sample for literal in literals):
            continue
        if regex.search(sample):
            return sample
    return None


def _sequence(items: list[tuple[Any, Any]]) -> list[str]:
    """Samples of a sequence: the baseline, then one part at a time set to another choice."""
    choices = [_node(op, av) for op, av in items]
    baseline = [options[0] for options in choices]
    samples = ["".join(baseline)]
    for index, options in enumerate(choices):
        for option in options[1:]:
            samples.append("".join([*baseline[:index], option, *baseline[index + 1 :]]))
            if len(samples) >= MAX_VARIANTS:
                return samples
    return samples


def _node(op: Any, av: Any) -> list[str]:
    """The choices of one regex node, its baseline first."""
    if op is _sre.LITERAL:
        return [chr(av)]
    if op is _sre.NOT_LITERAL:
        return [next(c for c in _POOL if ord(c) != av)]
    if op is _sre.ANY:
        return ["x"]
    if op is _sre.IN:
        return _members(av)
    if op is _sre.AT:
        return [""]
    if op is _sre.BRANCH:
        return _capped([s for branch in av[1] for s in _sequence(list(branch))])
    if op is _sre.SUBPATTERN:
        _group, add_flags, del_flags, body = av
        if add_flags or del_flags:
            raise _Unsupported
        return _sequence(list(body))
    if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", None)):
        low, high, body = av
        options = _sequence(list(body))
        base = options[0]
        once = max(low, 1)
        result = [base * low]
        if high > low:
            result.append(base * (low + 1))
        if high >= once:
            result.extend(option + base * (once - 1) for option in options[1:])
        return _capped(result)
    raise _Unsupported


def _members(items: list[tuple[Any, Any]]) -> list[str]:
    """Up to a few characters a class `[...]` accepts: the ones it lists, then others."""
    negate = bool(items) and items[0][0] is _sre.NEGATE
    tests = items[1:] if negate else items
    listed: list[str] = []
    for op, av in tests:
        if op is _sre.LITERAL:
            listed.append(chr(av))
        elif op is _sre.RANGE:
            listed.extend((chr(av[0]), chr(av[1])))
        elif op is _sre.CATEGORY:
            if av not in _CATEGORIES:
                raise _Unsupported
        else:
            raise _Unsupported

    def accepts(char: str) -> bool:
        hit = False
        for op, av in tests:
            if op is _sre.LITERAL:
                hit = ord(char) == av
            elif op is _sre.RANGE:
                hit = av[0] <= ord(char) <= av[1]
            else:
                hit = _CATEGORIES[av](char)
            if hit:
                break
        return hit != negate

    found = [c for c in dict.fromkeys([*listed, *_POOL]) if accepts(c)][:4]
    if not found:
        raise _Unsupported
    return found


def _capped(options: list[str]) -> list[str]:
    return list(dict.fromkeys(options))[:MAX_VARIANTS]
