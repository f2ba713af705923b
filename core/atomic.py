"""The one way the app writes a file: a temporary file beside the target, flushed, then renamed.

A reader never sees half a file, and a kill mid-write leaves at most a hidden `.NAME.*.tmp` file
beside the target (`leftover_temporaries` finds them).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

TMP_SUFFIX = ".tmp"


def atomic_write(path: Path, write: Callable[[Path], None], *, overwrite: bool = True) -> Path:
    """Call `write(tmp)` on a temporary file beside `path`, then give it `path`'s name.

    With `overwrite=False` an existing `path` is never replaced: `FileExistsError` instead
    (a hard link makes the check and the rename one step).
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        tmp.chmod(0o644)
        if overwrite:
            os.replace(tmp, path)
        else:
            _move_without_replacing(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path: Path, text: str, *, overwrite: bool = True) -> Path:
    """`text` as UTF-8 with plain newlines, written atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8", newline="\n"), overwrite=overwrite)


def write_bytes(path: Path, data: bytes, *, overwrite: bool = True) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data), overwrite=overwrite)


def _move_without_replacing(tmp: Path, target: Path) -> None:
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links
        if target.exists():
            raise FileExistsError(target) from None
        os.replace(tmp, target)


def leftover_temporaries(directory: Path) -> list[Path]:
    """Temporary files that an interrupted `atomic_write` left in `directory`."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob(f".*{TMP_SUFFIX}") if p.is_file() and not p.is_symlink())
