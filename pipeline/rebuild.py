"""What a build recomputes: everything, or only what its inputs changed.

After every build whose models all succeeded, the warehouse keeps a
`run_state.build_state`: a fingerprint of the dbt project and the settings it reads,
the build's as_of, the latest extraction it saw and the landing files that
existed. The next build is incremental when that state still describes the
project and nothing it saw went away. It then recomputes
- for every meter, the days from the old as_of's day on (the months from
  its month on): what a moving as_of changes;
- for a meter whose readings (or Tibber hours) arrived or changed since, or
  crossed from after the old as_of to before the new one, its days from the
  kept reading before the earliest change that cleaning cannot reach
  (cleaning looks `cleaning_lookahead_readings` readings ahead; all of
  them when that reading lies in the first `segment_rate_days` of its
  readings, or its installation or removal is near);
  and the master and virtual meters built on it from the same day.
It writes that scope, under a new id, to two warehouse tables
(`rebuild_window`, `rebuild_meters`: the dbt source `rebuild`), and the
build gives dbt the id (pipeline.dbt): the incremental models apply the
scope whose id matches (macros/rebuild.sql) and rebuild every row without
one (a hand-run dbt); after the build the scope keeps no id. What the
models know (compositions, installed lives, kept readings, local days) is
read from the warehouse the previous build left; a constant both sides use
is a var in dbt_project.yml.
Anything else (first build, changed models, seeds or settings, as_of moved
back, a landing file removed, --full-refresh, a full build that did not
finish) rebuilds everything.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import yaml

from core import landing, run_state
from core.errors import DbtError, LandingError
from core.settings import Settings

BUILD_STATE = f"{run_state.SCHEMA}.build_state"
STATE_DDL = f"""
create schema if not exists {run_state.SCHEMA};
create table if not exists {BUILD_STATE} (
    fingerprint varchar, as_of_at timestamptz, landed_until timestamptz,
    landing_files integer, last_landing_file varchar, built_at timestamptz
)
"""
SCOPE_DDL = """
create or replace table main.rebuild_window (
    scope_id varchar, window_from_at timestamptz, cost_from_at timestamptz,
    tests_rebuilt_only boolean, day_start_at varchar, month_start_at varchar,
    cost_day_start_at varchar
);
create or replace table main.rebuild_meters (
    scope_id varchar, meter_id varchar, kind varchar,
    changed_from_at timestamptz, day_start_at varchar, month_start_at varchar
);
"""
# The fingerprint a full build records before it starts: a full build that
# does not finish (failed seed, failed model, killed) leaves it, and the next
# build is full again, whatever the project then looks like (seeds reloaded).
UNFINISHED = "unfinished full build"
FINGERPRINTED = (
    "dbt_project.yml",
    "profiles.yml",
    "models",
    "macros",
    "seeds",
    "tests/dbt",
)


@dataclass
class BuildPlan:
    full_refresh: bool
    reason: str
    fingerprint: str
    as_of: datetime
    landed_until: datetime | None
    landing_files: int
    last_landing_file: str
    rebuilt_meters: list[str]
    full_tests: bool = False
    scope_id: str = ""

    @property
    def dbt_args(self) -> list[str]:
        """A full build builds everything. An incremental one, whose code,
        seeds and settings did not change since the previous build, builds
        only what reads the data (downstream of a source: the landing zone,
        the scope), and of that not the views tagged static (defined by the
        code alone); its data tests likewise, all of them with full_tests."""
        if self.full_refresh:
            return ["--full-refresh"]
        reads_data = "source:*+"
        tests = "resource_type:test" + ("" if self.full_tests else f",{reads_data}")
        return [
            "--select",
            f"{reads_data},resource_type:model {tests} resource_type:unit_test",
            "--exclude",
            "tag:static",
            "--indirect-selection",
            "empty",
        ]

    def describe(self) -> str:
        if self.full_refresh:
            return f"full build ({self.reason}); data tests on every row"
        tested = "every row" if self.full_tests else "the rebuilt rows"
        return (
            f"incremental: {len(self.rebuilt_meters)} meters rebuilt from the "
            "day their readings changed, the others from the last as_of's day; "
            f"data tests on {tested}"
        )


@dataclass
class BuildState:
    fingerprint: str
    as_of: datetime
    landed_until: datetime | None
    landing_files: int
    last_landing_file: str


def fingerprint(settings: Settings, project: Path) -> str:
    """Changes when the models, macros, seeds or the settings they read do."""
    digest = hashlib.sha256()
    for setting in settings.model_settings():
        digest.update(setting.encode() + b"\0")
    for name in FINGERPRINTED:
        root = project / name
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in files:
            if path.is_file():
                digest.update(str(path.relative_to(project)).encode() + b"\0")
                digest.update(path.read_bytes())
    return digest.hexdigest()


def landing_files(settings: Settings) -> list[str]:
    """Every landing file's name; names start with the time of writing."""
    return sorted(
        path.name
        for table in landing.SCHEMAS
        for path in landing.table_dir(settings.data_dir, table).glob("*.parquet")
    )


def read_state(settings: Settings) -> BuildState | None:
    path = settings.warehouse
    if not path.exists():
        return None
    with duckdb.connect(str(path)) as db:
        found = db.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = 'build_state'",
            [run_state.SCHEMA],
        ).fetchone()[0]
        if not found:
            return None
        row = db.execute(
            "select fingerprint, as_of_at, landed_until, landing_files, "
            f"last_landing_file from {BUILD_STATE}"
        ).fetchone()
    return BuildState(*row) if row else None


def project_vars(project: Path) -> dict:
    """The vars of dbt_project.yml: the constants the models and the
    planning share."""
    with open(project / "dbt_project.yml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)["vars"]


def plan(
    settings: Settings,
    project: Path,
    as_of: datetime,
    *,
    full_refresh: bool = False,
    full_tests: bool = False,
) -> BuildPlan:
    """The build's scope, written where the models and tests read it.
    `full_tests`: the data tests of an incremental build read every row
    (a full build's always do)."""
    files = landing_files(settings)
    current = BuildPlan(
        full_refresh=True,
        reason="first build",
        fingerprint=fingerprint(settings, project),
        as_of=as_of,
        landed_until=latest_extraction(settings),
        landing_files=len(files),
        last_landing_file=files[-1] if files else "",
        rebuilt_meters=[],
    )
    previous = read_state(settings)
    if full_refresh:
        current.reason = "--full-refresh"
    elif previous is None:
        pass
    elif previous.fingerprint == UNFINISHED:
        current.reason = "the previous full build did not finish"
    elif previous.fingerprint != current.fingerprint:
        current.reason = "the models, seeds or settings changed"
    elif as_of < previous.as_of:
        current.reason = "as_of moved back"
    elif (
        sum(name <= previous.last_landing_file for name in files)
        != previous.landing_files
    ):
        current.reason = "landing files were removed or replaced"
    else:
        current.full_refresh = False
        current.reason = "incremental"
    current.full_tests = full_tests or current.full_refresh
    if current.full_refresh:
        close_scope(settings, current)
        return current
    shared = project_vars(project)
    first_hour = first_changed_hour(settings, previous, as_of)
    with duckdb.connect(str(settings.warehouse)) as db:
        built_on = composition(db)
        rebuilt = rebuilt_meters(
            settings, db, shared, previous, as_of, first_hour, built_on
        )
        read = dict(rebuilt)
        for meter, source in built_on:
            if meter in rebuilt:
                start = read.get(source, rebuilt[meter])
                read[source] = earliest(start, rebuilt[meter])
        current.rebuilt_meters = sorted(rebuilt)
        current.scope_id = uuid.uuid4().hex
        write_scope(
            db,
            current,
            window_from=previous.as_of,
            cost_from=min(previous.as_of, first_hour or previous.as_of),
            rebuilt=rebuilt,
            read=read,
        )
    return current


def latest_extraction(settings: Settings) -> datetime | None:
    latest = None
    for table in landing.SCHEMAS:
        try:
            value = (
                landing.query(
                    settings.data_dir, table, "select max(extracted_at) from landed"
                )
                .column(0)[0]
                .as_py()
            )
        except LandingError:
            value = None
        if value is not None and (latest is None or value > latest):
            latest = value
    return latest


def first_changed_hour(
    settings: Settings, previous: BuildState, as_of: datetime
) -> datetime | None:
    """The earliest Tibber hour landed or deleted (tombstone) since the
    previous build, or ending between its as_of and this one (landed earlier,
    visible only now)."""
    since = previous.landed_until or datetime.min.replace(tzinfo=UTC)
    return (
        landing.query(
            settings.data_dir,
            "tibber_hours",
            f"""
            select min(hour_start_at) from (
                select hour_start_at from landed
                where extracted_at > '{since.isoformat()}'::timestamptz
                   or (hour_end_at > '{previous.as_of.isoformat()}'::timestamptz
                       and hour_end_at <= '{as_of.isoformat()}'::timestamptz)
                union all
                select hour_start_at from deleted
                where extracted_at > '{since.isoformat()}'::timestamptz
            ) as changes
            """,
        )
        .column(0)[0]
        .as_py()
    )


def changed_readings(
    settings: Settings, previous: BuildState, as_of: datetime
) -> dict[str, datetime]:
    """Per meter, its earliest reading landed or deleted (tombstone) since
    the previous build, or measured between its as_of and this one."""
    since = previous.landed_until or datetime.min.replace(tzinfo=UTC)
    return {
        row["meter_id"]: row["changed_at"]
        for row in landing.query(
            settings.data_dir,
            "readings",
            f"""
            select meter_id, min(measured_at) as changed_at from (
                select meter_id, measured_at from landed
                where extracted_at > '{since.isoformat()}'::timestamptz
                   or (measured_at > '{previous.as_of.isoformat()}'::timestamptz
                       and measured_at <= '{as_of.isoformat()}'::timestamptz)
                union all
                select meter_id, measured_at from deleted
                where extracted_at > '{since.isoformat()}'::timestamptz
            ) as changes
            group by meter_id
            """,
        ).to_pylist()
    }


def rebuilt_meters(
    settings: Settings,
    db: duckdb.DuckDBPyConnection,
    shared: dict,
    previous: BuildState,
    as_of: datetime,
    first_hour: datetime | None,
    built_on: list[tuple[str, str]],
) -> dict[str, datetime | None]:
    """The meters this build recomputes, each from the instant its rows may
    have changed (None: all its rows): a physical meter whose readings
    changed (previous_readings), the Tibber meter from its first changed
    hour, a meter installed or removed from the day before the previous
    as_of's day to the day after this as_of's (all its rows); master and
    virtual meters from the earliest change of the meters they are built
    on."""
    changed_at = changed_readings(settings, previous, as_of)
    if first_hour is not None:
        meter = settings.tibber_meter_id
        changed_at[meter] = min(changed_at.get(meter, first_hour), first_hour)
    rebuilt = previous_readings(db, shared, changed_at)
    for meter in installed_or_removed_near(db, settings, previous.as_of, as_of):
        rebuilt[meter] = None
    grew = True
    while grew:
        grew = False
        for meter, source in built_on:
            if source not in rebuilt:
                continue
            start = rebuilt[source]
            if meter in rebuilt:
                start = earliest(rebuilt[meter], start)
            if meter not in rebuilt or rebuilt[meter] != start:
                rebuilt[meter] = start
                grew = True
    return rebuilt


def earliest(first: datetime | None, second: datetime | None) -> datetime | None:
    """The earlier instant; None (the beginning) is earliest."""
    if first is None or second is None:
        return None
    return min(first, second)


def relation(db: duckdb.DuckDBPyConnection, model: str) -> str:
    """The table or view dbt built for `model` (its schema is dbt's to say:
    dbt_project.yml)."""
    found = db.execute(
        "select table_schema from information_schema.tables "
        "where table_catalog = current_database() and table_name = ?",
        [model],
    ).fetchall()
    if len(found) != 1:
        raise DbtError(
            f"the warehouse holds {len(found)} relations named {model}: "
            "run `python -m pipeline run --full-refresh`"
        )
    return f'"{found[0][0]}"."{model}"'


def previous_readings(
    db: duckdb.DuckDBPyConnection, shared: dict, changed_at: dict[str, datetime]
) -> dict[str, datetime | None]:
    """Per changed meter, the kept reading from which the previous build's
    rows change (None: all of them). Cleaning looks
    `cleaning_lookahead_readings` kept readings ahead (a typo shows only
    when the next reading arrives), so a change can turn the verdict of
    that many readings before it, and the segment ending at the first of
    them starts at the kept reading before that. All of them when fewer
    readings precede the change, or when a reading it can turn lies in the
    first `segment_rate_days` of the meter's readings (their rate is the
    one before the first reading: int_reading_segments)."""
    if not changed_at:
        return {}
    reached = int(shared["cleaning_lookahead_readings"])
    rows = db.execute(
        f"""
        with kept as (
            select
                changed.meter_id,
                list(readings.reading_at order by readings.reading_at desc)
                    filter (where readings.reading_at < changed.changed_at)
                    as before_change,
                min(readings.reading_at) as first_at
            from (
                select unnest(?::varchar[]) as meter_id,
                       unnest(?::timestamptz[]) as changed_at
            ) as changed
            left join {relation(db, "int_readings_combined")} as readings
                on readings.meter_id = changed.meter_id
            group by changed.meter_id
        )
        select
            meter_id,
            before_change[{reached + 1}] as previous_at,
            -- in days since the epoch, as int_reading_segments weighs time
            epoch_us(before_change[{reached}]) / 86400000000.0
            <= epoch_us(first_at) / 86400000000.0 + ? as in_first_year
        from kept
        """,
        [
            list(changed_at),
            list(changed_at.values()),
            int(shared["segment_rate_days"]),
        ],
    ).fetchall()
    return {
        meter_id: None if previous_at is None or in_first_year else previous_at
        for meter_id, previous_at, in_first_year in rows
    }


def installed_or_removed_near(
    db: duckdb.DuckDBPyConnection,
    settings: Settings,
    previous_as_of: datetime,
    as_of: datetime,
) -> list[str]:
    """The meters installed or removed from the day before the previous
    as_of's local day to the day after this as_of's: all their rows
    change. Local days as the models take them (macros/time.sql)."""
    meters = relation(db, "stg_house__meters")
    return [
        meter_id
        for (meter_id,) in db.execute(
            f"""
            with bounds as (
                select
                    cast(timezone($zone, $previous) as date) - 1 as first_day,
                    cast(timezone($zone, $as_of) as date) + 1 as last_day
            )
            select meters.meter_id
            from {meters} as meters, bounds
            where meters.installed_on between first_day and last_day
               or meters.removed_on between first_day and last_day
            order by meters.meter_id
            """,
            {
                "zone": settings.timezone,
                "previous": previous_as_of,
                "as_of": as_of,
            },
        ).fetchall()
    ]


def composition(db: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(master or virtual meter, a meter it is built on), as staged."""
    periods = relation(db, "stg_house__master_meter_periods")
    components = relation(db, "stg_house__virtual_meter_components")
    return db.execute(
        f"""
        select meter_id, source_meter_id from {periods}
        union all
        select meter_id, component_meter_id from {components}
        """
    ).fetchall()


def write_scope(
    db: duckdb.DuckDBPyConnection,
    current: BuildPlan,
    *,
    window_from: datetime,
    cost_from: datetime,
    rebuilt: dict[str, datetime | None],
    read: dict[str, datetime | None],
) -> None:
    """The scope the incremental models read (macros/rebuild.sql), under
    the plan's id, in place of any before: the instants from whose local
    day (and month) every meter's rows are recomputed, and from whose day
    the Tibber cost is (revised hours reach back up to 30 days); whether the
    data tests read only the rebuilt rows; the rebuilt meters, each from the
    instant of its change (null: all its rows); and the rows read besides:
    of the meters they are built on, from the earliest change of a meter
    built on them. dbt adds the local days when it starts."""
    meters = [
        (current.scope_id, meter_id, kind, instant)
        for kind, chosen in (("rebuilt", rebuilt), ("read", read))
        for meter_id, instant in sorted(chosen.items())
    ]
    db.execute(SCOPE_DDL)
    db.execute(
        "insert into main.rebuild_window values (?, ?, ?, ?, null, null, null)",
        [current.scope_id, window_from, cost_from, not current.full_tests],
    )
    if meters:
        db.executemany(
            "insert into main.rebuild_meters values (?, ?, ?, ?, null, null)", meters
        )


def close_scope(settings: Settings, current: BuildPlan) -> None:
    """After a build: its scope stays as the record of what it rebuilt,
    under no id, so no later dbt run can apply it. A full build leaves
    none."""
    if not settings.warehouse.exists():
        return
    with duckdb.connect(str(settings.warehouse)) as db:
        if current.full_refresh:
            db.execute("drop table if exists main.rebuild_window")
            db.execute("drop table if exists main.rebuild_meters")
        else:
            db.execute("update main.rebuild_window set scope_id = null")
            db.execute("update main.rebuild_meters set scope_id = null")


def mark_unfinished(settings: Settings) -> None:
    """Before a full build: until it records its own state, the warehouse
    says a full build is due (the seeds it holds may be half replaced)."""
    if read_state(settings) is None:
        return
    with duckdb.connect(str(settings.warehouse)) as db:
        db.execute(f"update {BUILD_STATE} set fingerprint = ?", [UNFINISHED])


def record(settings: Settings, current: BuildPlan) -> None:
    """After a build whose models all succeeded: the next one starts here
    (one transaction), and the next load compares what this one rebuilt
    (load/publish.py: note_build reads the closed scope)."""
    from load.publish import note_build

    with duckdb.connect(str(settings.warehouse)) as db:
        db.execute(STATE_DDL)
        db.execute("begin")
        note_build(db, everything=current.full_refresh)
        db.execute(f"delete from {BUILD_STATE}")
        db.execute(
            f"insert into {BUILD_STATE} values (?, ?, ?, ?, ?, now())",
            [
                current.fingerprint,
                current.as_of,
                current.landed_until,
                current.landing_files,
                current.last_landing_file,
            ],
        )
        db.execute("commit")
