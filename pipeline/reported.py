"""What the runs have already told the owner, in the warehouse (`run_state`).

- `run_state.reported_anomalies` (meter_id, day): anomalies a run reported as
  new. A run compares the marts with it; the table advances only at the end
  of a run whose publish carried the anomalies (in demo mode, which publishes
  nothing, at the end of the run). A run that fails before, at the load for
  instance, reports the same anomalies as new again next time.
- `run_state.last_news` (news_at): when a run last brought something new, for
  "nothing new since 14:05".
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb

SCHEMA = "run_state"
ANOMALIES = f"{SCHEMA}.reported_anomalies"
LAST_NEWS = f"{SCHEMA}.last_news"


def _ensure(connection: duckdb.DuckDBPyConnection, data_dir: Path) -> None:
    connection.execute(f"create schema if not exists {SCHEMA}")
    (exists,) = connection.execute(
        "select count(*) from information_schema.tables "
        f"where table_schema = '{SCHEMA}' and table_name = 'reported_anomalies'"
    ).fetchone() or (0,)
    connection.execute(
        f"create table if not exists {ANOMALIES} (meter_id varchar, day date)"
    )
    connection.execute(f"create table if not exists {LAST_NEWS} (news_at timestamptz)")
    legacy = data_dir / "state" / "anomalies.json"
    if not exists and legacy.is_file():  # what runs before this table reported
        for key in json.loads(legacy.read_text()):
            meter_id, day = key.rsplit(" ", 1)
            connection.execute(
                f"insert into {ANOMALIES} values (?, ?)", [meter_id, day]
            )


def anomalies(warehouse: Path, data_dir: Path) -> tuple[list[str], list[str]]:
    """(every anomaly, those not reported yet), as 'meter_id YYYY-MM-DD'."""
    with duckdb.connect(str(warehouse)) as connection:
        _ensure(connection, data_dir)
        rows = connection.execute(
            "select a.meter_id, cast(a.day as varchar), r.meter_id is null "
            f"from main.meter_anomalies as a left join {ANOMALIES} as r "
            "on a.meter_id = r.meter_id and a.day = r.day "
            "order by 1, 2"
        ).fetchall()
    current = [f"{meter} {day}" for meter, day, _ in rows]
    new = [f"{meter} {day}" for meter, day, is_new in rows if is_new]
    return current, new


def mark_reported(warehouse: Path, data_dir: Path) -> None:
    """The anomalies in the marts now are the reported ones (one
    transaction); one that went away and comes back is new again."""
    with duckdb.connect(str(warehouse)) as connection:
        _ensure(connection, data_dir)
        connection.execute("begin")
        connection.execute(f"delete from {ANOMALIES}")
        connection.execute(
            f"insert into {ANOMALIES} "
            "select distinct meter_id, day from main.meter_anomalies"
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
