"""Bad input through InfluxDB 1.x and the seeds, into a real run.

One run of `python -m pipeline run` on the house (demo history in a real
influxd) plus probe meters added to a copy of the seeds, each probe with valid
readings around one kind of bad reading. All probes are kWh meters installed
on 2026-01-01 (Europe/Berlin, UTC+1 in winter); readings sit at local
midnights so a day's reading is the reading itself or a plain linear
interpolation (no seasonal pattern), computed by hand below.

Then each inconsistent seed (unknown meter, overlapping periods, an 11-month
pattern, an unconvertible unit) in its own copy of the project: the run must
stop in dbt with one line naming the offending row, and publish nothing.
"""

from __future__ import annotations

import csv
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pytest

from core import landing
from pipeline.dbt import copy_project
from tests.support.fixtures_influx import InfluxServer
from tests.support.fixtures_pipeline import (
    ROOT,
    Baseline,
    House,
    HouseHistory,
    assert_no_secret_leak,
    drop_house,
    error_lines,
    ha_line,
    make_house,
    start_pipeline,
)
from tests.support.tibber_server import TibberServer

pytestmark = pytest.mark.influx

BERLIN = ZoneInfo("Europe/Berlin")
AWKWARD = 'flur strom, "eg"'
BACKSLASH = "o'brien\\keller"
INJECTION = "x' OR \"entity_id\" =~ /.*/ OR 'y'='"
PROBES = {
    "probe_drop": "",
    "probe_reset": "",
    "probe_duplicate": "",
    "probe_future": "",
    "probe_life": "2026-03-31",
    "probe_nan": "",
    "probe_single": "",
    AWKWARD: "",
    BACKSLASH: "",
    INJECTION: "",
}


def local(day: date, hour: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=BERLIN).astimezone(UTC)


D = date  # short: D(2026, 1, 11)

# (meter, unit, local instant, value): what is written to InfluxDB
READINGS: list[tuple[str, str, datetime, float | str]] = [
    # a small drop (105 >= 90 % of 110) is a bad reading, excluded
    ("probe_drop", "kWh", local(D(2026, 1, 1)), 100.0),
    ("probe_drop", "text", local(D(2026, 1, 6)), "unavailable"),  # a string
    ("probe_drop", "kWh", local(D(2026, 1, 11)), 110.0),
    ("probe_drop", "kWh", local(D(2026, 1, 15), 12), 105.0),
    ("probe_drop", "kWh", local(D(2026, 1, 21)), 120.0),
    # a drop below 90 % is a counter reset: the series continues from 200
    ("probe_reset", "kWh", local(D(2026, 1, 1)), 100.0),
    ("probe_reset", "kWh", local(D(2026, 1, 11)), 200.0),
    ("probe_reset", "kWh", local(D(2026, 1, 21)), 5.0),
    ("probe_reset", "kWh", local(D(2026, 1, 31)), 15.0),
    # two measurements at one instant (kWh is the seed's unit) and one point
    # written twice (InfluxDB keeps the last write)
    ("probe_duplicate", "kWh", local(D(2026, 1, 1)), 100.0),
    ("probe_duplicate", "kWh", local(D(2026, 1, 11)), 110.0),
    ("probe_duplicate", "Wh", local(D(2026, 1, 11)), 110_000.0),
    ("probe_duplicate", "kWh", local(D(2026, 1, 21)), 999.0),
    ("probe_duplicate", "kWh", local(D(2026, 1, 21)), 120.0),
    # after as_of (2026-11-27T10:00Z)
    ("probe_future", "kWh", local(D(2026, 1, 1)), 100.0),
    ("probe_future", "kWh", local(D(2026, 11, 1)), 110.0),
    ("probe_future", "kWh", local(D(2026, 12, 1)), 500.0),
    # before installation and after removal (removed_on 2026-03-31)
    ("probe_life", "kWh", local(D(2025, 12, 20)), 50.0),
    ("probe_life", "kWh", local(D(2026, 1, 1)), 100.0),
    ("probe_life", "kWh", local(D(2026, 2, 1)), 110.0),
    ("probe_life", "kWh", local(D(2026, 3, 1)), 120.0),
    ("probe_life", "kWh", local(D(2026, 4, 15)), 999.0),
    # a meter read once: no consumption can be measured
    ("probe_single", "kWh", local(D(2026, 1, 1)), 100.0),
    # awkward ids: quotes, space, comma, backslash
    (AWKWARD, "kWh", local(D(2026, 1, 1)), 10.0),
    (AWKWARD, "kWh", local(D(2026, 1, 11)), 20.0),
    (BACKSLASH, "kWh", local(D(2026, 1, 1)), 1.0),
    (BACKSLASH, "kWh", local(D(2026, 1, 11)), 3.0),
]
# NaN and infinity cannot be written to InfluxDB 1.x (see the test): probe_nan
# is landed as an earlier 2.x extract would have landed it
LANDED_BEFORE = [
    ("probe_nan", local(D(2026, 1, 1)), 100.0),
    ("probe_nan", local(D(2026, 1, 11)), float("nan")),
    ("probe_nan", local(D(2026, 1, 16)), float("inf")),
    ("probe_nan", local(D(2026, 1, 21)), 120.0),
]


def probe_seeds(
    destination: Path, probes: dict[str, str] = PROBES, *, billing: bool = True
) -> Path:
    """A copy of the project whose meters seed also lists the probes
    (meter_id -> removed_on)."""
    project = copy_project(ROOT / "seeds", destination, billing=billing)
    with (project / "seeds" / "meters.csv").open("a", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for meter_id, removed_on in probes.items():
            kwh_meter = ["physical", "electricity", "kWh", "2026-01-01"]
            writer.writerow([meter_id, *kwh_meter, removed_on, "probe"])
    return project


@dataclass(frozen=True)
class ProbeRun:
    house: House
    result: subprocess.CompletedProcess[str]

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        warehouse = self.house.data_dir / "warehouse.duckdb"
        with duckdb.connect(str(warehouse), read_only=True) as db:
            db.execute("set TimeZone = 'UTC'")
            return db.execute(sql, list(params)).fetchall()

    def daily(self, meter_id: str) -> dict[date, float]:
        rows = self.query(
            "select day, reading from main.meter_daily_readings where meter_id = ?",
            meter_id,
        )
        return {day: round(reading, 9) for day, reading in rows}

    def findings(self, meter_id: str) -> set[tuple[str, datetime, float | str]]:
        """(finding_type, found_at, value), NaN as "nan" (NaN != NaN)."""
        rows = self.query(
            "select finding_type, found_at, value from main.data_quality_findings "
            "where meter_id = ?",
            meter_id,
        )
        return {
            (kind, at.astimezone(UTC), "nan" if value != value else value)
            for kind, at, value in rows
        }


@pytest.fixture(scope="module")
def probe_run(
    influxd: InfluxServer,
    house_history: HouseHistory,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ProbeRun]:
    work = tmp_path_factory.mktemp("probes")
    project = probe_seeds(work / "project")
    with TibberServer() as tibber:
        house = make_house(influxd, tibber, work / "data", house_history)
        try:
            house.write([ha_line(u, m, v, at) for m, u, at, v in READINGS])
            landing.append(
                house.data_dir,
                "readings",
                pa.table(
                    {
                        "meter_id": [m for m, _, _ in LANDED_BEFORE],
                        "measured_at": [at for _, at, _ in LANDED_BEFORE],
                        "value": [v for _, _, v in LANDED_BEFORE],
                        "unit": ["kWh"] * len(LANDED_BEFORE),
                        "extracted_at": [datetime(2026, 11, 1, tzinfo=UTC)]
                        * len(LANDED_BEFORE),
                    }
                ),
            )
            landing.append(
                house.data_dir,
                "reading_issues",
                pa.table(
                    {
                        "meter_id": ["probe_nan"],
                        "measured_at": [local(D(2026, 1, 6))],
                        "issue": ["unparseable"],
                        "value": ["unavailable"],
                        "unit": ["kWh"],
                        "extracted_at": [datetime(2026, 11, 1, tzinfo=UTC)],
                    }
                ),
            )
            house.extra_env["DBT_PROJECT_DIR"] = str(project)
            process = start_pipeline(house.env)
            out, err = process.communicate(timeout=300)
            result = subprocess.CompletedProcess(
                process.args, process.returncode, out, err
            )
            yield ProbeRun(house, result)
        finally:
            drop_house(house)


def test_the_run_with_bad_readings_succeeds(probe_run: ProbeRun) -> None:
    result = probe_run.result
    assert result.returncode == 0, result.stdout + result.stderr
    assert error_lines(result) == []
    assert_no_secret_leak(result, probe_run.house.data_dir)


def test_nan_and_infinity_cannot_be_written_to_influxdb_1x(
    influxd: InfluxServer,
) -> None:
    """InfluxDB 1.x refuses NaN and inf in line protocol (HTTP 400), so they
    never reach the pipeline through 1.x; the 2.x API can send them (Flux
    CSV), which is why the models still drop them (next test)."""
    db = f"nan_{uuid.uuid4().hex[:8]}"
    influxd.query(f'CREATE DATABASE "{db}"')
    try:
        for text in ("NaN", "nan", "Inf", "+Inf", "-inf"):
            line = f"kWh,domain=input_number,entity_id=probe_nan value={text} 1"
            with pytest.raises(RuntimeError, match="answered 400"):
                influxd.write(db, line)
        assert (
            influxd.query("SHOW MEASUREMENTS", db=db)["results"][0].get("series")
            is None
        )
    finally:
        influxd.query(f'DROP DATABASE "{db}"')


def test_non_finite_readings_are_dropped_and_counted(probe_run: ProbeRun) -> None:
    assert probe_run.findings("probe_nan") == {
        ("non_finite", local(D(2026, 1, 11)), "nan"),
        ("non_finite", local(D(2026, 1, 16)), float("inf")),
        ("unparseable", local(D(2026, 1, 6)), None),  # landed as a reading issue
    }
    daily = probe_run.daily("probe_nan")
    # 100 -> 120 over 20 days, the invalid values in between ignored
    assert daily[D(2026, 1, 1)] == 100.0
    assert daily[D(2026, 1, 11)] == 110.0
    assert daily[D(2026, 1, 16)] == 115.0
    assert daily[D(2026, 1, 21)] == 120.0


def test_string_values_are_skipped_and_neighbours_kept(probe_run: ProbeRun) -> None:
    landed = probe_run.query(
        "select measured_at, reading_value, unit from staging.stg_landing__readings "
        "where meter_id = 'probe_drop' order by measured_at"
    )
    assert [(at.astimezone(UTC), v, u) for at, v, u in landed] == [
        (local(D(2026, 1, 1)), 100.0, "kWh"),
        (local(D(2026, 1, 11)), 110.0, "kWh"),
        (local(D(2026, 1, 15), 12), 105.0, "kWh"),
        (local(D(2026, 1, 21)), 120.0, "kWh"),
    ]
    # 2026-01-06 lies halfway between 100 (01-01) and 110 (01-11)
    assert probe_run.daily("probe_drop")[D(2026, 1, 6)] == 105.0


def test_small_drop_is_a_bad_reading_excluded_from_the_series(
    probe_run: ProbeRun,
) -> None:
    assert probe_run.findings("probe_drop") == {
        ("bad_reading", local(D(2026, 1, 15), 12), 105.0)
    }
    daily = probe_run.daily("probe_drop")
    assert daily[D(2026, 1, 11)] == 110.0
    # 110 -> 120 over 01-11 .. 01-21, the bad 105 ignored: 110 + 10 * 5/10
    assert daily[D(2026, 1, 16)] == 115.0
    assert daily[D(2026, 1, 21)] == 120.0


def test_drop_below_90_percent_is_a_counter_reset_that_continues_the_series(
    probe_run: ProbeRun,
) -> None:
    assert probe_run.findings("probe_reset") == {
        ("counter_reset", local(D(2026, 1, 21)), 5.0)
    }
    daily = probe_run.daily("probe_reset")
    assert daily[D(2026, 1, 11)] == 200.0
    # the interval holding the reset consumed the new value, 5 kWh
    assert daily[D(2026, 1, 16)] == 202.5
    assert daily[D(2026, 1, 21)] == 205.0
    assert daily[D(2026, 1, 31)] == 215.0


def test_duplicates_at_one_instant_keep_one_value(probe_run: ProbeRun) -> None:
    landed = probe_run.query(
        "select measured_at, reading_value, unit from staging.stg_landing__readings "
        "where meter_id = 'probe_duplicate' order by measured_at"
    )
    assert [(at.astimezone(UTC), v, u) for at, v, u in landed] == [
        (local(D(2026, 1, 1)), 100.0, "kWh"),
        (local(D(2026, 1, 11)), 110.0, "kWh"),
        (local(D(2026, 1, 21)), 120.0, "kWh"),
    ]
    daily = probe_run.daily("probe_duplicate")
    assert (daily[D(2026, 1, 11)], daily[D(2026, 1, 21)]) == (110.0, 120.0)
    # the two measurements at 01-11 are a finding naming the value dropped;
    # the point written twice at 01-21 is one point in InfluxDB
    assert probe_run.findings("probe_duplicate") == {
        ("duplicate_instant", local(D(2026, 1, 11)), None)
    }
    assert probe_run.query(
        "select detail from main.data_quality_findings "
        "where meter_id = 'probe_duplicate'"
    ) == [("several values at one instant; dropped: 110000.0 Wh",)]


def test_a_value_that_is_not_a_number_is_a_finding(probe_run: ProbeRun) -> None:
    """InfluxDB 1.x leaves strings out of the query (probe_drop's stays
    unseen); a 2.x extract lands them as reading issues: probe_nan's
    "unavailable" is landed as one, the way it would."""
    assert probe_run.query(
        "select found_at, detail from main.data_quality_findings "
        "where finding_type = 'unparseable'"
    ) == [(local(D(2026, 1, 6)), "not a number: unavailable (kWh)")]


def test_a_meter_read_once_is_a_finding(probe_run: ProbeRun) -> None:
    assert probe_run.findings("probe_single") == {
        ("single_reading", local(D(2026, 1, 1)), 100.0)
    }


def test_the_summary_lists_the_new_cleaning_findings(probe_run: ProbeRun) -> None:
    out = probe_run.result.stdout
    assert "duplicate_instant probe_duplicate 2026-01-10T23:00:00Z" in out
    assert "unparseable probe_nan 2026-01-05T23:00:00Z" in out
    assert "single_reading probe_single 2025-12-31T23:00:00Z" in out


def test_reading_after_as_of_is_dropped_and_counted(probe_run: ProbeRun) -> None:
    assert probe_run.findings("probe_future") == {
        ("after_as_of", local(D(2026, 12, 1)), 500.0)
    }
    daily = probe_run.daily("probe_future")
    assert daily[D(2026, 11, 1)] == 110.0
    assert max(daily) == D(2026, 11, 27)  # the as_of day, nothing later


def test_readings_outside_the_installed_life_are_dropped(probe_run: ProbeRun) -> None:
    assert probe_run.findings("probe_life") == {
        ("outside_life", local(D(2025, 12, 20)), 50.0),
        ("outside_life", local(D(2026, 4, 15)), 999.0),
    }
    daily = probe_run.daily("probe_life")
    assert min(daily) == D(2026, 1, 1)
    assert max(daily) == D(2026, 3, 31)
    assert daily[D(2026, 1, 1)] == 100.0
    assert daily[D(2026, 2, 1)] == 110.0
    assert daily[D(2026, 3, 1)] == 120.0
    # a removed meter's counter stays at its last valid reading
    assert daily[D(2026, 3, 31)] == 120.0


def test_awkward_meter_ids_are_read_built_and_published_exactly(
    probe_run: ProbeRun,
) -> None:
    assert probe_run.daily(AWKWARD)[D(2026, 1, 6)] == 15.0
    assert probe_run.daily(BACKSLASH)[D(2026, 1, 6)] == 2.0
    processed = probe_run.house.processed()
    daily_points = {
        (dict(tags)["meter_id"], dict(fields)["time"], dict(fields)["value"])
        for tags, fields in processed["meter_interpolated_daily"]
    }
    midnight = int(local(D(2026, 1, 6)).timestamp())
    assert (AWKWARD, midnight, 15.0) in daily_points
    assert (BACKSLASH, midnight, 2.0) in daily_points


def test_injection_in_a_meter_id_reads_nothing_else(probe_run: ProbeRun) -> None:
    landed = probe_run.query(
        "select count(*) from staging.stg_landing__readings where meter_id = ?",
        INJECTION,
    )
    assert landed == [(0,)]
    kinds = {kind for kind, _, _ in probe_run.findings(INJECTION)}
    assert kinds == {"no_readings"}


def test_house_meters_are_unaffected_by_the_probes(
    probe_run: ProbeRun, baseline: Baseline
) -> None:
    processed = probe_run.house.processed()
    house_only = {
        measurement: {
            point for point in points if dict(point[0]).get("meter_id") not in PROBES
        }
        for measurement, points in processed.items()
    }
    assert house_only == baseline.processed


# -- runs that each need their own house, run side by side --


def edit_csv(path: Path, change: Callable[[list[dict[str, str]]], None]) -> None:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        names = list(reader.fieldnames or [])
        rows = list(reader)
    change(rows)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def set_field(
    rows: list[dict[str, str]], match: dict[str, str], name: str, value: str
) -> None:
    hits = [row for row in rows if all(row[k] == v for k, v in match.items())]
    assert hits, match
    for row in hits:
        row[name] = value


def unknown_meter(seeds: Path) -> None:
    edit_csv(
        seeds / "master_meter_periods.csv",
        lambda rows: set_field(
            rows,
            {"meter_id": "gas_total", "period": "2"},
            "source_meter_id",
            "gas_zahler_neu",
        ),
    )


def overlapping_periods(seeds: Path) -> None:
    edit_csv(
        seeds / "master_meter_periods.csv",
        lambda rows: set_field(
            rows, {"meter_id": "strom_total", "period": "2"}, "starts_on", "2024-11-20"
        ),
    )


def eleven_months(seeds: Path) -> None:
    def drop_december(rows: list[dict[str, str]]) -> None:
        rows[:] = [r for r in rows if (r["meter_id"], r["month"]) != ("eg_strom", "12")]

    edit_csv(seeds / "seasonal_patterns.csv", drop_december)


def unconvertible_unit(seeds: Path) -> None:
    edit_csv(
        seeds / "virtual_meter_components.csv",
        lambda rows: set_field(
            rows,
            {"meter_id": "eg_kalfire", "component_meter_id": "gastherme_gesamt"},
            "component_unit",
            "GJ",
        ),
    )


def unknown_meter_unit(seeds: Path) -> None:
    edit_csv(
        seeds / "meters.csv",
        lambda rows: set_field(rows, {"meter_id": "gas_zahler"}, "unit", "l"),
    )
    edit_csv(
        seeds / "master_meter_periods.csv",
        lambda rows: set_field(
            rows, {"meter_id": "gas_total", "period": "2"}, "source_unit", "l"
        ),
    )


# variant -> (how the seeds are broken, what the error line must name)
INCONSISTENT_SEEDS: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "unknown_meter": (unknown_meter, ["gas_zahler_neu"]),
    "overlapping_periods": (overlapping_periods, ["strom_total", "overlaps"]),
    "eleven_months": (eleven_months, ["eg_strom", "11 distinct months"]),
    "unconvertible_unit": (unconvertible_unit, ["eg_kalfire", "GJ"]),
    "unknown_meter_unit": (unknown_meter_unit, ["gas_zahler", "l"]),
}
NEGATIVE = [
    ("probe_negative", "kWh", local(D(2026, 1, 1)), 100.0),
    ("probe_negative", "kWh", local(D(2026, 1, 11)), 110.0),
    ("probe_negative", "kWh", local(D(2026, 1, 16)), -3.0),
    ("probe_negative", "kWh", local(D(2026, 1, 21)), 120.0),
]


@pytest.fixture(scope="module")
def side_by_side(
    influxd: InfluxServer,
    house_history: HouseHistory,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, ProbeRun]]:
    """One run per inconsistent seed and one with a negative reading, started
    together (each its own databases, DATA_DIR and project copy). Only the
    probe has readings and Tibber has no homes: these runs are about the
    seeds and one meter, and small data keeps dbt quick."""
    work = tmp_path_factory.mktemp("side-by-side")
    houses: dict[str, House] = {}
    with TibberServer() as tibber:  # an account without homes: a quick extract
        try:
            for name, (breaks, _) in INCONSISTENT_SEEDS.items():
                project = copy_project(
                    ROOT / "seeds", work / name / "project", billing=False
                )
                breaks(project / "seeds")
                houses[name] = make_house(
                    influxd,
                    tibber,
                    work / name / "data",
                    house_history,
                    readings=False,
                    hours=False,
                )
                houses[name].extra_env["DBT_PROJECT_DIR"] = str(project)
            project = probe_seeds(
                work / "negative" / "project", {"probe_negative": ""}, billing=False
            )
            houses["negative"] = make_house(
                influxd,
                tibber,
                work / "negative" / "data",
                house_history,
                readings=False,
                hours=False,
            )
            houses["negative"].write([ha_line(u, m, v, at) for m, u, at, v in NEGATIVE])
            houses["negative"].extra_env["DBT_PROJECT_DIR"] = str(project)
            processes = {name: start_pipeline(h.env) for name, h in houses.items()}
            runs = {}
            for name, process in processes.items():
                out, err = process.communicate(timeout=300)
                result = subprocess.CompletedProcess(
                    process.args, process.returncode, out, err
                )
                runs[name] = ProbeRun(houses[name], result)
            yield runs
        finally:
            for house in houses.values():
                drop_house(house)


@pytest.mark.parametrize("variant", sorted(INCONSISTENT_SEEDS))
def test_inconsistent_seed_is_rejected_naming_the_offending_row(
    variant: str, side_by_side: dict[str, ProbeRun]
) -> None:
    run = side_by_side[variant]
    result = run.result
    assert result.returncode != 0, result.stdout + result.stderr
    lines = error_lines(result)
    assert len(lines) == 1, result.stdout + result.stderr
    line = lines[0]
    assert line.startswith("error [dbt]: "), line
    assert "nothing was published" in line
    for word in INCONSISTENT_SEEDS[variant][1]:
        assert word in line, line
    assert run.house.processed() == {}
    assert "energy" not in run.house.raw()  # no Tibber hours written either
    assert_no_secret_leak(result, run.house.data_dir)


def test_negative_reading_is_rejected_and_neighbours_kept(
    side_by_side: dict[str, ProbeRun],
) -> None:
    """A counter is never negative: -3 kWh is an invalid reading, flagged and
    dropped; not a reset to -3 that shifts every later reading by 110 kWh."""
    run = side_by_side["negative"]
    assert run.result.returncode == 0, run.result.stdout + run.result.stderr
    findings = run.findings("probe_negative")
    assert [(at, value) for _, at, value in findings] == [(local(D(2026, 1, 16)), -3.0)]
    daily = run.daily("probe_negative")
    assert daily[D(2026, 1, 11)] == 110.0
    assert daily[D(2026, 1, 16)] == 115.0
    assert daily[D(2026, 1, 21)] == 120.0
