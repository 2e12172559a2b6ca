"""What the runs have already told the owner, in the warehouse (`run_state`).

- `run_state.reported` (kind, key): the anomalies (kind `anomaly`, key
  `meter_id day` or `meter_id first_day..last_day` for an interval) and the
  cleaning findings (kind `finding`, key `type meter_id instant`) a run
  reported. A run compares what the marts hold now with it; the table
  advances only at the end of a run whose publish carried them (in demo mode,
  which publishes nothing, at the end of the run). A run that fails before,
  at the load for instance, reports the same ones as new again next time.
- `run_state.last_news` (news_at): when a run last brought something new, for
  "nothing new since 14:05".
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb

from core import run_state

SCHEMA = run_state.SCHEMA
REPORTED = f"{SCHEMA}.reported"
LAST_NEWS = f"{SCHEMA}.last_news"
# Files of earlier versions, imported once into the table.
LEGACY_FILES = {"anomaly": "anomalies.json", "finding": "findings.json"}


def _ensure(connection: duckdb.DuckDBPyConnection, data_dir: Path) -> None:
    connection.execute(f"create schema if not exists {SCHEMA}")
    (exists,) = connection.execute(
        "select count(*) from information_schema.tables "
        f"where table_schema = '{SCHEMA}' and table_name = 'reported'"
    ).fetchone() or (0,)
    connection.execute(
        f"create table if not exists {REPORTED} (kind varchar, key varchar)"
    )
    connection.execute(f"create table if not exists {LAST_NEWS} (news_at timestamptz)")
    if exists:
        return
    for kind, name in LEGACY_FILES.items():
        legacy = data_dir / "state" / name
        keys = json.loads(legacy.read_text()) if legacy.is_file() else []
        if keys:
            connection.executemany(
                f"insert into {REPORTED} values (?, ?)", [[kind, k] for k in keys]
            )


def not_reported(
    warehouse: Path, data_dir: Path, kind: str, current: list[str]
) -> list[str]:
    """Those of `current` (keys of one kind) no earlier run reported."""
    with duckdb.connect(str(warehouse)) as connection:
        _ensure(connection, data_dir)
        seen = {
            key
            for (key,) in connection.execute(
                f"select key from {REPORTED} where kind = ?", [kind]
            ).fetchall()
        }
    return [key for key in current if key not in seen]


def mark_reported(
    warehouse: Path, data_dir: Path, current: dict[str, list[str]]
) -> None:
    """What the marts hold now, per kind, is the reported set (one
    transaction); one that went away and comes back is new again."""
    with duckdb.connect(str(warehouse)) as connection:
        _ensure(connection, data_dir)
        connection.execute("begin")
        for kind, keys in current.items():
            connection.execute(f"delete from {REPORTED} where kind = ?", [kind])
            if keys:
                connection.executemany(
                    f"insert into {REPORTED} values (?, ?)", [[kind, k] for k in keys]
                )
        connection.execute("commit")


def last_news(warehouse: Path, data_dir: Path) -> datetime | None:
    with duckdb.connect(str(warehouse)) as connection:
        _ensure(connection, data_dir)
        row = connection.execute(f"select max(news_at) from {LAST_NEWS}").fetchone()
    return row[0] if row else None


def record_news(warehouse: Path, data_dir: Path, at: datetime) -> None:
    with duckdb.connect(str(warehouse)) as connection:
        _ensure(connection, data_dir)
        connection.execute("begin")
        connection.execute(f"delete from {LAST_NEWS}")
        connection.execute(f"insert into {LAST_NEWS} values (?)", [at])
        connection.execute("commit")
