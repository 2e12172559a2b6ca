"""The synthetic house of the scale benchmark: consistent seeds, sane readings."""

from __future__ import annotations

import csv
import itertools
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bench.synthetic import SYNTHETIC_TIBBER_HOME_ID, SyntheticResult, generate
from core import landing
from core.errors import ConfigError

HOUSE_SEEDS = Path(__file__).resolve().parents[2] / "seeds"
BERLIN = ZoneInfo("Europe/Berlin")
AS_OF = datetime(2026, 11, 27, tzinfo=BERLIN)
METERS, YEARS = 120, 2
SEED_FILES = [
    "meters.csv",
    "master_meter_periods.csv",
    "virtual_meter_components.csv",
    "seasonal_patterns.csv",
]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle))


def local_start(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(), BERLIN)


@pytest.fixture(scope="module")
def house(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SyntheticResult]:
    out = tmp_path_factory.mktemp("synthetic")
    return out, generate(out, METERS, YEARS, as_of=AS_OF)


@pytest.fixture(scope="module")
def meters(house) -> dict[str, dict[str, str]]:
    out, _ = house
    return {row["meter_id"]: row for row in read_csv(out / "seeds" / "meters.csv")}


@pytest.fixture(scope="module")
def readings(house) -> dict[str, list[dict]]:
    out, _ = house
    series: dict[str, list[dict]] = defaultdict(list)
    rows = landing.current(out / "data", "readings")
    for row in rows.to_pylist():
        series[row["meter_id"]].append(row)
    return {
        m: sorted(rows, key=lambda r: r["measured_at"]) for m, rows in series.items()
    }


def test_seed_files_have_the_columns_of_the_house_seeds(house):
    out, _ = house
    for name in SEED_FILES:
        assert header(out / "seeds" / name) == header(HOUSE_SEEDS / name)


def test_house_has_the_requested_number_of_meters_of_every_kind(house, meters):
    _, result = house
    kinds = defaultdict(int)
    for meter in meters.values():
        kinds[meter["meter_type"]] += 1
    assert len(meters) == result.meters == METERS
    # 120 meters, 1 swap and 1 virtual meter per 100 (rounded down): one
    # master, one virtual, and 120 - 2 = 118 physical (the swap's old and new).
    assert kinds == {"physical": 118, "master": 1, "virtual": 1}
    assert result.physical_meters == 118
    assert meters["haupt_strom"]["meter_type"] == "physical"
    assert {m["unit"] for m in meters.values()} == {"kWh", "m³", "MWh"}


def test_every_referenced_meter_exists_with_a_matching_unit(house, meters):
    out, _ = house
    periods = read_csv(out / "seeds" / "master_meter_periods.csv")
    components = read_csv(out / "seeds" / "virtual_meter_components.csv")
    patterns = read_csv(out / "seeds" / "seasonal_patterns.csv")
    for period in periods:
        assert meters[period["meter_id"]]["meter_type"] == "master"
        source = meters[period["source_meter_id"]]
        assert source["meter_type"] == "physical"
        assert source["unit"] == period["source_unit"]
    for component in components:
        assert meters[component["meter_id"]]["meter_type"] == "virtual"
        part = meters[component["component_meter_id"]]
        assert part["unit"] == component["component_unit"]
    for pattern in patterns:
        assert pattern["meter_id"] in meters


def test_virtual_meters_are_a_base_minus_two_parts(house):
    out, _ = house
    roles = defaultdict(list)
    for row in read_csv(out / "seeds" / "virtual_meter_components.csv"):
        roles[row["meter_id"]].append(row["role"])
    assert roles and all(
        sorted(r) == ["base", "subtract", "subtract"] for r in roles.values()
    )


def test_master_periods_follow_each_other_without_overlap(house, meters):
    out, _ = house
    by_master = defaultdict(list)
    for row in read_csv(out / "seeds" / "master_meter_periods.csv"):
        by_master[row["meter_id"]].append(row)
    assert by_master
    for periods in by_master.values():
        first, second = sorted(periods, key=lambda p: int(p["period"]))
        ends = date.fromisoformat(first["ends_on"])
        assert date.fromisoformat(second["starts_on"]) == ends + timedelta(days=1)
        assert (first["carry_offset"], second["carry_offset"]) == ("false", "true")
        assert second["ends_on"] == ""
        old, new = meters[first["source_meter_id"]], meters[second["source_meter_id"]]
        assert old["removed_on"] == first["ends_on"] == new["installed_on"]


def test_each_pattern_has_twelve_months_summing_to_100(house, meters):
    out, _ = house
    shares = defaultdict(dict)
    for row in read_csv(out / "seeds" / "seasonal_patterns.csv"):
        shares[row["meter_id"]][int(row["month"])] = float(row["share_pct"])
    for months in shares.values():
        assert sorted(months) == list(range(1, 13))
        assert sum(months.values()) == pytest.approx(100.0)
    physical = [m for m in meters.values() if m["meter_type"] == "physical"]
    assert 0.2 <= len(shares) / len(physical) <= 0.4
    assert len({tuple(m.values()) for m in shares.values()}) == 3


def test_readings_never_decrease_and_stay_inside_installed_life(readings, meters):
    physical = {m for m, row in meters.items() if row["meter_type"] == "physical"}
    assert set(readings) == physical
    for meter_id, rows in readings.items():
        meter = meters[meter_id]
        values = [r["value"] for r in rows]
        assert values == sorted(values), meter_id
        assert rows[0]["measured_at"] >= local_start(meter["installed_on"])
        assert rows[0]["measured_at"] < local_start(meter["installed_on"]) + timedelta(
            days=1
        )
        if meter["removed_on"]:
            end = local_start(meter["removed_on"]) + timedelta(days=1)
            assert rows[-1]["measured_at"] < end
        assert rows[-1]["measured_at"] < AS_OF
        assert {r["unit"] for r in rows} == {meter["unit"]}


def test_consecutive_readings_are_two_to_six_weeks_apart(readings):
    for meter_id, rows in readings.items():
        for a, b in itertools.pairwise(rows):
            gap = b["measured_at"] - a["measured_at"]
            assert timedelta(days=14) <= gap <= timedelta(days=42), meter_id


def test_readings_are_taken_at_local_daytime(readings):
    hours = {
        r["measured_at"].astimezone(BERLIN).hour
        for rows in readings.values()
        for r in rows
    }
    assert min(hours) >= 7 and max(hours) <= 21
    minutes = {r["measured_at"].minute for rows in readings.values() for r in rows}
    assert len(minutes) > 30  # irregular instants, not on the hour
    assert all(r["measured_at"].second == 0 for rows in readings.values() for r in rows)


def test_swapped_meters_hand_over_on_the_swap_day(house, readings):
    out, _ = house
    sources = defaultdict(dict)
    for period in read_csv(out / "seeds" / "master_meter_periods.csv"):
        sources[period["meter_id"]][period["period"]] = period["source_meter_id"]
    for by_period in sources.values():
        old, new = readings[by_period["1"]], readings[by_period["2"]]
        assert new[0]["value"] < 1  # a new meter starts at a small value
        assert old[-1]["value"] > new[0]["value"]
        # Read out and read in at the same visit.
        assert old[-1]["measured_at"] == new[0]["measured_at"]


def test_one_hourly_series_per_100_meters_including_the_main_meter(house):
    out, result = house
    hours = landing.current(out / "data", "tibber_hours")
    assert hours.num_rows == result.hour_rows
    homes = set(hours.column("home_id").to_pylist())
    assert SYNTHETIC_TIBBER_HOME_ID in homes and len(homes) == result.hourly_series
    assert result.hourly_series == 1  # 120 meters
    # Two years of hours: 2 * 365 local days (plus 24 and minus 24 for DST).
    assert hours.num_rows == 2 * 365 * 24
    starts = hours.column("hour_start_at").to_pylist()
    assert max(starts) + timedelta(hours=1) == AS_OF.astimezone(UTC)


def test_main_meter_readings_agree_with_its_hours(house, readings, meters):
    out, _ = house
    hours = landing.current(out / "data", "tibber_hours")
    used = sorted(
        (row["hour_start_at"], row["consumption"] or 0.0)
        for row in hours.to_pylist()
        if row["home_id"] == SYNTHETIC_TIBBER_HOME_ID
    )
    rows = readings["haupt_strom"]
    assert len(rows) >= 5
    first = rows[0]
    for row in rows[1:]:
        counted = sum(
            kwh
            for start, kwh in used
            if first["measured_at"] <= start
            and start + timedelta(hours=1) <= row["measured_at"]
        )
        assert abs(row["value"] - first["value"] - counted) <= 0.01 * counted + 2.0


def test_raw_row_count_is_what_landed(house, readings):
    _, result = house
    assert result.raw_rows == sum(len(rows) for rows in readings.values())


def test_two_runs_write_the_same_house(house, tmp_path: Path):
    out, _ = house
    generate(tmp_path, METERS, YEARS, as_of=AS_OF)
    for name in SEED_FILES:
        assert (tmp_path / "seeds" / name).read_bytes() == (
            out / "seeds" / name
        ).read_bytes()
    for table in ("readings", "tibber_hours"):
        order = [(k, "ascending") for k in landing.KEYS[table]]
        mine = landing.current(tmp_path / "data", table).sort_by(order)
        theirs = landing.current(out / "data", table).sort_by(order)
        assert mine.equals(theirs)


def test_too_small_a_house_is_refused(tmp_path: Path):
    with pytest.raises(ConfigError, match="at least 10 meters"):
        generate(tmp_path, 5, 1, as_of=AS_OF)
