"""Replaced and deleted entries are kept and can be restored; killed writes leave nothing behind for long."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.atomic import leftover_temporaries
from core.journal import entries, store, versions
from core.paths import PROJECT_ROOT


def entry(day: int, body: str) -> str:
    return entries.format_entry(day=day, body=body)


def age(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_replacing_an_entry_keeps_the_previous_version(tmp_path):
    store.write_entry(tmp_path, 6, entry(6, "First draft."))
    store.write_entry(tmp_path, 6, entry(6, "Second draft."), overwrite=True)
    store.write_entry(tmp_path, 6, entry(6, "Second draft."), overwrite=True)  # the same again: nothing to keep
    assert "Second draft." in (tmp_path / "day-06.md").read_text(encoding="utf-8")
    [kept] = versions.list_versions(tmp_path, day=6)
    assert kept.kind == versions.REPLACED and "First draft." in kept.read()

    store.restore_version(tmp_path, kept)
    assert "First draft." in (tmp_path / "day-06.md").read_text(encoding="utf-8")
    [kept] = versions.list_versions(tmp_path, day=6)  # the restored copy left the list, the replaced one joined it
    assert "Second draft." in kept.read()
    assert [e.day for e in store.load_journal(tmp_path).entries] == [6]  # kept copies are not entries


def test_a_deleted_entry_can_be_restored(tmp_path):
    store.write_entry(tmp_path, 3, entry(3, "Day three."))
    version = store.delete_entry(tmp_path, 3)
    assert not (tmp_path / "day-03.md").exists() and store.load_journal(tmp_path).entries == ()
    assert versions.list_versions(tmp_path, kind=versions.DELETED) == [version]
    store.restore_version(tmp_path, version)
    assert "Day three." in (tmp_path / "day-03.md").read_text(encoding="utf-8")
    assert versions.list_versions(tmp_path) == []
    with pytest.raises(entries.JournalError, match="nothing to delete"):
        store.delete_entry(tmp_path, 4)


def test_kept_versions_are_pruned_and_odd_files_ignored(tmp_path):
    for i in range(versions.KEEP_PER_DAY + 5):
        store.write_entry(tmp_path, 2, entry(2, f"Draft {i}."), overwrite=True)
    kept = versions.list_versions(tmp_path, day=2)
    assert len(kept) == versions.KEEP_PER_DAY
    assert f"Draft {versions.KEEP_PER_DAY + 3}." in kept[0].read()  # newest first; the last draft is the entry
    (versions.versions_dir(tmp_path) / "notes.md").write_text("mine", encoding="utf-8")
    (versions.versions_dir(tmp_path) / "day-02.garbage.deleted.md").write_text("x", encoding="utf-8")
    assert len(versions.list_versions(tmp_path)) == versions.KEEP_PER_DAY


def test_stale_temporaries_are_removed_when_the_journal_is_loaded_or_written(tmp_path):
    store.write_entry(tmp_path, 1, entry(1, "One."))
    stale = tmp_path / ".day-01.md.abc123.tmp"
    stale.write_text("half an entry")
    age(stale, 600)
    fresh = tmp_path / ".day-02.md.def456.tmp"
    fresh.write_text("a write in progress")
    store.load_journal(tmp_path)
    assert leftover_temporaries(tmp_path) == [fresh]  # a young one may belong to a write going on now

    age(fresh, 600)
    store.write_entry(tmp_path, 5, entry(5, "Five."))
    assert leftover_temporaries(tmp_path) == []


WRITER = """
import sys
from pathlib import Path
from core.journal import entries, store
folder, first = Path(sys.argv[1]), int(sys.argv[2])
print("ready", flush=True)
for i in range(first, first + 100_000):
    for day in (1, 2, 3):
        text = entries.format_entry(day=day, body=f"round {i}\\n{'x' * 40_000}")
        store.write_entry(folder, day, text, overwrite=True)
"""
COMPLETE = re.compile(r"round (\d+)\n" + "x" * 40_000)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_killed_writes_lose_nothing_and_leave_nothing_behind(tmp_path):
    for day in (1, 2, 3):
        store.write_entry(tmp_path, day, entries.format_entry(day=day, body=f"round 0\n{'x' * 40_000}"))
    rng = random.Random(18)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    for kill in range(1, 9):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(kill * 100_000)],
                                  cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE)
        assert writer.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.05, 0.4))
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
        for day in (1, 2, 3):  # each entry is a whole version, the old one or a new one
            entry = entries.parse_entry((tmp_path / entries.entry_filename(day)).read_text(encoding="utf-8"))
            assert COMPLETE.fullmatch(entry.body), entry.body[:40]
        for version in versions.list_versions(tmp_path):
            assert COMPLETE.fullmatch(entries.parse_entry(version.read()).body)

    for leftover in leftover_temporaries(tmp_path) + leftover_temporaries(versions.versions_dir(tmp_path)):
        age(leftover, 120)  # as if the next load came a few minutes later
    journal = store.load_journal(tmp_path)
    assert [e.day for e in journal.entries] == [1, 2, 3] and journal.problems == ()
    assert leftover_temporaries(tmp_path) == leftover_temporaries(versions.versions_dir(tmp_path)) == []
