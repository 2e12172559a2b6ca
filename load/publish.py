"""Publish the marts to INFLUX_BUCKET_PROCESSED, exactly and incrementally.

What was published is remembered in the warehouse, in
`run_state.published_points` (one row per point with its field values). A run
compares the marts with that table in DuckDB (one full outer join), then

1. deletes what no longer exists: points that vanished from the marts, and
   points that lost a field (InfluxDB merges the fields of a rewritten point,
   so a field can only be removed by deleting the point); one delete per
   measurement, meter and run of consecutive deleted points (a time range
   holding no point that stays);
2. writes what is new or changed in batches (one request each, the lines
   built from the rows in one pass): an eighth of the points, at least 5,000
   and at most 50,000 lines, so a load is confirmed in steps and a big one
   goes at the server's pace.

The remembered state advances only after InfluxDB confirmed a delete or a
batch, in the same order, so a run that is killed or fails midway is completed
by the next: nothing is lost and, since a rewrite of a point replaces it,
nothing is duplicated. A run whose marts did not change sends nothing.

The state also records the target (URL and bucket) it describes; pointed at
another target, the loader forgets it and publishes everything there. It
records the source the points came from too (`published_source`,
core/source.py): the loader publishes only a warehouse built from the
source the settings name, never the demo's.
If the warehouse file is rebuilt from scratch, the state is gone: the next run
rewrites every point, but cannot know of points that vanished meanwhile;
`make reset-processed` starts the bucket over.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from core import changes, influxdb, run_state, source
from core.errors import PipelineError
from core.settings import Settings
from load.line_protocol import escape_key, escape_measurement

log = logging.getLogger(__name__)

BATCH_SIZE = 50_000  # lines; at least MIN_BATCH_SIZE, an eighth of the load
MIN_BATCH_SIZE = 5_000
FIELDS = (
    "value",
    "consumption",
    "expected",
    "ratio",
    "is_estimated",
    "is_partial",
    # electricity_cost_daily / _monthly
    "cost",
    "hours_without_cost",
    "hours_missing",
    # data_quality_finding
    "findings",
    "counter_reset",
    "excluded_reading",
    "negative_virtual",
    "tibber_mismatch",
    # meter_interval_anomaly
    "days",
    # flat_cost_monthly
    "amount_eur",
)
# A series with several tags is kept as one key, its tag values joined by this.
SERIES_SEPARATOR = "\x1f"
# A field that differs from what was published by less than this share of its
# value is the same value (see _diff).
RELATIVE_NOISE = 1e-11
STATE_SCHEMA = run_state.SCHEMA
STATE_TABLE = f"{STATE_SCHEMA}.published_points"
# What the builds since the last complete load may have changed (note_build).
SCOPE_TABLE = f"{STATE_SCHEMA}.unpublished_scope"


@dataclass(frozen=True)
class Mart:
    """How one mart becomes one measurement: field name -> SQL expression.

    `rows` (default: the table itself) is the SQL of the rows to publish;
    `tags` maps each tag to the SQL of its value. An optional mart that is absent
    from the warehouse is not published (and its points are deleted).
    `rebuilt_by`: the grain (day_start_at or month_start_at) by which an
    incremental build replaces the mart's rows of a meter (macros/rebuild.sql),
    so a load after it compares only those rows; None: the whole mart.
    """

    measurement: str
    table: str
    time_column: str
    fields: dict[str, str]
    tags: dict[str, str] = field(default_factory=lambda: {"meter_id": "meter_id"})
    rows: str = ""
    required: bool = True
    rebuilt_by: str | None = None

    @property
    def series_sql(self) -> str:
        """The series key (state column meter_id): the tag values joined."""
        return " || chr(31) || ".join(self.tags.values())


# A reading's finding other than these excluded it from the series.
FINDING_COUNTS = """(
    select
        meter_id,
        date_trunc('second', found_at) as found_at,
        count(*) as findings,
        count(*) filter (where finding_type = 'counter_reset') as counter_reset,
        count(*) filter (
            where finding_type not in (
                'counter_reset', 'no_readings', 'single_reading',
                'manual_reading_differs_from_tibber',
                'negative_virtual_day', 'negative_virtual_month'
            )
        ) as excluded_reading,
        count(*) filter (
            where finding_type like 'negative_virtual_%'
        ) as negative_virtual,
        count(*) filter (
            where finding_type = 'manual_reading_differs_from_tibber'
        ) as tibber_mismatch
    from main.data_quality_findings
    where finding_type not in ('superseded', 'after_as_of')
    group by 1, 2
)"""

MARTS = (
    Mart(
        "meter_interpolated_daily",
        "meter_daily_readings",
        "day_start_at",
        {"value": "reading", "is_estimated": "is_estimated"},
        rebuilt_by="day_start_at",
    ),
    Mart(
        "meter_interpolated_monthly",
        "meter_monthly_readings",
        "month_start_at",
        {"value": "reading", "is_estimated": "is_estimated"},
        rebuilt_by="month_start_at",
    ),
    Mart(
        "meter_consumption_daily",
        "meter_daily_consumption",
        "day_start_at",
        {
            "consumption": "consumption",
            "is_estimated": "is_estimated",
            "is_partial": "is_partial",
        },
        rebuilt_by="day_start_at",
    ),
    Mart(
        "meter_consumption",
        "meter_monthly_consumption",
        "month_start_at",
        {
            "consumption": "consumption",
            "is_estimated": "is_estimated",
            "is_partial": "is_partial",
        },
        rebuilt_by="month_start_at",
    ),
    Mart(
        "meter_anomaly",
        "meter_anomalies",
        "day_start_at",
        {"consumption": "consumption", "expected": "expected", "ratio": "ratio"},
        rebuilt_by="day_start_at",
    ),
    Mart(
        "meter_interval_anomaly",
        "meter_interval_anomalies",
        "first_day_start_at",
        {
            "consumption": "consumption",
            "expected": "expected",
            "ratio": "ratio",
            "days": "days",
        },
    ),
    # Tibber's cost of the house's electricity, tagged with TIBBER_METER_ID.
    Mart(
        "electricity_cost_daily",
        "electricity_daily_cost",
        "day_start_at",
        {
            "cost": "cost",
            "consumption": "consumption_kwh",
            "hours_without_cost": "hours_without_cost",
            "hours_missing": "hours_missing",
        },
        tags={"meter_id": "getvariable('tibber_meter_id')"},
        required=False,
    ),
    Mart(
        "electricity_cost_monthly",
        "electricity_monthly_cost",
        "month_start_at",
        {
            "cost": "cost",
            "consumption": "consumption_kwh",
            "hours_without_cost": "hours_without_cost",
            "hours_missing": "hours_missing",
        },
        tags={"meter_id": "getvariable('tibber_meter_id')"},
        required=False,
    ),
    # Findings per meter and instant, counted by what the owner must do.
    Mart(
        "data_quality_finding",
        "data_quality_findings",
        "found_at",
        {
            name: name
            for name in (
                "findings",
                "counter_reset",
                "excluded_reading",
                "negative_virtual",
                "tibber_mismatch",
            )
        },
        rows=FINDING_COUNTS,
        required=False,
    ),
    # Each flat's monthly cost per cost item (watching; the statement bills).
    Mart(
        "flat_cost_monthly",
        "flat_cost_monthly",
        "month_start_at",
        {"amount_eur": "amount_eur"},
        tags={"flat_id": "flat_id", "cost_item": "cost_item"},
        required=False,
    ),
)
TAGS = {mart.measurement: tuple(mart.tags) for mart in MARTS}
MEASUREMENTS = tuple(mart.measurement for mart in MARTS)


@dataclass
class LoadResult:
    points_written: int = 0
    points_deleted: int = 0
    per_measurement: dict[str, tuple[int, int]] = field(default_factory=dict)
    seconds: float = 0.0
    # Of which sending the new and changed points (and remembering them).
    write_seconds: float = 0.0

    def count(self, measurement: str, written: int = 0, deleted: int = 0) -> None:
        old_written, old_deleted = self.per_measurement.get(measurement, (0, 0))
        self.per_measurement[measurement] = (
            old_written + written,
            old_deleted + deleted,
        )
        self.points_written += written
        self.points_deleted += deleted


def _finite(expression: str) -> str:
    value = f"({expression})::double"
    return f"case when isfinite({value}) then {value} end"


@dataclass(frozen=True)
class Scope:
    """The rows the builds since the last complete load may have changed: of
    every meter from `day` (months: from `month`) on, and of the `meters`
    (meter_id, day, month) from their own day and month (None: all rows)."""

    day: datetime
    month: datetime
    meters: tuple[tuple[str, datetime | None, datetime | None], ...]

    def conditions(self, grain: str, meter: str, time: str, literal) -> list[str]:
        """SQL: the rows of this scope at `grain` (day_start_at or
        month_start_at), as disjoint conditions that DuckDB can push into
        its scans (each read apart, as macros/rebuild.sql reads them);
        `literal` writes an instant as the `time` column's type."""
        at = 1 if grain == "day_start_at" else 2
        start = literal(self.day if at == 1 else self.month)
        if not self.meters:
            return [f"{time} >= {start}"]
        whole = [_quoted(row[0]) for row in self.meters if row[at] is None]
        parts = [
            f"({meter} = {_quoted(row[0])} and {time} >= {literal(row[at])})"
            for row in self.meters
            if row[at] is not None
        ]
        if whole:
            parts.append(f"{meter} in ({', '.join(whole)})")
        named = ", ".join(_quoted(row[0]) for row in self.meters)
        return [
            f"{time} >= {start}",
            f"{time} < {start} and {meter} in ({named}) and ({' or '.join(parts)})",
        ]


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _timestamp(instant: datetime) -> str:
    return f"timestamptz '{instant.isoformat()}'"


def _epoch(instant: datetime) -> str:
    return str(int(instant.timestamp()))


def _desired_sql(
    as_of_s: int | None, marts: tuple[Mart, ...] = MARTS, scope: Scope | None = None
) -> str:
    """Every point the marts hold (with a scope: the rows it names of the
    marts rebuilt by meter, and every row of the others), in one shape;
    non-finite fields are null."""
    selects = []
    for mart in marts:
        columns = ", ".join(
            f"{_finite(mart.fields[name]) if name in mart.fields else 'null::double'}"
            f" as {name}"
            for name in FIELDS
        )
        select = (
            f"select '{mart.measurement}' as measurement, "
            f"{mart.series_sql} as meter_id, "
            f"(epoch_ms({mart.time_column}) // 1000)::bigint as time_s, {columns} "
            f"from {mart.rows or f'main.{mart.table}'} as mart_rows "
            f"where {mart.series_sql} is not null "
            f"and {mart.time_column} is not null"
        )
        if scope is None or not mart.rebuilt_by:
            selects.append(select)
            continue
        for condition in scope.conditions(
            mart.rebuilt_by, "meter_id", mart.time_column, _timestamp
        ):
            selects.append(f"{select} and {condition}")
    any_field = " or ".join(f"{name} is not null" for name in FIELDS)
    bound = "" if as_of_s is None else f" and time_s <= {int(as_of_s)}"
    return (
        "select * from (\n"
        + "\nunion all\n".join(selects)
        + f"\n) as points where ({any_field}){bound}"
    )


def _published_sql(scope: Scope | None) -> str:
    """The published points that `_desired_sql` with `scope` compares with."""
    if scope is None:
        return STATE_TABLE
    whole = ", ".join(_quoted(m.measurement) for m in MARTS if not m.rebuilt_by)
    selects = [f"select * from {STATE_TABLE} where measurement in ({whole})"]
    for grain in ("day_start_at", "month_start_at"):
        names = ", ".join(
            _quoted(m.measurement) for m in MARTS if m.rebuilt_by == grain
        )
        selects += [
            f"select * from {STATE_TABLE} where measurement in ({names}) "
            f"and {condition}"
            for condition in scope.conditions(grain, "meter_id", "time_s", _epoch)
        ]
    return "(" + "\nunion all\n".join(selects) + ")"


def read_scope(connection: duckdb.DuckDBPyConnection) -> Scope | None:
    """What the load must compare: None (everything) unless every build
    since the last complete load noted its scope (note_build), the last
    build incremental."""
    known = {
        f"{schema}.{name}"
        for schema, name in connection.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
    }
    if not {f"{STATE_SCHEMA}.build_state", SCOPE_TABLE} <= known:
        return None
    rows = connection.execute(
        f"select kind, meter_id, day_start_at, month_start_at from {SCOPE_TABLE} "
        "order by kind, meter_id"
    ).fetchall()
    if any(kind == "everything" for kind, *_ in rows):
        return None
    window = [(day, month) for kind, _, day, month in rows if kind == "window"]
    far = datetime.max.replace(tzinfo=UTC)  # nothing rebuilt from the window
    return Scope(
        day=min((day for day, _ in window), default=far),
        month=min((month for _, month in window), default=far),
        meters=tuple(
            (meter, day, month) for kind, meter, day, month in rows if kind == "meter"
        ),
    )


def note_build(connection: duckdb.DuckDBPyConnection, *, everything: bool) -> None:
    """After a build that recorded its state (pipeline/rebuild.py): add what
    it may have changed to what the next load compares. A full build changes
    everything; an incremental one the scope it read (main.rebuild_window
    and the rebuilt meters of main.rebuild_meters). Without the table the
    next load compares everything anyway."""
    ensure_state(connection)
    if everything:
        _create_scope(connection)
        connection.execute(
            f"insert into {SCOPE_TABLE} values ('everything', null, null, null)"
        )
        return
    if not _scope_exists(connection):
        return
    connection.execute(
        f"""
        create or replace table {SCOPE_TABLE} as
        select
            kind,
            meter_id,
            if(bool_or(day_start_at is null), null, min(day_start_at))
                as day_start_at,
            if(bool_or(month_start_at is null), null, min(month_start_at))
                as month_start_at
        from (
            select * from {SCOPE_TABLE}
            union all
            select
                'window', null, day_start_at::timestamptz,
                month_start_at::timestamptz
            from main.rebuild_window
            union all
            select
                'meter', meter_id, day_start_at::timestamptz,
                month_start_at::timestamptz
            from main.rebuild_meters
            where kind = 'rebuilt'
        ) as scopes
        group by kind, meter_id
        """
    )


def _scope_exists(connection: duckdb.DuckDBPyConnection) -> bool:
    (found,) = connection.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = ? and table_name = ?",
        SCOPE_TABLE.split("."),
    ).fetchone() or (0,)
    return bool(found)


def _create_scope(connection: duckdb.DuckDBPyConnection) -> None:
    """An empty scope: the published points agree with the marts."""
    connection.execute(
        f"create or replace table {SCOPE_TABLE} (kind varchar, meter_id varchar, "
        "day_start_at timestamptz, month_start_at timestamptz)"
    )


def series_tags(measurement: str, series: str) -> dict[str, str]:
    """The tags of a series key (the state's meter_id column)."""
    return dict(zip(TAGS[measurement], series.split(SERIES_SEPARATOR), strict=True))


def ensure_state(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(f"create schema if not exists {STATE_SCHEMA}")
    field_columns = ", ".join(f"{name} double" for name in FIELDS)
    connection.execute(
        f"create table if not exists {STATE_TABLE} ("
        f"measurement varchar, meter_id varchar, time_s bigint, {field_columns})"
    )
    for name in FIELDS:  # a state written before a field was added
        connection.execute(
            f"alter table {STATE_TABLE} add column if not exists {name} double"
        )
    connection.execute(
        f"create table if not exists {STATE_SCHEMA}.published_target (target varchar)"
    )
    connection.execute(
        f"create table if not exists {STATE_SCHEMA}.published_source "
        "(source_json varchar)"
    )


def clear_state(connection: duckdb.DuckDBPyConnection) -> None:
    """Forget everything published: the next run publishes every point."""
    ensure_state(connection)
    connection.execute(f"delete from {STATE_TABLE}")
    connection.execute(f"delete from {STATE_SCHEMA}.published_target")
    connection.execute(f"delete from {STATE_SCHEMA}.published_source")
    connection.execute(f"drop table if exists {SCOPE_TABLE}")


def _target_key(target: influxdb.InfluxTarget, bucket: str) -> str:
    return f"{target.safe_url} {bucket}"


def _adopt_target(connection: duckdb.DuckDBPyConnection, key: str) -> None:
    rows = connection.execute(
        f"select target from {STATE_SCHEMA}.published_target"
    ).fetchall()
    if rows == [(key,)]:
        return
    if rows:
        log.info("event=load.new_target action=republish_everything")
    connection.execute("begin")
    connection.execute(f"delete from {STATE_TABLE}")
    connection.execute(f"delete from {STATE_SCHEMA}.published_target")
    connection.execute(f"delete from {STATE_SCHEMA}.published_source")
    connection.execute(f"drop table if exists {SCOPE_TABLE}")
    connection.execute(f"insert into {STATE_SCHEMA}.published_target values (?)", [key])
    connection.execute("commit")


def _check_marts(
    connection: duckdb.DuckDBPyConnection, warehouse: Path
) -> tuple[Mart, ...]:
    """The marts to publish; an error when a required one is missing."""
    present = {
        name
        for (name,) in connection.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'main'"
        ).fetchall()
    }
    missing = [
        mart.table for mart in MARTS if mart.required and mart.table not in present
    ]
    if missing:
        raise PipelineError(
            f"the warehouse {warehouse} lacks the marts {', '.join(missing)}: "
            "run dbt build before loading"
        )
    return tuple(mart for mart in MARTS if mart.table in present)


def _diff(
    connection: duckdb.DuckDBPyConnection,
    as_of_s: int | None,
    marts: tuple[Mart, ...] = MARTS,
    scope: Scope | None = None,
) -> None:
    """Temp table `diff`: every point to write and/or delete, numbered; with
    a scope, of the rows it names (the others are unchanged). Compared a
    measurement at a time (at 10,000 meters all of them at once took twice
    the time and memory), then the published points of measurements no
    mart holds."""
    published = _published_sql(scope)
    if scope is not None:
        # The few points a scope names, read from the state once.
        connection.execute(
            f"create or replace temp table published as select * from {published}"
        )
        published = "published"
    parts = [
        _compared_sql(
            _desired_sql(as_of_s, (mart,), scope),
            f"select * from {published} as p "
            f"where measurement = {_quoted(mart.measurement)}",
        )
        for mart in marts
    ]
    held = ", ".join(_quoted(mart.measurement) for mart in marts)
    parts.append(
        _compared_sql(
            f"select * from ({_desired_sql(as_of_s, marts, scope)}) as d where false",
            f"select * from {published} as p where measurement not in ({held})",
        )
    )
    connection.execute(f"create or replace temp table compared as {parts[0]}")
    for part in parts[1:]:
        connection.execute(f"insert into compared {part}")
    connection.execute(
        """
        create or replace temp table diff as
        select
            *,
            case when is_wanted then row_number() over (
                partition by is_wanted order by measurement, meter_id, time_s
            ) end as n
        from compared
        order by n nulls last
        """
    )
    connection.execute("drop table compared")
    connection.execute("drop table if exists published")


def _compared_sql(desired: str, published: str) -> str:
    """The points of `desired` and `published` (one shape) that differ: new,
    changed, or published but no longer wanted or missing a field."""
    new = ", ".join(f"d.{name}" for name in FIELDS)
    # Float noise is no change: a sum taken in another order (DuckDB sums in
    # parallel) may differ in the last bits from what was published.
    changed = changes.differs(FIELDS, "d", "p", relative_noise=RELATIVE_NOISE)
    lost_field = " or ".join(
        f"(p.{name} is not null and d.{name} is null)" for name in FIELDS
    )
    return f"""
        select
            coalesce(d.measurement, p.measurement) as measurement,
            coalesce(d.meter_id, p.meter_id) as meter_id,
            coalesce(d.time_s, p.time_s) as time_s,
            {new},
            d.measurement is not null as is_wanted,
            p.measurement is not null as was_published,
            p.measurement is not null
                and (d.measurement is null or {lost_field}) as is_deleted
        from ({desired}) as d
        full outer join ({published}) as p
            on d.measurement = p.measurement
            and d.meter_id = p.meter_id
            and d.time_s = p.time_s
        where d.measurement is null or p.measurement is null or {changed}
    """


def _delete_ranges(
    connection: duckdb.DuckDBPyConnection,
) -> list[tuple[str, str, int, int, int]]:
    """(measurement, meter_id, first_s, last_s, points): runs of deleted points.

    A run holds no point that stays published unchanged, so one delete over
    its time range removes exactly what must go (and points rewritten next).
    """
    return connection.execute(
        f"""
        with deleted as (
            select measurement, meter_id, time_s from diff where is_deleted
        ),
        series as (select distinct measurement, meter_id from deleted),
        kept as (
            select p.measurement, p.meter_id, p.time_s
            from {STATE_TABLE} as p
            semi join series as s
                on p.measurement = s.measurement and p.meter_id = s.meter_id
            anti join diff as x
                on p.measurement = x.measurement
                and p.meter_id = x.meter_id
                and p.time_s = x.time_s
        ),
        marked as (
            select *, 1 as is_deleted from deleted
            union all
            select *, 0 as is_deleted from kept
        ),
        runs as (
            select
                *,
                sum(1 - is_deleted) over (
                    partition by measurement, meter_id
                    order by time_s
                    rows between unbounded preceding and current row
                ) as run
            from marked
        )
        select measurement, meter_id, min(time_s), max(time_s), count(*)
        from runs
        where is_deleted = 1
        group by measurement, meter_id, run
        order by 1, 2, 3
        """
    ).fetchall()


def _delete(
    connection: duckdb.DuckDBPyConnection,
    target: influxdb.InfluxTarget,
    bucket: str,
    ranges: list[tuple[str, str, int, int, int]],
    result: LoadResult,
) -> None:
    for measurement, meter_id, first_s, last_s, points in ranges:
        start = datetime.fromtimestamp(first_s, UTC)
        stop = datetime.fromtimestamp(last_s + 1, UTC)  # exclusive
        influxdb.delete(
            target,
            bucket,
            measurement,
            meter_id,
            start,
            stop,
            tags=series_tags(measurement, meter_id),
        )
        connection.execute(
            f"delete from {STATE_TABLE} where measurement = ? and meter_id = ? "
            "and time_s between ? and ?",
            [measurement, meter_id, first_s, last_s],
        )
        result.count(measurement, deleted=points)


def _write(
    connection: duckdb.DuckDBPyConnection,
    target: influxdb.InfluxTarget,
    bucket: str,
    batch_size: int | None,
    result: LoadResult,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Batch after batch, InfluxDB never waiting for the loader: while it
    takes batch N+1, batch N (confirmed) is remembered and batch N+2's lines
    are built. A batch is remembered only once InfluxDB confirmed it, so the
    state never runs ahead of the bucket; a cut-off load leaves at most one
    confirmed batch unremembered, which the next run sends again."""
    (total,) = connection.execute(
        "select count(*) from diff where is_wanted"
    ).fetchone() or (0,)
    columns = ", ".join(FIELDS)
    if batch_size is None:
        batch_size = min(BATCH_SIZE, max(MIN_BATCH_SIZE, -(-total // 8)))

    in_sql = _lines_in_sql(connection)

    def prepare(first: int) -> tuple[list[str], dict[str, int]]:
        if in_sql:
            return _lines_sql(connection, first, first + batch_size - 1)
        rows = connection.execute(
            f"select measurement, meter_id, time_s, {columns} from diff "
            "where n between ? and ? order by n",
            [first, first + batch_size - 1],
        ).fetchall()
        return _lines(rows)

    def send(lines: list[str]) -> None:
        influxdb.write_lines(
            target, bucket, lines, precision="s", batch_lines=max(len(lines), 1)
        )

    starts = list(range(1, total + 1, batch_size))
    if not starts:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="load") as sender:
        lines, per_measurement = prepare(starts[0])
        sending = sender.submit(send, lines)
        following = prepare(starts[1]) if len(starts) > 1 else None
        for number, first in enumerate(starts, start=1):
            sending.result()
            sent, sent_per_measurement = lines, per_measurement
            if following is not None:
                lines, per_measurement = following
                sending = sender.submit(send, lines)
            last = first + batch_size - 1
            _remember(connection, first, last)
            for measurement, count in sent_per_measurement.items():
                result.count(measurement, written=count)
            log.info(
                "event=load.batch number=%d points=%d done=%d total=%d",
                number,
                len(sent),
                min(last, total),
                total,
            )
            if progress is not None:
                progress(min(last, total), total)
            following = (
                prepare(starts[number + 1]) if number + 1 < len(starts) else None
            )


def _lines_in_sql(connection: duckdb.DuckDBPyConnection) -> bool:
    """DuckDB can write the lines when no measurement or meter_id needs
    escaping (a double cast to text is Python's repr of it, the shortest
    text that reads back the same); otherwise `_lines` escapes or refuses."""
    special = r"[,= \\\n\r\x1f]"  # \x1f: a series of several tags
    (escaped,) = connection.execute(
        "select count(*) from diff where is_wanted "
        f"and regexp_matches(measurement || meter_id, '{special}')"
    ).fetchone() or (0,)
    return escaped == 0


def _lines_sql(
    connection: duckdb.DuckDBPyConnection, first: int, last: int
) -> tuple[list[str], dict[str, int]]:
    """The lines of batch [first, last] of `diff`, written by DuckDB exactly
    as `_lines` writes them."""
    fields = ", ".join(f"'{name}=' || ({name})::varchar" for name in FIELDS)
    rows = connection.execute(
        f"""
        select measurement, line from (
            select
                n,
                measurement,
                concat_ws(',', {fields}) as fields,
                measurement || ',meter_id=' || meter_id || ' ' || fields
                    || ' ' || time_s::varchar as line
            from diff
            where n between ? and ?
        )
        where fields <> ''
        order by n
        """,
        [first, last],
    ).fetchall()
    per_measurement: dict[str, int] = {}
    for measurement, _ in rows:
        per_measurement[measurement] = per_measurement.get(measurement, 0) + 1
    return [line for _, line in rows], per_measurement


def _lines(rows: list[tuple]) -> tuple[list[str], dict[str, int]]:
    """The lines of diff rows (measurement, meter_id, time_s, *FIELDS) and
    their count per measurement; as `point_line` writes them (a field that
    is null is left out, a row without fields is no point), with the series
    key escaped once per series. The fields are finite (see _finite)."""
    field_keys = [f"{escape_key(name, 'field key')}=" for name in FIELDS]
    heads: dict[tuple[str, str], str] = {}
    lines: list[str] = []
    per_measurement: dict[str, int] = {}
    for measurement, meter_id, time_s, *values in rows:
        fields = ",".join(
            key + repr(float(value))
            for key, value in zip(field_keys, values, strict=True)
            if value is not None
        )
        if not fields:
            continue
        head = heads.get((measurement, meter_id))
        if head is None:
            tags = series_tags(measurement, meter_id)
            head = heads[(measurement, meter_id)] = escape_measurement(
                measurement
            ) + "".join(
                f",{escape_key(key, 'tag key')}={escape_key(value, 'tag value')}"
                for key, value in tags.items()
            )
        lines.append(f"{head} {fields} {int(time_s)}")
        per_measurement[measurement] = per_measurement.get(measurement, 0) + 1
    return lines, per_measurement


def _remember(connection: duckdb.DuckDBPyConnection, first: int, last: int) -> None:
    """Record batch [first, last] of `diff` as published (one transaction)."""
    columns = ", ".join(FIELDS)
    connection.execute("begin")
    (replaced,) = connection.execute(
        "select count(*) from diff where n between ? and ? and was_published",
        [first, last],
    ).fetchone() or (0,)
    if replaced:
        connection.execute(
            f"""
            delete from {STATE_TABLE} as p using diff as d
            where d.n between ? and ? and d.was_published
                and p.measurement = d.measurement
                and p.meter_id = d.meter_id
                and p.time_s = d.time_s
            """,
            [first, last],
        )
    connection.execute(
        f"insert into {STATE_TABLE} (measurement, meter_id, time_s, {columns}) "
        f"select measurement, meter_id, time_s, {columns} from diff "
        "where n between ? and ?",
        [first, last],
    )
    connection.execute("commit")


def publish_marts(
    settings: Settings,
    warehouse: Path,
    *,
    as_of: datetime | None = None,
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LoadResult:
    """Make INFLUX_BUCKET_PROCESSED agree with the marts; send only the changes.

    `as_of` (default: settings.as_of; None: no bound) leaves out points stamped
    after it. `batch_size`: lines per request (default: an eighth of the
    points, 5,000 to 50,000).
    """
    started = time.monotonic()
    target = influxdb.InfluxTarget.from_settings(settings)
    bucket = settings.influx_bucket_processed
    as_of = as_of if as_of is not None else settings.as_of
    as_of_s = None if as_of is None else int(as_of.timestamp())
    if not warehouse.is_file():
        raise PipelineError(
            f"the warehouse {warehouse} does not exist: run dbt build before loading"
        )
    result = LoadResult()
    connection = duckdb.connect(str(warehouse))
    try:
        # Each batch's commit is in the write-ahead log; DuckDB checkpoints
        # it into the file once, when the load closes the warehouse, rather
        # than every 16 MB between two batches while InfluxDB waits.
        connection.execute("set checkpoint_threshold = '1GB'")
        marts = _check_marts(connection, warehouse)
        for mart in marts:
            result.count(mart.measurement)
        source.check_publishable(connection, settings)
        ensure_state(connection)
        _adopt_target(connection, _target_key(target, bucket))
        source.record_published(connection, settings)
        connection.execute(
            "set variable tibber_meter_id = ?", [settings.tibber_meter_id]
        )
        _diff(connection, as_of_s, marts, read_scope(connection))
        _delete(connection, target, bucket, _delete_ranges(connection), result)
        writing = time.monotonic()
        # While InfluxDB takes a batch, DuckDB builds the next on one thread:
        # on a small machine the server keeps a core of its own.
        connection.execute("set threads = 1")
        _write(connection, target, bucket, batch_size, result, progress)
        result.write_seconds = time.monotonic() - writing
        _create_scope(connection)  # the bucket agrees with the marts
    finally:
        connection.close()
    result.seconds = time.monotonic() - started
    for measurement, (written, deleted) in result.per_measurement.items():
        log.info(
            "event=load.published measurement=%s written=%d deleted=%d",
            measurement,
            written,
            deleted,
        )
    return result
