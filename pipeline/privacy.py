"""DATA_DIR is private to its owner: folders 0700, files 0600.

It holds the warehouse, the logs and, with billing, tenants' names. With
DATA_DIR_GROUP set, the group shares it instead: folders 2770 (new files
inherit the group), files 0660, everything owned by that group. The process
umask makes every file the run creates (landing files, the warehouse, dbt's
logs) so; files an older version left more open are tightened each run.
"""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

from core.errors import ConfigError


def group_id(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise ConfigError(
            f"DATA_DIR_GROUP={name!r} is not a group on this machine: create "
            "it, fix the name, or unset DATA_DIR_GROUP to keep DATA_DIR private"
        ) from None


def secure(data_dir: Path, group: str | None) -> None:
    """Set the umask, create DATA_DIR and tighten what it already holds."""
    gid = group_id(group) if group else None
    os.umask(0o007 if gid is not None else 0o077)
    data_dir.mkdir(parents=True, exist_ok=True)
    folder_mode = 0o2770 if gid is not None else 0o700
    file_mode = 0o660 if gid is not None else 0o600
    for root, folders, files in os.walk(data_dir):
        _fix(Path(root), folder_mode, gid)
        for name in files:
            _fix(Path(root) / name, file_mode, gid)
        folders[:] = [f for f in folders if not (Path(root) / f).is_symlink()]


def _fix(path: Path, mode: int, gid: int | None) -> None:
    try:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            return
        if gid is not None and info.st_gid != gid:
            os.chown(path, -1, gid)
        if stat.S_IMODE(info.st_mode) != mode:
            os.chmod(path, mode)
    except FileNotFoundError:  # removed meanwhile (e.g. a temporary file)
        return
    except PermissionError:
        raise ConfigError(
            f"cannot set the permissions of {path}: run as its owner or fix "
            "them by hand (folders 0700, files 0600; with DATA_DIR_GROUP "
            "2770 and 0660)"
        ) from None
