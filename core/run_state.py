"""The warehouse schema `run_state`: what a run keeps for the next one.

Every record that outlives a run lives in this one schema of
DATA_DIR/warehouse.duckdb, each table written by one module, in the same
transaction as the change it records (docs/architecture.md, "Where state
lives", describes every table and column):

- `build_state`: what the last complete build was built from
  (pipeline/rebuild.py);
- `last_run`: what the last complete run ran on (pipeline/unchanged.py);
- `published_points`, `published_target` (load/publish.py) and
  `published_source` (pipeline/source.py): what the processed bucket holds;
  `unpublished_scope` (load/publish.py): what the builds since the last
  complete load may have changed;
- `tibber_hours_published`: what the raw bucket holds of Tibber's hours,
  `tibber_hours_checked`: what its last complete publish compared
  (load/tibber_hours.py);
- `reported`, `last_news`: what the runs told the owner (pipeline/reported.py);
- `source`: the source the warehouse was built from (pipeline/source.py);
- `run_events`, `sent_alerts`: the alerts (pipeline/alerts.py).

The landing zone keeps its own record, `landing/source.json`: the warehouse
is rebuilt from the landing zone, so what the landing zone holds must be
known without it.

Older versions kept these in other schemas (`main`, `load_state`,
`notify_state`) and in files under DATA_DIR/state; `migrate` moves them here
once, under the run lock, before anything reads them.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from core.errors import LandingError

SCHEMA = "run_state"
# Tables of older versions that move here under the same name.
MOVED_TABLES = (
    ("main", "build_state"),
    ("load_state", "published_points"),
    ("load_state", "published_target"),
    ("load_state", "published_source"),
    ("notify_state", "run_events"),
    ("notify_state", "sent_alerts"),
)
OLD_SCHEMAS = ("load_state", "notify_state")
LAST_RUN = f"{SCHEMA}.last_run"
LAST_RUN_DDL = f"""
create table if not exists {LAST_RUN} (
    as_of varchar, landing_digest varchar, project_fingerprint varchar,
    settings_digest varchar, completed_at timestamptz
)
"""
TIBBER_HOURS_PUBLISHED = f"{SCHEMA}.tibber_hours_published"
TIBBER_HOURS_DDL = f"""
create table if not exists {TIBBER_HOURS_PUBLISHED} (
    target varchar, entity_id varchar, time_s bigint, consumption double,
    cost double, unit_price double, unit_price_vat double
)
"""
# What the last complete publish of Tibber's hours compared: nothing new
# since, the next has nothing to write (load/tibber_hours.py).
TIBBER_HOURS_CHECKED = f"{SCHEMA}.tibber_hours_checked"
TIBBER_HOURS_CHECKED_DDL = (
    f"create table if not exists {TIBBER_HOURS_CHECKED} (inputs varchar)"
)
REPORTED = f"{SCHEMA}.reported"
REPORTED_DDL = f"create table if not exists {REPORTED} (kind varchar, key varchar)"
# Files of older versions, relative to DATA_DIR.
OLD_LAST_RUN = Path("state/last_run.json")
OLD_TIBBER_HOURS = Path("state/tibber_hours_published.parquet")
# What was reported, by kind: keys in a JSON list (older still).
OLD_REPORTED = {
    "anomaly": Path("state/anomalies.json"),
    "finding": Path("state/findings.json"),
}


def is_locked(error: duckdb.Error) -> bool:
    """Another process holds the warehouse open (the build stage says so)."""
    return isinstance(error, duckdb.IOException) and "lock" in str(error).lower()


def ensure(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(f"create schema if not exists {SCHEMA}")


def _exists(connection: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    (count,) = connection.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?",
        [schema, table],
    ).fetchone() or (0,)
    return bool(count)


def _move_table(connection: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Its definition (keys and all) and rows into SCHEMA; a table already
    there is newer and wins. True when rows moved."""
    if not _exists(connection, schema, table):
        return False
    moved = not _exists(connection, SCHEMA, table)
    if moved:
        (definition,) = connection.execute(
            "select sql from duckdb_tables() where schema_name = ? and table_name = ?",
            [schema, table],
        ).fetchone()
        columns = definition[definition.index("(") :].rstrip().rstrip(";")
        connection.execute(f"create table {SCHEMA}.{table} {columns}")
        connection.execute(
            f"insert into {SCHEMA}.{table} select * from {schema}.{table}"
        )
    connection.execute(f"drop table {schema}.{table}")
    return moved


def _import_last_run(connection: duckdb.DuckDBPyConnection, path: Path) -> bool:
    if _exists(connection, SCHEMA, "last_run"):
        return False
    connection.execute(LAST_RUN_DDL)
    try:
        record = json.loads(path.read_text())
        inputs = record["inputs"]
        row = [
            inputs["as_of"],
            inputs["landing"],
            inputs["project"],
            inputs["settings"],
            record["completed_at"],
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return False  # no usable record: the next run does its work
    connection.execute(f"insert into {LAST_RUN} values (?, ?, ?, ?, ?)", row)
    return True


def _import_tibber_hours(connection: duckdb.DuckDBPyConnection, path: Path) -> bool:
    if _exists(connection, SCHEMA, "tibber_hours_published"):
        return False
    connection.execute(TIBBER_HOURS_DDL)
    try:
        connection.execute(
            f"insert into {TIBBER_HOURS_PUBLISHED} by name "
            "select target, entity_id, time_s, consumption, cost, unit_price, "
            "unit_price_vat from read_parquet(?)",
            [str(path)],
        )
    except duckdb.Error as error:
        raise LandingError(
            f"cannot read {path}: {str(error).splitlines()[0]}; delete it to "
            "republish every Tibber hour"
        ) from None
    return True


def _import_reported(
    connection: duckdb.DuckDBPyConnection, paths: dict[str, Path]
) -> bool:
    if _exists(connection, SCHEMA, "reported"):
        return False
    connection.execute(REPORTED_DDL)
    for kind, path in paths.items():
        try:
            keys = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # unreadable: those are reported as new once more
        connection.executemany(
            f"insert into {REPORTED} values (?, ?)", [[kind, str(k)] for k in keys]
        )
    return True


def migrate(data_dir: Path) -> list[str]:
    """Move an older version's state into `run_state` (one transaction; the
    old files are removed once it committed). Returns what moved."""
    warehouse = data_dir / "warehouse.duckdb"
    files = {
        name: data_dir / relative
        for name, relative in (
            ("last_run", OLD_LAST_RUN),
            ("tibber_hours_published", OLD_TIBBER_HOURS),
            *OLD_REPORTED.items(),
        )
        if (data_dir / relative).is_file()
    }
    if not warehouse.is_file() and not files:
        return []
    try:
        connection = duckdb.connect(str(warehouse))
    except duckdb.IOException as error:
        if not is_locked(error):
            raise
        return []  # the next run moves it; this one stops before its build
    moved: list[str] = []
    try:
        connection.execute("begin")
        ensure(connection)
        moved += [
            f"{schema}.{table}"
            for schema, table in MOVED_TABLES
            if _move_table(connection, schema, table)
        ]
        for schema in OLD_SCHEMAS:  # emptied (a table not ours stays)
            (left,) = connection.execute(
                "select count(*) from duckdb_tables() where schema_name = ?",
                [schema],
            ).fetchone() or (0,)
            if not left:
                connection.execute(f"drop schema if exists {schema}")
        if "last_run" in files and _import_last_run(connection, files["last_run"]):
            moved.append(str(OLD_LAST_RUN))
        if "tibber_hours_published" in files and _import_tibber_hours(
            connection, files["tibber_hours_published"]
        ):
            moved.append(str(OLD_TIBBER_HOURS))
        reported = {kind: files[kind] for kind in OLD_REPORTED if kind in files}
        if reported and _import_reported(connection, reported):
            moved += [str(OLD_REPORTED[kind]) for kind in reported]
        connection.execute("commit")
    finally:
        connection.close()
    for path in files.values():
        path.unlink(missing_ok=True)
    return moved
