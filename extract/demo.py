"""A realistic, deterministic history of the house for demo mode.

`write_demo_history` writes the readings of every physical meter in the meters
seed and the hourly Tibber series of the main electricity meter into the
landing zone, the way the real extracts do: `landing.append` of the rows that
are new or changed, one file per table and extraction.

Every series is drawn from random generators seeded by a fixed name (the meter
id, the Tibber home), over a fixed horizon (2020-01-01 up to 2031-01-01), and
then cut at `as_of`. The same meter and day therefore always get the same
values whatever `as_of` is: a later `as_of` only adds rows, and running twice
writes nothing the second time.

The house, as simulated:

- Manual readings every 10 to 40 days at varied local daytime hours; daily
  morning readings in a few stretches (eg_strom, og1_wasser_kalt) so anomalies
  can be judged; the main electricity meter is read about monthly and its
  hours come from Tibber.
- Consumption follows the meter's seasonal pattern from the seed where it has
  one, with day-to-day and year-to-year noise. Sums agree the way the house
  is built: the old electricity registers (NT + HT) and Tibber count the flats
  plus the common area, the house gas meter counts the gas heating system's
  kWh (converted at 10.221304 kWh/m³, 97 % metering ratio) plus the Kalfire
  fireplace, the main water meter counts the flats' meters plus the rest.
- The meter swaps of the seed: gas on 2024-11-12 (old and new meter read at
  10:40, the new one starting at a calibration value), electricity on
  2024-11-26/27 (old registers read at 17:05 on the 26th, haupt_strom read at
  local 00:00 on the 27th at 0.0, before its Tibber hours count).
- Planted faults: a 7-day water leak (og1_wasser_kalt at 10x from 2025-03-10,
  inside its daily readings), a 21-day leak between sparse readings
  (og2_wasser_kalt at 6x from 2026-02-09, read by hand every few weeks),
  a counter reset (solarspeicher restarts from 0 on 2023-07-14), a bad reading
  (og1_strom's first reading from 2023-06-01 on, 4 kWh below the one before),
  a duplicate instant (eg_strom's first reading from 2023-09-01 on is first
  extracted 100 kWh too high and corrected by a later extraction), an idle
  year (og2 water, 2023-04-01 to 2024-04-01, flat empty), and Tibber hours
  without consumption and cost.
"""

from __future__ import annotations

import bisect
import calendar
import csv
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa

from core import landing
from core.errors import ConfigError
from core.settings import dbt_defaults, dbt_vars

log = logging.getLogger(__name__)

DEMO_TIBBER_HOME_ID = "5f3a9c2e-7b14-4d8e-a6c1-0e2d4b9f7a35"
# The demo house's Tibber meter is the one TIBBER_METER_ID names by default.
TIBBER_METER_ID = dbt_defaults()["TIBBER_METER_ID"]
FIRST_DAY = date(2020, 1, 1)
HORIZON = date(2031, 1, 1)  # exclusive: the series end on 2030-12-31
TIBBER_FIRST_DAY = date(2024, 9, 1)
# 1 m³ of gas in kWh, as the models convert it (dbt_project.yml).
KWH_PER_M3 = float(dbt_vars()["gas_energy_content_kwh_per_m3"]) * float(
    dbt_vars()["gas_z_factor"]
)

# Counter values at the start of each meter's counting (its installation).
START_VALUES: dict[str, float] = {
    "haupt_strom": 0.0,
    "strom_1LOG0007013695_NT": 21876.4,
    "strom_1LOG0007013695_HT": 38412.9,
    "eg_strom": 18342.7,
    "og1_strom": 9120.3,
    "og2_strom": 4410.8,
    "gas_zahler": 0.412,
    "gas_zahler_alt": 4187.532,
    "gastherme_gesamt": 61234.0,
    "gastherme_heizen": 48011.0,
    "gastherme_warmwasser": 13223.0,
    "haupt_wasser": 812.345,
    "og1_wasser_kalt": 104.221,
    "og1_wasser_warm": 45.91,
    "og2_wasser_kalt": 88.402,
    "og2_wasser_warm": 37.118,
    "eg_nord_heat": 41.207,
    "og1_heat": 28.914,
    "og2_heat": 25.33,
    "eg_sud_heat": 36.02,
    "buro_heat": 19.875,
    "solarspeicher": 1250.0,
}
# Local times of the first and last readings at the swaps.
FIRST_TIMES: dict[str, time] = {"gas_zahler": time(10, 40), "haupt_strom": time(0, 0)}
LAST_TIMES: dict[str, time] = {
    "gas_zahler_alt": time(10, 40),
    "strom_1LOG0007013695_NT": time(17, 5),
    "strom_1LOG0007013695_HT": time(17, 5),
}
# Meters read every day (in the morning) over [start, end) local dates.
DAILY_STRETCHES: dict[str, list[tuple[date, date]]] = {
    "eg_strom": [
        (date(2024, 10, 1), date(2025, 3, 1)),
        (date(2026, 8, 1), date(2026, 12, 1)),
    ],
    "og1_wasser_kalt": [(date(2025, 1, 6), date(2025, 5, 1))],
}
LEAK = ("og1_wasser_kalt", date(2025, 3, 10), date(2025, 3, 17), 10.0)
# A leak between sparse readings: og2's cold water (read by hand every few
# weeks) runs at 6x for three weeks, a running cistern. Only the interval
# between the readings around it can reveal it.
SPARSE_LEAK = ("og2_wasser_kalt", date(2026, 2, 9), date(2026, 3, 2), 6.0)
EMPTY_FLAT = (date(2023, 4, 1), date(2024, 4, 1))  # og2 stood empty
RESET = ("solarspeicher", datetime(2023, 7, 14, 11, 0))  # local instant
BAD_READING = ("og1_strom", date(2023, 6, 1), 4.0)
DUPLICATE = ("eg_strom", date(2023, 9, 1), 100.0)
NULL_HOURS = [  # UTC hour starts without consumption and cost
    datetime(2024, 10, 10, 3, tzinfo=UTC),
    datetime(2025, 2, 14, 4, tzinfo=UTC),
    datetime(2025, 8, 3, 12, tzinfo=UTC),
    datetime(2025, 8, 3, 13, tzinfo=UTC),
    datetime(2026, 3, 5, 19, tzinfo=UTC),
]
# Relative use per local hour of the day (hour 0 = 00:00-01:00).
HOUR_PROFILE = [
    0.55, 0.5, 0.48, 0.47, 0.48, 0.55, 0.8, 1.2, 1.3, 1.05, 0.95, 1.0,
    1.15, 1.05, 0.95, 0.95, 1.05, 1.3, 1.6, 1.7, 1.6, 1.4, 1.1, 0.75,
]  # fmt: skip
FIREPLACE_PATTERN = [22, 18, 12, 4, 0, 0, 0, 0, 2, 8, 14, 20]
GARDEN_PATTERN = [0, 0, 2, 8, 15, 20, 22, 20, 10, 3, 0, 0]
# Annual use of a meter the simulation does not know, by (utility, unit).
GENERIC_ANNUAL: dict[tuple[str, str], float] = {
    ("electricity", "kWh"): 2000.0,
    ("gas", "m³"): 1800.0,
    ("gas", "kWh"): 15000.0,
    ("water", "m³"): 60.0,
    ("heat", "MWh"): 5.0,
    ("heat", "kWh"): 5000.0,
    ("solar", "kWh"): 3000.0,
}
DECIMALS = {"kWh": 1, "MWh": 3, "m³": 3}


@dataclass(frozen=True)
class DemoResult:
    readings: int  # rows appended to the landing table "readings"
    hours: int  # rows appended to the landing table "tibber_hours"


@dataclass(frozen=True)
class SeedMeter:
    meter_id: str
    meter_type: str
    utility: str
    unit: str
    installed_on: date
    removed_on: date | None


@dataclass(frozen=True)
class Calendar:
    """Local days from FIRST_DAY to HORIZON and their starts as UTC seconds."""

    zone: ZoneInfo
    days: list[date]
    starts: list[float]  # len(days) + 1: the start of HORIZON closes the last
    month_lengths: dict[date, int]  # days in each day's month

    def instant(self, day: date, at: time) -> float:
        return datetime.combine(day, at, self.zone).timestamp()

    def index(self, day: date) -> int:
        return (day - FIRST_DAY).days


Counter = Callable[[float], float]


def write_demo_history(
    data_dir: Path, as_of: datetime, timezone: str, seeds_dir: Path
) -> DemoResult:
    """Write the demo house's readings and Tibber hours before `as_of`."""
    zone = ZoneInfo(timezone)
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=zone)
    cut = as_of.timestamp()
    meters = read_meters(seeds_dir / "meters.csv")
    for meter in meters:
        if not FIRST_DAY <= meter.installed_on < HORIZON:
            raise ConfigError(
                f"meter {meter.meter_id} is installed on {meter.installed_on}, "
                f"outside the demo history ({FIRST_DAY} to {HORIZON}): "
                "fix installed_on in seeds/meters.csv"
            )
    patterns = read_patterns(seeds_dir / "seasonal_patterns.csv")
    cal = make_calendar(zone)
    series = house_series(cal, meters, patterns)
    hours = tibber_hours(cal, series["house_electricity"])
    counters = meter_counters(cal, meters, series, hours)

    first_extraction = as_of.astimezone(UTC) - timedelta(seconds=1)
    correction = as_of.astimezone(UTC)
    rows, corrections = [], []
    for meter in meters:
        if meter.meter_type != "physical":
            continue
        for instant, value, typo in meter_readings(cal, meter, counters):
            if instant >= cut:
                break
            measured_at = datetime.fromtimestamp(instant, UTC)
            first = value if typo is None else typo
            rows.append((meter.meter_id, measured_at, first, meter.unit))
            if typo is not None:
                corrections.append((meter.meter_id, measured_at, value, meter.unit))

    stored = landing.current(data_dir, "readings")
    known = set(
        zip(
            stored.column("meter_id").to_pylist(),
            stored.column("measured_at").to_pylist(),
            strict=True,
        )
    )
    new = [row for row in rows if (row[0], row[1]) not in known]
    written = _append_readings(data_dir, new, first_extraction)
    # The corrected values of the typo rows: a later extraction replaces them.
    changed = landing.new_or_changed(
        data_dir, "readings", _readings_table(corrections, correction)
    )
    if changed.num_rows:
        landing.append(data_dir, "readings", changed)

    hour_table = _hours_table(hours, cut, correction)
    hour_table = landing.new_or_changed(data_dir, "tibber_hours", hour_table)
    if hour_table.num_rows:
        landing.append(data_dir, "tibber_hours", hour_table)
    result = DemoResult(readings=written + changed.num_rows, hours=hour_table.num_rows)
    log.info(
        "event=demo_history_written as_of=%s readings=%d hours=%d",
        as_of.astimezone(UTC).isoformat(),
        result.readings,
        result.hours,
    )
    return result


def read_meters(path: Path) -> list[SeedMeter]:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return [
                SeedMeter(
                    meter_id=row["meter_id"],
                    meter_type=row["meter_type"],
                    utility=row["utility"],
                    unit=row["unit"],
                    installed_on=date.fromisoformat(row["installed_on"]),
                    removed_on=date.fromisoformat(row["removed_on"])
                    if row["removed_on"]
                    else None,
                )
                for row in csv.DictReader(handle)
            ]
    except (OSError, KeyError, ValueError) as error:
        raise ConfigError(
            f"cannot read the meters seed {path}: {error}: "
            "restore seeds/meters.csv from the repository"
        ) from None


def read_patterns(path: Path) -> dict[str, list[float]]:
    """Per meter, the twelve monthly shares normalised to sum to 1."""
    shares: dict[str, list[float]] = {}
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                months = shares.setdefault(row["meter_id"], [0.0] * 12)
                months[int(row["month"]) - 1] = float(row["share_pct"])
    except (OSError, KeyError, ValueError, IndexError) as error:
        raise ConfigError(
            f"cannot read the seasonal patterns seed {path}: {error}: "
            "restore seeds/seasonal_patterns.csv from the repository"
        ) from None
    return {meter: _normalised(months) for meter, months in shares.items()}


def _normalised(shares: list[float]) -> list[float]:
    total = sum(shares)
    return [share / total for share in shares]


def make_calendar(zone: ZoneInfo) -> Calendar:
    count = (HORIZON - FIRST_DAY).days
    days = [FIRST_DAY + timedelta(days=i) for i in range(count + 1)]
    starts = [datetime.combine(day, time(), zone).timestamp() for day in days]
    lengths = {day: calendar.monthrange(day.year, day.month)[1] for day in days}
    return Calendar(zone=zone, days=days[:-1], starts=starts, month_lengths=lengths)


def daily_use(
    cal: Calendar,
    name: str,
    annual: float,
    shares: list[float] | None,
    noise: float = 0.15,
) -> list[float]:
    """Use per local day: annual x monthly share, with seeded noise."""
    rng = random.Random(f"demo:{name}:use")  # noqa: S311 - simulation, not security
    years = {year: rng.uniform(0.9, 1.1) for year in range(2020, HORIZON.year)}
    use = []
    for day in cal.days:
        if shares is None:
            mean = annual / 365.25
        else:
            mean = annual * shares[day.month - 1] / cal.month_lengths[day]
        use.append(mean * years[day.year] * max(0.2, rng.gauss(1.0, noise)))
    return use


def _scaled(use: list[float], cal: Calendar, span: tuple[date, date], factor: float):
    start, end = cal.index(span[0]), cal.index(span[1])
    return [v * factor if start <= i < end else v for i, v in enumerate(use)]


def _added(*series: list[float]) -> list[float]:
    return [sum(values) for values in zip(*series, strict=True)]


def house_series(
    cal: Calendar, meters: list[SeedMeter], patterns: dict[str, list[float]]
) -> dict[str, list[float]]:
    """Daily use of every physical meter (by id) and of the house's sums."""
    p = patterns.get
    s: dict[str, list[float]] = {}
    s["eg_strom"] = daily_use(cal, "eg_strom", 2400, p("eg_strom"))
    s["og1_strom"] = daily_use(cal, "og1_strom", 2100, p("og1_strom"))
    s["og2_strom"] = _scaled(
        daily_use(cal, "og2_strom", 1700, p("og2_strom")), cal, EMPTY_FLAT, 0.06
    )
    common = daily_use(cal, "strom_allgemein", 2600, p("strom_total"))
    house = _added(s["eg_strom"], s["og1_strom"], s["og2_strom"], common)
    s["house_electricity"] = house
    s["strom_1LOG0007013695_NT"] = [0.38 * v for v in house]
    s["strom_1LOG0007013695_HT"] = [0.62 * v for v in house]

    heating = daily_use(cal, "gastherme_heizen", 14500, p("gastherme_heizen"))
    hot_water = daily_use(
        cal, "gastherme_warmwasser", 3200, p("gastherme_warmwasser"), noise=0.1
    )
    s["gastherme_heizen"] = heating
    s["gastherme_warmwasser"] = hot_water
    s["gastherme_gesamt"] = _added(heating, hot_water)
    fireplace = daily_use(cal, "eg_kalfire", 110, _normalised(FIREPLACE_PATTERN))
    house_gas = [
        kwh / KWH_PER_M3 / 0.97 + m3
        for kwh, m3 in zip(s["gastherme_gesamt"], fireplace, strict=True)
    ]
    s["gas_zahler"] = house_gas
    s["gas_zahler_alt"] = house_gas

    leak_meter, leak_start, leak_end, leak_factor = LEAK
    s["og1_wasser_kalt"] = daily_use(cal, "og1_wasser_kalt", 38, None, noise=0.2)
    s[leak_meter] = _scaled(s[leak_meter], cal, (leak_start, leak_end), leak_factor)
    s["og1_wasser_warm"] = daily_use(cal, "og1_wasser_warm", 16, None, noise=0.2)
    for name, annual in (("og2_wasser_kalt", 32), ("og2_wasser_warm", 13)):
        s[name] = _scaled(
            daily_use(cal, name, annual, None, noise=0.2), cal, EMPTY_FLAT, 0.0
        )
    sparse_meter, sparse_start, sparse_end, sparse_factor = SPARSE_LEAK
    s[sparse_meter] = _scaled(
        s[sparse_meter], cal, (sparse_start, sparse_end), sparse_factor
    )
    ground_floor = daily_use(cal, "eg_wasser", 55, None, noise=0.2)
    garden = daily_use(cal, "garten_wasser", 12, _normalised(GARDEN_PATTERN))
    s["haupt_wasser"] = _added(
        s["og1_wasser_kalt"],
        s["og1_wasser_warm"],
        s["og2_wasser_kalt"],
        s["og2_wasser_warm"],
        ground_floor,
        garden,
    )

    for name, annual in (
        ("eg_nord_heat", 6.5),
        ("eg_sud_heat", 5.5),
        ("og1_heat", 4.8),
        ("og2_heat", 4.2),
        ("buro_heat", 3.2),
    ):
        s[name] = daily_use(cal, name, annual, p(name))
    s["og2_heat"] = _scaled(s["og2_heat"], cal, EMPTY_FLAT, 0.15)
    s["solarspeicher"] = daily_use(cal, "solarspeicher", 2800, p("solarspeicher"), 0.4)

    for meter in meters:  # meters the simulation does not know
        if meter.meter_type == "physical" and meter.meter_id not in s:
            annual = GENERIC_ANNUAL.get((meter.utility, meter.unit), 1000.0)
            s[meter.meter_id] = daily_use(
                cal, meter.meter_id, annual, p(meter.meter_id)
            )
    return s


@dataclass(frozen=True)
class Hours:
    """Tibber's hourly series: true use, and what Tibber reports."""

    first: float  # UTC seconds of the first hour's start
    use: list[float]  # true use per hour, kWh (3 decimals)
    reported: list[bool]  # False: Tibber reports the hour as null
    unit_price: list[float]  # EUR/kWh incl. VAT


def tibber_hours(cal: Calendar, house: list[float]) -> Hours:
    """Hourly use of the whole house from TIBBER_FIRST_DAY up to HORIZON."""
    use_rng = random.Random("demo:tibber:use")  # noqa: S311 - simulation
    price_rng = random.Random("demo:tibber:price")  # noqa: S311 - simulation
    first_index = cal.index(TIBBER_FIRST_DAY)
    first = cal.starts[first_index]
    end = cal.starts[-1]
    nulls = {hour.timestamp() for hour in NULL_HOURS}
    profile_total = sum(HOUR_PROFILE)
    use, reported, prices = [], [], []
    day = first_index
    instant = first
    while instant < end:
        while cal.starts[day + 1] <= instant:
            day += 1
        hour = int((instant - cal.starts[day]) // 3600)
        share = HOUR_PROFILE[min(hour, 23)] / profile_total
        noise = max(0.15, use_rng.gauss(1.0, 0.2))
        use.append(round(house[day] * share * noise, 3))
        reported.append(instant not in nulls)
        month = cal.days[day].month
        winter = 0.04 if month in (11, 12, 1, 2, 3) else 0.0
        peak = 0.06 if 17 <= hour <= 20 else 0.03 if 7 <= hour <= 9 else 0.0
        dip = -0.03 if 11 <= hour <= 14 and month in range(4, 10) else 0.0
        price = 0.285 + winter + peak + dip + price_rng.gauss(0.0, 0.015)
        prices.append(round(min(0.4, max(0.25, price)), 4))
        instant += 3600
    return Hours(first=first, use=use, reported=reported, unit_price=prices)


def meter_counters(
    cal: Calendar,
    meters: list[SeedMeter],
    series: dict[str, list[float]],
    hours: Hours,
) -> dict[str, Counter]:
    """Per physical meter, its counter as a function of the UTC instant."""
    counters: dict[str, Counter] = {}
    for meter in meters:
        if meter.meter_type != "physical":
            continue
        start_time = FIRST_TIMES.get(meter.meter_id, time())
        start = cal.instant(meter.installed_on, start_time)
        base = START_VALUES.get(meter.meter_id, 0.0)
        if meter.meter_id == TIBBER_METER_ID:
            counters[meter.meter_id] = _hourly_counter(hours, start, base)
        else:
            counters[meter.meter_id] = _daily_counter(
                cal, series[meter.meter_id], start, base
            )
    reset_meter, reset_local = RESET
    if reset_meter in counters:
        counters[reset_meter] = _with_reset(
            counters[reset_meter], reset_local.replace(tzinfo=cal.zone).timestamp()
        )
    return counters


def _daily_counter(
    cal: Calendar, use: list[float], start: float, base: float
) -> Counter:
    totals = [0.0, *accumulate(use)]

    def total(instant: float) -> float:
        day = bisect.bisect_right(cal.starts, instant) - 1
        day = min(max(day, 0), len(use) - 1)
        length = cal.starts[day + 1] - cal.starts[day]
        return totals[day] + use[day] * (instant - cal.starts[day]) / length

    origin = total(start)
    return lambda instant: base + total(instant) - origin


def _hourly_counter(hours: Hours, start: float, base: float) -> Counter:
    totals = [0.0, *accumulate(hours.use)]

    def total(instant: float) -> float:
        hour = min(int((instant - hours.first) // 3600), len(hours.use) - 1)
        fraction = (instant - hours.first - hour * 3600) / 3600
        return totals[hour] + hours.use[hour] * fraction

    origin = total(start)
    return lambda instant: base + total(instant) - origin


def _with_reset(counter: Counter, reset: float) -> Counter:
    """The counter restarts from 0 at `reset` and counts on from there."""
    at_reset = counter(reset)
    return lambda instant: counter(instant) - (at_reset if instant >= reset else 0.0)


def reading_days(meter: SeedMeter) -> list[tuple[date, time]]:
    """The meter's reading schedule up to its removal or the horizon."""
    rng = random.Random(f"demo:{meter.meter_id}:schedule")  # noqa: S311 - simulation
    stretches = DAILY_STRETCHES.get(meter.meter_id, [])
    monthly = meter.meter_id == TIBBER_METER_ID
    last = meter.removed_on or HORIZON - timedelta(days=1)
    day = meter.installed_on
    first_time = FIRST_TIMES.get(meter.meter_id)
    if first_time is None:
        first_time = _daytime(rng)
    schedule = [(day, first_time)]
    while True:
        if any(start <= day < end - timedelta(days=1) for start, end in stretches):
            step, at = 1, time(rng.randint(6, 8), rng.randint(0, 59))
        else:
            step = rng.randint(26, 35) if monthly else rng.randint(10, 40)
            at = _daytime(rng)
        following = day + timedelta(days=step)
        for start, _ in stretches:
            if day < start < following:
                following = start
        if following > last or (meter.removed_on and following == last):
            break
        day = following
        schedule.append((day, at))
    if meter.removed_on and schedule[-1][0] < meter.removed_on:
        last_time = LAST_TIMES.get(meter.meter_id)
        schedule.append((meter.removed_on, last_time or _daytime(rng)))
    return schedule


def _daytime(rng: random.Random) -> time:
    return time(rng.randint(7, 21), rng.randint(0, 59))


def meter_readings(
    cal: Calendar, meter: SeedMeter, counters: dict[str, Counter]
) -> list[tuple[float, float, float | None]]:
    """(UTC seconds, value, first-extracted typo or None) in time order."""
    counter = counters[meter.meter_id]
    decimals = DECIMALS.get(meter.unit, 3)
    readings: list[tuple[float, float, float | None]] = []
    bad_meter, bad_from, bad_drop = BAD_READING
    dup_meter, dup_from, dup_error = DUPLICATE
    planted_bad = planted_dup = False
    for day, at in reading_days(meter):
        instant = cal.instant(day, at)
        value = round(counter(instant), decimals)
        typo = None
        if meter.meter_id == bad_meter and day >= bad_from and not planted_bad:
            planted_bad = True
            value = round(readings[-1][1] - bad_drop, decimals)
        if meter.meter_id == dup_meter and day >= dup_from and not planted_dup:
            planted_dup = True
            typo = round(value + dup_error, decimals)
        readings.append((instant, value, typo))
    return readings


def _readings_table(
    rows: list[tuple[str, datetime, float, str]], extracted_at: datetime
) -> pa.Table:
    return pa.table(
        {
            "meter_id": [row[0] for row in rows],
            "measured_at": [row[1] for row in rows],
            "value": [row[2] for row in rows],
            "unit": [row[3] for row in rows],
            "extracted_at": [extracted_at] * len(rows),
        },
        schema=landing.SCHEMAS["readings"],
    )


def _append_readings(
    data_dir: Path, rows: list[tuple[str, datetime, float, str]], at: datetime
) -> int:
    if rows:
        landing.append(data_dir, "readings", _readings_table(rows, at))
    return len(rows)


def _hours_table(hours: Hours, cut: float, extracted_at: datetime) -> pa.Table:
    """The hours that ended by `cut`, as Tibber reports them."""
    count = max(0, min(len(hours.use), int((cut - hours.first) // 3600)))
    starts = [datetime.fromtimestamp(hours.first + 3600 * i, UTC) for i in range(count)]
    consumption = [hours.use[i] if hours.reported[i] else None for i in range(count)]
    prices = hours.unit_price[:count]
    return pa.table(
        {
            "home_id": [DEMO_TIBBER_HOME_ID] * count,
            "hour_start_at": starts,
            "hour_end_at": [start + timedelta(hours=1) for start in starts],
            "consumption": consumption,
            "cost": [
                None if use is None else round(use * price, 6)
                for use, price in zip(consumption, prices, strict=True)
            ],
            "unit_price": prices,
            "unit_price_vat": [round(price * 19 / 119, 4) for price in prices],
            "currency": ["EUR"] * count,
            "extracted_at": [extracted_at] * count,
        },
        schema=landing.SCHEMAS["tibber_hours"],
    )
