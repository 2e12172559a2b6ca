"""Extracting readings from a real InfluxDB 1.6 server (influxd fixture).

Data is written in Home Assistant's schema: measurement = unit, tags
entity_id and domain=input_number, float field `value`.

The house's physical meters (seeds/meters.csv) each get three readings, on
days 0, 10 and 20 after BASE, meter number i (0-based, seed order) shifted by
i hours and every instant by 0.123456 s; value = 1000 * i + day * 1.25
(exact in binary floating point).
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core import landing
from core.errors import InfluxError
from core.settings import Settings, load_settings
from extract.influx import extract_readings
from tests.support.fixtures_influx import InfluxServer, free_port

pytestmark = pytest.mark.influx

SEEDS = Path(__file__).resolve().parents[2] / "seeds" / "meters.csv"
BASE = datetime(2024, 3, 1, tzinfo=UTC)
FRACTION = timedelta(microseconds=123456)
DAYS = (0, 10, 20)
RUN_1 = datetime(2024, 4, 1, 6, 0, tzinfo=UTC)
RUN_2 = datetime(2024, 4, 2, 6, 0, tzinfo=UTC)
RUN_3 = datetime(2024, 4, 3, 6, 0, tzinfo=UTC)


def physical_meters() -> dict[str, str]:
    with SEEDS.open(newline="") as handle:
        return {
            row["meter_id"]: row["unit"]
            for row in csv.DictReader(handle)
            if row["meter_type"] == "physical"
        }


METERS = physical_meters()


def instant(index: int, day: int) -> datetime:
    return BASE + timedelta(days=day, hours=index) + FRACTION


def epoch_us(moment: datetime) -> int:
    return round(
        (moment - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1)
    )


def ha_line(measurement: str, entity_id: str, value: float | str, at: datetime) -> str:
    """Home Assistant's line, timestamp in microseconds (precision=u)."""

    def escape(text: str) -> str:
        return text.replace(",", "\\,").replace(" ", "\\ ").replace("=", "\\=")

    field = f'"{value}"' if isinstance(value, str) else repr(float(value))
    return (
        f"{escape(measurement)},domain=input_number,entity_id={escape(entity_id)} "
        f"value={field} {epoch_us(at)}"
    )


def write(server: InfluxServer, db: str, lines: list[str]) -> None:
    server.write(db, "\n".join(lines), precision="u")


def house_lines() -> list[str]:
    return [
        ha_line(unit, meter_id, 1000 * index + day * 1.25, instant(index, day))
        for index, (meter_id, unit) in enumerate(METERS.items())
        for day in DAYS
    ]


def settings_for(root: Path, url: str, db: str, token: str | None = None) -> Settings:
    environ = {
        "INFLUX_URL": url,
        "INFLUX_API_VERSION": "1",
        "INFLUX_BUCKET_RAW": db,
        "DATA_DIR": str(root / "data"),
    }
    if token:
        environ["INFLUX_TOKEN"] = token
    return load_settings(root=root, environ=environ)


def landed(settings: Settings) -> dict[tuple[str, datetime], tuple[float, str]]:
    table = landing.current(settings.data_dir, "readings")
    return {
        (row["meter_id"], row["measured_at"]): (row["value"], row["unit"])
        for row in table.to_pylist()
    }


def data_files(settings: Settings) -> list[str]:
    folder = landing.table_dir(settings.data_dir, "readings")
    return sorted(
        p.name for p in folder.glob("*.parquet") if p.name != landing.SCHEMA_FILE
    )


def listing(root: Path) -> list[tuple[str, int, int]]:
    return sorted(
        (str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
    )


@pytest.fixture
def house(influxd: InfluxServer, influx_db: str, tmp_path: Path) -> Settings:
    write(influxd, influx_db, house_lines())
    return settings_for(tmp_path, influxd.url, influx_db)


def test_the_house_has_22_physical_meters_in_three_units() -> None:
    # Counted by hand in seeds/meters.csv: 6 kWh electricity + 3 kWh gas
    # heating + 1 kWh solar, 2 m³ gas + 5 m³ water, 5 MWh heat.
    units = list(METERS.values())
    assert (units.count("kWh"), units.count("m³"), units.count("MWh")) == (10, 7, 5)
    assert len(METERS) == 22


def test_extract_lands_every_reading_of_every_physical_meter_exactly(
    house: Settings,
) -> None:
    result = extract_readings(house, METERS, extracted_at=RUN_1)

    expected = {
        (meter_id, instant(index, day)): (1000 * index + day * 1.25, unit)
        for index, (meter_id, unit) in enumerate(METERS.items())
        for day in DAYS
    }
    assert len(expected) == 66  # 22 meters x 3 readings
    assert landed(house) == expected
    assert result.points_read == 66
    assert result.rows_written == 66
    assert result.unknown_entities == []
    assert result.watermark is None  # nothing had landed before
    assert len(data_files(house)) == 1
    table = landing.current(house.data_dir, "readings")
    assert set(table.column("extracted_at").to_pylist()) == {RUN_1}
    # spot check by hand: og2_wasser_warm is meter 15 (0-based), m³, day 20
    assert expected[
        ("og2_wasser_warm", datetime(2024, 3, 21, 15, 0, 0, 123456, UTC))
    ] == (
        15025.0,
        "m³",
    )


def test_second_extract_without_new_data_adds_no_file(house: Settings) -> None:
    extract_readings(house, METERS, extracted_at=RUN_1)
    files = data_files(house)

    result = extract_readings(house, METERS, extracted_at=RUN_2)

    assert result.rows_written == 0
    assert data_files(house) == files
    # watermark: the last meter (index 21, solarspeicher) on day 20, 21:00:00.123456
    assert result.watermark == datetime(2024, 3, 21, 21, 0, 0, 123456, UTC)


def test_new_reading_arrives_on_next_run(
    house: Settings, influxd: InfluxServer, influx_db: str
) -> None:
    extract_readings(house, METERS, extracted_at=RUN_1)
    later = datetime(2024, 3, 25, 8, 30, 15, 500000, UTC)
    write(influxd, influx_db, [ha_line("kWh", "haupt_strom", 42.75, later)])

    result = extract_readings(house, METERS, extracted_at=RUN_2)

    assert result.rows_written == 1
    assert len(data_files(house)) == 2
    assert landed(house)[("haupt_strom", later)] == (42.75, "kWh")
    assert len(landed(house)) == 67


def test_edited_reading_inside_overlap_replaces_old_value(
    house: Settings, influxd: InfluxServer, influx_db: str
) -> None:
    extract_readings(house, METERS, extracted_at=RUN_1)
    og1 = list(METERS).index("og1_strom")  # 4
    edited_at = instant(og1, 20)  # 2024-03-21T04:00:00.123456Z, inside 7 days
    write(influxd, influx_db, [ha_line("kWh", "og1_strom", 4099.5, edited_at)])

    result = extract_readings(house, METERS, extracted_at=RUN_2)

    assert og1 == 4
    assert result.rows_written == 1
    assert landed(house)[("og1_strom", edited_at)] == (4099.5, "kWh")
    # the readings of day 20 of all 22 meters lie inside the window
    # [21:00:00.123456 on day 20 - 7 days, ...); days 0 and 10 do not
    assert result.points_read == 22


def deleted_rows(settings: Settings) -> set[tuple[str, datetime, datetime]]:
    table = landing.current(settings.data_dir, "readings_deleted")
    return {
        (row["meter_id"], row["measured_at"], row["extracted_at"])
        for row in table.to_pylist()
    }


def test_edit_outside_overlap_is_found_by_the_fingerprint(
    house: Settings, influxd: InfluxServer, influx_db: str
) -> None:
    """The watermark is day 20 of meter 21 (2024-03-21T21:00:00.123456Z); the
    window starts 7 days earlier, so days 0 and 10 of every meter lie before
    it and are only fingerprinted: 22 meters x 2 readings = 44 points counted
    by InfluxDB. haupt_strom's day-10 reading is corrected in place: its
    fingerprint differs, so its 3 readings are read again; the 21 others
    send their day-20 reading only: 3 + 21 = 24 points read."""
    extract_readings(house, METERS, extracted_at=RUN_1)
    edited_at = instant(0, 10)  # haupt_strom, day 10: 11 days before watermark
    write(influxd, influx_db, [ha_line("kWh", "haupt_strom", 7.5, edited_at)])

    incremental = extract_readings(house, METERS, extracted_at=RUN_2)

    assert incremental.fingerprinted_meters == 22
    assert incremental.fingerprinted_points == 44
    assert incremental.reread_meters == ["haupt_strom"]
    assert incremental.points_read == 24
    assert incremental.rows_written == 1
    assert incremental.rows_deleted == 0
    assert landed(house)[("haupt_strom", edited_at)] == (7.5, "kWh")

    again = extract_readings(house, METERS, extracted_at=RUN_3)
    assert again.reread_meters == []
    assert again.points_read == 22  # day 20 of each meter
    assert again.rows_written == 0


def test_reading_deleted_at_any_age_gets_a_tombstone(
    house: Settings, influxd: InfluxServer, influx_db: str
) -> None:
    """og1_strom (meter 4) loses its day-0 reading (before the window) and
    eg_strom (meter 3) its day-20 reading (inside it): each gets a tombstone,
    the landing zone's current rows are the 66 - 2 = 64 left in InfluxDB."""
    extract_readings(house, METERS, extracted_at=RUN_1)
    files = data_files(house)
    old, recent = instant(4, 0), instant(3, 20)
    for meter_id, at in (("og1_strom", old), ("eg_strom", recent)):
        influxd.query(
            f'DELETE FROM "kWh" WHERE "entity_id" = \'{meter_id}\' '
            f"AND time = {epoch_us(at)}000",
            db=influx_db,
        )

    result = extract_readings(house, METERS, extracted_at=RUN_2)

    assert list(METERS)[3:5] == ["eg_strom", "og1_strom"]
    assert result.reread_meters == ["og1_strom"]
    assert result.rows_written == 0
    assert result.rows_deleted == 2
    assert deleted_rows(house) == {
        ("og1_strom", old, RUN_2),
        ("eg_strom", recent, RUN_2),
    }
    current = landed(house)
    assert len(current) == 64
    assert ("og1_strom", old) not in current and ("eg_strom", recent) not in current
    assert data_files(house) == files  # append-only: the old file is untouched

    # written back (the owner undoes the delete): the later extraction wins
    write(influxd, influx_db, [ha_line("kWh", "og1_strom", 4000.0, old)])
    back = extract_readings(house, METERS, extracted_at=RUN_3)
    assert back.rows_written == 1
    assert landed(house)[("og1_strom", old)] == (4000.0, "kWh")  # 1000 * 4 + 0


def test_meter_without_any_reading_left_keeps_its_landed_readings(
    house: Settings, influxd: InfluxServer, influx_db: str
) -> None:
    """A meter whose readings are all gone (e.g. INFLUX_BUCKET_RAW pointed at
    the wrong database, or a retention policy) is not wiped."""
    extract_readings(house, METERS, extracted_at=RUN_1)
    influxd.query('DELETE FROM "kWh" WHERE "entity_id" = \'haupt_strom\'', db=influx_db)

    result = extract_readings(house, METERS, extracted_at=RUN_2)

    assert result.reread_meters == ["haupt_strom"]
    assert result.rows_deleted == 0
    assert len(landed(house)) == 66


def test_meter_never_landed_is_read_from_the_beginning(
    house: Settings, influxd: InfluxServer, influx_db: str
) -> None:
    only_heat = {"buro_heat": "MWh"}
    extract_readings(house, only_heat, extracted_at=RUN_1)

    result = extract_readings(house, METERS, extracted_at=RUN_2)

    # buro_heat's 3 rows had landed; the 21 other meters x 3 are new
    assert result.rows_written == 63
    assert len(landed(house)) == 66


def test_unknown_input_number_entity_is_reported_and_not_landed(
    house: Settings, influxd: InfluxServer, influx_db: str
) -> None:
    at = datetime(2024, 3, 5, tzinfo=UTC)
    write(
        influxd,
        influx_db,
        [
            ha_line("kWh", "keller_strom", 5.0, at),
            ha_line("m³", "garten_wasser", 1.0, at),
            # another domain is not a meter and not reported
            f"W,domain=sensor,entity_id=power value=3 {epoch_us(at)}",
        ],
    )

    result = extract_readings(house, METERS, extracted_at=RUN_1)

    assert result.unknown_entities == ["garten_wasser", "keller_strom"]
    assert {meter for meter, _ in landed(house)} == set(METERS)


def test_awkward_entity_ids_round_trip_and_inject_nothing(
    influxd: InfluxServer, influx_db: str, tmp_path: Path
) -> None:
    awkward = 'o\'brien "x", y\\z'
    injection = "' OR \"entity_id\" =~ /.*/ OR 'x'='"
    at = datetime(2024, 3, 5, 12, tzinfo=UTC)
    write(
        influxd,
        influx_db,
        [
            ha_line("kWh", awkward, 3.25, at),
            ha_line("kWh", "victim", 99.0, at),
        ],
    )
    settings = settings_for(tmp_path, influxd.url, influx_db)

    result = extract_readings(
        settings, {awkward: "kWh", injection: "kWh"}, extracted_at=RUN_1
    )

    assert landed(settings) == {(awkward, at): (3.25, "kWh")}
    assert result.points_read == 1
    assert result.unknown_entities == ["victim"]


def test_several_values_at_one_instant_keep_the_seed_unit(
    influxd: InfluxServer, influx_db: str, tmp_path: Path
) -> None:
    at = datetime(2024, 3, 5, 12, tzinfo=UTC)
    other = datetime(2024, 3, 6, 12, tzinfo=UTC)
    write(
        influxd,
        influx_db,
        [
            ha_line("Wh", "eg_strom", 5000.0, at),
            ha_line("kWh", "eg_strom", 5.0, at),
            # neither is the seed's unit: the smaller unit name wins ("Wh" < "kW")
            ha_line("kW", "eg_strom", 1.0, other),
            ha_line("Wh", "eg_strom", 1000.0, other),
        ],
    )
    settings = settings_for(tmp_path, influxd.url, influx_db)

    result = extract_readings(settings, {"eg_strom": "kWh"}, extracted_at=RUN_1)

    assert result.points_read == 4
    assert result.duplicate_instants == 2
    assert landed(settings) == {
        ("eg_strom", at): (5.0, "kWh"),
        ("eg_strom", other): (1000.0, "Wh"),
    }
    # the values dropped are landed as reading issues, once
    extract_readings(settings, {"eg_strom": "kWh"}, extracted_at=RUN_1)
    issues = landing.query(
        settings.data_dir,
        "reading_issues",
        "select meter_id, measured_at, issue, value, unit from landed",
    )
    assert sorted(tuple(row.values()) for row in issues.to_pylist()) == [
        ("eg_strom", at, "duplicate_instant", "5000.0", "Wh"),
        ("eg_strom", other, "duplicate_instant", "1.0", "kW"),
    ]


def test_string_values_in_a_bad_series_do_not_crash(
    influxd: InfluxServer, influx_db: str, tmp_path: Path
) -> None:
    good = datetime(2024, 3, 1, tzinfo=UTC)
    bad = datetime(2024, 5, 1, tzinfo=UTC)  # another shard: a string is accepted
    write(
        influxd,
        influx_db,
        [
            ha_line("kWh", "eg_strom", 10.0, good),
            ha_line("kWh", "eg_strom", "unavailable", bad),
            ha_line("eg_strom", "eg_strom", "unknown", good),
        ],
    )
    settings = settings_for(tmp_path, influxd.url, influx_db)

    result = extract_readings(settings, {"eg_strom": "kWh"}, extracted_at=RUN_1)

    # InfluxDB 1.x resolves `value` to float and leaves the strings out
    assert landed(settings) == {("eg_strom", good): (10.0, "kWh")}
    assert result.rows_written == 1


def test_string_values_before_the_window_are_no_change(
    influxd: InfluxServer, influx_db: str, tmp_path: Path
) -> None:
    """Strings older than the window (a measurement of nothing but strings,
    and one in a shard of numbers' measurement) are in no fingerprint: the
    count of InfluxDB's side, like the landing zone's, has numbers only, so
    the next run reads no meter again."""
    old = datetime(2024, 1, 1, tzinfo=UTC)
    write(
        influxd,
        influx_db,
        [
            ha_line("kWh", "eg_strom", 5.0, old),
            ha_line("eg_strom", "eg_strom", "unknown", old + timedelta(days=1)),
            ha_line("kWh", "eg_strom", "unavailable", old + timedelta(days=10)),
            ha_line("kWh", "eg_strom", 10.0, datetime(2024, 3, 1, tzinfo=UTC)),
        ],
    )
    settings = settings_for(tmp_path, influxd.url, influx_db)
    extract_readings(settings, {"eg_strom": "kWh"}, extracted_at=RUN_1)

    again = extract_readings(settings, {"eg_strom": "kWh"}, extracted_at=RUN_2)

    assert again.fingerprinted_points == 1
    assert again.reread_meters == []
    assert again.rows_written == 0


def test_database_with_retention_policy_is_read(
    influxd: InfluxServer, influx_db: str, tmp_path: Path
) -> None:
    at = datetime(2024, 3, 5, 12, tzinfo=UTC)
    write(influxd, influx_db, [ha_line("MWh", "og1_heat", 2.5, at)])
    settings = settings_for(tmp_path, influxd.url, f"{influx_db}/autogen")

    extract_readings(settings, {"og1_heat": "MWh"}, extracted_at=RUN_1)

    assert landed(settings) == {("og1_heat", at): (2.5, "MWh")}


@pytest.fixture
def landed_before(house: Settings) -> Settings:
    """The house extracted once, so the landing zone holds a file."""
    extract_readings(house, METERS, extracted_at=RUN_1)
    return house


def test_unreachable_server_gives_one_line_and_leaves_landing_untouched(
    landed_before: Settings, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    settings = settings_for(tmp_path, url, landed_before.influx_bucket_raw)
    before = listing(settings.data_dir)

    with pytest.raises(InfluxError) as error:
        extract_readings(settings, METERS, extracted_at=RUN_2)

    assert str(error.value) == (
        f"cannot reach InfluxDB at {url}: is it running? check INFLUX_URL"
    )
    assert listing(settings.data_dir) == before


def test_wrong_credentials_give_one_line_and_leave_landing_untouched(
    influxd_auth: InfluxServer, tmp_path: Path
) -> None:
    influxd_auth.query('CREATE DATABASE "house"')
    settings = settings_for(tmp_path, influxd_auth.url, "house", "admin:wrong-password")

    with pytest.raises(InfluxError) as error:
        extract_readings(settings, METERS, extracted_at=RUN_1)

    message = str(error.value)
    assert message == (
        f"InfluxDB at {influxd_auth.url} refused the credentials: check INFLUX_TOKEN"
    )
    assert "wrong-password" not in message
    assert not (tmp_path / "data").exists()


def test_missing_database_gives_one_line_and_leaves_landing_untouched(
    landed_before: Settings, influxd: InfluxServer, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, influxd.url, "no_such_db")
    before = listing(settings.data_dir)

    with pytest.raises(InfluxError) as error:
        extract_readings(settings, METERS, extracted_at=RUN_2)

    assert str(error.value) == (
        f'InfluxDB at {influxd.url} has no database "no_such_db": '
        "create it or fix INFLUX_BUCKET_RAW"
    )
    assert listing(settings.data_dir) == before


def test_missing_influxd_fails_the_session_with_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import tests.support.fixtures_influx as fixtures

    monkeypatch.setattr(fixtures, "INFLUXD", str(tmp_path / "no-influxd"))

    with pytest.raises(pytest.fail.Exception) as failure:
        fixtures._start_or_fail(tmp_path / "server", auth_enabled=False)

    assert "apt-get install influxdb" in str(failure.value)
