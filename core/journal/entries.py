"""Journal entries: `journal/day-NN.md` files, a `---` fenced YAML block, then markdown.

Front matter keys: `day` (required), `weekday`, `date`, `title`, `chapters`, `page` (page reached),
`hours` (hours the learner logged), `topics`, `widgets` (names of live widgets shown beside the entry, kept
as lower-case words: which names exist is the UI's business), `widget_state` (each widget's starting
settings, `{attention: {causal: true}}`), `experiments` (records kept by the widgets, see
`core.journal.experiments`; they have a size budget of their own). Day N
is the N-th calendar day of the journey, so days without an entry are gaps.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from core.errors import UserError
from core.journal import experiments as exp
from core.journal.book import BOOK_CHAPTERS, normalise_chapter

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
FIRST_WEEKDAY = "Thursday"  # day 1 of the starter journal; a journal's own entries can say otherwise

MAX_DAY = 999
MAX_PAGE = 9999
MAX_BODY_CHARS = 50_000
MAX_FILE_BYTES = 1_000_000
MAX_TITLE_CHARS = 200
MAX_TOPICS = 30
MAX_TOPIC_CHARS = 60
MAX_FRONT_MATTER_CHARS = 10_000
# A mapping of lists is 2, an experiment record's settings 4; two more levels let a mistyped record be a
# warning on its entry rather than an unreadable file. Deeper is a mistake, or a file built to exhaust the parser.
MAX_FRONT_MATTER_DEPTH = 7
MAX_WIDGET_STATE_FIELDS = 12  # per widget
_FIELDS = ("day", "weekday", "date", "title", "chapters", "page", "hours", "topics", "widgets", "widget_state",
           "experiments")


class JournalError(UserError):
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
    widget_state: dict[str, dict[str, Any]] = field(default_factory=dict)  # widget name -> its starting settings
    experiments: tuple[exp.Experiment, ...] = ()  # the records that validate
    experiment_data: tuple[Any, ...] = ()  # every record as read, kept as it is when the entry is saved again
    source: str = ""
    warnings: tuple[str, ...] = ()
    experiment_warnings: tuple[str, ...] = ()

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


def infer_first_weekday(entries: Iterable[Entry]) -> str:
    """Day 1's weekday, taken from the earliest entry that states a weekday."""
    for entry in sorted(entries, key=lambda e: e.day):
        if entry.weekday:
            return WEEKDAYS[(weekday_index(entry.weekday) - (entry.day - 1)) % 7]
    return FIRST_WEEKDAY


def entry_filename(day: int) -> str:
    """`day-05.md` for day 5: the only way an entry's file name is made."""
    if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= MAX_DAY:
        raise JournalError(f"day must be a whole number from 1 to {MAX_DAY}, got {day!r}")
    return f"day-{day:02d}.md"


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S | re.M)
_WIDGET_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Line breaks that PyYAML writes unescaped but reads back as a space (plain newlines round-trip).
_UNICODE_BREAK = re.compile("[\x85\u2028\u2029]")


class _NotAllowed(yaml.YAMLError):
    """Valid YAML that an entry's front matter does not accept."""


class _FrontMatterLoader(yaml.SafeLoader):
    """Safe YAML for front matter: no aliases or tags, shallow nesting, impossible dates kept as text.

    Aliases let a few hundred bytes stand for gigabytes once printed; deep nesting exhausts the
    recursion limit; both are refused while the document is composed, before anything is built.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        line = event.start_mark.line + 2  # +1 for counting from 1, +1 for the opening '---'
        if isinstance(event, yaml.AliasEvent):
            raise _NotAllowed(f"line {line} uses an alias (*{event.anchor}); write the value out instead")
        if getattr(event, "tag", None) is not None:
            raise _NotAllowed(f"line {line} has a YAML tag ({event.tag}); write a plain value instead")
        if self._depth >= MAX_FRONT_MATTER_DEPTH:
            raise _NotAllowed(f"line {line} is nested more than {MAX_FRONT_MATTER_DEPTH} levels deep; "
                              "fields are plain values or lists")
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_timestamp(self, node: yaml.Node) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:  # 2025-02-30 looks like a date but is none; `_date` says so
            return self.construct_scalar(node)


_FrontMatterLoader.add_constructor("tag:yaml.org,2002:timestamp", _FrontMatterLoader.construct_yaml_timestamp)


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """The front matter as a dict and the markdown body after it."""
    text = text.lstrip("\ufeff")
    match = _FRONT_MATTER.match(text)
    if not match:
        raise JournalError("no front matter: the file must start with a '---' line, "
                           "the YAML fields, and a closing '---' line")
    _check_front_matter_size(match.group(1))
    try:
        front = yaml.load(match.group(1), Loader=_FrontMatterLoader)
    except _NotAllowed as err:
        raise JournalError(f"front matter {err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        reason = getattr(err, "problem", None) or "not valid YAML"
        raise JournalError(f"front matter is not valid YAML{where}: {reason}") from None
    except ValueError as err:  # a number YAML recognises but cannot convert, such as 0b_
        raise JournalError(f"front matter has a value that cannot be read ({err})") from None
    if front is None:
        front = {}
    if not isinstance(front, dict):
        raise JournalError("front matter must be 'key: value' lines")
    return front, text[match.end():].strip("\n")


def _check_front_matter_size(front: str) -> None:
    """The experiments' records have a budget of their own; everything else shares the front matter's limit."""
    span = exp.block_span(front)
    records = span[1] - span[0] if span else 0
    if len(front) - records > MAX_FRONT_MATTER_CHARS:
        raise JournalError(f"the front matter has {len(front) - records:,} characters; the limit is "
                           f"{MAX_FRONT_MATTER_CHARS:,} (long text belongs below the closing '---')")
    if records > exp.MAX_EXPERIMENTS_CHARS:
        raise JournalError(f"the experiments take {records:,} characters; the limit is "
                           f"{exp.MAX_EXPERIMENTS_CHARS:,} (remove some records)")


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
        if _WIDGET_NAME.fullmatch(name.lower()):
            widgets.append(name.lower())
        else:
            warnings.append(f"widget {name!r} is not a name like 'tokenizer' or 'next_token_game'")

    widget_state, state_warnings = _widget_state(front.get("widget_state"))
    warnings += state_warnings
    raw_experiments = front.get("experiments")
    records, experiment_warnings = exp.read_all(raw_experiments)
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
        widget_state=widget_state,
        experiments=records,
        experiment_data=tuple(raw_experiments) if isinstance(raw_experiments, list) else (),
        source=source,
        warnings=tuple(warnings),
        experiment_warnings=experiment_warnings,
    )


def _widget_state(value: Any) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """`widget_state: {attention: {causal: true}}`: plain settings per widget name; anything else is warned about."""
    if value is None:
        return {}, []
    if not isinstance(value, dict):
        return {}, ["widget_state must be fields per widget, such as {attention: {causal: true}}; ignored"]
    state, warnings = {}, []
    for name, settings in value.items():
        ok_name = isinstance(name, str) and _WIDGET_NAME.fullmatch(name)
        plain = isinstance(settings, dict) and len(settings) <= MAX_WIDGET_STATE_FIELDS and all(
            isinstance(k, str) and (v is None or isinstance(v, (str, int, float, bool))) for k, v in settings.items())
        if ok_name and plain:
            state[name] = dict(settings)
        else:
            warnings.append(f"widget_state for {name!r} is not plain settings for a widget; ignored")
    return state, warnings


def check_calendar(entry: Entry, first_weekday: str) -> Entry:
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
        return dt.datetime.fromisoformat(str(value).strip()).date()
    except ValueError:
        raise JournalError(f"date must look like 2025-03-06 and be a real calendar day, got {value!r}") from None


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
    widget_state: dict[str, dict[str, Any]] | None = None,
    experiments: Sequence[Any] = (),
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
    if widget_state:
        front["widget_state"] = widget_state
    records = [exp.to_front(r) if isinstance(r, exp.Experiment) else r for r in experiments]
    text = ("---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=1000)
            + exp.format_block(records) + "---\n\n" + body + "\n")

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

def with_experiment(text: str, record: exp.Experiment) -> str:
    """`text` with `record` added to its experiments; every other byte of the file stays as it was.

    Only the `experiments:` field is rewritten (and moved last in the front matter); the result is read
    back and compared with the original, so a file this cannot edit cleanly is refused, never changed.
    """
    bom = text[: len(text) - len(text.lstrip("\ufeff"))]
    rest = text[len(bom):]
    match = _FRONT_MATTER.match(rest)
    front, body = split_front_matter(text)
    records = exp.appended(front.get("experiments"), record)
    old = match.group(1)
    span = exp.block_span(old)
    others = old if span is None else old[: span[0]] + old[span[1]:]
    if others and not others.endswith("\n"):
        others += "\n"
    new = bom + rest[: match.start(1)] + others + exp.format_block(records) + rest[match.end(1):]
    new_front, new_body = split_front_matter(new)
    same = {k: v for k, v in new_front.items() if k != "experiments"} == {
        k: v for k, v in front.items() if k != "experiments"}
    if not same or new_body != body or new_front.get("experiments") != records:
        raise JournalError("this entry's front matter is written in a way the app cannot add to without "
                           "changing it; add the experiment by hand or save the entry once on New entry")
    parse_entry(new)
    return new


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
