"""Bring app/signatures/library/expressway/alarms.yaml in line with the published Alarms reference.

Input: tools/alarm_reference/x15.0.psv, the "Alarms Reference" tables of the Cisco Expressway
Administrator Guide X15.0, chapter Reference Material
(https://www.cisco.com/c/en/us/td/docs/voice_ip_comm/expressway/admin_guide/X15-0/
exwy_b_cisco-expressway-administrator-guide-x15/exwy_m_reference-material.html), one row per
line: `id|title|description|solution|severity`, transcribed as published (paragraphs of one
cell joined with a space; an empty cell where the guide has none). The guide lists 20014 twice
(two descriptions and solutions): both are kept in one row.

Output, in place:
* the hand-written rows at the top of alarms.yaml (curated: TAC notes add meaning and action)
  get the published title, severity and the published description and solution
  (`published_description`, `published_solution`);
* every other published alarm gets a generated row after the `GENERATED` marker: title,
  severity, description (`meaning`) and solution (`action`) as published. 25019 "Verbose log
  levels configured" is left out: diagnostic logging raises it in every bundle.

Run: `python tools/gen_alarm_table.py` (idempotent), then `loupe signatures test`.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tools" / "alarm_reference" / "x15.0.psv"
TABLE = ROOT / "app" / "signatures" / "library" / "expressway" / "alarms.yaml"
MARKER = "  # ---- GENERATED from tools/alarm_reference/x15.0.psv by tools/gen_alarm_table.py"
NEVER = {"25019"}
NO_SOLUTION = (
    "The Alarms reference gives no solution for this alarm: read the alarm's details on the "
    "Expressway (Status > Alarms) and the event log around the time it was raised."
)
_ROW = re.compile(r"^  - id: (\d{5})\s*$")


def published_rows() -> dict[str, dict[str, str]]:
    rows: dict[str, dict[str, str]] = {}
    for number, line in enumerate(SOURCE.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) != 5:
            sys.exit(f"{SOURCE.name}:{number}: {len(fields)} fields, want 5")
        alarm_id, title, description, solution, severity = (f.strip() for f in fields)
        solution = "" if solution == "NA" else solution
        row = {
            "title": title,
            "description": description,
            "solution": solution,
            "severity": severity.capitalize() if severity else "unpublished",
        }
        if alarm_id in rows:  # 20014: listed twice, keep both texts
            first = rows[alarm_id]
            first["description"] += f" (The guide lists {alarm_id} twice; also: {description})"
            first["solution"] += f" (or, per the second listing: {solution})"
            continue
        rows[alarm_id] = row
    return rows


def _scalar(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _curated(lines: list[str], rows: dict[str, dict[str, str]]) -> tuple[list[str], set[str]]:
    out: list[str] = []
    seen: set[str] = set()
    current: str | None = None
    for line in lines:
        match = _ROW.match(line)
        if match:
            current = match.group(1)
            seen.add(current)
        elif line.startswith("  # ----"):
            current = None
        if current is not None and (
            line.startswith("    published_description:")
            or line.startswith("    published_solution:")
        ):
            continue
        if current is not None and line.startswith("    severity:"):
            row = rows[current]
            out.append(f"    severity: {row['severity']}  # X15.0 Alarms reference")
            continue
        if current is not None and line.startswith("    title:"):
            row = rows[current]
            out.append(f"    title: {_scalar(row['title'])}")
            out.append(f"    published_description: {_scalar(row['description'])}")
            if row["solution"]:
                out.append(f"    published_solution: {_scalar(row['solution'])}")
            continue
        out.append(line)
    return out, seen


def _generated(rows: dict[str, dict[str, str]], curated: set[str]) -> list[str]:
    out = [MARKER, "  # Title, description, solution and severity as published (X15.0)."]
    for alarm_id, row in rows.items():
        if alarm_id in curated or alarm_id in NEVER:
            continue
        out += [
            f"  - id: {alarm_id}",
            f"    title: {_scalar(row['title'])}",
            f"    severity: {row['severity']}",
            f"    meaning: {_scalar(row['description'])}",
            f"    action: {_scalar(row['solution'] or NO_SOLUTION)}",
        ]
    return out


def main() -> None:
    rows = published_rows()
    text = TABLE.read_text(encoding="utf-8")
    head = text.split(MARKER, 1)[0].rstrip("\n").splitlines()
    curated_lines, curated = _curated(head, rows)
    missing = sorted(curated - rows.keys())
    if missing:
        sys.exit(f"curated rows not in the published table: {', '.join(missing)}")
    TABLE.write_text("\n".join([*curated_lines, *_generated(rows, curated)]) + "\n")
    sys.stdout.write(f"{len(curated)} curated, {len(rows) - len(curated) - len(NEVER)} generated\n")


if __name__ == "__main__":
    main()
