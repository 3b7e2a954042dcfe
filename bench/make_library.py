"""Write the bench library of N signatures: the real library plus generated ones of its shape.

    python bench/make_library.py --count 300 [--out bench/out]   ->  bench/out/library-300/

The output is only for the bench (bench/out is git-ignored). It is validated with the project's
loader before the command returns, so a broken generator fails here and not inside the bench.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import yaml

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH_DIR))

from sigdefs import GeneratedSignature, generated_signatures  # noqa: E402

from app.signatures import LIBRARY_DIR, load_library  # noqa: E402


def signature_document(sig: GeneratedSignature) -> dict[str, object]:
    """The YAML document of one generated signature, in the project's format."""
    first_fact = next(iter(sig.facts))
    # an alarm ID of no real row (70000+): the library's catch-all reports it too unless this
    # more specific signature says it refines it (one problem, one finding)
    refines = ["expressway-alarm-unlisted"] if 'Event="Alarm Raised"' in sig.regex else []
    return {
        "id": sig.sig_id,
        **({"refines": refines} if refines else {}),
        "title": f"Bench: {sig.phrase}",
        "severity": ("warning", "error", "info")[sig.index % 3],
        "status": "experimental",  # generated: no public source shows these lines
        "product": "expressway",
        "match": {
            "source": "loggingsnapshot",
            "contains": [sig.phrase],
            "patterns": [{"regex": sig.regex}],
        },
        "facts": sig.facts,
        "group_by": sig.group_by,
        "text": {
            "description": f"{sig.phrase} ({{{{ {first_fact} }}}}).",
            "condition": "Generated for the benchmark.",
            "further_info": "Seen {{ count }} time(s).",
            "action": "None: this signature only exists for the benchmark.",
        },
        "examples": [
            {"name": "hit", "line": sig.example_hit, "expect": sig.example_expect},
            {"name": "near miss", "line": sig.example_miss, "expect": "no_match"},
        ],
    }


def real_library_count() -> int:
    return len(load_library().signatures)


def build_library(count: int, out: Path) -> Path:
    """Write library-<count> under `out` (replacing an older copy) and return its directory."""
    target = out / f"library-{count}"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(LIBRARY_DIR, target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    generated = max(0, count - real_library_count())
    folder = target / "bench"
    folder.mkdir()
    for sig in generated_signatures(generated):
        text = yaml.safe_dump(signature_document(sig), sort_keys=False, width=10_000)
        (folder / f"{sig.sig_id}.yaml").write_text(text, encoding="utf-8")
    library = load_library(target)
    if len(library.signatures) != max(count, real_library_count()):
        raise SystemExit(f"library-{count}: loaded {len(library.signatures)} signatures")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--count", type=int, default=150, help="signatures in total (real + generated)"
    )
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    target = build_library(args.count, args.out)
    print(f"{target}: {args.count} signatures")


if __name__ == "__main__":
    main()
