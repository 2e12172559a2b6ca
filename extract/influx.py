"""Extract raw meter readings from InfluxDB into the landing zone.

Home Assistant's schema (docs/interfaces.md): measurement = unit, tags `entity_id`
(the meter id) and `domain` = "input_number", float field `value`. Every meter
given in `meter_units` is read, whatever the measurement; the landing row's
unit is the measurement's name.

Incremental: the watermark is the latest `measured_at` in the landing zone;
meters already landed are read from watermark - overlap, meters never landed
from the beginning. Only new or changed rows become a new landing file. All
reading from InfluxDB happens before anything is written, so a failing server
leaves the landing zone untouched.

Reconciliation (extract/fingerprint.py): before that window, each landed
meter's readings are compared with InfluxDB's by a per-meter fingerprint
(count and sum per measurement); a meter whose fingerprint
differs (a reading deleted or corrected at any age) is read again in full.
A landed reading that a read covering its instant no longer returns gets a
tombstone (landing table readings_deleted). A meter without any reading left
in InfluxDB keeps its landed readings (a wrong bucket or a retention policy
must not wipe the history) and the run says so.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from core import landing
from core.influxdb import (
    InfluxTarget,
    flux_csv,
    flux_string,
    influxql_identifier,
    influxql_string,
    iter_influxql,
    rfc3339,
)
from core.settings import Settings
from extract import fingerprint

log = logging.getLogger(__name__)

TABLE = "readings"
ISSUES = "reading_issues"
DOMAIN = fingerprint.DOMAIN
IDS_PER_QUERY = 200
UTC_US = pa.timestamp("us", tz="UTC")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ReadingsExtract:
    points_read: int  # values InfluxDB returned for the meters
    rows_written: int  # new or changed rows appended to the landing zone
    unknown_entities: list[str]  # input_number entity_ids not in meter_units
    watermark: datetime | None  # landing's latest measured_at before the run
    unparseable_values: int = 0  # points whose value is not a number (skipped)
    duplicate_instants: int = 0  # extra values at one (meter, instant), dropped
    fingerprinted_meters: int = 0  # landed meters compared with InfluxDB
    fingerprinted_points: int = 0  # points InfluxDB counted for that
    reread_meters: list[str] = field(default_factory=list)  # read in full again
    rows_deleted: int = 0  # tombstones written (readings gone from InfluxDB)


@dataclass
class _Points:
    """Raw points as columns (times in epoch microseconds)."""

    meter_ids: list[pa.Array] = field(default_factory=list)
    times_us: list[pa.Array] = field(default_factory=list)
    values: list[pa.Array] = field(default_factory=list)
    units: list[pa.Array] = field(default_factory=list)
    count: int = 0
    unparseable: int = 0
    # (meter_id, epoch microseconds, the value as text, unit)
    unparseable_values: list[tuple[str, int, str, str]] = field(default_factory=list)

    def add(
        self, meter_id: str, unit: str, times_us: list[int], raw: list[Any]
    ) -> None:
        self.count += len(raw)
        values, times = _numbers(raw, times_us)
        skipped = len(raw) - len(values)
        if skipped:
            self.unparseable += skipped
            self.unparseable_values += [
                (meter_id, instant, str(value), unit)
                for instant, value in zip(times_us, raw, strict=True)
                if _number(value) is None
            ]
            log.warning(
                "event=unparseable_values meter_id=%r unit=%r count=%d",
                meter_id,
                unit,
                skipped,
            )
        if not len(values):
            return
        self.meter_ids.append(pa.repeat(pa.scalar(meter_id, pa.string()), len(values)))
        self.units.append(pa.repeat(pa.scalar(unit, pa.string()), len(values)))
        self.times_us.append(times)
        self.values.append(values)

    def extend(self, other: _Points) -> None:
        self.meter_ids += other.meter_ids
        self.times_us += other.times_us
        self.values += other.values
        self.units += other.units
        self.count += other.count
        self.unparseable += other.unparseable
        self.unparseable_values += other.unparseable_values

    def table(self) -> pa.Table:
        def column(chunks: list[pa.Array], kind: pa.DataType) -> pa.ChunkedArray:
            return pa.chunked_array(chunks, type=kind)

        return pa.table(
            {
                "meter_id": column(self.meter_ids, pa.string()),
                "measured_at": column(self.times_us, pa.int64()).cast(UTC_US),
                "value": column(self.values, pa.float64()),
                "unit": column(self.units, pa.string()),
            }
        )


def _numbers(raw: list[Any], times_us: list[int]) -> tuple[pa.Array, pa.Array]:
    """The values that are numbers (NaN/inf kept) and their times."""
    try:
        inferred = pa.array(raw)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        inferred = None
    if (
        inferred is not None
        and inferred.null_count == 0
        and (pa.types.is_floating(inferred.type) or pa.types.is_integer(inferred.type))
    ):
        return inferred.cast(pa.float64()), pa.array(times_us, pa.int64())
    values: list[float] = []
    times: list[int] = []
    for instant, value in zip(times_us, raw, strict=True):
        number = _number(value)
        if number is not None:
            values.append(number)
            times.append(instant)
    return pa.array(values, pa.float64()), pa.array(times, pa.int64())


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _chunks(ids: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# -- InfluxDB 1.x --


def readings_influxql(entity_ids: Iterable[str], start: datetime | None) -> str:
    """SELECT the `value` of these input_number entities in every measurement."""
    ids = " OR ".join(
        f"{influxql_identifier('entity_id')} = {influxql_string(i)}" for i in entity_ids
    )
    since = f" AND time >= {influxql_string(rfc3339(start))}" if start else ""
    return (
        f"SELECT {influxql_identifier('value')} FROM /.*/ "
        f"WHERE {influxql_identifier('domain')} = {influxql_string(DOMAIN)} "
        f"AND ({ids}){since} GROUP BY {influxql_identifier('entity_id')}"
    )


UNKNOWN_INFLUXQL = (
    f"SHOW TAG VALUES FROM /.*/ WITH KEY = {influxql_identifier('entity_id')} "
    f"WHERE {influxql_identifier('domain')} = {influxql_string(DOMAIN)}"
)


def _read_v1(
    target: InfluxTarget, bucket: str, ids: list[str], start: datetime | None
) -> _Points:
    points = _Points()
    wanted = set(ids)
    for group in _chunks(ids, IDS_PER_QUERY):
        query = readings_influxql(group, start)
        for series in iter_influxql(target, bucket, query, epoch="u"):
            meter_id = (series.get("tags") or {}).get("entity_id", "")
            if meter_id not in wanted:
                continue
            rows = series.get("values") or []
            column = series["columns"].index("value")
            points.add(
                meter_id,
                series["name"],
                [row[0] for row in rows],
                [row[column] for row in rows],
            )
    return points


def _entities_v1(target: InfluxTarget, bucket: str) -> set[str]:
    found: set[str] = set()
    for series in iter_influxql(target, bucket, UNKNOWN_INFLUXQL):
        column = series["columns"].index("value")
        found.update(str(row[column]) for row in series.get("values") or [])
    return found


# -- InfluxDB 2.x --


def readings_flux(
    bucket: str, entity_ids: Iterable[str], start: datetime | None
) -> str:
    """Flux for the `value` of these input_number entities in every measurement."""
    ids = " or ".join(f"r.entity_id == {flux_string(i)}" for i in entity_ids)
    return (
        f"from(bucket: {flux_string(bucket)})\n"
        f"  |> range(start: {rfc3339(start or _EPOCH)})\n"
        f'  |> filter(fn: (r) => r._field == "value" and r.domain == "{DOMAIN}")\n'
        f"  |> filter(fn: (r) => {ids})\n"
        '  |> keep(columns: ["_time", "_value", "_measurement", "entity_id"])\n'
    )


def entities_flux(bucket: str) -> str:
    """Flux listing every input_number entity_id of the bucket."""
    return (
        'import "influxdata/influxdb/schema"\n\n'
        "schema.tagValues(\n"
        f"  bucket: {flux_string(bucket)},\n"
        '  tag: "entity_id",\n'
        f'  predicate: (r) => r.domain == "{DOMAIN}",\n'
        f"  start: {rfc3339(_EPOCH)},\n"
        ")\n"
    )


def _read_v2(
    target: InfluxTarget, bucket: str, ids: list[str], start: datetime | None
) -> _Points:
    points = _Points()
    wanted = set(ids)
    for group in _chunks(ids, IDS_PER_QUERY):
        rows = flux_csv(target, readings_flux(bucket, group, start), bucket=bucket)
        series: dict[tuple[str, str], tuple[list[int], list[Any]]] = {}
        for row in rows:
            meter_id = row.get("entity_id") or ""
            if meter_id not in wanted or row.get("_time") is None:
                continue
            times, values = series.setdefault(
                (meter_id, row.get("_measurement") or ""), ([], [])
            )
            times.append(_epoch_us(row["_time"]))
            values.append(row.get("_value"))
        for (meter_id, unit), (times, values) in series.items():
            points.add(meter_id, unit, times, values)
    return points


def _epoch_us(instant: datetime) -> int:
    delta = instant - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _entities_v2(target: InfluxTarget, bucket: str) -> set[str]:
    rows = flux_csv(target, entities_flux(bucket), bucket=bucket)
    return {str(row["_value"]) for row in rows if row.get("_value") is not None}


# -- the landing side --


def landed_watermarks(data_dir: Path) -> dict[str, datetime]:
    """Per meter, the latest measured_at of its current landed readings
    (tombstoned ones left out; reads only: an empty or missing landing zone
    gives {} and is not created here)."""
    folder = landing.table_dir(data_dir, TABLE)
    if not folder.is_dir() or not any(folder.glob("*.parquet")):
        return {}
    latest = landing.query(
        data_dir,
        TABLE,
        f"select meter_id, max(measured_at) as measured_at "
        f"from ({landing.live_sql(TABLE)}) as current "
        "where measured_at is not null group by meter_id",
    )
    rows = zip(
        latest.column("meter_id").to_pylist(),
        latest.column("measured_at").to_pylist(),
        strict=True,
    )
    return {meter_id: instant.astimezone(UTC) for meter_id, instant in rows}


def _deduplicated(
    points: pa.Table, meter_units: dict[str, str], extracted_at: datetime
) -> tuple[pa.Table, pa.Table]:
    """One row per (meter, instant): the seed's unit first, then finite values,
    then the smallest unit name and value. Returns (rows, dropped rows)."""
    units = pa.table(
        {
            "meter_id": pa.array(list(meter_units), pa.string()),
            "seed_unit": pa.array(list(meter_units.values()), pa.string()),
        }
    )
    with duckdb.connect() as connection:
        connection.execute("set TimeZone = 'UTC'")
        connection.register("points", points)
        connection.register("units", units)
        connection.execute(
            """
            create temp table ranked as
            select p.meter_id, p.measured_at, p.value, p.unit,
                ?::timestamptz as extracted_at,
                row_number() over (
                    partition by p.meter_id, p.measured_at
                    order by
                        (p.unit is not distinct from u.seed_unit) desc,
                        isfinite(p.value) desc,
                        p.unit,
                        p.value
                ) as value_rank
            from points as p
            left join units as u on u.meter_id = p.meter_id
            """,
            [extracted_at],
        )
        kept = connection.execute(
            "select * exclude (value_rank) from ranked where value_rank = 1"
        ).to_arrow_table()
        dropped = connection.execute(
            "select meter_id, measured_at, 'duplicate_instant' as issue, "
            "cast(value as varchar) as value, unit, extracted_at "
            "from ranked where value_rank > 1"
        ).to_arrow_table()
        for meter_id, extra in connection.execute(
            """
            select meter_id, count(*) - count(distinct measured_at)
            from points group by meter_id
            having count(*) > count(distinct measured_at)
            order by meter_id
            """
        ).fetchall():
            log.warning(
                "event=duplicate_instants meter_id=%r dropped=%d "
                "rule=seed_unit_then_finite_then_unit_then_value",
                meter_id,
                extra,
            )
    return kept.cast(landing.SCHEMAS[TABLE]), dropped


def _issues(
    unparseable: list[tuple[str, int, str, str]],
    dropped: pa.Table,
    extracted_at: datetime,
) -> pa.Table:
    """The values not kept as readings, for the data-quality findings."""
    schema = landing.SCHEMAS[ISSUES]
    texts = pa.table(
        {
            "meter_id": pa.array([row[0] for row in unparseable], pa.string()),
            "measured_at": pa.array([row[1] for row in unparseable], pa.int64()).cast(
                UTC_US
            ),
            "issue": pa.array(["unparseable"] * len(unparseable), pa.string()),
            "value": pa.array([row[2] for row in unparseable], pa.string()),
            "unit": pa.array([row[3] for row in unparseable], pa.string()),
            "extracted_at": pa.array([extracted_at] * len(unparseable), UTC_US),
        }
    )
    return pa.concat_tables([texts.cast(schema), dropped.cast(schema)])


def extract_readings(
    settings: Settings,
    meter_units: dict[str, str],
    *,
    full_refresh: bool = False,
    overlap: timedelta = timedelta(days=7),
    extracted_at: datetime | None = None,
) -> ReadingsExtract:
    """Land the new or changed readings of every meter in `meter_units`
    (meter_id -> the seed's unit) from INFLUX_BUCKET_RAW."""
    extracted_at = (extracted_at or datetime.now(UTC)).astimezone(UTC)
    target = InfluxTarget.from_settings(settings)
    bucket = settings.influx_bucket_raw
    data_dir = settings.data_dir

    landed = {} if full_refresh else landed_watermarks(data_dir)
    watermark = max(landed.values()) if landed else None
    known = sorted(m for m in meter_units if m in landed)
    fresh = sorted(m for m in meter_units if m not in landed)
    start = watermark - overlap if watermark else None

    read = _read_v1 if target.api_version == 1 else _read_v2
    entities = _entities_v1 if target.api_version == 1 else _entities_v2
    log.info(
        "event=influx_extract_start bucket=%r meters=%d since=%s full_refresh=%s",
        bucket,
        len(meter_units),
        rfc3339(start) if start else "beginning",
        full_refresh,
    )
    differing: list[str] = []
    checked = fingerprint.Comparison()
    if known and start is not None:
        checked = fingerprint.compare(target, bucket, data_dir, known, start)
        differing = checked.differing
    whole = sorted({*fresh, *differing})
    since_start = [m for m in known if m not in set(differing)]
    points = read(target, bucket, whole, None) if whole else _Points()
    if since_start:
        points.extend(read(target, bucket, since_start, start))
    present = entities(target, bucket)

    unknown = sorted(present - set(meter_units))
    if unknown:
        log.warning(
            "event=unknown_entities count=%d entity_ids=%s",
            len(unknown),
            ",".join(repr(e) for e in unknown),
        )
    silent = sorted(set(meter_units) - present)
    if silent:
        log.info("event=meters_without_readings meter_ids=%s", ",".join(silent))

    rows, dropped = _deduplicated(points.table(), meter_units, extracted_at)
    duplicates = dropped.num_rows
    changed = landing.new_or_changed(data_dir, TABLE, rows)
    issues = _issues(points.unparseable_values, dropped, extracted_at)
    landing.append(
        data_dir,
        ISSUES,
        landing.new_or_changed(data_dir, ISSUES, issues),
    )
    gone = fingerprint.vanished(
        data_dir,
        rows,
        {m: None for m in whole} | {m: start for m in since_start},
        checked.present,
        extracted_at,
    )
    path = landing.append(data_dir, TABLE, changed)
    landing.append(data_dir, landing.DELETIONS[TABLE][0], gone)
    log.info(
        "event=influx_extracted points=%d rows_written=%d file=%s unparseable=%d "
        "duplicates=%d unknown_entities=%d fingerprinted_meters=%d "
        "reread_meters=%d rows_deleted=%d",
        points.count,
        changed.num_rows,
        path.name if path else "none",
        points.unparseable,
        duplicates,
        len(unknown),
        len(known) if start is not None else 0,
        len(differing),
        gone.num_rows,
    )
    return ReadingsExtract(
        points_read=points.count,
        rows_written=changed.num_rows,
        unknown_entities=unknown,
        watermark=watermark,
        unparseable_values=points.unparseable,
        duplicate_instants=duplicates,
        fingerprinted_meters=len(known) if start is not None else 0,
        fingerprinted_points=checked.points,
        reread_meters=differing,
        rows_deleted=gone.num_rows,
    )
