"""Hostile log lines built from a signature's own literals, to show matching time stays linear."""

from __future__ import annotations

import re._constants as sre_constants
import re._parser as sre_parse
from typing import Any

FILLERS = (" ", '"', "a", "1", "\t", "=", "'")


def literal_fragments(pattern: str) -> list[str]:
    """The runs of literal characters in a regex, in order (at least 2 characters each)."""
    runs: list[str] = []

    def walk(items: Any) -> None:
        current: list[str] = []
        for op, av in items:
            if op is sre_constants.LITERAL:
                current.append(chr(av))
                continue
            if len(current) >= 2:
                runs.append("".join(current))
            current = []
            if op is sre_constants.SUBPATTERN:
                walk(av[3])
            elif op is sre_constants.BRANCH:
                for branch in av[1]:
                    walk(branch)
            elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
                walk(av[2])
        if len(current) >= 2:
            runs.append("".join(current))

    walk(sre_parse.parse(pattern))
    return runs


def _repeat(unit: str, size: int) -> str:
    return (unit * (size // max(1, len(unit)) + 1))[:size]


def hostile_lines(contains: str, patterns: list[str], size: int) -> dict[str, str]:
    """Named lines of about `size` characters that hold `contains` and stress every pattern."""
    lines: dict[str, str] = {}
    for number, pattern in enumerate(patterns):
        fragments = literal_fragments(pattern)
        head = f"{contains} "
        if fragments:
            allbutlast = " ".join(fragments[:-1] or fragments) + " "
            lines[f"p{number}-all-but-last"] = head + _repeat(allbutlast, size)
            lines[f"p{number}-all"] = head + _repeat(" ".join(fragments) + " ", size)
            for index, fragment in enumerate(fragments):
                lines[f"p{number}-frag{index}"] = head + _repeat(fragment, size)
                lines[f"p{number}-frag{index}-sp"] = head + _repeat(fragment + " ", size)
        first = fragments[0] if fragments else ""
        for filler in FILLERS:
            lines[f"p{number}-fill{filler!r}"] = head + first + _repeat(filler, size)
    return lines
