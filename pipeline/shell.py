"""`make shell`: the DuckDB shell, read-only, on the warehouse snapshot.

The shell opens DATA_DIR/snapshot/warehouse.duckdb, the copy each successful
`make run` replaces atomically (a rename) after its dbt build, never the
warehouse the run writes. So an open shell never blocks a run, and a run never
breaks an open shell: the shell keeps reading the snapshot it opened until it
is reopened.
"""

from __future__ import annotations

import os
import shutil
import sys
from datetime import datetime
from pathlib import Path

from core.settings import Settings
from pipeline.run import snapshot_path


def duckdb_binary() -> str | None:
    """The DuckDB CLI of the duckdb-cli package (the real binary, not the
    Python wrapper script, so Ctrl-C and the terminal belong to the shell),
    else a `duckdb` on PATH."""
    try:
        import duckdb_cli
    except ImportError:
        duckdb_cli = None
    if duckdb_cli is not None:
        bundled = Path(duckdb_cli.__file__).parent / "duckdb"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    return shutil.which("duckdb")


def shell_command(binary: str, snapshot: Path, timezone: str) -> list[str]:
    """`duckdb -readonly` on the snapshot, in the meters' local time zone."""
    quoted_zone = timezone.replace("'", "''")
    return [
        binary,
        "-readonly",
        "-cmd",
        f"set TimeZone = '{quoted_zone}'",
        str(snapshot),
    ]


def shell(settings: Settings) -> int:
    """Replace this process by the DuckDB shell; returns only on failure."""
    snapshot = snapshot_path(settings)
    if not snapshot.is_file():
        print("no warehouse yet: run `make run` first", file=sys.stderr)
        return 1
    binary = duckdb_binary()
    if binary is None:
        print(
            "the duckdb shell is not installed: run `make .venv/.installed` "
            "(requirements.txt pins duckdb-cli)",
            file=sys.stderr,
        )
        return 1
    taken = datetime.fromtimestamp(snapshot.stat().st_mtime).astimezone()
    print(
        f"read-only snapshot of {settings.data_dir / 'warehouse.duckdb'} "
        f"from {taken:%Y-%m-%d %H:%M %Z}; marts in schema main "
        "(.tables lists them, .quit leaves)",
        file=sys.stderr,
        flush=True,
    )
    sys.stdout.flush()
    os.execv(binary, shell_command(binary, snapshot, settings.timezone))  # noqa: S606
    return 1  # not reached: execv replaces the process
