"""Ordering of Expressway/VCS version strings: X14.2 < X14.2.1 < X14.10, X8.11PreAlpha10 < X8.11."""

from __future__ import annotations

import re

_VERSION = re.compile(
    r"^\s*X?(?P<nums>\d+(?:\.\d+)*)(?P<stage>[A-Za-z]+)?(?P<stage_no>\d+)?\s*$", re.I
)
_STAGE_RANK = {"prealpha": 0, "alpha": 1, "beta": 2, "rc": 3}
_RELEASE_RANK = 9

VersionKey = tuple[tuple[int, ...], int, int]


def version_key(text: str) -> VersionKey | None:
    """Sortable key of a version string, or None when it is not a version we understand."""
    match = _VERSION.match(text)
    if not match:
        return None
    nums = [int(part) for part in match["nums"].split(".")]
    while len(nums) > 1 and nums[-1] == 0:
        nums.pop()
    stage = match["stage"]
    if stage is None:
        return (tuple(nums), _RELEASE_RANK, 0)
    rank = _STAGE_RANK.get(stage.lower())
    if rank is None:
        return None
    return (tuple(nums), rank, int(match["stage_no"] or 0))


def in_range(version: str, minimum: str | None, maximum: str | None) -> bool | None:
    """Whether `version` lies in [minimum, maximum]; None when `version` cannot be read."""
    key = version_key(version)
    if key is None:
        return None
    low = version_key(minimum) if minimum else None
    high = version_key(maximum) if maximum else None
    if low is not None and key < low:
        return False
    return not (high is not None and key > high)
