"""Gradescope's "Export Submissions": one folder per submission and ``submission_metadata.yml``.

The metadata maps each folder (``submission_123456``) to its submitters
(``:name:``, ``:sid:``, ``:email:``) and ``:created_at:``, the submission
time. Keys are Ruby symbols (``:sid:``); they are read with or without the
colons. A group submission gives one submission per member (same files).
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import cache
from pathlib import Path

from grader.intake.naming import safe_id, unique
from grader.rubric import Rubric
from grader.submission import Submission, SubmissionError

NAME = "gradescope"
TITLE = "a Gradescope export (submission_metadata.yml)"
METADATA = "submission_metadata.yml"


@cache
def _loader():
    """Safe YAML that reads Ruby-tagged nodes (``!ruby/object:…``) as plain data.

    Built on first use: PyYAML is imported only when a Gradescope export is read.
    """
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", _untagged)
    Loader.add_multi_constructor("tag:", _untagged)
    return yaml, Loader


def _untagged(loader, suffix, node):
    yaml, _ = _loader()
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


def detect(path: Path) -> bool:
    """``path`` holds ``submission_metadata.yml``."""
    return (path / METADATA).is_file()


def read(path: Path, rubric: Rubric, scratch: Path) -> tuple[list[Submission], list[str]]:
    """One submission per submitter of each listed folder."""
    yaml, loader = _loader()
    try:
        data = yaml.load((path / METADATA).read_text(encoding="utf-8-sig"), Loader=loader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SubmissionError(f"{path / METADATA}: not readable YAML ({str(exc)[:200]})") from None
    if not isinstance(data, dict):
        raise SubmissionError(f"{path / METADATA}: expected a mapping of submission folders to their metadata")
    rows, notes = [], []
    for folder_name, meta in sorted(data.items(), key=lambda kv: str(kv[0])):
        folder = path / str(folder_name)
        meta = _plain(meta) if isinstance(meta, dict) else {}
        if not folder.is_dir():
            notes.append(f"{folder_name}: listed in {METADATA} but no such folder, skipped")
            continue
        submitters = [_plain(s) for s in meta.get("submitters") or [] if isinstance(s, dict)]
        when = parse_time(meta.get("created_at"))
        if not submitters:
            submitters = [{"sid": str(folder_name)}]
        group = [s.get("name") or s.get("sid") or "" for s in submitters]
        for person in submitters:
            sid, email, name = (str(person.get(k) or "") for k in ("sid", "email", "name"))
            extra = ()
            if len(submitters) > 1:
                extra = (f"Group submission with {', '.join(g for g in group if g != (name or sid))}.",)
            rows.append((safe_id(sid or email.split("@")[0] or name or str(folder_name)), folder, name, email,
                         tuple(a for a in (sid, email, name, str(folder_name)) if a), when, extra))
    listed = {str(k) for k in data}
    for entry in sorted(path.iterdir()):
        if entry.is_dir() and entry.name not in listed and not entry.name.startswith("."):
            notes.append(f"{entry.name}: a folder not listed in {METADATA}, skipped")
    ids = unique([r[0] for r in rows])
    out = []
    for student, (_, folder, name, email, aliases, when, extra) in zip(ids, rows):
        said = (f"Submitted on Gradescope at {when.isoformat(sep=' ', timespec='seconds')}.",) if when else ()
        out.append(Submission(student, folder, name=name, email=email, aliases=aliases, submitted_at=when,
                              notes=said + extra))
    return out, notes


def _plain(mapping: dict) -> dict:
    """Ruby-symbol keys (``:sid``) as plain ones (``sid``)."""
    return {str(k).strip(":"): v for k, v in mapping.items()}


def parse_time(value) -> datetime | None:
    """A submission time from YAML (a datetime, or text like ``2026-03-20 23:50:12.123 +0900``), timezone-aware."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S.%f %z", "%Y-%m-%d %H:%M:%S %z", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            # strptime's %f takes at most 6 digits; Gradescope writes 9.
            return datetime.strptime(_trim_fraction(text), fmt)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _trim_fraction(text: str) -> str:
    import re

    return re.sub(r"(\.\d{6})\d+", r"\1", text)
