"""The demo history: a deterministic house written to a real landing zone."""

from __future__ import annotations

import csv
import itertools
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from core import landing
from core.errors import ConfigError
from extract.demo import DEMO_TIBBER_HOME_ID, write_demo_history

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
BERLIN = ZoneInfo("Europe/Berlin")
AS_OF = datetime(2026, 11, 27, tzinfo=BERLIN)  # local midnight


def local(day: date, at: time = time()) -> datetime:
    return datetime.combine(day, at, BERLIN)


def rows(data_dir: Path, table: str) -> list[dict]:
    """The table's current rows in the order of its key."""
    data = landing.current(data_dir, table).to_pylist()
    return sorted(data, key=lambda row: tuple(row[k] for k in landing.KEYS[table]))


def by_meter(readings: list[dict]) -> dict[str, list[tuple[datetime, float]]]:
    series: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for row in readings:
        series[row["meter_id"]].append((row["measured_at"], row["value"]))
    return {meter: sorted(points) for meter, points in series.items()}


def seed_meters() -> list[dict[str, str]]:
    with open(SEEDS / "meters.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def house(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("demo")
    write_demo_history(data_dir, AS_OF, "Europe/Berlin", SEEDS)
    return data_dir


@pytest.fixture(scope="module")
def readings(house: Path) -> dict[str, list[tuple[datetime, float]]]:
    return by_meter(rows(house, "readings"))


@pytest.fixture(scope="module")
def hours(house: Path) -> list[dict]:
    return rows(house, "tibber_hours")


def test_two_runs_write_the_same_landing_content(house: Path, tmp_path: Path):
    write_demo_history(tmp_path, AS_OF, "Europe/Berlin", SEEDS)
    for table in ("readings", "tibber_hours"):
        assert rows(tmp_path, table) == rows(house, table)


def test_running_again_with_the_same_as_of_writes_nothing(tmp_path: Path):
    as_of = datetime(2025, 2, 1, tzinfo=UTC)
    first = write_demo_history(tmp_path, as_of, "Europe/Berlin", SEEDS)
    files = sorted((tmp_path / "landing").rglob("*.parquet"))
    again = write_demo_history(tmp_path, as_of, "Europe/Berlin", SEEDS)
    assert first.readings > 0 and first.hours > 0
    assert (again.readings, again.hours) == (0, 0)
    assert sorted((tmp_path / "landing").rglob("*.parquet")) == files


def test_later_as_of_only_adds_rows_after_the_earlier_as_of(house: Path, tmp_path):
    earlier = datetime(2025, 3, 12, 9, 30, tzinfo=UTC)  # inside the leak stretch
    write_demo_history(tmp_path, earlier, "Europe/Berlin", SEEDS)
    before = rows(tmp_path, "readings")
    before_hours = rows(tmp_path, "tibber_hours")
    result = write_demo_history(tmp_path, AS_OF, "Europe/Berlin", SEEDS)
    after = rows(tmp_path, "readings")
    after_hours = rows(tmp_path, "tibber_hours")

    def values(data: list[dict], names: list[str]) -> set[tuple]:
        return {tuple(row[n] for n in names) for row in data}

    reading_cols = ["meter_id", "measured_at", "value", "unit"]
    hour_cols = ["home_id", "hour_start_at", "consumption", "cost", "unit_price"]
    assert values(before, reading_cols) <= values(after, reading_cols)
    assert values(before_hours, hour_cols) <= values(after_hours, hour_cols)
    added = values(after, reading_cols) - values(before, reading_cols)
    assert added and all(row[1] >= earlier for row in added)
    assert result.readings == len(added)
    assert all(row["hour_end_at"] <= earlier for row in before_hours)
    # The same content as a single run up to the later as_of.
    assert values(after, reading_cols) == values(rows(house, "readings"), reading_cols)


def test_nothing_is_measured_at_or_after_as_of(readings, hours):
    assert all(t < AS_OF for points in readings.values() for t, _ in points)
    assert hours[-1]["hour_end_at"] == AS_OF  # the last complete hour


def test_counters_never_drop_except_the_planted_reset_and_bad_reading(readings):
    drops: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for meter, points in readings.items():
        for (_, before), (_, after) in itertools.pairwise(points):
            if after < before:
                drops[meter].append((before, after))
    assert sorted(drops) == ["og1_strom", "solarspeicher"]
    [(before, after)] = drops["solarspeicher"]
    assert after < 0.9 * before  # a counter reset (docs/numbers.md)
    [(before, after)] = drops["og1_strom"]
    assert 0.9 * before <= after < before  # a bad reading (docs/numbers.md)


def test_every_physical_meter_is_read_only_inside_its_installed_life(readings):
    meters = seed_meters()
    physical = {m["meter_id"] for m in meters if m["meter_type"] == "physical"}
    assert set(readings) == physical
    for meter in meters:
        if meter["meter_type"] != "physical":
            continue
        start = local(date.fromisoformat(meter["installed_on"]))
        points = readings[meter["meter_id"]]
        assert points[0][0] >= start
        assert points[0][0] < start + timedelta(days=1)  # read on the day
        if meter["removed_on"]:
            removed = date.fromisoformat(meter["removed_on"])
            assert local(removed) <= points[-1][0] < local(removed, time(23, 59))


def test_readings_carry_the_unit_of_the_meters_seed(house: Path):
    units = {m["meter_id"]: m["unit"] for m in seed_meters()}
    for row in rows(house, "readings"):
        assert row["unit"] == units[row["meter_id"]]


def test_swapped_meters_end_and_start_on_the_swap_days(readings):
    gas_old, gas_new = readings["gas_zahler_alt"], readings["gas_zahler"]
    assert gas_old[-1][0].astimezone(BERLIN).date() == date(2024, 11, 12)
    assert gas_new[0][0].astimezone(BERLIN).date() == date(2024, 11, 12)
    assert 0 <= gas_new[0][1] < 1  # a small calibration value, in m³
    assert gas_old[-1][1] > 1000  # the old meter's counter, years of gas
    for register in ("strom_1LOG0007013695_NT", "strom_1LOG0007013695_HT"):
        last = readings[register][-1][0].astimezone(BERLIN)
        assert last.date() == date(2024, 11, 26)
    first_time, first_value = readings["haupt_strom"][0]
    assert first_time == local(date(2024, 11, 27))  # before its hours count
    assert first_value == 0.0


def test_tibber_hours_have_23_and_25_hours_on_dst_days(hours):
    per_day = Counter(h["hour_start_at"].astimezone(BERLIN).date() for h in hours)
    assert per_day[date(2025, 3, 30)] == 23
    assert per_day[date(2025, 10, 26)] == 25
    assert per_day[date(2024, 10, 27)] == 25
    assert per_day[date(2025, 3, 31)] == 24
    starts = [h["hour_start_at"] for h in hours]
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(starts))
    assert all(
        h["hour_end_at"] - h["hour_start_at"] == timedelta(hours=1) for h in hours
    )
    assert {h["home_id"] for h in hours} == {DEMO_TIBBER_HOME_ID}


def test_tibber_hours_start_months_before_the_main_meter(hours):
    assert hours[0]["hour_start_at"] <= local(date(2024, 11, 27)) - timedelta(days=60)


def test_tibber_null_hours_have_neither_consumption_nor_cost(hours):
    nulls = [h for h in hours if h["consumption"] is None]
    assert 2 <= len(nulls) <= 10
    assert all(h["cost"] is None and h["unit_price"] is not None for h in nulls)
    inside_life = [h for h in nulls if h["hour_start_at"] >= local(date(2024, 11, 27))]
    assert inside_life


def test_tibber_cost_is_consumption_times_price_in_euro(hours):
    for hour in hours:
        assert hour["currency"] == "EUR"
        assert 0.25 <= hour["unit_price"] <= 0.40
        if hour["consumption"] is not None:
            assert hour["cost"] == pytest.approx(
                hour["consumption"] * hour["unit_price"], abs=1e-6
            )
            assert 0 < hour["consumption"] < 10


def test_main_meter_readings_agree_with_tibber_hour_sums(readings, hours):
    anchor_time, anchor_value = readings["haupt_strom"][0]
    later = readings["haupt_strom"][1:]
    assert len(later) >= 20  # about monthly over two years
    for measured_at, value in later:
        counted = sum(
            h["consumption"] or 0.0
            for h in hours
            if anchor_time <= h["hour_start_at"] and h["hour_end_at"] <= measured_at
        )
        assert abs((value - anchor_value) - counted) <= 0.01 * counted


def test_leak_uses_ten_times_the_water_inside_daily_readings(readings):
    points = [
        (t.astimezone(BERLIN), v)
        for t, v in readings["og1_wasser_kalt"]
        if local(date(2025, 1, 6)) <= t < local(date(2025, 5, 1))
    ]
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(points)]
    assert len(points) > 100 and max(gaps) <= timedelta(days=2)

    def use_between(first: date, last: date) -> float:
        day_values = {t.date(): v for t, v in points}
        return (day_values[last] - day_values[first]) / (last - first).days

    normal = use_between(date(2025, 2, 1), date(2025, 3, 1))
    leak = use_between(date(2025, 3, 11), date(2025, 3, 16))
    assert leak > 6 * normal  # 10x, blurred by reading times and noise


def test_main_electricity_has_daily_readings_for_months(readings):
    days = {
        t.astimezone(BERLIN).date()
        for t, _ in readings["eg_strom"]
        if local(date(2024, 10, 1)) <= t < local(date(2025, 3, 1))
    }
    assert len(days) == 151  # every day of Oct 2024 - Feb 2025


def test_og2_water_stands_still_for_a_year_while_the_flat_is_empty(readings):
    for meter in ("og2_wasser_kalt", "og2_wasser_warm"):
        still = [
            v
            for t, v in readings[meter]
            if local(date(2023, 4, 1)) <= t < local(date(2024, 4, 1))
        ]
        assert len(still) >= 8 and len(set(still)) == 1
        assert readings[meter][-1][1] > still[0]  # used again afterwards


def test_one_duplicate_instant_is_corrected_by_a_later_extraction(house: Path):
    raw = duckdb.sql(
        f"""
        select meter_id, measured_at, value, extracted_at
        from read_parquet('{landing.glob(house, "readings")}')
        where (meter_id, measured_at) in (
            select (meter_id, measured_at)
            from read_parquet('{landing.glob(house, "readings")}')
            group by all having count(*) > 1
        )
        order by extracted_at
        """
    ).fetchall()
    assert len(raw) == 2
    (meter, instant, first, first_at), (_, _, second, second_at) = raw
    assert meter == "eg_strom" and first_at < second_at and first != second
    current = {
        (r["meter_id"], r["measured_at"]): r["value"] for r in rows(house, "readings")
    }
    assert current[(meter, instant)] == second


def test_yearly_use_has_realistic_magnitudes(readings):
    def per_year(meter: str, first: date, last: date) -> float:
        points = readings[meter]
        start = min(points, key=lambda p: abs(p[0] - local(first)))
        end = min(points, key=lambda p: abs(p[0] - local(last)))
        return (end[1] - start[1]) / ((end[0] - start[0]).days / 365.25)

    assert 1500 <= per_year("eg_strom", date(2023, 1, 1), date(2024, 1, 1)) <= 3000
    assert (
        1400 <= per_year("gas_zahler_alt", date(2021, 1, 1), date(2024, 1, 1)) <= 2200
    )
    assert (
        40
        <= per_year("og1_wasser_warm", date(2023, 1, 1), date(2025, 1, 1))
        + per_year("og1_wasser_kalt", date(2023, 1, 1), date(2025, 1, 1))
        <= 80
    )
    assert 3 <= per_year("og1_heat", date(2023, 1, 1), date(2025, 1, 1)) <= 8


def seeds_with_meter(folder: Path, meter_row: str) -> Path:
    """A copy of the house's seeds with one more row in meters.csv."""
    seeds = folder / "seeds"
    seeds.mkdir()
    for name in ("meters.csv", "seasonal_patterns.csv"):
        (seeds / name).write_bytes((SEEDS / name).read_bytes())
    with open(seeds / "meters.csv", "a", encoding="utf-8") as handle:
        handle.write(meter_row + "\n")
    return seeds


def test_a_meter_installed_outside_the_demo_history_is_refused(tmp_path: Path):
    seeds = seeds_with_meter(
        tmp_path, "keller_strom,physical,electricity,kWh,2019-12-31,,Cellar"
    )
    with pytest.raises(ConfigError, match="keller_strom"):
        write_demo_history(tmp_path / "data", AS_OF, "Europe/Berlin", seeds)


def test_a_meter_the_demo_does_not_know_gets_readings_too(tmp_path: Path):
    seeds = seeds_with_meter(
        tmp_path, "keller_wasser,physical,water,m³,2023-03-01,,Cellar water"
    )
    write_demo_history(tmp_path / "data", AS_OF, "Europe/Berlin", seeds)
    points = by_meter(rows(tmp_path / "data", "readings"))
    cellar = points["keller_wasser"]
    assert cellar[0][0] >= local(date(2023, 3, 1)) and len(cellar) > 20
    values = [v for _, v in cellar]
    assert values == sorted(values) and values[-1] > values[0]
