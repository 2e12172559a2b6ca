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
  third kept reading before the earliest change (cleaning looks two readings
  ahead; all of them when that change lies in the first year of its
  readings, or its installation or removal is near);
  and the master and virtual meters built on it from the same day.
It writes that scope to two warehouse tables (`rebuild_window`,
`rebuild_meters`) which the incremental models read (macros/rebuild.sql).
Anything else (first build, changed models, seeds or settings, as_of moved
back, a landing file removed, --full-refresh, a full build that did not
finish) rebuilds everything.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from core import landing, run_state
from core.errors import LandingError
from core.settings import Settings

BUILD_STATE = f"{run_state.SCHEMA}.build_state"
STATE_DDL = f"""
create schema if not exists {run_state.SCHEMA};
create table if not exists {BUILD_STATE} (
    fingerprint varchar, as_of_at timestamptz, landed_until timestamptz,
    landing_files integer, last_landing_file varchar, built_at timestamptz
)
"""
# The fingerprint a full build records before it starts: a full build that
# does not finish (failed seed, failed model, killed) leaves it, and the next
# build is full again, whatever the project then looks like (seeds reloaded).
UNFINISHED = "unfinished full build"
# Data tests that read nothing but the seeds (and views of them): an
# incremental build, whose seeds and code did not change, need not repeat them.
SEED_TESTS = ["path:models/staging/house", "path:tests/dbt/house"]
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

    @property
    def dbt_args(self) -> list[str]:
        """A full build builds everything. An incremental one leaves out
        what only the code and the seeds define, both unchanged since the
        previous build: the seeds and the views tagged static (the tests of
        those built on the landing zone still run), and the data tests of
        the house's description (SEED_TESTS) unless full_tests."""
        if self.full_refresh:
            return ["--full-refresh"]
        excluded = ["tag:static"]
        if not self.full_tests:
            excluded += SEED_TESTS
        return [
            "--select",
            "resource_type:model resource_type:test resource_type:unit_test",
            "--exclude",
            " ".join(excluded),
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
    current = scope_plan(settings, project, as_of, full_refresh=full_refresh)
    current.full_tests = full_tests or current.full_refresh
    write_test_scope(settings, rebuilt_only=not current.full_tests)
    return current


def write_test_scope(settings: Settings, *, rebuilt_only: bool) -> None:
    """main.rebuild_tests exists (one row) when the data tests read only the
    rebuilt rows (macros/tested_rows.sql); absent, they read every row."""
    if not rebuilt_only and not settings.warehouse.exists():
        return
    with duckdb.connect(str(settings.warehouse)) as db:
        if rebuilt_only:
            db.execute(
                "create or replace table main.rebuild_tests as "
                "select 'rebuilt' as tested_rows"
            )
        else:
            db.execute("drop table if exists main.rebuild_tests")


def scope_plan(
    settings: Settings, project: Path, as_of: datetime, *, full_refresh: bool = False
) -> BuildPlan:
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
        first_hour = first_changed_hour(settings, previous, as_of)
        built_on = composition(project)
        rebuilt = rebuilt_meters(
            settings, project, previous, as_of, first_hour, built_on
        )
        current.rebuilt_meters = sorted(rebuilt)
        read = dict(rebuilt)
        for meter, source in built_on:
            if meter in rebuilt:
                start = read.get(source, rebuilt[meter])
                read[source] = earliest(start, rebuilt[meter])
        write_scope(settings, previous, first_hour, rebuilt, read)
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


def rebuilt_meters(
    settings: Settings,
    project: Path,
    previous: BuildState,
    as_of: datetime,
    first_hour: datetime | None,
    built_on: list[tuple[str, str]],
) -> dict[str, datetime | None]:
    """The meters this build recomputes, each from the instant its rows may
    have changed (None: all its rows). A physical meter whose readings
    changed from t on changes from the third kept reading before t (the
    segment ending at t starts at the kept reading before it, and cleaning
    may now exclude or keep the two readings before t), unless t lies in
    the first year of its readings (the rate before the first reading
    changes) or nothing precedes it. A tombstone (a reading deleted at the
    source) is a change at its instant. Master and virtual meters change from
    the earliest change of the meters they are built on."""
    since = previous.landed_until or datetime.min.replace(tzinfo=UTC)
    changed_at: dict[str, datetime] = {
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
    if first_hour is not None:
        meter = settings.tibber_meter_id
        changed_at[meter] = min(changed_at.get(meter, first_hour), first_hour)
    rebuilt = previous_readings(settings, changed_at)
    zone = ZoneInfo(settings.timezone)
    first_day = previous.as_of.astimezone(zone).date() - timedelta(days=1)
    last_day = as_of.astimezone(zone).date() + timedelta(days=1)
    for row in read_csv(project / "seeds" / "meters.csv"):
        for field in ("installed_on", "removed_on"):
            if row[field] and first_day <= date.fromisoformat(row[field]) <= last_day:
                rebuilt[row["meter_id"]] = None
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


def previous_readings(
    settings: Settings, changed_at: dict[str, datetime]
) -> dict[str, datetime | None]:
    """Per changed meter, the third last reading the previous build kept
    before its first change (None: the whole meter). Cleaning looks two
    readings ahead (a typo shows only when the next reading arrives), so a
    change can turn the verdict of the two readings before it."""
    if not changed_at:
        return {}
    with duckdb.connect(str(settings.warehouse)) as db:
        rows = db.execute(
            """
            select
                changed.meter_id,
                list(readings.reading_at order by readings.reading_at desc)
                    filter (where readings.reading_at < changed.changed_at)
                    [3] as previous_at,
                min(readings.reading_at) as first_at
            from (
                select unnest(?::varchar[]) as meter_id,
                       unnest(?::timestamptz[]) as changed_at
            ) as changed
            left join intermediate.int_readings_combined as readings
                on readings.meter_id = changed.meter_id
            group by changed.meter_id
            """,
            [list(changed_at), list(changed_at.values())],
        ).fetchall()
    rebuilt: dict[str, datetime | None] = {}
    for meter_id, previous_at, first_at in rows:
        changed = changed_at[meter_id]
        in_first_year = first_at is None or changed <= first_at + timedelta(days=366)
        rebuilt[meter_id] = None if in_first_year else previous_at
    return rebuilt


def composition(project: Path) -> list[tuple[str, str]]:
    """(master or virtual meter, a meter it is built on), from the seeds."""
    seeds = project / "seeds"
    return [
        (row["meter_id"], row["source_meter_id"])
        for row in read_csv(seeds / "master_meter_periods.csv")
    ] + [
        (row["meter_id"], row["component_meter_id"])
        for row in read_csv(seeds / "virtual_meter_components.csv")
    ]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_scope(
    settings: Settings,
    previous: BuildState,
    first_hour: datetime | None,
    rebuilt: dict[str, datetime | None],
    read: dict[str, datetime | None],
) -> None:
    """The scope the incremental models read (macros/rebuild.sql): the local
    day and month from which every meter's rows are recomputed, and the day
    from which the Tibber cost is (revised hours reach back up to 30 days);
    the rebuilt meters, each from the local day and month of its change
    (null: all its rows); and the rows read besides: of the rebuilt meters
    and of the meters they are built on, from the earliest day a meter
    built on them is rebuilt."""
    zone = ZoneInfo(settings.timezone)

    def day_and_month(instant: datetime | None) -> tuple[str | None, str | None]:
        if instant is None:
            return None, None
        day = instant.astimezone(zone).date()
        return (
            datetime.combine(day, time(), zone).astimezone(UTC).isoformat(),
            datetime.combine(day.replace(day=1), time(), zone)
            .astimezone(UTC)
            .isoformat(),
        )

    window_day, window_month = day_and_month(previous.as_of)
    cost_day, _ = day_and_month(
        min(previous.as_of, first_hour) if first_hour else previous.as_of
    )
    meters = [
        (meter_id, kind, *day_and_month(instant))
        for kind, chosen in (("rebuilt", rebuilt), ("read", read))
        for meter_id, instant in sorted(chosen.items())
    ]
    with duckdb.connect(str(settings.warehouse)) as db:
        db.execute(
            "create or replace table main.rebuild_meters ("
            "meter_id varchar, kind varchar, "
            "day_start_at varchar, month_start_at varchar)"
        )
        if meters:
            db.executemany(
                "insert into main.rebuild_meters values (?, ?, ?, ?)", meters
            )
        db.execute(
            "create or replace table main.rebuild_window as select "
            "? as day_start_at, ? as month_start_at, ? as cost_day_start_at",
            [window_day, window_month, cost_day],
        )


def mark_unfinished(settings: Settings) -> None:
    """Before a full build: until it records its own state, the warehouse
    says a full build is due (the seeds it holds may be half replaced)."""
    if read_state(settings) is None:
        return
    with duckdb.connect(str(settings.warehouse)) as db:
        db.execute(f"update {BUILD_STATE} set fingerprint = ?", [UNFINISHED])


def record(settings: Settings, current: BuildPlan) -> None:
    """After a build whose models all succeeded: the next one starts here
    (one transaction)."""
    with duckdb.connect(str(settings.warehouse)) as db:
        db.execute(STATE_DDL)
        db.execute("begin")
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
