"""The planning of an incremental build (pipeline/rebuild.py), on a tiny
warehouse made in this process: the staged house, the readings the previous
build kept and its record, as the dbt models leave them; no dbt runs.

The previous build's as_of P is 2023-09-10 12:00 UTC (local day 2023-09-10
in Berlin), this one's A is 2023-09-20 12:00 UTC (local day 2023-09-20). The
project's vars: cleaning looks 2 readings ahead, the first year of readings
is 365 days. Readings are at 12:00 UTC; a meter's first kept reading is
2022-01-01, so its first year ends 2023-01-01 12:00.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from core import landing
from core.settings import Settings, load_settings
from pipeline import rebuild

ROOT = Path(__file__).resolve().parents[2]
P = datetime(2023, 9, 10, 12, tzinfo=UTC)
A = datetime(2023, 9, 20, 12, tzinfo=UTC)
OLD_EXTRACTION = datetime(2023, 9, 5, tzinfo=UTC)
NEW_EXTRACTION = datetime(2023, 9, 15, tzinfo=UTC)
INSTALLED = date(2021, 12, 1)


def noon(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


# The readings the previous build kept (int_readings_combined).
KEPT = {
    "a": [noon(2022, 1, 1), *(noon(2023, month, 1) for month in (6, 7, 8, 9))],
    "b": [
        noon(2022, 1, 1),
        noon(2022, 11, 1),
        noon(2022, 12, 1),
        noon(2023, 1, 10),
        noon(2023, 2, 1),
    ],
    "e": [noon(2022, 1, 1), noon(2023, 9, 1)],
    "h": [noon(2023, 9, 1)],
}
# meter: (installed_on, removed_on)
LIVES = {
    **{meter: (INSTALLED, None) for meter in ("a", "b", "e", "h", "m", "m2", "v")},
    "c": (date(2023, 9, 21), None),  # the day after A's day
    "f": (date(2023, 9, 22), None),  # two days after
    "g": (INSTALLED, date(2023, 9, 9)),  # the day before P's day
    "d": (INSTALLED, date(2023, 9, 8)),  # two days before
}
MASTERS = [("m", "a"), ("m2", "a"), ("m2", "e")]
VIRTUALS = [("v", "m")]


def reading(meter: str, at: datetime, extracted_at: datetime) -> dict:
    return {
        "meter_id": meter,
        "measured_at": at,
        "value": 1.0,
        "unit": "kWh",
        "extracted_at": extracted_at,
    }


def previous_build(tmp_path: Path) -> tuple[Settings, Path]:
    """The warehouse and landing zone a build at P left, its record
    included; the project holds this one's dbt_project.yml."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "dbt_project.yml", project / "dbt_project.yml")
    settings = load_settings(tmp_path, {"DATA_DIR": str(tmp_path / "data")})
    landing.ensure(settings.data_dir)
    landed = [
        reading(meter, at, OLD_EXTRACTION) for meter, ats in KEPT.items() for at in ats
    ]
    # landed before P, measured after it: visible only at A
    landed.append(reading("h", noon(2023, 9, 15), OLD_EXTRACTION))
    landing.append(settings.data_dir, "readings", pa.Table.from_pylist(landed))
    with duckdb.connect(str(settings.warehouse)) as db:
        db.execute("create schema staging; create schema intermediate")
        db.execute(
            "create table staging.stg_house__meters "
            "(meter_id varchar, installed_on date, removed_on date)"
        )
        db.executemany(
            "insert into staging.stg_house__meters values (?, ?, ?)",
            [(meter, *life) for meter, life in LIVES.items()],
        )
        db.execute(
            "create table staging.stg_house__master_meter_periods "
            "(meter_id varchar, source_meter_id varchar)"
        )
        db.executemany(
            "insert into staging.stg_house__master_meter_periods values (?, ?)",
            MASTERS,
        )
        db.execute(
            "create table staging.stg_house__virtual_meter_components "
            "(meter_id varchar, component_meter_id varchar)"
        )
        db.executemany(
            "insert into staging.stg_house__virtual_meter_components values (?, ?)",
            VIRTUALS,
        )
        db.execute(
            "create table intermediate.int_readings_combined "
            "(meter_id varchar, reading_at timestamptz)"
        )
        db.executemany(
            "insert into intermediate.int_readings_combined values (?, ?)",
            [(meter, at) for meter, ats in KEPT.items() for at in ats],
        )
    files = rebuild.landing_files(settings)
    rebuild.record(
        settings,
        rebuild.BuildPlan(
            full_refresh=True,
            reason="first build",
            fingerprint=rebuild.fingerprint(settings, project),
            as_of=P,
            landed_until=OLD_EXTRACTION,
            landing_files=len(files),
            last_landing_file=files[-1],
            rebuilt_meters=[],
        ),
    )
    return settings, project


def land_changes(settings: Settings) -> None:
    """A late reading of a (2023-08-15) and of b (2023-01-20)."""
    landing.append(
        settings.data_dir,
        "readings",
        pa.Table.from_pylist(
            [
                reading("a", noon(2023, 8, 15), NEW_EXTRACTION),
                reading("b", noon(2023, 1, 20), NEW_EXTRACTION),
            ]
        ),
    )


def written_scope(settings: Settings) -> tuple[list[tuple], list[tuple]]:
    """The scope's rows, without the local days dbt adds ([], [] when the
    warehouse holds no scope tables)."""
    with duckdb.connect(str(settings.warehouse)) as db:
        tables = db.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'main' and table_name like 'rebuild_%'"
        ).fetchone()[0]
        if tables == 0:
            return [], []
        window = db.execute(
            "select scope_id, window_from_at, cost_from_at, tests_rebuilt_only "
            "from main.rebuild_window"
        ).fetchall()
        meters = db.execute(
            "select scope_id, kind, meter_id, changed_from_at "
            "from main.rebuild_meters order by kind, meter_id"
        ).fetchall()
    return window, meters


def test_the_shared_constants_are_the_ones_this_module_assumes() -> None:
    shared = rebuild.project_vars(ROOT)
    assert shared["cleaning_lookahead_readings"] == 2
    assert shared["segment_rate_days"] == 365


def test_plan_rebuilds_changed_meters_from_the_reading_cleaning_cannot_reach(
    tmp_path: Path,
) -> None:
    """a changed 2023-08-15: the kept readings before it are 08-01, 07-01,
    06-01, ...; cleaning may turn 08-01 and 07-01 (after the first year), so
    a is rebuilt from 06-01. b changed 2023-01-20: it may turn 2023-01-10 and
    2022-12-01, which lies in b's first year: all of b. h's reading of
    09-15 (after P) has one kept reading before it: all of h. c is installed
    the day after A's day and g removed the day before P's: all of them
    (f and d, a day further out, are not). The masters m, m2 (on a) and the
    virtual v (on m) follow a from 06-01; m2 reads e from 06-01 too."""
    settings, project = previous_build(tmp_path)
    land_changes(settings)

    plan = rebuild.plan(settings, project, A)

    assert not plan.full_refresh
    assert plan.rebuilt_meters == ["a", "b", "c", "g", "h", "m", "m2", "v"]
    assert plan.scope_id
    window, meters = written_scope(settings)
    assert window == [(plan.scope_id, P, P, True)]
    june = noon(2023, 6, 1)
    rebuilt = {"a": june, "b": None, "c": None, "g": None, "h": None}
    rebuilt |= {"m": june, "m2": june, "v": june}
    assert meters == [
        *(
            (plan.scope_id, "read", meter, at)
            for meter, at in [
                ("a", june),
                ("b", None),
                ("c", None),
                ("e", june),
                ("g", None),
                ("h", None),
                ("m", june),
                ("m2", june),
                ("v", june),
            ]
        ),
        *((plan.scope_id, "rebuilt", meter, at) for meter, at in rebuilt.items()),
    ]


def test_full_tests_are_written_into_the_scope(tmp_path: Path) -> None:
    settings, project = previous_build(tmp_path)

    plan = rebuild.plan(settings, project, A, full_tests=True)

    window, _ = written_scope(settings)
    assert window == [(plan.scope_id, P, P, False)]


def test_each_plan_writes_its_own_scope_which_no_id_names_once_closed(
    tmp_path: Path,
) -> None:
    settings, project = previous_build(tmp_path)
    first = rebuild.plan(settings, project, A)
    second = rebuild.plan(settings, project, A)
    assert first.scope_id != second.scope_id
    window, meters = written_scope(settings)
    assert [row[0] for row in window] == [second.scope_id]
    assert {row[0] for row in meters} == {second.scope_id}

    rebuild.close_scope(settings, second)

    window, meters = written_scope(settings)
    assert [row[0] for row in window] == [None]
    assert {row[0] for row in meters} == {None}
    # still the record of what it rebuilt: no late readings landed, so h
    # (its reading after P), c and g (installed, removed), read and rebuilt
    assert [row[1:3] for row in meters] == [
        ("read", "c"),
        ("read", "g"),
        ("read", "h"),
        ("rebuilt", "c"),
        ("rebuilt", "g"),
        ("rebuilt", "h"),
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("as_of", "as_of moved back"),
        ("project", "the models, seeds or settings changed"),
        ("unfinished", "the previous full build did not finish"),
    ],
)
def test_a_full_build_writes_no_scope(tmp_path: Path, change: str, reason: str) -> None:
    settings, project = previous_build(tmp_path)
    rebuild.plan(settings, project, A)  # a scope left behind
    as_of = A
    if change == "as_of":
        as_of = noon(2023, 9, 1)
    elif change == "project":
        with open(project / "dbt_project.yml", "a") as handle:
            handle.write("# edited\n")
    else:
        rebuild.mark_unfinished(settings)

    plan = rebuild.plan(settings, project, as_of)

    assert plan.full_refresh
    assert plan.reason == reason
    assert plan.dbt_args == ["--full-refresh"]
    assert written_scope(settings) == ([], [])
