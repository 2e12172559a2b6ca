"""Publish Tibber's hours from the landing zone to INFLUX_BUCKET_RAW.

One point per hour at its start: measurement `energy`, tags `entity_id` =
TIBBER_METER_ID and `domain` = `sensor` (no others), float fields
`consumption`, `cost`, `unit_price`, `unit_price_vat`; a null field is not
written (never as 0), an hour with no field at all is no point.

Which home: TIBBER_HOME_ID when set; otherwise the one home in the landing
zone. Several homes without TIBBER_HOME_ID is refused: they would share the
one series of the one meter and overwrite each other's hours.

What was written is remembered in the warehouse table
`run_state.tibber_hours_published` (target, entity_id, hour, field values),
replaced in one transaction after each batch InfluxDB confirmed; a run
writes only new or changed hours, so a rerun writes nothing. A field that
became null is not removed from InfluxDB (the field of an already written
point stays). An hour that left the landing zone (Tibber
no longer reports it: a tombstone) is deleted from InfluxDB, one delete per
run of consecutive such hours, and forgotten.

A complete publish records what it compared (`run_state.tibber_hours_checked`:
the Tibber landing files, the target, the meter and the home): a run that
finds the same has nothing to write and reads no hours (at 10,000 meters'
scale, reading every landed hour takes seconds).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from core import changes, influxdb, landing, run_state, source
from core.errors import ConfigError
from core.settings import Settings
from load.line_protocol import point_line

log = logging.getLogger(__name__)

MEASUREMENT = "energy"
DOMAIN = "sensor"
FIELDS = ("consumption", "cost", "unit_price", "unit_price_vat")
BATCH_SIZE = 5_000
STATE_SCHEMA = pa.schema(
    [
        ("target", pa.string()),
        ("entity_id", pa.string()),
        ("time_s", pa.int64()),
        *[(name, pa.float64()) for name in FIELDS],
    ]
)


def _read_state(warehouse: Path) -> pa.Table:
    with duckdb.connect(str(warehouse)) as connection:
        run_state.ensure(connection)
        connection.execute(run_state.TIBBER_HOURS_DDL)
        return (
            connection.execute(
                f"select * from {run_state.TIBBER_HOURS_PUBLISHED} "
                "order by target, entity_id, time_s"
            )
            .to_arrow_table()
            .cast(STATE_SCHEMA)
        )


def _write_state(warehouse: Path, table: pa.Table) -> None:
    """The whole record, replaced in one transaction."""
    with duckdb.connect(str(warehouse)) as connection:
        connection.register("state", table)
        connection.execute("begin")
        connection.execute(f"delete from {run_state.TIBBER_HOURS_PUBLISHED}")
        connection.execute(
            f"insert into {run_state.TIBBER_HOURS_PUBLISHED} select * from state"
        )
        connection.execute("commit")


def _choose_home(hours: pa.Table, home_id: str | None) -> str | None:
    homes = sorted(set(hours.column("home_id").to_pylist()) - {None})
    if home_id is not None:
        return home_id
    if len(homes) > 1:
        raise ConfigError(
            f"the landing zone holds Tibber hours of {len(homes)} homes "
            f"({', '.join(homes)}): set TIBBER_HOME_ID to the home of "
            "TIBBER_METER_ID"
        )
    return homes[0] if homes else None


def _changed_hours(
    hours: pa.Table, state: pa.Table, home_id: str, target: str, entity_id: str
) -> list[tuple]:
    """(time_s, consumption, cost, unit_price, unit_price_vat) to write."""
    columns = ", ".join(FIELDS)
    finite = ", ".join(
        f"case when isfinite({name}) then {name} end as {name}" for name in FIELDS
    )
    any_field = " or ".join(f"{name} is not null" for name in FIELDS)
    with duckdb.connect() as connection:
        connection.register("landing_hours", hours)
        connection.register("state", state)
        return connection.execute(
            f"""
            with hours as (
                select (epoch_ms(hour_start_at) // 1000)::bigint as time_s, {finite}
                from landing_hours
                where home_id = ? and hour_start_at is not null
            ),
            published as (
                select * from state where target = ? and entity_id = ?
            ),
            unpublished as (
                {changes.not_stored("hours", "published", ["time_s"], FIELDS)}
            )
            select time_s, {columns} from unpublished
            where {any_field}
            order by time_s
            """,
            [home_id, target, entity_id],
        ).fetchall()


def _remember(
    state: pa.Table, rows: list[tuple], target: str, entity_id: str
) -> pa.Table:
    written = pa.table(
        {
            "target": [target] * len(rows),
            "entity_id": [entity_id] * len(rows),
            "time_s": [row[0] for row in rows],
            **{name: [row[i + 1] for row in rows] for i, name in enumerate(FIELDS)},
        },
        schema=STATE_SCHEMA,
    )
    with duckdb.connect() as connection:
        connection.register("state", state)
        connection.register("written", written)
        return (
            connection.execute(
                """
            select * from state as s
            where not exists (
                select 1 from written as w
                where w.target = s.target and w.entity_id = s.entity_id
                    and w.time_s = s.time_s
            )
            union all
            select * from written
            order by target, entity_id, time_s
            """
            )
            .to_arrow_table()
            .cast(STATE_SCHEMA)
        )


def _vanished_runs(
    hours: pa.Table, state: pa.Table, home_id: str, target: str, entity_id: str
) -> list[tuple[int, int]]:
    """Runs [first, last] of published hours (time_s) no longer landed, with
    no published hour that stays between them."""
    with duckdb.connect() as connection:
        connection.register("landing_hours", hours)
        connection.register("state", state)
        rows = connection.execute(
            """
            with landed as (
                select distinct (epoch_ms(hour_start_at) // 1000)::bigint as time_s
                from landing_hours
                where home_id = ?
            ),
            -- A join, not a correlated subquery: that one compared every
            -- published hour with every landed one.
            published as (
                select s.time_s, l.time_s is null as is_gone
                from state as s
                left join landed as l on s.time_s = l.time_s
                where s.target = ? and s.entity_id = ?
            ),
            numbered as (
                select time_s, is_gone,
                    row_number() over (order by time_s)
                    - row_number() over (partition by is_gone order by time_s)
                        as run_id
                from published
            )
            select min(time_s), max(time_s) from numbered
            where is_gone group by run_id order by 1
            """,
            [home_id, target, entity_id],
        ).fetchall()
    return [(first, last) for first, last in rows]


def _delete_vanished(
    target: influxdb.InfluxTarget,
    bucket: str,
    hours: pa.Table,
    state: pa.Table,
    home_id: str,
    target_key: str,
    tags: dict[str, str],
    path: Path,
) -> pa.Table:
    """Delete the published hours that left the landing zone; the state
    forgets each run once InfluxDB confirmed its delete."""
    runs = _vanished_runs(hours, state, home_id, target_key, tags["entity_id"])
    for first, last in runs:
        influxdb.delete_points(
            target,
            bucket,
            MEASUREMENT,
            tags,
            datetime.fromtimestamp(first, UTC),
            datetime.fromtimestamp(last + 1, UTC),
        )
        keep = pc.invert(
            pc.and_(
                pc.and_(
                    pc.equal(state["target"], target_key),
                    pc.equal(state["entity_id"], tags["entity_id"]),
                ),
                pc.and_(
                    pc.greater_equal(state["time_s"], first),
                    pc.less_equal(state["time_s"], last),
                ),
            )
        )
        state = state.filter(keep)
        _write_state(path, state)
    if runs:
        log.info("event=load.tibber_hours_deleted runs=%d", len(runs))
    return state


def _inputs(settings: Settings, target_key: str) -> str:
    """What a publish compares: the landing files, the target, the meter, the home."""
    tables = ("tibber_hours", landing.DELETIONS["tibber_hours"][0])
    return hashlib.sha256(
        "\0".join(
            [
                landing.files_digest(settings.data_dir, tables),
                target_key,
                settings.tibber_meter_id,
                settings.tibber_home_id or "",
            ]
        ).encode()
    ).hexdigest()


def _connect_checked(warehouse: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(warehouse))
    run_state.ensure(connection)
    connection.execute(run_state.TIBBER_HOURS_CHECKED_DDL)
    return connection


def _last_checked(warehouse: Path) -> str | None:
    """The inputs of the last complete publish."""
    with _connect_checked(warehouse) as connection:
        row = connection.execute(
            f"select inputs from {run_state.TIBBER_HOURS_CHECKED}"
        ).fetchone()
    return row[0] if row else None


def _record_checked(warehouse: Path, inputs: str) -> None:
    with _connect_checked(warehouse) as connection:
        connection.execute("begin")
        connection.execute(f"delete from {run_state.TIBBER_HOURS_CHECKED}")
        connection.execute(
            f"insert into {run_state.TIBBER_HOURS_CHECKED} values (?)", [inputs]
        )
        connection.execute("commit")


def publish_hours(settings: Settings, *, batch_size: int = BATCH_SIZE) -> int:
    """Write new or changed Tibber hours; returns the number of points written."""
    source.check_publishable(None, settings)
    target = influxdb.InfluxTarget.from_settings(settings)
    bucket = settings.influx_bucket_raw
    target_key = f"{target.safe_url} {bucket}"
    entity_id = settings.tibber_meter_id
    path = settings.warehouse
    inputs = _inputs(settings, target_key)
    if _last_checked(path) == inputs:
        log.info("event=load.tibber_hours written=0 reason=nothing_new")
        return 0
    hours = landing.current(settings.data_dir, "tibber_hours")
    home_id = _choose_home(hours, settings.tibber_home_id)
    if home_id is None:
        log.info("event=load.tibber_hours written=0 reason=no_hours")
        return 0
    state = _read_state(path)
    tags = {"entity_id": entity_id, "domain": DOMAIN}
    state = _delete_vanished(
        target, bucket, hours, state, home_id, target_key, tags, path
    )
    rows = _changed_hours(hours, state, home_id, target_key, entity_id)
    written = 0
    for first in range(0, len(rows), batch_size):
        batch = rows[first : first + batch_size]
        lines = [
            line
            for time_s, *values in batch
            if (
                line := point_line(
                    MEASUREMENT, tags, dict(zip(FIELDS, values, strict=True)), time_s
                )
            )
        ]
        influxdb.write_lines(target, bucket, lines, precision="s")
        state = _remember(state, batch, target_key, entity_id)
        _write_state(path, state)
        written += len(lines)
    _record_checked(path, inputs)
    log.info(
        "event=load.tibber_hours home_id=%s entity_id=%s written=%d",
        home_id,
        entity_id,
        written,
    )
    return written
