"""Crash-safe replacement of a directory: write a new one beside it, then swap them by renames.

A build writes `.NAME.new-PID` next to NAME, syncs it, and `swap` renames NAME to `.NAME.old-PID`
and the new directory to NAME. A crash leaves either the old directory or the new one: `recover`
puts the old one back if the crash fell between the two renames, and `remove_leftovers` deletes
half-written directories of builds whose process is gone.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def remove_leftovers(dest: Path) -> None:
    """Delete half-written directories of builds that were killed (their process is gone), and the
    previous directories that a build killed during its clean-up left behind."""
    old = list(dest.parent.glob(f".{dest.name}.old-*")) if dest.exists() else []  # a kill during clean-up
    for leftover in [*dest.parent.glob(f".{dest.name}.new-*"), *old]:
        pid = leftover.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def swap(new: Path, dest: Path) -> None:
    """Put the directory `new` in the place of `dest`, removing the old one."""
    old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
    if dest.exists():
        os.rename(dest, old)
    os.rename(new, dest)
    shutil.rmtree(old, ignore_errors=True)


def fsync_tree(folder: Path) -> None:
    """Flush every file under `folder` to disk."""
    for root, _, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def recover(path: Path, marker: str) -> None:
    """If a crash fell between the two renames of `swap`, put the previous directory back (the newest
    `.NAME.old-*` that holds the file `marker`)."""
    if path.exists():
        return
    olds = sorted(path.parent.glob(f".{path.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if olds and (olds[-1] / marker).exists():
        os.rename(olds[-1], path)
