"""The Parquet landing zone under DATA_DIR/landing.

Each table is a folder of immutable Parquet files, one per extraction that found
something new. A file is written under a temporary name, flushed to disk and
renamed, so a run killed at any moment leaves the folder as before or after it.
Several rows for one key (KEYS) may exist across files: the row with the
latest `extracted_at` wins (the base models, models/base, apply that rule).
A key that vanished at the source gets a tombstone, a row of the table's
`_deleted` companion (key and `extracted_at`): it removes every row of that key
extracted before it, and a later extraction of the key wins again. So the
landing zone stays append-only and "latest extraction wins" still holds.
Every folder holds a schema-only file, so readers never face an empty glob.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core import changes
from core.errors import LandingError

UTC_US = pa.timestamp("us", tz="UTC")

SCHEMAS: dict[str, pa.Schema] = {
    # One raw meter reading (Home Assistant's schema in InfluxDB).
    "readings": pa.schema(
        [
            ("meter_id", pa.string()),
            ("measured_at", UTC_US),
            ("value", pa.float64()),
            ("unit", pa.string()),
            ("extracted_at", UTC_US),
        ]
    ),
    # A value the readings extract could not keep as a reading: not a
    # number (issue unparseable, value as text) or one of several values at
    # one (meter, instant) (issue duplicate_instant, the value dropped).
    "reading_issues": pa.schema(
        [
            ("meter_id", pa.string()),
            ("measured_at", UTC_US),
            ("issue", pa.string()),
            ("value", pa.string()),
            ("unit", pa.string()),
            ("extracted_at", UTC_US),
        ]
    ),
    # One hour of Tibber consumption; nulls stay null.
    "tibber_hours": pa.schema(
        [
            ("home_id", pa.string()),
            ("hour_start_at", UTC_US),
            ("hour_end_at", UTC_US),
            ("consumption", pa.float64()),
            ("cost", pa.float64()),
            ("unit_price", pa.float64()),
            ("unit_price_vat", pa.float64()),
            ("currency", pa.string()),
            ("extracted_at", UTC_US),
        ]
    ),
}
# What names one row of a table; its other columns but extracted_at are its
# values (see `values`). A reading issue is the same issue only if all of it
# is the same.
KEYS: dict[str, list[str]] = {
    "readings": ["meter_id", "measured_at"],
    "reading_issues": ["meter_id", "measured_at", "issue", "unit", "value"],
    "tibber_hours": ["home_id", "hour_start_at"],
}
# The key column that places a row in time: rows before an instant are read
# only when asked (`current(since=...)`).
INSTANT = {
    "readings": "measured_at",
    "reading_issues": "measured_at",
    "tibber_hours": "hour_start_at",
}
# Tombstones: the key of a row that vanished at the source, and when that was
# seen. Table -> (its tombstone table, its key).
DELETIONS: dict[str, tuple[str, list[str]]] = {
    table: (f"{table}_deleted", KEYS[table]) for table in ("readings", "tibber_hours")
}
for _table, (_deleted, _key) in DELETIONS.items():
    SCHEMAS[_deleted] = pa.schema(
        [SCHEMAS[_table].field(name) for name in _key]
        + [pa.field("extracted_at", UTC_US)]
    )
    KEYS[_deleted] = _key
SCHEMA_FILE = "00000000-schema.parquet"
RUN_CONTEXT = pa.schema([("as_of_at", UTC_US)])


def table_dir(data_dir: Path, table: str) -> Path:
    return data_dir / "landing" / table


def glob(data_dir: Path, table: str) -> str:
    """The pattern the dbt sources read."""
    return str(table_dir(data_dir, table) / "*.parquet")


def ensure(data_dir: Path) -> None:
    """Create every table folder with its schema-only file."""
    for table, schema in SCHEMAS.items():
        folder = table_dir(data_dir, table)
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / SCHEMA_FILE).exists():
            _write_atomically(folder / SCHEMA_FILE, schema.empty_table())


def write_run_context(data_dir: Path, as_of: datetime) -> None:
    """The run's as_of instant, read by the models (source run_context).

    A table rather than a dbt var, so a new as_of does not force dbt to
    parse the whole project again.
    """
    folder = data_dir / "landing" / "run_context"
    folder.mkdir(parents=True, exist_ok=True)
    row = pa.table({"as_of_at": [as_of]}, schema=RUN_CONTEXT)
    _write_atomically(folder / "current.parquet", row)


def _write_atomically(path: Path, data: pa.Table) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "wb") as handle:
            pq.write_table(data, handle, compression="zstd")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise LandingError(
            f"cannot write {path}: {error.strerror}: check DATA_DIR's "
            "permissions and free space"
        ) from None


def append(data_dir: Path, table: str, data: pa.Table) -> Path | None:
    """Add one extraction's rows as a new file; nothing when there are none."""
    ensure(data_dir)
    data = data.select(SCHEMAS[table].names).cast(SCHEMAS[table])
    if data.num_rows == 0:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = table_dir(data_dir, table) / f"{stamp}-{uuid.uuid4().hex[:8]}.parquet"
    _write_atomically(path, data)
    return path


def files_digest(data_dir: Path, tables: Iterable[str]) -> str:
    """Changes when a file of these tables is added, removed or replaced; a
    landing file is never edited, so its name and size identify it."""
    digest = hashlib.sha256()
    for table in tables:
        for path in sorted(table_dir(data_dir, table).glob("*")):
            digest.update(f"{table}/{path.name} {path.stat().st_size}\n".encode())
    return digest.hexdigest()


def tombstones(table: str, keys: pa.Table, extracted_at: datetime) -> pa.Table:
    """Rows for `table`'s tombstone table: these keys (columns named as in
    `table`), gone from the source as of `extracted_at`."""
    deleted, key = DELETIONS[table]
    schema = SCHEMAS[deleted]
    columns = {name: keys.column(name) for name in key}
    columns["extracted_at"] = pa.repeat(pa.scalar(extracted_at, UTC_US), keys.num_rows)
    return pa.table(columns).select(schema.names).cast(schema)


def values(table: str) -> list[str]:
    """The value columns of `table`: all but its key and extracted_at."""
    return [
        name
        for name in SCHEMAS[table].names
        if name not in KEYS[table] and name != "extracted_at"
    ]


def current(data_dir: Path, table: str, since: datetime | None = None) -> pa.Table:
    """The table as the models see it: per key, the latest extraction, unless
    a later tombstone removed the key; `since`: only the keys from that
    instant on (the files' older row groups are skipped)."""
    ensure(data_dir)
    names = ", ".join(SCHEMAS[table].names)
    keys = ", ".join(KEYS[table])
    bound = (
        f"where {INSTANT[table]} >= '{since.isoformat()}'::timestamptz"
        if since is not None
        else ""
    )
    return query(
        data_dir,
        table,
        f"""
        select {names}
        from {"live" if table in DELETIONS else "landed"}
        {bound}
        qualify row_number() over (
            partition by {keys} order by extracted_at desc
        ) = 1
        """,
    )


def live_sql(table: str, landed: str = "landed", deleted: str = "deleted") -> str:
    """The rows of `landed` no later tombstone in `deleted` removed."""
    _, key = DELETIONS[table]
    same = " and ".join(f"d.{k} = l.{k}" for k in key)
    return f"""
        select l.* from {landed} as l
        where not exists (
            select 1 from {deleted} as d
            where {same} and d.extracted_at > l.extracted_at
        )
    """


def query(
    data_dir: Path, table: str, sql: str, tables: dict[str, pa.Table] | None = None
) -> pa.Table:
    """Run `sql` over every file of `table`, named `landed` in it (and, for
    a table with tombstones, `deleted`: its tombstones, and `live`: its rows
    no tombstone removed); a damaged file gives one line that says what to
    do. `tables`: Arrow tables the SQL may name too."""
    try:
        with duckdb.connect() as connection:
            connection.execute("set TimeZone = 'UTC'")
            pattern = glob(data_dir, table).replace("'", "''")
            connection.execute(
                f"create temp view landed as select * from read_parquet('{pattern}')"
            )
            if table in DELETIONS:
                deleted = DELETIONS[table][0]
                if (table_dir(data_dir, deleted) / SCHEMA_FILE).exists():
                    pattern = glob(data_dir, deleted).replace("'", "''")
                    source = f"read_parquet('{pattern}')"
                else:  # a landing zone from before tombstones existed
                    source = "(select * from landed where false)"
                connection.execute(
                    f"create temp view deleted as select * from {source}"
                )
                connection.execute(f"create temp view live as {live_sql(table)}")
            for name, data in (tables or {}).items():
                connection.register(name, data)
            return connection.execute(sql).to_arrow_table()
    except duckdb.Error as error:
        raise LandingError(
            f"cannot read the landing table {table} under {data_dir}: "
            f"{str(error).splitlines()[0]}; move the damaged file away and "
            "run again (--full-refresh re-reads what it held)"
        ) from None


def new_or_changed(data_dir: Path, table: str, data: pa.Table) -> pa.Table:
    """The rows of `data` whose key is new or whose values differ from the
    table's current row of that key (read from the earliest instant of
    `data` on: no older row can share a key with it)."""
    if data.num_rows == 0:
        return data
    stored = current(data_dir, table, since=pc.min(data[INSTANT[table]]).as_py())
    if stored.num_rows == 0:
        return data
    with duckdb.connect() as connection:
        connection.register("stored", stored)
        connection.register("incoming", data)
        return connection.execute(
            changes.not_stored("incoming", "stored", KEYS[table], values(table))
        ).to_arrow_table()
