"""Progress figures: pages covered per day, chapter spans, streaks, pace and what comes next.

The book is read in this order: Appendix A (PyTorch) first, then the chapters from page 1. Progress
is therefore counted as pages covered in each part of the book, never as the raw page number.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.journal.book import (
    BOOK_CHAPTERS,
    BOOK_PAGES,
    MAIN_TEXT,
    PART_FIRST_PAGE,
    part_of,
)
from core.journal.entries import (
    FIRST_WEEKDAY,
    WEEKDAYS,
    Entry,
    infer_first_weekday,
    weekday_index,
    weekday_of,
)

PLAN_HOURS = {"weekday": 2.0, "weekend": 1.0}


def planned_hours(weekday: str) -> float:
    """The study plan: 2 hours on weekdays, 1 hour on Saturdays and Sundays."""
    return PLAN_HOURS["weekend" if weekday_index(weekday) >= 5 else "weekday"]


def calendar_position(day: int, first_weekday: str = FIRST_WEEKDAY) -> tuple[int, int]:
    """(week number from 1, weekday index) of `day` in a Monday-first calendar grid."""
    offset = weekday_index(first_weekday) + day - 1
    return offset // 7 + 1, offset % 7


def day_one_date(entries: Iterable[Entry]) -> dt.date | None:
    """The calendar date of day 1, when any entry records a date."""
    for entry in sorted(entries, key=lambda e: e.day):
        if entry.date is not None:
            return entry.date - dt.timedelta(days=entry.day - 1)
    return None


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
    )
