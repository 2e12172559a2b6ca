"""Real file systems mounted for a test (a small tmpfs, a btrfs image)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def mounted(options: list[str], source: str | Path, mount: Path) -> Iterator[Path]:
    """`mount OPTIONS SOURCE MOUNT` (the folder made here), unmounted
    afterwards; the test is skipped, saying why, where mounting is not
    allowed (it needs root)."""
    mount.mkdir()
    done = subprocess.run(
        ["mount", *options, str(source), str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount {source} here (needs root): {done.stderr!r}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)
