"""Where entries live: reading the journal folder and writing entries atomically."""

from __future__ import annotations

import os
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from core.atomic import leftover_temporaries, write_text
from core.journal.entries import (
    MAX_FILE_BYTES,
    Entry,
    EntryExistsError,
    Journal,
    JournalError,
    Problem,
    check_calendar,
    entry_filename,
    infer_first_weekday,
    parse_entry,
    with_experiment,
)
from core.journal.experiments import Experiment, now_utc
from core.journal.versions import DELETED, REPLACED, Version, keep_version, versions_dir
from core.paths import PROJECT_ROOT

STALE_TEMPORARY_S = 60  # older than any write in progress: a temporary file this old was left by a killed write


def journal_dir() -> Path:
    """The journal folder: `LLM_JOURNAL_DIR` if set, else `journal/` in the project."""
    env = os.environ.get("LLM_JOURNAL_DIR")
    return Path(env) if env else PROJECT_ROOT / "journal"


def load_journal(directory: Path | None = None) -> Journal:
    """Every entry in `directory` (default `journal_dir()`), with the files that could not be read."""
    directory = journal_dir() if directory is None else directory
    if not directory.is_dir():
        return Journal()
    remove_stale_temporaries(directory)
    entries: list[Entry] = []
    problems: list[Problem] = []
    for path in sorted(directory.glob("*.md")):
        if path.name.lower() == "readme.md" or not path.is_file():
            continue
        try:
            entries.append(parse_entry(_read_entry_file(path), source=path.name))
        except JournalError as err:
            problems.append(Problem(path.name, str(err)))

    kept: list[Entry] = []
    by_day: dict[int, list[Entry]] = defaultdict(list)
    for entry in entries:
        by_day[entry.day].append(entry)
    for day, same_day in sorted(by_day.items()):
        # The file named after the day wins; any other file claiming the day is reported.
        same_day.sort(key=lambda e: e.source != entry_filename(day))
        kept.append(same_day[0])
        problems += [Problem(e.source, f"duplicate day {day}: {same_day[0].source} is also day {day}; "
                                       "give this file another day number or merge the two")
                     for e in same_day[1:]]

    first_weekday = infer_first_weekday(kept)
    return Journal(
        entries=tuple(check_calendar(e, first_weekday) for e in kept),
        problems=tuple(sorted(problems, key=lambda p: p.source)),
    )


def _read_entry_file(path: Path, keep_line_ends: bool = False) -> str:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise JournalError(f"file is {size:,} bytes; an entry may be at most {MAX_FILE_BYTES:,}")
    try:
        return path.read_bytes().decode("utf-8") if keep_line_ends else path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise JournalError(f"not UTF-8 text (byte {err.start} cannot be decoded)") from None
    except OSError as err:
        raise JournalError(f"cannot be read: {err.strerror or err}") from None


def write_entry(directory: Path, day: int, text: str, *, overwrite: bool = False) -> Path:
    """Write `text` as `directory/day-NN.md` atomically; refuse to replace a file unless `overwrite`.

    A replaced file is kept first (unless the text is the same), as a version `restore_version` can bring back.
    """
    entry = parse_entry(text, source=entry_filename(day))
    if entry.day != day:
        raise JournalError(f"the text is for day {entry.day}, not day {day}")
    directory.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(directory)
    target = directory / entry_filename(day)
    if overwrite and target.is_file() and (old := target.read_bytes()) != text.encode("utf-8"):
        keep_version(directory, day, old, REPLACED)
    try:
        return write_text(target, text, overwrite=overwrite)
    except FileExistsError:
        raise EntryExistsError(f"{target.name} already exists; confirm to replace it") from None


def add_experiment(directory: Path, day: int, record: Experiment) -> Path:
    """Record `record` in day `day`'s entry, atomically; the entry as it was is kept as a version."""
    path = directory / entry_filename(day)
    if not path.is_file():
        raise JournalError(f"day {day} has no entry yet; write it on the New entry page first")
    text = _read_entry_file(path, keep_line_ends=True)
    if not record.at:
        record = replace(record, at=now_utc())
    return write_entry(directory, day, with_experiment(text, record), overwrite=True)


def delete_entry(directory: Path, day: int) -> Version:
    """Move day `day`'s entry to the versions folder, from where `restore_version` can bring it back."""
    target = directory / entry_filename(day)
    if not target.is_file():
        raise JournalError(f"{target.name} does not exist, so there is nothing to delete")
    version = keep_version(directory, day, target.read_bytes(), DELETED)
    target.unlink()
    return version


def restore_version(directory: Path, version: Version) -> Path:
    """Bring a kept version back as its day's entry; the entry it replaces, if any, is kept in turn."""
    try:
        text = version.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise JournalError(f"the kept copy {version.path.name} cannot be read ({err})") from None
    path = write_entry(directory, version.day, text, overwrite=True)
    version.path.unlink(missing_ok=True)
    return path


def remove_stale_temporaries(directory: Path, min_age_s: float = STALE_TEMPORARY_S) -> list[Path]:
    """Delete the temporary files that killed writes left in the journal folder; young ones may be in use."""
    removed = []
    for path in leftover_temporaries(directory) + leftover_temporaries(versions_dir(directory)):
        try:
            if time.time() - path.stat().st_mtime > min_age_s:
                path.unlink()
                removed.append(path)
        except OSError:  # gone already, or a read-only folder: nothing to clean
            continue
    return removed


def journal_storage(directory: Path | None = None) -> tuple[bool, str]:
    """(whether entries written to `directory` will last, why not if they will not)."""
    directory = journal_dir() if directory is None else directory
    if os.environ.get("LLM_JOURNAL_READONLY", "").strip() not in ("", "0", "false", "no"):
        return False, "LLM_JOURNAL_READONLY is set, so the journal folder is treated as read-only."
    if str(PROJECT_ROOT).startswith("/mount/src/") and "LLM_JOURNAL_DIR" not in os.environ:
        return False, ("The app runs on Streamlit Community Cloud, whose disk is reset when the "
                       "app restarts: new entries would be lost.")
    probe = directory if directory.exists() else directory.parent
    if not os.access(probe, os.W_OK):
        return False, f"The journal folder {directory} is not writable."
    return True, ""
