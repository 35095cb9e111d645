"""Files and directories the bot creates hold webhook payloads, job logs and clones: only its own user
may read them (0600 / 0700), whatever the process umask says (issue 18: `bot.db` was created 0644).

The mode is set with fchmod/chmod after creation, because `open(..., mode)` and `mkdir(mode)` are both
filtered by the umask.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def create_private_file(path: Path) -> bool:
    """Create `path` empty with mode 0600 unless it exists; True when this call created it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return True


def ensure_private_dir(path: Path) -> Path:
    """`path` as a directory; the ones this call creates (parents included) get mode 0700."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            directory.mkdir(mode=DIR_MODE)
        directory.chmod(DIR_MODE)
    return path
