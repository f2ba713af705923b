"""The learning journal: day entries with YAML front matter, their validation, and progress figures.

An entry is `journal/day-NN.md`: a `---` fenced YAML block, then markdown. Front matter keys:
`day` (required), `weekday`, `date`, `title`, `chapters`, `page` (page reached), `hours` (hours the
learner logged), `topics`, `widgets` (live widgets shown beside the entry). Day N is the N-th calendar
day of the journey, so days without an entry are gaps.

The book is read in this order: Appendix A (PyTorch) first, then the chapters from page 1. Progress
is therefore counted as pages covered in each part of the book, never as the raw page number.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml

from core.paths import PROJECT_ROOT

WIDGETS = ("tokenizer", "attention", "parameters", "pretraining", "sampling", "spam")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
FIRST_WEEKDAY = "Thursday"  # day 1 of the starter journal; a journal's own entries can say otherwise
PLAN_HOURS = {"weekday": 2.0, "weekend": 1.0}

BOOK_PAGES = 360  # assumption: the printed book with its appendices, about 360 pages
BOOK_CHAPTERS = {  # book order
    "Chapter 1": "Understanding large language models",
    "Chapter 2": "Working with text data",
    "Chapter 3": "Coding attention mechanisms",
    "Chapter 4": "Implementing a GPT model from scratch to generate text",
    "Chapter 5": "Pretraining on unlabeled data",
    "Chapter 6": "Fine-tuning for classification",
    "Chapter 7": "Fine-tuning to follow instructions",
    "Appendix A": "Introduction to PyTorch",
    "Appendix B": "References and further reading",
    "Appendix C": "Exercise solutions",
    "Appendix D": "Adding bells and whistles to the training loop",
    "Appendix E": "Parameter-efficient fine-tuning with LoRA",
}
MAIN_TEXT = "Chapters"
PART_FIRST_PAGE = {MAIN_TEXT: 1, "Appendix A": 261}  # Appendix A as the learner read it: p. 261-279
CHAPTER_WIDGETS = {
    "Chapter 2": ("tokenizer",),
    "Chapter 3": ("attention",),
    "Chapter 4": ("parameters",),
    "Chapter 5": ("pretraining", "sampling"),
    "Chapter 6": ("spam",),
}

MAX_DAY = 999
MAX_PAGE = 9999
MAX_BODY_CHARS = 50_000
MAX_FILE_BYTES = 1_000_000
MAX_TITLE_CHARS = 200
MAX_TOPICS = 30
MAX_TOPIC_CHARS = 60
_FIELDS = ("day", "weekday", "date", "title", "chapters", "page", "hours", "topics", "widgets")


class JournalError(ValueError):
    """An entry that cannot be read or written; the message says what to fix."""


class EntryExistsError(JournalError):
    """Writing would replace an existing entry without the caller's confirmation."""


@dataclass(frozen=True)
class Entry:
    """One day of the journal."""

    day: int
    weekday: str
    body: str
    title: str = ""
    date: dt.date | None = None
    chapters: tuple[str, ...] = ()
    page: int | None = None
    hours: float | None = None
    topics: tuple[str, ...] = ()
    widgets: tuple[str, ...] = ()
    source: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def heading(self) -> str:
        label = f"Day {self.day} · {self.weekday}"
        return f"{label}: {self.title}" if self.title else label


@dataclass(frozen=True)
class Problem:
    """A file that could not be read as an entry."""

    source: str
    message: str


@dataclass(frozen=True)
class Journal:
    entries: tuple[Entry, ...] = ()  # sorted by day, one per day
    problems: tuple[Problem, ...] = ()

    @property
    def first_weekday(self) -> str:
        return infer_first_weekday(self.entries)

    def entry_for(self, day: int) -> Entry | None:
        return next((e for e in self.entries if e.day == day), None)


# ---------------------------------------------------------------------------------------------
# Calendar


def weekday_index(name: str) -> int:
    """0 for Monday ... 6 for Sunday; accepts full names and three-letter abbreviations."""
    key = name.strip().lower()
    for i, day in enumerate(WEEKDAYS):
        if len(key) >= 3 and day.lower().startswith(key):
            return i
    raise JournalError(f"weekday {name!r} is not a day of the week (Monday ... Sunday)")


def weekday_of(day: int, first_weekday: str = FIRST_WEEKDAY) -> str:
    """The weekday of journey day `day`, counting day 1 as `first_weekday`."""
    return WEEKDAYS[(weekday_index(first_weekday) + day - 1) % 7]


def planned_hours(weekday: str) -> float:
    """The study plan: 2 hours on weekdays, 1 hour on Saturdays and Sundays."""
    return PLAN_HOURS["weekend" if weekday_index(weekday) >= 5 else "weekday"]


def calendar_position(day: int, first_weekday: str = FIRST_WEEKDAY) -> tuple[int, int]:
    """(week number from 1, weekday index) of `day` in a Monday-first calendar grid."""
    offset = weekday_index(first_weekday) + day - 1
    return offset // 7 + 1, offset % 7


def infer_first_weekday(entries: Iterable[Entry]) -> str:
    """Day 1's weekday, taken from the earliest entry that states a weekday."""
    for entry in sorted(entries, key=lambda e: e.day):
        if entry.weekday:
            return WEEKDAYS[(weekday_index(entry.weekday) - (entry.day - 1)) % 7]
    return FIRST_WEEKDAY


def day_one_date(entries: Iterable[Entry]) -> dt.date | None:
    """The calendar date of day 1, when any entry records a date."""
    for entry in sorted(entries, key=lambda e: e.day):
        if entry.date is not None:
            return entry.date - dt.timedelta(days=entry.day - 1)
    return None


# ---------------------------------------------------------------------------------------------
# Reading entries


def journal_dir() -> Path:
    """The journal folder: `LLM_JOURNAL_DIR` if set, else `journal/` in the project."""
    env = os.environ.get("LLM_JOURNAL_DIR")
    return Path(env) if env else PROJECT_ROOT / "journal"


def entry_filename(day: int) -> str:
    """`day-05.md` for day 5: the only way an entry's file name is made."""
    if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= MAX_DAY:
        raise JournalError(f"day must be a whole number from 1 to {MAX_DAY}, got {day!r}")
    return f"day-{day:02d}.md"


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S | re.M)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Line breaks that PyYAML writes unescaped but reads back as a space (plain newlines round-trip).
_UNICODE_BREAK = re.compile("[\x85\u2028\u2029]")


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """The front matter as a dict and the markdown body after it."""
    text = text.lstrip("\ufeff")
    match = _FRONT_MATTER.match(text)
    if not match:
        raise JournalError("no front matter: the file must start with a '---' line, "
                           "the YAML fields, and a closing '---' line")
    try:
        front = yaml.safe_load(match.group(1))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        reason = getattr(err, "problem", None) or "not valid YAML"
        raise JournalError(f"front matter is not valid YAML{where}: {reason}") from None
    if front is None:
        front = {}
    if not isinstance(front, dict):
        raise JournalError("front matter must be 'key: value' lines")
    return front, text[match.end():].strip("\n")


def parse_entry(text: str, source: str = "<text>") -> Entry:
    """An `Entry` from a file's text; raises `JournalError` naming the field at fault."""
    front, body = split_front_matter(text)
    warnings = [f"unknown field {key!r} ignored" for key in front if key not in _FIELDS]
    if "day" not in front:
        raise JournalError("front matter has no 'day' (the day number, such as 'day: 5')")
    day = _whole_number(front["day"], "day", 1, MAX_DAY)

    weekday = ""
    if front.get("weekday") is not None:
        try:
            weekday = WEEKDAYS[weekday_index(str(front["weekday"]))]
        except JournalError as err:
            warnings.append(f"{err}; computed from the day number instead")

    page = None
    if front.get("page") is not None:
        page = _whole_number(front["page"], "page", 1, MAX_PAGE)
    hours = None
    if front.get("hours") is not None:
        hours = _hours(front["hours"])

    chapters = []
    for name in _string_list(front.get("chapters"), "chapters"):
        chapter = normalise_chapter(name)
        if chapter not in BOOK_CHAPTERS:
            warnings.append(f"chapter {name!r} is not like 'Chapter 3' or 'Appendix A'")
        chapters.append(chapter)

    widgets = []
    for name in _string_list(front.get("widgets"), "widgets"):
        if name.lower() in WIDGETS:
            widgets.append(name.lower())
        else:
            warnings.append(f"unknown widget {name!r} (known: {', '.join(WIDGETS)})")

    return Entry(
        day=day,
        weekday=weekday,
        body=body,
        title=str(front.get("title") or "").strip(),
        date=_date(front.get("date")),
        chapters=tuple(dict.fromkeys(chapters)),
        page=page,
        hours=hours,
        topics=tuple(dict.fromkeys(t.strip().lower() for t in _string_list(front.get("topics"), "topics"))),
        widgets=tuple(dict.fromkeys(widgets)),
        source=source,
        warnings=tuple(warnings),
    )


def normalise_chapter(name: str) -> str:
    """'chapter 3' and 'Ch. 3' become 'Chapter 3'; 'appendix a' becomes 'Appendix A'."""
    text = " ".join(name.split())
    if m := re.fullmatch(r"(?:chapter|ch\.?)\s*(\d+)", text, re.I):
        return f"Chapter {int(m.group(1))}"
    if m := re.fullmatch(r"(?:appendix|app\.?)\s*([a-z])", text, re.I):
        return f"Appendix {m.group(1).upper()}"
    return text


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
        entries=tuple(_check_calendar(e, first_weekday) for e in kept),
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


def _check_calendar(entry: Entry, first_weekday: str) -> Entry:
    """Fill in a missing weekday; warn where the weekday or the file name disagrees with the day."""
    warnings = list(entry.warnings)
    expected = weekday_of(entry.day, first_weekday)
    if entry.weekday and entry.weekday != expected:
        warnings.append(f"weekday {entry.weekday} does not match day {entry.day}, which is a "
                        f"{expected} when day 1 is a {first_weekday}")
    if entry.source and entry.source != entry_filename(entry.day):
        warnings.append(f"file name should be {entry_filename(entry.day)} for day {entry.day}")
    return replace(entry, weekday=entry.weekday or expected, warnings=tuple(warnings))


def _whole_number(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise JournalError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise JournalError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _hours(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise JournalError(f"hours must be a number, got {value!r}")
    if not 0 <= value <= 24:
        raise JournalError(f"hours must be between 0 and 24, got {value}")
    return float(value)


def _date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise JournalError(f"date must look like 2025-03-06, got {value!r}") from None


def _string_list(value: Any, name: str) -> list[str]:
    """A list of non-empty strings; a single string may be comma-separated."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        raise JournalError(f"{name} must be a list such as [a, b], got {value!r}")
    items = []
    for item in value:
        if isinstance(item, (dict, list)) or item is None:
            raise JournalError(f"{name} must be a list of plain words, got {item!r}")
        if text := str(item).strip():
            items.append(text)
    return items


# ---------------------------------------------------------------------------------------------
# Writing entries


def format_entry(
    *,
    day: int,
    body: str,
    weekday: str | None = None,
    title: str = "",
    date: dt.date | None = None,
    chapters: Sequence[str] = (),
    page: int | None = None,
    hours: float | None = None,
    topics: Sequence[str] = (),
    widgets: Sequence[str] = (),
) -> str:
    """The text of an entry file; raises `JournalError` if anything would not read back cleanly."""
    entry_filename(day)  # validates the day
    body = body.replace("\r\n", "\n").replace("\r", "\n").strip()
    title = title.strip()
    topics = [t.strip() for t in topics if t.strip()]
    if not body:
        raise JournalError("the entry has no text: write what you read and what you understood")
    if len(body) > MAX_BODY_CHARS:
        raise JournalError(f"the entry has {len(body):,} characters; the limit is {MAX_BODY_CHARS:,}")
    if len(title) > MAX_TITLE_CHARS:
        raise JournalError(f"the title has {len(title)} characters; the limit is {MAX_TITLE_CHARS}")
    if len(topics) > MAX_TOPICS or any(len(t) > MAX_TOPIC_CHARS for t in topics):
        raise JournalError(f"at most {MAX_TOPICS} topics of up to {MAX_TOPIC_CHARS} characters each")
    for name, text in [("title", title), ("text", body), *(("topic", t) for t in topics)]:
        _check_plain_text(name, text)
    for name, text in [("title", title), *(("topic", t) for t in topics)]:
        if _UNICODE_BREAK.search(text):
            raise JournalError(f"the {name} contains a Unicode line separator (U+0085, U+2028 or U+2029) "
                               "that would not read back; replace it with a space")

    front: dict[str, Any] = {"day": day, "weekday": weekday or weekday_of(day)}
    if title:
        front["title"] = title
    if date is not None:
        front["date"] = date
    if chapters:
        front["chapters"] = list(chapters)
    if page is not None:
        front["page"] = page
    if hours is not None:
        front["hours"] = int(hours) if float(hours).is_integer() else float(hours)
    if topics:
        front["topics"] = topics
    if widgets:
        front["widgets"] = list(widgets)
    text = "---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=1000) + "---\n\n" + body + "\n"

    entry = parse_entry(text)
    if entry.warnings:
        raise JournalError("; ".join(entry.warnings))
    return text


def _check_plain_text(name: str, text: str) -> None:
    if _CONTROL.search(text):
        raise JournalError(f"the {name} contains control characters; remove them and try again")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise JournalError(f"the {name} contains characters that are not valid Unicode") from None


def write_entry(directory: Path, day: int, text: str, *, overwrite: bool = False) -> Path:
    """Write `text` as `directory/day-NN.md` atomically; refuse to replace a file unless `overwrite`."""
    entry = parse_entry(text, source=entry_filename(day))
    if entry.day != day:
        raise JournalError(f"the text is for day {entry.day}, not day {day}")
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / entry_filename(day)
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(0o644)
        if overwrite:
            os.replace(tmp, target)
        else:
            _move_without_replacing(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _move_without_replacing(tmp: Path, target: Path) -> None:
    """Give `tmp` the name `target` unless `target` exists (a hard link makes the check atomic)."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise EntryExistsError(f"{target.name} already exists; confirm to replace it") from None
    except OSError:  # a file system without hard links
        if target.exists():
            raise EntryExistsError(f"{target.name} already exists; confirm to replace it") from None
        os.replace(tmp, target)


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


# ---------------------------------------------------------------------------------------------
# Displaying entry text

_CODE = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]*`)", re.S)
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^\s<>]+)>", re.I)
_HTML = re.compile(r"<!--.*?(?:-->|\Z)|</?[A-Za-z][^<>]*>", re.S)
_UNSAFE_LINK = re.compile(r"\]\(\s*<?\s*(?:javascript|vbscript|data)\s*:", re.I)
_HEADING = re.compile(r"^(#{1,4})(?=\s)", re.M)


def display_markdown(body: str) -> str:
    """Entry markdown made safe to show: HTML tags and script links removed outside code,
    headings moved two levels down so they sit under the entry's own heading."""
    parts = _CODE.split(body)
    for i in range(0, len(parts), 2):  # even parts are outside code
        text = _AUTOLINK.sub(r"\1", parts[i])
        text = _HTML.sub("", text)
        text = _UNSAFE_LINK.sub("](#", text)
        parts[i] = _HEADING.sub(r"##\1", text)
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# Progress


@dataclass(frozen=True)
class DayProgress:
    """One calendar day of the journey, with or without an entry."""

    day: int
    weekday: str
    studied: bool
    page: int | None  # page reached that day, as written in the entry
    part: str | None  # the part of the book that page is in
    pages_today: int
    pages_read: int  # pages covered so far, all parts together
    hours: float
    planned_hours: float


def part_of(chapter: str) -> str:
    """An appendix is its own part of the book; chapters share the main text's page numbers."""
    return chapter if chapter.startswith("Appendix ") else MAIN_TEXT


def progress_by_day(entries: Sequence[Entry], first_weekday: str | None = None) -> list[DayProgress]:
    """Every day from 1 to the latest entry, with pages covered so far (never going backwards)."""
    if not entries:
        return []
    first_weekday = first_weekday or infer_first_weekday(entries)
    by_day = {e.day: e for e in entries}
    first_page: dict[str, int] = {}
    furthest: dict[str, int] = {}
    pages_read = 0
    days = []
    for day in range(1, max(by_day) + 1):
        entry = by_day.get(day)
        part = None
        if entry is not None and entry.page is not None:
            part = part_of(entry.chapters[-1]) if entry.chapters else MAIN_TEXT
            first_page[part] = min(PART_FIRST_PAGE.get(part, entry.page), first_page.get(part, entry.page),
                                   entry.page)
            furthest[part] = max(furthest.get(part, entry.page), entry.page)
        total = sum(furthest[p] - first_page[p] + 1 for p in furthest)
        weekday = weekday_of(day, first_weekday)
        days.append(DayProgress(
            day=day,
            weekday=weekday,
            studied=entry is not None,
            page=entry.page if entry else None,
            part=part,
            pages_today=total - pages_read,
            pages_read=total,
            hours=(entry.hours or 0.0) if entry else 0.0,
            planned_hours=planned_hours(weekday),
        ))
        pages_read = total
    return days


@dataclass(frozen=True)
class ChapterSpan:
    chapter: str
    title: str
    first_day: int
    last_day: int
    done_by: int | None  # the day a later chapter was under way after this one's last mention

    @property
    def finished(self) -> bool:
        return self.done_by is not None


def chapter_spans(entries: Sequence[Entry]) -> list[ChapterSpan]:
    """Chapters in the order they were read, with the days they were read on and when they were done."""
    ordered = sorted(entries, key=lambda e: e.day)
    reading_order: list[str] = []
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for entry in ordered:
        for chapter in entry.chapters:
            if chapter not in first:
                reading_order.append(chapter)
                first[chapter] = entry.day
            last[chapter] = entry.day
    spans = []
    for i, chapter in enumerate(reading_order):
        later = set(reading_order[i + 1:])
        done_by = next((e.day for e in ordered if e.day >= last[chapter] and later & set(e.chapters)), None)
        spans.append(ChapterSpan(chapter, BOOK_CHAPTERS.get(chapter, ""), first[chapter], last[chapter], done_by))
    return spans


@dataclass(frozen=True)
class Streaks:
    current: int  # consecutive days with an entry, ending with the latest entry
    longest: int
    gaps: tuple[tuple[int, int], ...] = ()  # (first day, last day) without an entry


def streaks(days: Sequence[DayProgress]) -> Streaks:
    longest = run = 0
    gaps: list[tuple[int, int]] = []
    for d in days:
        if d.studied:
            run += 1
            longest = max(longest, run)
        else:
            run = 0
            if gaps and gaps[-1][1] == d.day - 1:
                gaps[-1] = (gaps[-1][0], d.day)
            else:
                gaps.append((d.day, d.day))
    return Streaks(current=run, longest=longest, gaps=tuple(gaps))


@dataclass(frozen=True)
class Pace:
    pages_read: int
    book_pages: int
    hours_logged: float
    hours_planned: float  # for every day so far, gaps included
    pages_per_hour: float | None
    pages_per_day: float | None  # per calendar day, gaps included
    finish_on_plan: int | None  # day number at pages_per_hour and the plan's hours
    finish_at_rhythm: int | None  # day number at pages_per_day
    last_day: int

    @property
    def pages_left(self) -> int:
        return max(self.book_pages - self.pages_read, 0)

    @property
    def share_read(self) -> float:
        return min(self.pages_read / self.book_pages, 1.0)


def pace(days: Sequence[DayProgress], book_pages: int = BOOK_PAGES, horizon_days: int = 3650) -> Pace | None:
    """Pages per hour and per day so far, and the day the book would be finished at that pace."""
    if not days:
        return None
    last = days[-1]
    hours = sum(d.hours for d in days)
    pages_left = max(book_pages - last.pages_read, 0)
    per_hour = last.pages_read / hours if hours and last.pages_read else None
    per_day = last.pages_read / last.day if last.pages_read else None

    on_plan = None
    if pages_left == 0:
        on_plan = last.day
    elif per_hour:
        hours_needed = pages_left / per_hour
        for ahead in range(1, horizon_days):
            hours_needed -= planned_hours(WEEKDAYS[(weekday_index(last.weekday) + ahead) % 7])
            if hours_needed <= 1e-9:
                on_plan = last.day + ahead
                break
    at_rhythm = None
    if per_day and math.ceil(pages_left / per_day) < horizon_days:
        at_rhythm = last.day + math.ceil(pages_left / per_day)

    return Pace(
        pages_read=last.pages_read,
        book_pages=book_pages,
        hours_logged=hours,
        hours_planned=sum(d.planned_hours for d in days),
        pages_per_hour=per_hour,
        pages_per_day=per_day,
        finish_on_plan=on_plan,
        finish_at_rhythm=at_rhythm,
        last_day=last.day,
    )


@dataclass(frozen=True)
class NextUp:
    current: str | None  # the chapter being read in the latest entry
    page: int | None
    upcoming: tuple[str, ...]  # chapters not started yet, in book order
    widgets: tuple[str, ...]  # live widgets that go with the current chapter

    @property
    def book_done(self) -> bool:
        return self.current is not None and not self.upcoming


def next_up(entries: Sequence[Entry]) -> NextUp:
    """Where the learner is and what is left, in book order."""
    ordered = sorted(entries, key=lambda e: e.day)
    with_chapters = [e for e in ordered if e.chapters]
    current = with_chapters[-1].chapters[-1] if with_chapters else None
    pages = [e.page for e in ordered if e.page is not None]
    started = {c for e in ordered for c in e.chapters}
    return NextUp(
        current=current,
        page=pages[-1] if pages else None,
        upcoming=tuple(c for c in BOOK_CHAPTERS if c not in started),
        widgets=CHAPTER_WIDGETS.get(current or "", ()),
    )
