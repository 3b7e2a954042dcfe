"""Builders shared by the signature tests: a minimal valid signature file, a library dir."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from app.report import FileKind

SOURCES = {
    "traffic_server": frozenset({FileKind.LOGGINGSNAPSHOT, FileKind.LOG}),
    "loggingsnapshot": frozenset({FileKind.LOGGINGSNAPSHOT, FileKind.LOG}),
}


def minimal_signature(sig_id: str = "demo-sig", **overrides: Any) -> dict[str, Any]:
    """A valid signature document matching `DEMO-FAIL code=<n> peer=<p>` lines."""
    doc: dict[str, Any] = {
        "id": sig_id,
        "title": "Demo failure",
        "severity": "warning",
        "status": "stable",
        "product": "expressway",
        "match": {
            "source": "loggingsnapshot",
            "contains": ["DEMO-FAIL"],
            "patterns": [{"regex": r"DEMO-FAIL code=(?P<code>\d+) peer=(?P<peer>\S+)"}],
        },
        "facts": {"code": {"from": "code", "type": "int"}, "peer": {"from": "peer"}},
        "group_by": ["node", "peer"],
        "text": {
            "description": "Peer {{ peer }} failed with {{ code }}.",
            "condition": "Any version.",
            "further_info": "Seen {{ count }} times.",
            "action": "Fix {{ peer }}.",
        },
        "examples": [
            {
                "name": "hit",
                "line": "x DEMO-FAIL code=7 peer=a",
                "expect": {"code": 7},
                "source": "https://example.com/demo-note",
            },
            {"name": "miss", "line": "x DEMO-FAIL nothing", "expect": "no_match"},
        ],
    }
    doc.update(overrides)
    return doc


def write_library(root: Path, *docs: dict[str, Any], names: list[str] | None = None) -> Path:
    """Write each document as <id>.yaml (or the given file names) under root/expressway."""
    folder = root / "expressway"
    folder.mkdir(parents=True, exist_ok=True)
    for index, doc in enumerate(docs):
        name = names[index] if names else f"{doc['id']}.yaml"
        (folder / name).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return root
