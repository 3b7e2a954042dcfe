"""Where an analysis' files live under the data dir (the only module that knows the layout).

<data_dir>/analyses/<id>/uploads/<nnn>   the files as uploaded (kept for re-runs)
<data_dir>/analyses/<id>/work/           unpacked bundle members (the log viewer reads here)
<data_dir>/analyses/<id>/index/          the log viewer's line indexes (derived, rebuilt if gone)
<data_dir>/analyses/<id>/json/           the current run's findings as JSON (the same)
<data_dir>/staging/upload-<random>/      uploads still arriving; moved or deleted, never left
"""

from __future__ import annotations

import shutil
from pathlib import Path

from app.errors import NotFound


def analyses_root(data_dir: Path) -> Path:
    return data_dir / "analyses"


def analysis_dir(data_dir: Path, analysis_id: str) -> Path:
    return analyses_root(data_dir) / analysis_id


def uploads_dir(data_dir: Path, analysis_id: str) -> Path:
    return analysis_dir(data_dir, analysis_id) / "uploads"


def work_dir(data_dir: Path, analysis_id: str) -> Path:
    return analysis_dir(data_dir, analysis_id) / "work"


def json_dir(data_dir: Path, analysis_id: str) -> Path:
    return analysis_dir(data_dir, analysis_id) / "json"


def staging_root(data_dir: Path) -> Path:
    return data_dir / "staging"


def resolve_inside(data_dir: Path, relative: str) -> Path:
    """The absolute path of a stored relative path; refuses anything outside the data dir."""
    root = data_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise NotFound("No such file.")
    return path


def relative_to_data(data_dir: Path, path: Path) -> str:
    return path.resolve().relative_to(data_dir.resolve()).as_posix()


def remove_analysis(data_dir: Path, analysis_id: str) -> None:
    shutil.rmtree(analysis_dir(data_dir, analysis_id), ignore_errors=True)
