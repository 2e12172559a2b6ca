"""Publishing the marts to a real InfluxDB 1.x server, exactly and incrementally.

The marts are small DuckDB tables built here with the columns of the real marts;
the expected points are written out by hand. Days are local (Europe/Berlin):
2024-03-30 starts at 2024-03-29T23:00Z, 2024-03-31 (the 23-hour DST day) at
2024-03-30T23:00Z, 2024-04-01 at 2024-03-31T22:00Z; March starts at
2024-02-29T23:00Z, April at 2024-03-31T22:00Z.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from core.errors import InfluxError
from load import publish as publish_module
from load import reset
from load.publish import publish_marts
from tests.support.marts import (
    APRIL,
    CD,
    CM,
    D01,
    D30,
    D31,
    MARCH,
    RD,
    RM,
    anomaly,
    expected_example,
    marts_example,
    points_received,
    reading,
    server_point_set,
    server_points,
    settings_for,
    tag_keys,
    used,
    write_marts,
)

pytestmark = pytest.mark.influx


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    write_marts(path, marts_example())
    return path


def test_every_mart_row_comes_back_as_exactly_one_point(
    influxd: Any, influx_db: str, warehouse: Path, tmp_path: Path
) -> None:
    result = publish_marts(settings_for(influxd.url, influx_db, tmp_path), warehouse)

    assert server_point_set(influxd, influx_db) == expected_example()
    assert tag_keys(influxd, influx_db) == {"meter_id"}
    assert result.points_written == 15
    assert result.points_deleted == 0
    assert result.per_measurement == {
        "meter_interpolated_daily": (3, 0),
        "meter_interpolated_monthly": (2, 0),
        "meter_consumption_daily": (5, 0),
        "meter_consumption": (2, 0),
        "meter_anomaly": (2, 0),
        "meter_interval_anomaly": (1, 0),
        "flat_cost_monthly": (0, 0),
    }


def test_unchanged_rerun_sends_no_point_to_the_server(
    influxd: Any, influx_db: str, warehouse: Path, tmp_path: Path
) -> None:
    settings = settings_for(influxd.url, influx_db, tmp_path)
    publish_marts(settings, warehouse)
    received = points_received(influxd)

    result = publish_marts(settings, warehouse)

    assert points_received(influxd) == received
    assert (result.points_written, result.points_deleted) == (0, 0)
    assert server_point_set(influxd, influx_db) == expected_example()


def test_float_noise_of_a_sum_is_no_change_but_a_real_change_is(
    influxd: Any, influx_db: str, warehouse: Path, tmp_path: Path
) -> None:
    """A reading of 110.5 that comes back as 110.5 * (1 + 1e-14) (a sum taken
    in another order) sends nothing; 110.5 * (1 + 1e-9) is a change."""
    settings = settings_for(influxd.url, influx_db, tmp_path)
    publish_marts(settings, warehouse)

    def set_reading(value: float) -> None:
        with duckdb.connect(str(warehouse)) as connection:
            connection.execute(
                "update meter_daily_readings set reading = ? "
                "where meter_id = 'strom' and day = '2024-03-31'",
                [value],
            )

    set_reading(110.5 * (1 + 1e-14))
    assert publish_marts(settings, warehouse).points_written == 0
    set_reading(110.5 * (1 + 1e-9))
    assert publish_marts(settings, warehouse).per_measurement[
        "meter_interpolated_daily"
    ] == (1, 0)


def test_changed_month_start_reading_rewrites_its_days_and_months_only(
    influxd: Any, influx_db: str, warehouse: Path, tmp_path: Path
) -> None:
    """The reading at the start of 2024-04-01 becomes 121.0 (was 120.25).

    Affected: the daily and the monthly reading of 04-01 (2 points), the daily
    consumption of 03-31 (110.5 -> 121.0: 10.5) and of 04-01 (2.0 -> 1.25),
    the monthly consumption of March (121.0 - 50.0 = 71.0) and of April
    (1.25): 6 points, nothing else.
    """
    settings = settings_for(influxd.url, influx_db, tmp_path)
    publish_marts(settings, warehouse)
    marts = marts_example()
    marts["meter_daily_readings"][2] = (
        "strom", "physical", "kWh", "2024-04-01", D01, 121.0, "estimated", True,
    )  # fmt: skip
    marts["meter_monthly_readings"][1] = (
        "strom", "physical", "kWh", "2024-04-01", APRIL, 121.0, "estimated", True,
    )  # fmt: skip
    marts["meter_daily_consumption"][1] = (
        "strom", "physical", "kWh", "2024-03-31", D31, 10.5, True, False,
    )  # fmt: skip
    marts["meter_daily_consumption"][2] = (
        "strom", "physical", "kWh", "2024-04-01", D01, 1.25, True, True,
    )  # fmt: skip
    marts["meter_monthly_consumption"] = [
        ("strom", "physical", "kWh", "2024-03-01", MARCH, 71.0, True, False),
        ("strom", "physical", "kWh", "2024-04-01", APRIL, 1.25, True, True),
    ]
    write_marts(warehouse, marts)
    received = points_received(influxd)

    result = publish_marts(settings, warehouse)

    assert points_received(influxd) - received == 6
    assert result.points_written == 6
    assert result.per_measurement == {
        "meter_interpolated_daily": (1, 0),
        "meter_interpolated_monthly": (1, 0),
        "meter_consumption_daily": (2, 0),
        "meter_consumption": (2, 0),
        "meter_anomaly": (0, 0),
        "meter_interval_anomaly": (0, 0),
        "flat_cost_monthly": (0, 0),
    }
    expected = expected_example()
    anomalies = ("meter_anomaly", "meter_interval_anomaly")
    old = {p for p in expected if p[1] == "strom" and p[0] not in anomalies}
    expected -= {
        reading(RD, "strom", D01, 120.25, 1.0),
        reading(RM, "strom", APRIL, 120.25, 1.0),
        used(CD, "strom", D31, 9.75, 1.0, 0.0),
        used(CD, "strom", D01, 2.0, 1.0, 1.0),
        used(CM, "strom", MARCH, 70.25, 1.0, 0.0),
        used(CM, "strom", APRIL, 2.0, 1.0, 1.0),
    }
    assert len(old - expected) == 6
    expected |= {
        reading(RD, "strom", D01, 121.0, 1.0),
        reading(RM, "strom", APRIL, 121.0, 1.0),
        used(CD, "strom", D31, 10.5, 1.0, 0.0),
        used(CD, "strom", D01, 1.25, 1.0, 1.0),
        used(CM, "strom", MARCH, 71.0, 1.0, 0.0),
        used(CM, "strom", APRIL, 1.25, 1.0, 1.0),
    }
    assert server_point_set(influxd, influx_db) == expected


def test_anomaly_that_went_away_is_deleted_from_the_server(
    influxd: Any, influx_db: str, warehouse: Path, tmp_path: Path
) -> None:
    settings = settings_for(influxd.url, influx_db, tmp_path)
    publish_marts(settings, warehouse)
    marts = marts_example()
    del marts["meter_anomalies"][0]  # strom on 2024-03-30
    write_marts(warehouse, marts)
    received = points_received(influxd)

    result = publish_marts(settings, warehouse)

    assert points_received(influxd) == received
    assert (result.points_written, result.points_deleted) == (0, 1)
    assert result.per_measurement["meter_anomaly"] == (0, 1)
    gone = anomaly("strom", D30, 10.5, 5.0, 2.1)
    assert server_point_set(influxd, influx_db) == expected_example() - {gone}


def test_field_that_became_null_is_removed_not_left_behind(
    influxd: Any, influx_db: str, warehouse: Path, tmp_path: Path
) -> None:
    """The anomaly of strom on 03-30 gets expected 0.0 and so ratio null."""
    settings = settings_for(influxd.url, influx_db, tmp_path)
    publish_marts(settings, warehouse)
    marts = marts_example()
    marts["meter_anomalies"][0] = (
        "strom", "kWh", "2024-03-30", D30, 10.5, 0.0, None, "factor",
    )  # fmt: skip
    write_marts(warehouse, marts)

    result = publish_marts(settings, warehouse)

    assert (result.points_written, result.points_deleted) == (1, 1)
    old = anomaly("strom", D30, 10.5, 5.0, 2.1)
    new = anomaly("strom", D30, 10.5, 0.0)
    assert server_point_set(influxd, influx_db) == expected_example() - {old} | {new}


def test_field_the_mart_no_longer_has_is_removed_not_left_behind(
    influxd: Any, influx_db: str, warehouse: Path, tmp_path: Path
) -> None:
    """strom's consumption of 03-30 was published with a field `ratio`, as
    a release whose daily consumption had that field would have left it:
    the loader deletes that point and writes it again without the field."""
    settings = settings_for(influxd.url, influx_db, tmp_path)
    publish_marts(settings, warehouse)
    (_, meter, time_s, _) = used(CD, "strom", D30, 10.5, 0.0, 0.0)
    influxd.write(
        influx_db,
        f"{CD},meter_id={meter} consumption=10.5,is_estimated=0,is_partial=0,"
        f"ratio=3.5 {time_s}",
    )
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute(
            "update run_state.published_points set ratio = 3.5 "
            f"where measurement = '{CD}' and meter_id = '{meter}' "
            f"and time_s = {time_s}"
        )
    assert used(CD, "strom", D30, 10.5, 0.0, 0.0) not in server_point_set(
        influxd, influx_db
    )

    result = publish_marts(settings, warehouse)

    assert (result.points_written, result.points_deleted) == (1, 1)
    assert server_point_set(influxd, influx_db) == expected_example()


def test_state_of_an_older_release_gains_the_days_field(
    influxd: Any, influx_db: str, warehouse: Path, tmp_path: Path
) -> None:
    """A warehouse whose published record predates the field `days` (of
    meter_interval_anomaly): the column is added, every point published."""
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema run_state")
        connection.execute(
            "create table run_state.published_points (measurement varchar, "
            "meter_id varchar, time_s bigint, value double, consumption double, "
            "expected double, ratio double, is_estimated double, is_partial double)"
        )
    settings = settings_for(influxd.url, influx_db, tmp_path)

    assert publish_marts(settings, warehouse).points_written == 15
    assert server_point_set(influxd, influx_db) == expected_example()
    assert publish_marts(settings, warehouse).points_written == 0


def test_deleting_a_whole_meter_removes_only_its_points(
    influxd: Any, influx_db: str, warehouse: Path, tmp_path: Path
) -> None:
    settings = settings_for(influxd.url, influx_db, tmp_path)
    publish_marts(settings, warehouse)
    marts = {
        table: [row for row in rows if row[0] != "rest_strom"]
        for table, rows in marts_example().items()
    }
    write_marts(warehouse, marts)

    result = publish_marts(settings, warehouse)

    assert (result.points_written, result.points_deleted) == (0, 3)
    assert server_point_set(influxd, influx_db) == {
        p for p in expected_example() if p[1] != "rest_strom"
    }


def daily_marts(meters: list[str], days: int) -> dict[str, list[tuple[Any, ...]]]:
    """Daily readings and consumption, one kWh a day, UTC days for simplicity."""
    first = date(2024, 1, 1)
    readings, consumption = [], []
    for meter in meters:
        for offset in range(days):
            day = first + timedelta(days=offset)
            at = datetime(day.year, day.month, day.day, tzinfo=UTC)
            readings.append(
                (meter, "physical", "kWh", day, at, float(offset), "measured", False)
            )
            consumption.append((meter, "physical", "kWh", day, at, 1.0, False, False))
    return {
        "meter_daily_readings": readings,
        "meter_daily_consumption": consumption,
    }


def expected_daily(meters: list[str], days: int) -> set[tuple[Any, ...]]:
    """What `daily_marts` must become: day n of 2024 has reading n - 1."""
    found = set()
    for meter in meters:
        for offset in range(days):
            at = (datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=offset)).isoformat()
            found.add(reading(RD, meter, at, float(offset), 0.0))
            found.add(used(CD, meter, at, 1.0, 0.0, 0.0))
    return found


def stop_before_batch(
    monkeypatch: pytest.MonkeyPatch, number: int, stop: Callable[[], None]
) -> None:
    """`stop()` the server just before the loader sends batch `number`:
    batches 1 to number - 1 are confirmed, that one fails."""
    write_lines = publish_module.influxdb.write_lines
    sent: list[int] = []

    def stopping(*args: Any, **kwargs: Any) -> int:
        sent.append(1)
        if len(sent) == number:
            stop()
        return write_lines(*args, **kwargs)

    monkeypatch.setattr(publish_module.influxdb, "write_lines", stopping)


def test_load_cut_off_by_a_stopped_server_is_completed_by_the_next_run(
    influxd_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """3 meters x 40 days x 2 measurements = 240 points, in batches of 50."""
    server = influxd_factory()
    server.query('CREATE DATABASE "processed"')
    settings = settings_for(server.url, "processed", tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"
    meters = ["a", "b", "c"]
    write_marts(warehouse, daily_marts(meters, 40))

    stop_before_batch(monkeypatch, 2, server.stop)

    with pytest.raises(InfluxError) as caught:
        publish_marts(settings, warehouse, batch_size=50)
    monkeypatch.undo()
    assert "\n" not in str(caught.value)
    assert server.url in str(caught.value)

    server.start()
    assert len(server_points(server, "processed")) == 50
    result = publish_marts(settings, warehouse, batch_size=50)

    assert result.points_written == 240 - 50
    found = server_points(server, "processed")
    assert len(found) == 240
    assert set(found) == expected_daily(meters, 40)


def test_load_cut_off_by_a_crashed_server_is_completed_by_the_next_run(
    influxd_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """influxd is killed (SIGKILL, no clean shutdown) after batch 2 of 40:
    what it confirmed survives in its WAL, the rest comes with the next run."""
    server = influxd_factory()
    server.query('CREATE DATABASE "processed"')
    settings = settings_for(server.url, "processed", tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"
    meters = ["a", "b", "c", "d"]
    write_marts(warehouse, daily_marts(meters, 100))

    def crash() -> None:
        server.process.kill()
        server.process.wait()

    stop_before_batch(monkeypatch, 3, crash)
    with pytest.raises(InfluxError):
        publish_marts(settings, warehouse, batch_size=20)
    monkeypatch.undo()

    server.start()
    result = publish_marts(settings, warehouse, batch_size=20)

    assert result.points_written == 800 - 2 * 20
    found = server_points(server, "processed")
    assert len(found) == 800
    assert set(found) == expected_daily(meters, 100)


def test_loader_killed_between_write_and_bookkeeping_rewrites_that_batch(
    influxd: Any, influx_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loader dies after InfluxDB confirmed batch 3 but before it was
    recorded, while batch 4 was on its way: the next run sends batches 3 and
    4 again (a rewrite, not a duplicate)."""
    settings = settings_for(influxd.url, influx_db, tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"
    meters = ["a", "b"]
    write_marts(warehouse, daily_marts(meters, 50))  # 200 points
    remember = publish_module._remember
    calls = []

    def dying_remember(connection: Any, first: int, last: int) -> None:
        calls.append(first)
        if len(calls) == 3:
            raise KeyboardInterrupt
        remember(connection, first, last)

    monkeypatch.setattr(publish_module, "_remember", dying_remember)
    with pytest.raises(KeyboardInterrupt):
        publish_marts(settings, warehouse, batch_size=30)
    monkeypatch.setattr(publish_module, "_remember", remember)
    assert len(server_points(influxd, influx_db)) == 4 * 30

    result = publish_marts(settings, warehouse, batch_size=30)

    assert result.points_written == 200 - 2 * 30
    found = server_points(influxd, influx_db)
    assert len(found) == 200
    assert set(found) == expected_daily(meters, 50)
    assert publish_marts(settings, warehouse).points_written == 0


UGLY_METER_IDS = ["flur strom", "a,b", "x=y", 'quote"d', "back\\slash", "o'brien"]


def test_ugly_meter_ids_round_trip_and_can_be_deleted(
    influxd: Any, influx_db: str, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    rows = [
        (meter, "kWh", "2024-03-30", D30, 10.0 + i, 2.0, 5.0 + i / 2, "factor")
        for i, meter in enumerate(UGLY_METER_IDS)
    ]
    write_marts(warehouse, {"meter_anomalies": rows})
    settings = settings_for(influxd.url, influx_db, tmp_path)

    publish_marts(settings, warehouse)

    expected = {
        anomaly(meter, D30, 10.0 + i, 2.0, 5.0 + i / 2)
        for i, meter in enumerate(UGLY_METER_IDS)
    }
    assert server_point_set(influxd, influx_db) == expected

    write_marts(warehouse, {"meter_anomalies": []})
    result = publish_marts(settings, warehouse)

    assert result.points_deleted == len(UGLY_METER_IDS)
    assert server_point_set(influxd, influx_db) == set()


def test_points_after_as_of_are_not_published(
    influxd: Any, influx_db: str, warehouse: Path, tmp_path: Path
) -> None:
    settings = settings_for(influxd.url, influx_db, tmp_path)
    as_of = datetime(2024, 3, 31, 12, tzinfo=UTC)  # before April's start

    publish_marts(settings, warehouse, as_of=as_of)

    april = int(datetime(2024, 3, 31, 22, tzinfo=UTC).timestamp())
    assert server_point_set(influxd, influx_db) == {
        p for p in expected_example() if p[2] < april
    }


def test_missing_marts_are_reported_in_one_line(
    influxd: Any, influx_db: str, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).close()
    with pytest.raises(Exception, match="run dbt build") as caught:
        publish_marts(settings_for(influxd.url, influx_db, tmp_path), warehouse)
    assert "\n" not in str(caught.value)


class Terminal(io.StringIO):
    """Typed input on a terminal."""

    def isatty(self) -> bool:
        return True


def test_reset_after_yes_empties_the_bucket_and_next_run_republishes_all(
    influxd: Any, influx_db: str, warehouse: Path, tmp_path: Path
) -> None:
    settings = settings_for(influxd.url, influx_db, tmp_path)
    publish_marts(settings, warehouse)
    out, err = io.StringIO(), io.StringIO()

    code = reset.main(Terminal("yes\n"), out, err, lambda: settings)

    assert (code, err.getvalue()) == (0, "")
    assert server_point_set(influxd, influx_db) == set()
    result = publish_marts(settings, warehouse)
    assert result.points_written == 15
    assert server_point_set(influxd, influx_db) == expected_example()


@pytest.mark.parametrize(
    "stdin", [io.StringIO("yes\n"), Terminal("no\n"), Terminal("")]
)
def test_reset_without_terminal_or_yes_deletes_nothing_and_says_so(
    influxd: Any, influx_db: str, warehouse: Path, tmp_path: Path, stdin: Any
) -> None:
    settings = settings_for(influxd.url, influx_db, tmp_path)
    publish_marts(settings, warehouse)
    err = io.StringIO()

    code = reset.main(stdin, io.StringIO(), err, lambda: settings)

    assert code == 1
    assert "nothing deleted" in err.getvalue()
    assert server_point_set(influxd, influx_db) == expected_example()
    assert publish_marts(settings, warehouse).points_written == 0


def test_field_type_conflict_names_measurement_and_field_in_one_line(
    influxd: Any, influx_db: str, warehouse: Path, tmp_path: Path
) -> None:
    """An older writer stored `expected` of meter_anomaly as an integer, in
    the same week (InfluxDB 1.x keeps field types per shard, a week here)."""
    influxd.write(influx_db, "meter_anomaly,meter_id=old expected=3i 1711753200")

    with pytest.raises(InfluxError) as caught:
        publish_marts(settings_for(influxd.url, influx_db, tmp_path), warehouse)

    message = str(caught.value)
    assert "\n" not in message
    assert '"expected"' in message
    assert '"meter_anomaly"' in message


def test_flat_costs_are_points_tagged_by_flat_and_cost_item(
    influxd: Any, influx_db: str, tmp_path: Path
) -> None:
    """Two flats' water cost of March (one unrounded third of a euro), then
    og1's row vanishes: its point (and only it) is deleted by its two tags."""
    warehouse = tmp_path / "warehouse.duckdb"
    marts = marts_example()
    marts["flat_cost_monthly"] = [
        ("2024-03-01", MARCH, "og1", "water", 12.5, False),
        ("2024-03-01", MARCH, "eg", "water", 1 / 3, True),
        ("2024-03-01", MARCH, "eg", "gas heating", 40.25, False),
    ]
    write_marts(warehouse, marts)
    settings = settings_for(influxd.url, influx_db, tmp_path)

    result = publish_marts(settings, warehouse)

    assert result.per_measurement["flat_cost_monthly"] == (3, 0)
    march = int(datetime.fromisoformat("2024-02-29T23:00:00+00:00").timestamp())

    def flat_points() -> set[tuple[Any, ...]]:
        answer = influxd.query('SELECT * FROM "flat_cost_monthly"', influx_db)
        found = set()
        for series in answer["results"][0].get("series", []):
            for values in series["values"]:
                row = dict(zip(series["columns"], values, strict=True))
                found.add(
                    (row["flat_id"], row["cost_item"], row["time"], row["amount_eur"])
                )
        return found

    assert flat_points() == {
        ("og1", "water", march, 12.5),
        ("eg", "water", march, 1 / 3),
        ("eg", "gas heating", march, 40.25),
    }
    marts["flat_cost_monthly"] = marts["flat_cost_monthly"][1:]
    write_marts(warehouse, marts)

    result = publish_marts(settings, warehouse)

    assert result.per_measurement["flat_cost_monthly"] == (0, 1)
    assert flat_points() == {
        ("eg", "water", march, 1 / 3),
        ("eg", "gas heating", march, 40.25),
    }
    assert server_point_set(influxd, influx_db) >= expected_example()


def test_points_of_a_mart_that_is_gone_are_deleted(
    influxd: Any, influx_db: str, tmp_path: Path
) -> None:
    """The flats' costs are published, then the warehouse no longer holds
    the (optional) mart: its points go, every other point stays."""
    warehouse = tmp_path / "warehouse.duckdb"
    marts = marts_example()
    marts["flat_cost_monthly"] = [
        ("2024-03-01", MARCH, "og1", "water", 12.5, False),
        ("2024-03-01", MARCH, "eg", "water", 1 / 3, True),
    ]
    write_marts(warehouse, marts)
    settings = settings_for(influxd.url, influx_db, tmp_path)
    publish_marts(settings, warehouse)
    with duckdb.connect(str(warehouse)) as db:
        db.execute("drop table main.flat_cost_monthly")

    result = publish_marts(settings, warehouse)

    assert (result.points_written, result.points_deleted) == (0, 2)
    assert server_point_set(influxd, influx_db) == expected_example()
    answer = influxd.query('SELECT * FROM "flat_cost_monthly"', influx_db)
    assert "series" not in answer["results"][0]
