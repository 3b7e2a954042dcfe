"""schema.json (for editors) describes what the loader accepts: the same fields, every file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from app.signatures import LIBRARY_DIR, alarms, loader

SCHEMA = json.loads((Path(loader.__file__).parent / "schema.json").read_text(encoding="utf-8"))
SIGNATURE = SCHEMA["$defs"]["signature"]
TABLE = SCHEMA["$defs"]["alarm_table"]


def test_the_schema_names_the_loaders_fields() -> None:
    assert set(SIGNATURE["required"]) == set(loader._REQUIRED)
    assert set(SIGNATURE["properties"]) == set(loader._REQUIRED) | set(loader._OPTIONAL)
    assert set(TABLE["properties"]) == set(alarms._TABLE_KEYS)
    row = TABLE["properties"]["alarms"]["items"]
    assert set(row["required"]) == set(alarms._ROW_REQUIRED)
    assert set(row["properties"]) == set(alarms._ROW_REQUIRED) | set(alarms._ROW_OPTIONAL)


def _keys_outside(document: Any, schema: dict[str, Any]) -> list[str]:
    """Keys of `document` that `schema` does not allow (objects closed by additionalProperties)."""
    if not isinstance(document, dict):
        return []
    known = schema.get("properties", {})
    free = schema.get("additionalProperties", True)
    unknown = [key for key in document if key not in known] if free is False else []
    for key, value in document.items():
        sub = known.get(key, free if isinstance(free, dict) else {})
        options = sub.get("oneOf", [sub])
        if isinstance(value, list):
            items = sub.get("items", {})
            unknown += [k for item in value for k in _keys_outside(item, items)]
        elif isinstance(value, dict) and options:
            unknown += min((_keys_outside(value, o) for o in options), key=len)
    return unknown


def test_every_library_file_uses_only_fields_the_schema_names() -> None:
    files = sorted(LIBRARY_DIR.rglob("*.yaml"))
    assert files
    for path in files:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        schema = TABLE if alarms.is_alarm_table(document) else SIGNATURE
        assert _keys_outside(document, schema) == [], path.name
