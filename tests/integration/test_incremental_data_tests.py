"""An incremental build runs its data tests on the rows it rebuilt
(macros/tested_rows.sql); a full build, or `--full-tests`, on every row.

The small house (tests/scenarios/small_house), with readings of the flat's
meter, built in this process: first at FIRST (2024-01-25 12:00 Berlin),
then incrementally at LATER (2024-01-28 12:00 Berlin). The incremental
build rebuilds every meter's days from FIRST's day, 2024-01-25, on; its
tests read from two days before that, 2024-01-23.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from dbt.adapters.cache import RelationsCache

from core import landing
from core.errors import DbtError
from core.settings import load_settings
from pipeline.dbt import build, copy_project
from tests.support.fixtures_demo import ROOT
from tests.support.fixtures_pipeline import land_readings

FIRST = datetime(2024, 1, 25, 11, tzinfo=UTC)
LATER = datetime(2024, 1, 28, 11, tzinfo=UTC)
DAILY = "models/marts/meter_daily_consumption.sql"
UNIONED = "    select * from virtual\n)"


def replace_once(path: Path, old: str, new: str) -> None:
    """A model edited where `old` stands, exactly once (the bug a test plants)."""
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))


def small_house(tmp_path: Path, duplicated_from: str | None = None):
    """The small house's project and settings, the flat's readings landed;
    `duplicated_from`: meter_daily_consumption repeats the physical days
    from that local day on (a bug its valid_rows test must catch)."""
    project = copy_project(ROOT / "tests" / "scenarios" / "small_house", tmp_path)
    if duplicated_from:
        replace_once(
            project / DAILY,
            UNIONED,
            "    select * from virtual\n    union all\n"
            "    select * from physical\n"
            f"    where day >= date '{duplicated_from}'\n)",
        )
    data_dir = tmp_path / "data"
    settings = load_settings(tmp_path, {"DATA_DIR": str(data_dir)})
    landing.ensure(data_dir)
    land_readings(
        data_dir,
        [
            ("flat", "kWh", 100.0, datetime(2024, 1, 1, 11, tzinfo=UTC)),
            ("flat", "kWh", 140.0, datetime(2024, 1, 11, 11, tzinfo=UTC)),
            ("flat", "kWh", 180.0, datetime(2024, 1, 21, 11, tzinfo=UTC)),
        ],
        datetime(2024, 1, 22, tzinfo=UTC),
    )
    return project, settings


def build_at(settings, project: Path, as_of: datetime, **options):
    landing.write_run_context(settings.data_dir, as_of)
    return build(settings, as_of, project, **options)


def test_an_incremental_build_tests_its_rebuilt_rows(tmp_path: Path) -> None:
    """Days from 2024-01-27 on are doubled: none exist at FIRST (its last
    day is 2024-01-25), so the full build passes; at LATER the days 01-27
    and 01-28 are rebuilt, doubled, and the restricted test finds them."""
    project, settings = small_house(tmp_path, duplicated_from="2024-01-27")
    first = build_at(settings, project, FIRST)
    assert first.scope.startswith("full build")
    assert first.tests_failed == 0

    with pytest.raises(DbtError) as failure:
        build_at(settings, project, LATER)

    message = str(failure.value)
    assert "valid_rows_meter_daily_consumption" in message
    assert "meter_id=flat" in message
    assert "more than one row with this meter_id, day" in message


VIRTUAL = "models/intermediate/consumption/int_daily_consumption_virtual.sql"
VIRTUAL_SUM = (
    "        case when component_role = 'base' then consumption "
    "else -consumption end\n    ) as consumption,"
)


def test_an_incremental_build_checks_its_virtual_days(tmp_path: Path) -> None:
    """With readings of the new main meter (the master `total` from its
    swap on), the common area (total minus the flat) has days; from
    2024-01-27 on they are 1 kWh too high: none exist at FIRST, so the full
    build passes; at LATER they are rebuilt, and the check recomputing them
    from their components' days (read from the first tested day on) finds
    them."""
    project, settings = small_house(tmp_path)
    land_readings(
        settings.data_dir,
        [
            ("new", "kWh", 500.0, datetime(2024, 1, 11, 11, tzinfo=UTC)),
            ("new", "kWh", 600.0, datetime(2024, 1, 21, 11, tzinfo=UTC)),
        ],
        datetime(2024, 1, 22, tzinfo=UTC),
    )
    replace_once(
        project / VIRTUAL,
        VIRTUAL_SUM,
        VIRTUAL_SUM.replace(
            ") as consumption,",
            ") + case when day >= date '2024-01-27' then 1 else 0 end as consumption,",
        ),
    )
    assert build_at(settings, project, FIRST).tests_failed == 0

    with pytest.raises(DbtError) as failure:
        build_at(settings, project, LATER)

    message = str(failure.value)
    assert "assert_virtual_consumption_is_base_minus_subtracted" in message
    assert "meter_id=common" in message


def test_old_rows_are_tested_by_a_full_build_and_on_demand(tmp_path: Path) -> None:
    """A duplicate of the flat's counter at the start of 2024-01-03, written
    into the warehouse after the first build: 20 days before the incremental
    build's tested rows (from 2024-01-23), so that build passes; the same
    build with full_tests reads every row and fails on it."""
    project, settings = small_house(tmp_path)
    build_at(settings, project, FIRST)
    with duckdb.connect(str(settings.warehouse)) as db:
        inserted = db.execute(
            "insert into intermediate.int_daily_readings_interpolated "
            "select * from intermediate.int_daily_readings_interpolated "
            "where meter_id = 'flat' and day = date '2024-01-03'"
        ).fetchone()[0]
    assert inserted == 1

    incremental = build_at(settings, project, LATER)
    assert incremental.scope.startswith("incremental")
    assert incremental.scope.endswith("data tests on the rebuilt rows")
    assert incremental.tests_failed == 0
    # The incremental build kept the old duplicate (it lies before the
    # rebuilt days) ...
    with duckdb.connect(str(settings.warehouse)) as db:
        kept = db.execute(
            "select count(*) from intermediate.int_daily_readings_interpolated "
            "where meter_id = 'flat' and day = date '2024-01-03'"
        ).fetchone()[0]
    assert kept == 2
    # ... which a full test pass finds.
    with pytest.raises(DbtError) as failure:
        build_at(settings, project, LATER, full_tests=True)
    message = str(failure.value)
    assert "valid_rows_int_daily_readings_interpolated" in message
    assert "meter_id=flat" in message
    assert "more than one row with this meter_id, reading_at" in message


def test_dbt_options_in_the_environment_change_no_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dbt takes options from DBT_* variables too; the pipeline's builds
    ignore them. DBT_EMPTY=true would build every model from zero rows (and
    a run would publish empty marts), DBT_FULL_REFRESH=true every build in
    full. DBT_POPULATE_CACHE=false would have dbt list a schema's relations
    when a model first asks, one relation after the other into its cache,
    while the other thread may already read that schema's part of the
    cache: a model missing from it is not dropped, and its creation fails
    ("Table with name int_calendar_days already exists", once in a CI run).
    Slowing each addition makes that near certain. The scope's local days
    (written on-run-start) hold as well."""
    monkeypatch.setenv("DBT_POPULATE_CACHE", "false")
    monkeypatch.setenv("DBT_EMPTY", "true")
    monkeypatch.setenv("DBT_FULL_REFRESH", "true")
    project, settings = small_house(tmp_path)
    assert build_at(settings, project, FIRST).tests_failed == 0
    add = RelationsCache.add

    def slow_add(cache: RelationsCache, relation) -> None:
        add(cache, relation)
        time.sleep(0.02)

    monkeypatch.setattr(RelationsCache, "add", slow_add)

    incremental = build_at(settings, project, LATER)

    assert incremental.scope.startswith("incremental")
    assert incremental.tests_failed == 0
    with duckdb.connect(str(settings.warehouse), read_only=True) as db:
        days = db.execute("select day_start_at from main.rebuild_window").fetchall()
        (readings,) = db.execute(
            "select count(*) from main.meter_daily_readings"
        ).fetchone()
    assert days == [("2024-01-24T23:00:00+00:00",)]
    assert readings > 0
    assert os.environ["DBT_EMPTY"] == "true"  # the user's, back after the build
