"""Tibber hours from the landing zone to INFLUX_BUCKET_RAW on a real InfluxDB 1.x."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from core import landing, run_state
from core.errors import ConfigError
from core.settings import Settings, load_settings
from load.tibber_hours import publish_hours
from tests.support.marts import points_received

pytestmark = pytest.mark.influx

H0 = datetime(2024, 3, 31, 0, tzinfo=UTC)  # 1711843200
H1 = H0 + timedelta(hours=1)  # 1711846800
H2 = H0 + timedelta(hours=2)  # 1711850400
H3 = H0 + timedelta(hours=3)  # 1711854000


def hours(
    rows: list[tuple[Any, ...]], extracted_at: datetime | None = None
) -> pa.Table:
    """(home_id, hour_start_at, consumption, cost, unit_price, unit_price_vat)."""
    extracted_at = extracted_at or datetime(2024, 4, 1, tzinfo=UTC)
    columns: dict[str, list[Any]] = {
        name: [] for name in landing.SCHEMAS["tibber_hours"].names
    }
    for home, start, consumption, cost, price, price_vat in rows:
        columns["home_id"].append(home)
        columns["hour_start_at"].append(start)
        columns["hour_end_at"].append(start + timedelta(hours=1))
        columns["consumption"].append(consumption)
        columns["cost"].append(cost)
        columns["unit_price"].append(price)
        columns["unit_price_vat"].append(price_vat)
        columns["currency"].append("EUR")
        columns["extracted_at"].append(extracted_at)
    return pa.table(columns, schema=landing.SCHEMAS["tibber_hours"])


def settings_for(url: str, db: str, data_dir: Path, **extra: str) -> Settings:
    environ = {
        "INFLUX_URL": url,
        "INFLUX_API_VERSION": "1",
        "INFLUX_BUCKET_RAW": db,
        "DATA_DIR": str(data_dir),
        **extra,
    }
    return load_settings(data_dir, environ)


def energy_points(server: Any, db: str) -> dict[int, dict[str, Any]]:
    """time_s -> every column but time (tags and the fields that exist)."""
    answer = server.query('SELECT * FROM "energy"', db)
    found = {}
    for series in answer["results"][0].get("series", []):
        for row in series["values"]:
            record = dict(zip(series["columns"], row, strict=True))
            time_s = record.pop("time")
            found[time_s] = {k: v for k, v in record.items() if v is not None}
    return found


def tag_keys(server: Any, db: str) -> set[str]:
    answer = server.query('SHOW TAG KEYS FROM "energy"', db)
    series = answer["results"][0].get("series", [])
    return {row[0] for s in series for row in s["values"]}


def test_hours_are_written_with_meter_tags_and_without_null_fields(
    influxd: Any, influx_db: str, tmp_path: Path
) -> None:
    landing.append(
        tmp_path,
        "tibber_hours",
        hours(
            [
                ("home-1", H0, 0.25, 0.075, 0.3, 0.357),
                ("home-1", H1, 0.5, None, None, None),
                ("home-1", H2, None, 0.1, 0.3, 0.357),
                ("home-1", H3, None, None, None, None),
            ]
        ),
    )

    written = publish_hours(settings_for(influxd.url, influx_db, tmp_path))

    assert written == 3  # H3 has no value at all: no point
    tags = {"entity_id": "haupt_strom", "domain": "sensor"}
    assert energy_points(influxd, influx_db) == {
        1711843200: {
            **tags,
            "consumption": 0.25,
            "cost": 0.075,
            "unit_price": 0.3,
            "unit_price_vat": 0.357,
        },
        1711846800: {**tags, "consumption": 0.5},
        1711850400: {**tags, "cost": 0.1, "unit_price": 0.3, "unit_price_vat": 0.357},
    }
    assert tag_keys(influxd, influx_db) == {"entity_id", "domain"}


def test_rerun_writes_nothing_and_a_revised_hour_only_itself(
    influxd: Any, influx_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rerun with no new landing file does not even read the hours."""
    settings = settings_for(
        influxd.url, influx_db, tmp_path, TIBBER_METER_ID="zaehler 1"
    )
    landing.append(
        tmp_path,
        "tibber_hours",
        hours(
            [
                ("home-1", H0, 0.25, 0.075, 0.3, 0.357),
                ("home-1", H1, 0.5, 0.15, 0.3, 0.357),
            ]
        ),
    )
    assert publish_hours(settings) == 2
    received = points_received(influxd)

    with monkeypatch.context() as patch:
        patch.setattr(landing, "current", pytest.fail)
        assert publish_hours(settings) == 0
    assert points_received(influxd) == received

    # Tibber revises H1 (a later extraction of the same key replaces it).
    landing.append(
        tmp_path,
        "tibber_hours",
        hours(
            [("home-1", H1, 0.75, 0.225, 0.3, 0.357)], datetime(2024, 4, 2, tzinfo=UTC)
        ),
    )
    assert publish_hours(settings) == 1
    assert points_received(influxd) - received == 1
    tags = {"entity_id": "zaehler 1", "domain": "sensor"}
    assert energy_points(influxd, influx_db)[1711846800] == {
        **tags,
        "consumption": 0.75,
        "cost": 0.225,
        "unit_price": 0.3,
        "unit_price_vat": 0.357,
    }


def test_another_target_gets_every_hour_though_no_landing_file_is_new(
    influxd: Any, influx_db: str, tmp_path: Path
) -> None:
    """What was checked against one bucket says nothing of another."""
    landing.append(
        tmp_path,
        "tibber_hours",
        hours(
            [
                ("home-1", H0, 0.25, 0.075, 0.3, 0.357),
                ("home-1", H1, 0.5, 0.15, 0.3, 0.357),
            ]
        ),
    )
    assert publish_hours(settings_for(influxd.url, influx_db, tmp_path)) == 2
    other = f"{influx_db}_other"
    influxd.query(f'CREATE DATABASE "{other}"')
    try:
        assert publish_hours(settings_for(influxd.url, other, tmp_path)) == 2
        assert set(energy_points(influxd, other)) == {1711843200, 1711846800}
    finally:
        influxd.query(f'DROP DATABASE "{other}"')


def test_several_homes_need_tibber_home_id(
    influxd: Any, influx_db: str, tmp_path: Path
) -> None:
    landing.append(
        tmp_path,
        "tibber_hours",
        hours(
            [("home-1", H0, 0.25, 0.1, 0.3, 0.3), ("home-2", H0, 9.0, 9.0, 9.0, 9.0)]
        ),
    )
    with pytest.raises(ConfigError, match="TIBBER_HOME_ID"):
        publish_hours(settings_for(influxd.url, influx_db, tmp_path))

    chosen = settings_for(influxd.url, influx_db, tmp_path, TIBBER_HOME_ID="home-1")
    assert publish_hours(chosen) == 1
    assert energy_points(influxd, influx_db)[1711843200]["consumption"] == 0.25


def test_no_hours_in_the_landing_zone_writes_nothing(
    influxd: Any, influx_db: str, tmp_path: Path
) -> None:
    assert publish_hours(settings_for(influxd.url, influx_db, tmp_path)) == 0


def test_hours_gone_from_the_landing_zone_are_deleted_from_influxdb(
    influxd: Any, influx_db: str, tmp_path: Path
) -> None:
    """H0..H3 published; then H1 and H3 get tombstones (Tibber no longer
    reports them): two runs of vanished hours ([H1] and [H3], H2 stays
    between them), so H0 and H2 are left; a rerun deletes nothing more."""
    settings = settings_for(influxd.url, influx_db, tmp_path)
    landing.append(
        tmp_path,
        "tibber_hours",
        hours(
            [
                ("home-1", h, 1.0 + i, 0.1, 0.3, 0.357)
                for i, h in enumerate((H0, H1, H2, H3))
            ]
        ),
    )
    assert publish_hours(settings) == 4
    # another series of the same measurement is not touched
    influxd.write(
        influx_db, f"energy,entity_id=other,domain=sensor consumption=9 {1711846800}"
    )
    landing.append(
        tmp_path,
        "tibber_hours_deleted",
        pa.table(
            {
                "home_id": ["home-1", "home-1"],
                "hour_start_at": [H1, H3],
                "extracted_at": [datetime(2024, 4, 2, tzinfo=UTC)] * 2,
            },
            schema=landing.SCHEMAS["tibber_hours_deleted"],
        ),
    )

    assert publish_hours(settings) == 0

    left = energy_points(influxd, influx_db)
    assert sorted(left) == [1711843200, 1711846800, 1711850400]
    assert left[1711846800] == {
        "entity_id": "other",
        "domain": "sensor",
        "consumption": 9.0,
    }
    assert left[1711850400]["consumption"] == 3.0  # H2: 1.0 + 2
    received = points_received(influxd)
    assert publish_hours(settings) == 0
    assert points_received(influxd) == received


def test_the_record_of_an_older_version_still_knows_what_was_written(
    influxd: Any, influx_db: str, tmp_path: Path
) -> None:
    """The previous version kept the record in
    DATA_DIR/state/tibber_hours_published.parquet: moved into the warehouse
    on the first run, it still says the hour is written (not again)."""
    settings = settings_for(influxd.url, influx_db, tmp_path)
    one_hour = hours([("home-1", H0, 1.0, 0.3, 0.3, 0.357)])
    landing.append(tmp_path, "tibber_hours", one_hour)
    assert publish_hours(settings) == 1
    received = points_received(influxd)
    old_file = tmp_path / "state" / "tibber_hours_published.parquet"
    old_file.parent.mkdir()
    with duckdb.connect(str(settings.warehouse)) as db:
        db.execute(
            f"copy run_state.tibber_hours_published to '{old_file}' (format parquet)"
        )
        db.execute("drop table run_state.tibber_hours_published")
        db.execute("drop table run_state.tibber_hours_checked")  # newer

    assert run_state.migrate(tmp_path) == ["state/tibber_hours_published.parquet"]

    assert not old_file.exists()
    assert publish_hours(settings) == 0
    assert points_received(influxd) == received
