"""The owner corrects the source; the next normal run follows, point by point.

Against the real influxd: the demo house's history in InfluxDB 1.x and the
Tibber GraphQL server. A reading of the hand-read meter og1_strom, years
before as_of, is deleted in InfluxDB (one test) or was wrong and is corrected
in place at the same instant (the other); a Tibber hour inside the 30 days
Tibber is re-read for disappears. The next normal run (no flag) must leave
the landing zone's current rows, the marts and the processed bucket exactly
as a fresh full run on the corrected source does.
"""

from __future__ import annotations

import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.fixtures_pipeline import (
    Baseline,
    House,
    HouseHistory,
    epoch_us,
    ha_line,
    landing_rows,
    mart_rows,
)

pytestmark = pytest.mark.influx

# og1_strom's readings around it (demo history): 2023-02-15T19:26Z 11261.9
READING_AT = datetime(2023, 1, 6, 19, 28, tzinfo=UTC)
READING_VALUE = 11030.1
# Tibber's hour 2026-11-20T12:00Z: a week before as_of (2026-11-27T10:00Z)
HOUR_AT = datetime(2026, 11, 20, 12, tzinfo=UTC)


def ok(result: Any) -> None:
    assert result.returncode == 0, result.stdout + result.stderr


def fresh_run_on(house: House, tmp_path: Path) -> House:
    """A fresh full run on the same raw database and Tibber server: a new
    DATA_DIR and a new processed database."""
    processed = f"lampfi_processed_{uuid.uuid4().hex[:10]}"
    house.server.query(f'CREATE DATABASE "{processed}" WITH SHARD DURATION 520w')
    fresh = House(
        server=house.server,
        tibber=house.tibber,
        raw_db=house.raw_db,
        processed_db=processed,
        data_dir=Path(tempfile.mkdtemp(prefix="fresh-", dir=tmp_path)),
        history=house.history,
    )
    ok(fresh.run())
    return fresh


def energy_times(house: House) -> set[int]:
    answer = house.server.query(
        'SELECT consumption FROM "energy" WHERE "entity_id" = \'haupt_strom\'',
        db=house.raw_db,
    )
    series = answer["results"][0].get("series") or []
    return {row[0] for s in series for row in s["values"]}


def test_reading_and_tibber_hour_deleted_at_the_source_vanish_everywhere(
    house: House, baseline: Baseline, house_history: HouseHistory, tmp_path: Path
) -> None:
    assert ("og1_strom", "kWh", READING_AT, READING_VALUE) in house_history.readings
    house.use_copy_of(baseline.data_dir)  # a house that ran once, as baseline
    house.server.query(
        'DELETE FROM "kWh" WHERE "entity_id" = \'og1_strom\' '
        f"AND time = {epoch_us(READING_AT)}000",
        db=house.raw_db,
    )
    hours = house.tibber.homes[house_history.home_id]
    house.tibber.homes[house_history.home_id] = [h for h in hours if h.start != HOUR_AT]
    assert len(house.tibber.homes[house_history.home_id]) == len(hours) - 1

    result = house.run()

    ok(result)
    assert (
        "1 meter read again in full (changed at the source), "
        "1 reading gone from InfluxDB" in result.stdout
    )
    assert "1 gone" in result.stdout  # the Tibber hour
    hour_s = int(HOUR_AT.timestamp())
    assert hour_s not in energy_times(house)  # raw-bucket copy follows
    assert hour_s - 3600 in energy_times(house)  # its neighbour stays

    fresh = fresh_run_on(house, tmp_path)
    assert landing_rows(house.data_dir) == landing_rows(fresh.data_dir)
    assert mart_rows(house.data_dir) == mart_rows(fresh.data_dir)
    assert house.processed() == fresh.processed()
    assert mart_rows(house.data_dir) != baseline.marts  # the change showed


def test_reading_corrected_in_place_years_later_is_published_as_a_fresh_run(
    house_factory: Any, baseline: Baseline, house_history: HouseHistory
) -> None:
    """The wrong value 11130.1 (100 kWh too much, still below the next
    reading 11261.9) is published first; the owner writes 11030.1 at the same
    instant; the next normal run equals the baseline, a fresh full run on
    the corrected source."""
    house = house_factory(readings=False)
    wrong = [
        ha_line(unit, meter, 11130.1 if at == READING_AT else value, at)
        if meter == "og1_strom"
        else ha_line(unit, meter, value, at)
        for meter, unit, at, value in house_history.readings
    ]
    house.write(wrong)
    ok(house.run())
    assert mart_rows(house.data_dir) != baseline.marts

    house.write([ha_line("kWh", "og1_strom", READING_VALUE, READING_AT)])
    result = house.run()

    ok(result)
    assert "1 meter read again in full (changed at the source)" in result.stdout
    assert "gone from InfluxDB" not in result.stdout
    assert "incremental" in result.stdout
    assert landing_rows(house.data_dir) == baseline.landing
    assert mart_rows(house.data_dir) == baseline.marts
    assert house.processed() == baseline.processed
