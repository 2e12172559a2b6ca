"""The warehouse snapshot `make shell` opens (pipeline/run.py, take_snapshot):
a copy by the kernel, which on a copy-on-write file system shares the
warehouse's blocks instead of writing them again (at 10,000 meters a 2 GB
copy every hour), and a plain copy where the kernel cannot copy."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from core.settings import load_settings
from pipeline import run as run_module
from pipeline.run import snapshot_path, take_snapshot
from tests.support.mounts import mounted


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def warehouse_in(data_dir: Path):
    """Settings of a DATA_DIR whose warehouse holds about 8 MB of table."""
    settings = load_settings(data_dir, {"DATA_DIR": str(data_dir)})
    data_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse)) as db:
        db.execute("create table filler as select random() as x from range(1000000)")
    return settings


@pytest.fixture
def btrfs_disk(tmp_path: Path) -> Iterator[Path]:
    """A real btrfs file system in a 256 MB image file, unmounted afterwards."""
    if shutil.which("mkfs.btrfs") is None:
        pytest.skip("mkfs.btrfs is not installed (Debian: btrfs-progs)")
    image = tmp_path / "btrfs.img"
    with image.open("wb") as file:
        file.truncate(256 * 1024 * 1024)
    subprocess.run(["mkfs.btrfs", "-q", str(image)], check=True, capture_output=True)
    with mounted(["-o", "loop"], image, tmp_path / "btrfs") as mount:
        yield mount


def exclusive_bytes(path: Path) -> int:
    """The bytes of `path` no other file shares (btrfs filesystem du)."""
    subprocess.run(["sync"], check=True)
    answer = subprocess.run(
        ["btrfs", "filesystem", "du", "--raw", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    # "Total   Exclusive  Set shared  Filename", then one row per file.
    return int(answer[-1].split()[1])


def test_on_btrfs_the_snapshot_shares_the_warehouse_blocks(btrfs_disk: Path) -> None:
    settings = warehouse_in(btrfs_disk / "data")

    take_snapshot(settings)

    snapshot = snapshot_path(settings)
    size = snapshot.stat().st_size
    assert size > 4_000_000
    assert digest(snapshot) == digest(settings.warehouse)
    # A plain copy writes every block again: all of them its own.
    assert exclusive_bytes(snapshot) == 0


def test_the_kernel_copies_the_warehouse_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On this machine's file system too the kernel copies (the plain copy
    would fail)."""
    settings = warehouse_in(tmp_path / "data")

    def no_plain_copy(*_args, **_kwargs):
        raise AssertionError("the plain copy ran")

    monkeypatch.setattr(run_module.shutil, "copyfile", no_plain_copy)
    take_snapshot(settings)

    assert digest(snapshot_path(settings)) == digest(settings.warehouse)


def test_where_the_kernel_cannot_copy_the_snapshot_is_a_plain_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """copy_file_range answering EXDEV (a kernel before 5.3 between two
    file systems), as the system call would."""
    settings = warehouse_in(tmp_path / "data")

    def cannot(*_args, **_kwargs):
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    monkeypatch.setattr(run_module.os, "copy_file_range", cannot)
    take_snapshot(settings)

    assert digest(snapshot_path(settings)) == digest(settings.warehouse)
