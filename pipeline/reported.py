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

from datetime import datetime
from pathlib import Path

import duckdb

from core import run_state

SCHEMA = run_state.SCHEMA
REPORTED = run_state.REPORTED
LAST_NEWS = f"{SCHEMA}.last_news"


def _ensure(connection: duckdb.DuckDBPyConnection) -> None:
    run_state.ensure(connection)
    connection.execute(run_state.REPORTED_DDL)
    connection.execute(f"create table if not exists {LAST_NEWS} (news_at timestamptz)")


def not_reported(warehouse: Path, kind: str, current: list[str]) -> list[str]:
    """Those of `current` (keys of one kind) no earlier run reported."""
    with duckdb.connect(str(warehouse)) as connection:
        _ensure(connection)
        seen = {
            key
            for (key,) in connection.execute(
                f"select key from {REPORTED} where kind = ?", [kind]
            ).fetchall()
        }
    return [key for key in current if key not in seen]


def mark_reported(warehouse: Path, current: dict[str, list[str]]) -> None:
    """What the marts hold now, per kind, is the reported set (one
    transaction); one that went away and comes back is new again."""
    with duckdb.connect(str(warehouse)) as connection:
        _ensure(connection)
        connection.execute("begin")
        for kind, keys in current.items():
            connection.execute(f"delete from {REPORTED} where kind = ?", [kind])
            if keys:
                connection.executemany(
                    f"insert into {REPORTED} values (?, ?)", [[kind, k] for k in keys]
                )
        connection.execute("commit")


def last_news(warehouse: Path) -> datetime | None:
    with duckdb.connect(str(warehouse)) as connection:
        _ensure(connection)
        row = connection.execute(f"select max(news_at) from {LAST_NEWS}").fetchone()
    return row[0] if row else None


def record_news(warehouse: Path, at: datetime) -> None:
    with duckdb.connect(str(warehouse)) as connection:
        _ensure(connection)
        connection.execute("begin")
        connection.execute(f"delete from {LAST_NEWS}")
        connection.execute(f"insert into {LAST_NEWS} values (?)", [at])
        connection.execute("commit")
