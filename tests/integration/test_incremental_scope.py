"""A rebuild scope applies only to the build that wrote it
(macros/rebuild.sql): dbt run by hand after a pipeline build, even over a
scope a killed build left behind, rebuilds every row of the incremental
models and equals a full build of the same inputs; a scope id that names no
written scope stops dbt; `python -m pipeline dbt` makes the next run full.

The small house (tests/scenarios/small_house) with the flat's readings,
built in this process at FIRST (2024-01-25 12:00 Berlin), then
incrementally at LATER (2024-01-28 12:00 Berlin).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from core import landing
from core.settings import Settings, load_settings
from pipeline import rebuild
from pipeline.dbt import build, by_hand, copy_project, invoke
from tests.support.compare import differences
from tests.support.fixtures_demo import ROOT
from tests.support.fixtures_pipeline import land_readings

FIRST = datetime(2024, 1, 25, 11, tzinfo=UTC)
LATER = datetime(2024, 1, 28, 11, tzinfo=UTC)
CORRECTED_AT = datetime(2024, 1, 11, 11, tzinfo=UTC)
WITHOUT_UNIT_TESTS = ["--exclude-resource-type", "unit_test"]


def land_flat(settings: Settings, rows: list[tuple[datetime, float]], at: datetime):
    land_readings(
        settings.data_dir, [("flat", "kWh", value, when) for when, value in rows], at
    )


def small_house(root: Path) -> tuple[Path, Settings]:
    project = copy_project(ROOT / "tests" / "scenarios" / "small_house", root)
    settings = load_settings(root, {"DATA_DIR": str(root / "data")})
    landing.ensure(settings.data_dir)
    land_flat(
        settings,
        [
            (datetime(2024, 1, 1, 11, tzinfo=UTC), 100.0),
            (CORRECTED_AT, 140.0),
            (datetime(2024, 1, 21, 11, tzinfo=UTC), 180.0),
        ],
        datetime(2024, 1, 22, tzinfo=UTC),
    )
    return project, settings


def build_at(settings: Settings, project: Path, as_of: datetime, **options):
    landing.write_run_context(settings.data_dir, as_of)
    return build(settings, as_of, project, **options)


def built_tables(warehouse: Path) -> list[str]:
    """The tables dbt built (the views are queries of them), but the
    pipeline's own."""
    with duckdb.connect(str(warehouse)) as db:
        return [
            f"{schema}.{name}"
            for schema, name in db.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_schema in ('intermediate', 'main') "
                "and table_type = 'BASE TABLE' "
                "and table_name not in "
                "('build_state', 'rebuild_window', 'rebuild_meters') "
                "order by all"
            ).fetchall()
        ]


def flat_reading(settings: Settings, at: datetime) -> float:
    with duckdb.connect(str(settings.warehouse)) as db:
        return db.execute(
            "select reading_value from intermediate.int_readings_combined "
            "where meter_id = 'flat' and reading_at = ?",
            [at],
        ).fetchone()[0]


def test_a_hand_run_build_applies_no_left_scope_and_equals_a_full_build(
    tmp_path: Path,
) -> None:
    """After a full and an incremental pipeline build, a killed build's
    scope (planned at LATER, nothing changed: no meter rebuilt) is left in
    the warehouse; then the flat's reading of 2024-01-11 is corrected from
    140 to 150. `dbt build` by hand must read it (150), as a full build of
    the same landing zone does, in every table."""
    project, settings = small_house(tmp_path / "hand")
    build_at(settings, project, FIRST)
    land_flat(
        settings,
        [(datetime(2024, 1, 27, 11, tzinfo=UTC), 200.0)],
        datetime(2024, 1, 28, tzinfo=UTC),
    )
    assert build_at(settings, project, LATER).scope.startswith("incremental")
    with duckdb.connect(str(settings.warehouse)) as db:
        named = db.execute(
            "select (select count(*) from main.rebuild_window"
            "        where scope_id is not null)"
            " + (select count(*) from main.rebuild_meters"
            "    where scope_id is not null)"
        ).fetchone()[0]
    assert named == 0  # the pipeline closed its scope
    killed = rebuild.plan(settings, project, LATER)
    assert not killed.full_refresh and killed.rebuilt_meters == []
    land_flat(settings, [(CORRECTED_AT, 150.0)], datetime(2024, 1, 29, tzinfo=UTC))

    result = invoke(settings, LATER, ["build", *WITHOUT_UNIT_TESTS], project)

    assert result.success
    assert flat_reading(settings, CORRECTED_AT) == 150.0
    full_project, full = small_house(tmp_path / "full")
    shutil.rmtree(full.data_dir / "landing")
    shutil.copytree(settings.data_dir / "landing", full.data_dir / "landing")
    assert build_at(full, full_project, LATER).scope.startswith("full build")
    tables = built_tables(settings.warehouse)
    assert "intermediate.int_daily_readings_interpolated" in tables
    assert tables == built_tables(full.warehouse)
    assert {
        table: differences(settings.warehouse, full.warehouse, table)
        for table in tables
    } == dict.fromkeys(tables, 0)


def test_a_scope_id_that_names_no_written_scope_stops_dbt(tmp_path: Path) -> None:
    project, settings = small_house(tmp_path)
    build_at(settings, project, FIRST)

    result = invoke(
        settings,
        FIRST,
        ["run", "--select", "int_readings_classified"],
        project,
        scope_id="0123abcd",
    )

    assert not result.success
    log = (settings.data_dir / "logs" / "dbt.log").read_text()
    assert "REBUILD_SCOPE_ID=0123abcd names no scope in" in log


def test_the_developer_loop_rebuilds_what_it_selects_and_the_next_run_is_full(
    tmp_path: Path,
) -> None:
    """`python -m pipeline dbt build -s int_readings_classified+` after the
    flat's reading of 2024-01-11 is corrected to 150: the selected models
    read it, and the next pipeline build is a full one."""
    project, settings = small_house(tmp_path)
    build_at(settings, project, FIRST)
    land_flat(settings, [(CORRECTED_AT, 150.0)], datetime(2024, 1, 29, tzinfo=UTC))
    settings = load_settings(
        tmp_path,
        {
            "DATA_DIR": str(settings.data_dir),
            "AS_OF": FIRST.isoformat(),
            "DBT_PROJECT_DIR": str(project),
        },
    )

    assert by_hand(
        settings,
        ["build", "--select", "int_readings_classified+", *WITHOUT_UNIT_TESTS],
    )

    assert flat_reading(settings, CORRECTED_AT) == 150.0
    assert rebuild.read_state(settings).fingerprint == rebuild.UNFINISHED
    plan = rebuild.plan(settings, project, FIRST)
    assert plan.reason == "the previous full build did not finish"
