"""Where entries live: reading the journal folder and writing entries atomically."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from core.atomic import write_text
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
)
from core.paths import PROJECT_ROOT


def journal_dir() -> Path:
    """The journal folder: `LLM_JOURNAL_DIR` if set, else `journal/` in the project."""
    env = os.environ.get("LLM_JOURNAL_DIR")
    return Path(env) if env else PROJECT_ROOT / "journal"


def load_journal(directory: Path | None = None) -> Journal:
    """Every entry in `directory` (default `journal_dir()`), with the files that could not be read."""
    directory = journal_dir() if directory is None else directory
    if not directory.is_dir():
        return Journal()
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


def _read_entry_file(path: Path) -> str:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise JournalError(f"file is {size:,} bytes; an entry may be at most {MAX_FILE_BYTES:,}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise JournalError(f"not UTF-8 text (byte {err.start} cannot be decoded)") from None
    except OSError as err:
        raise JournalError(f"cannot be read: {err.strerror or err}") from None


def write_entry(directory: Path, day: int, text: str, *, overwrite: bool = False) -> Path:
    """Write `text` as `directory/day-NN.md` atomically; refuse to replace a file unless `overwrite`."""
    entry = parse_entry(text, source=entry_filename(day))
    if entry.day != day:
        raise JournalError(f"the text is for day {entry.day}, not day {day}")
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / entry_filename(day)
    try:
        return write_text(target, text, overwrite=overwrite)
    except FileExistsError:
        raise EntryExistsError(f"{target.name} already exists; confirm to replace it") from None


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
