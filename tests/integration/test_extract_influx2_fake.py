"""The InfluxDB 2.x side, against the wire-level FAKE in tests/support/fake_influx2.py.

No InfluxDB 2.x server runs here; the fake checks the requests as the 2.x API
documents them (token, org, bucket, content types) and answers with canned
annotated CSV.
"""

from __future__ import annotations

import gzip
import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core import landing
from core.errors import InfluxError
from core.influxdb import (
    InfluxTarget,
    delete,
    flux_csv,
    parse_annotated_csv,
    write_lines,
)
from core.settings import Settings, load_settings
from extract.influx import extract_readings
from tests.support.fake_influx2 import FakeInflux2, FluxStore, annotated_csv

RUN = datetime(2024, 4, 1, 6, 0, tzinfo=UTC)

READINGS_FLUX = """\
from(bucket: "lampfi")
  |> range(start: 1970-01-01T00:00:00Z)
  |> filter(fn: (r) => r._field == "value" and r.domain == "input_number")
  |> filter(fn: (r) => r.entity_id == "eg_strom" or r.entity_id == "gas_zahler")
  |> keep(columns: ["_time", "_value", "_measurement", "entity_id"])
"""

ENTITIES_FLUX = """\
import "influxdata/influxdb/schema"

schema.tagValues(
  bucket: "lampfi",
  tag: "entity_id",
  predicate: (r) => r.domain == "input_number",
  start: 1970-01-01T00:00:00Z,
)
"""

# What InfluxDB 2.x answers for READINGS_FLUX: one table per series; the
# eg_strom series of measurement "eg_strom" has a string field (a bad series).
READINGS_CSV = (
    "#datatype,string,long,dateTime:RFC3339,double,string,string\r\n"
    "#group,false,false,false,false,true,true\r\n"
    "#default,_result,,,,,\r\n"
    ",result,table,_time,_value,_measurement,entity_id\r\n"
    ",,0,2024-03-01T00:00:00.123456789Z,1234.5,kWh,eg_strom\r\n"
    ",,0,2024-03-02T00:00:00Z,NaN,kWh,eg_strom\r\n"
    ",,1,2024-03-01T00:00:00Z,17.25,m³,gas_zahler\r\n"
    ",,1,2024-03-03T00:00:00Z,+Inf,m³,gas_zahler\r\n"
    "\r\n"
    "#datatype,string,long,dateTime:RFC3339,string,string,string\r\n"
    "#group,false,false,false,false,true,true\r\n"
    "#default,_result,,,,,\r\n"
    ",result,table,_time,_value,_measurement,entity_id\r\n"
    ",,2,2024-03-04T00:00:00Z,unavailable,eg_strom,eg_strom\r\n"
    ",,2,2024-03-05T00:00:00Z,12.5,eg_strom,eg_strom\r\n"
    "\r\n"
)
ENTITIES_CSV = (
    "#datatype,string,long,string\r\n"
    "#group,false,false,false\r\n"
    "#default,_result,,\r\n"
    ",result,table,_value\r\n"
    ",,0,eg_strom\r\n"
    ",,0,gas_zahler\r\n"
    ",,0,keller_strom\r\n"
    "\r\n"
)


def answer(flux: str) -> str:
    return ENTITIES_CSV if "schema.tagValues" in flux else READINGS_CSV


def settings_for(root: Path, fake: FakeInflux2, **overrides: str) -> Settings:
    environ = {
        "INFLUX_URL": fake.url,
        "INFLUX_API_VERSION": "2",
        "INFLUX_TOKEN": fake.token,
        "INFLUX_ORG": fake.org,
        "DATA_DIR": str(root / "data"),
        **overrides,
    }
    return load_settings(root=root, environ=environ)


def target_for(fake: FakeInflux2, token: str | None = None) -> InfluxTarget:
    return InfluxTarget(
        url=fake.url,
        api_version=2,
        token=token or fake.token,
        org=fake.org,
        backoff_s=0.01,
    )


METERS = {"eg_strom": "kWh", "gas_zahler": "m³"}


def test_extract_sends_the_exact_flux_with_token_and_org(
    influx2_fake: FakeInflux2, tmp_path: Path
) -> None:
    influx2_fake.on_query = answer

    extract_readings(settings_for(tmp_path, influx2_fake), METERS, extracted_at=RUN)

    assert influx2_fake.queries == [READINGS_FLUX, ENTITIES_FLUX]
    first = influx2_fake.requests[0]
    assert (first.method, first.path, first.params) == (
        "POST",
        "/api/v2/query",
        {"org": "test-org"},
    )
    assert first.headers["Authorization"] == "Token test-token"
    assert first.headers["Content-Type"] == "application/json"
    body = json.loads(first.text)
    assert body["query"] == READINGS_FLUX
    assert body["dialect"]["annotations"] == ["datatype", "group", "default"]
    assert "test-token" not in first.path + json.dumps(first.params)


def test_extract_lands_rows_of_several_tables_and_counts_bad_values(
    influx2_fake: FakeInflux2, tmp_path: Path
) -> None:
    influx2_fake.on_query = answer
    settings = settings_for(tmp_path, influx2_fake)

    result = extract_readings(settings, METERS, extracted_at=RUN)

    table = landing.current(settings.data_dir, "readings")
    rows = {
        (r["meter_id"], r["measured_at"]): (r["value"], r["unit"])
        for r in table.to_pylist()
    }
    nan = rows.pop(("eg_strom", datetime(2024, 3, 2, tzinfo=UTC)))
    assert math.isnan(nan[0]) and nan[1] == "kWh"
    assert rows == {
        # nanoseconds truncated to the landing's microseconds
        ("eg_strom", datetime(2024, 3, 1, 0, 0, 0, 123456, UTC)): (1234.5, "kWh"),
        ("eg_strom", datetime(2024, 3, 5, tzinfo=UTC)): (12.5, "eg_strom"),
        ("gas_zahler", datetime(2024, 3, 1, tzinfo=UTC)): (17.25, "m³"),
        ("gas_zahler", datetime(2024, 3, 3, tzinfo=UTC)): (math.inf, "m³"),
    }
    # 6 values in the CSV; "unavailable" is not a number: a reading issue
    assert (result.points_read, result.unparseable_values) == (6, 1)
    issues = landing.current(settings.data_dir, "reading_issues").drop_columns(
        ["extracted_at"]
    )
    assert issues.to_pylist() == [
        {
            "meter_id": "eg_strom",
            "measured_at": datetime(2024, 3, 4, tzinfo=UTC),
            "issue": "unparseable",
            "value": "unavailable",
            "unit": "eg_strom",
        }
    ]
    assert result.rows_written == 5
    assert result.unknown_entities == ["keller_strom"]


def test_incremental_flux_starts_at_watermark_minus_overlap(
    influx2_fake: FakeInflux2, tmp_path: Path
) -> None:
    influx2_fake.on_query = answer
    settings = settings_for(tmp_path, influx2_fake)
    extract_readings(settings, METERS, extracted_at=RUN)
    influx2_fake.queries.clear()

    extract_readings(settings, METERS, extracted_at=RUN)

    # latest landed reading: eg_strom 2024-03-05T00:00Z; minus 7 days (the
    # first query is the fingerprint of what lies before)
    assert "|> range(start: 2024-02-27T00:00:00Z)\n" in influx2_fake.queries[1]


def test_entity_ids_are_escaped_in_flux(
    influx2_fake: FakeInflux2, tmp_path: Path
) -> None:
    awkward = 'a"b\\c ${x}'

    extract_readings(
        settings_for(tmp_path, influx2_fake), {awkward: "kWh"}, extracted_at=RUN
    )

    assert (
        '|> filter(fn: (r) => r.entity_id == "a\\"b\\\\c \\${x}")\n'
        in influx2_fake.queries[0]
    )


def test_parse_annotated_csv_with_several_tables_and_defaults() -> None:
    text = (
        "#datatype,string,long,dateTime:RFC3339,long,boolean,string\r\n"
        "#group,false,false,false,false,false,true\r\n"
        "#default,_result,,,7,,\r\n"
        ",result,table,_time,_value,ok,name\r\n"
        ',,0,2024-03-01T01:02:03+01:00,,true,"a, b"\r\n'
        ",,1,2024-03-01T00:00:00.5Z,3,false,c\r\n"
        "\r\n"
        "#datatype,string,long,double\r\n"
        "#group,false,false,false\r\n"
        "#default,other,,\r\n"
        ",result,table,x\r\n"
        ",,2,-Inf\r\n"
    )

    rows = parse_annotated_csv(text)

    assert rows == [
        {
            "result": "_result",
            "table": 0,
            "_time": datetime(2024, 3, 1, 0, 2, 3, tzinfo=UTC),
            "_value": 7,
            "ok": True,
            "name": "a, b",
        },
        {
            "result": "_result",
            "table": 1,
            "_time": datetime(2024, 3, 1, 0, 0, 0, 500000, UTC),
            "_value": 3,
            "ok": False,
            "name": "c",
        },
        {"result": "other", "table": 2, "x": -math.inf},
    ]


def test_annotated_csv_helper_round_trips_through_the_parser() -> None:
    at = datetime(2024, 3, 1, tzinfo=UTC)
    text = annotated_csv(
        [
            ([("_time", "dateTime:RFC3339"), ("_value", "double")], [], [[at, 1.5]]),
            ([("_value", "string")], ["_value"], [["x,y"]]),
        ]
    )

    assert parse_annotated_csv(text) == [
        {"result": "_result", "table": 0, "_time": at, "_value": 1.5},
        {"result": "_result", "table": 1, "_value": "x,y"},
    ]


def test_error_table_in_the_answer_raises_one_line() -> None:
    text = (
        "#datatype,string,string\r\n"
        "#group,true,true\r\n"
        "#default,,\r\n"
        ",error,reference\r\n"
        ',"type error 3:5: missing required argument bucket",897\r\n'
    )

    with pytest.raises(InfluxError) as error:
        parse_annotated_csv(text, url="http://nas:8086")

    assert str(error.value) == (
        "InfluxDB at http://nas:8086 rejected the query: "
        "type error 3:5: missing required argument bucket"
    )


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        # the token is refused, and never shown
        (
            "INFLUX_TOKEN",
            "not-the-token",
            "refused the credentials: check INFLUX_TOKEN",
        ),
        # the bucket is named, with the setting to fix
        (
            "INFLUX_BUCKET_RAW",
            "hass",
            'has no bucket "hass": create it or fix INFLUX_BUCKET_RAW',
        ),
    ],
)
def test_a_wrong_setting_is_named_and_nothing_is_landed(
    influx2_fake: FakeInflux2, tmp_path: Path, setting: str, value: str, message: str
) -> None:
    settings = settings_for(tmp_path, influx2_fake, **{setting: value})

    with pytest.raises(InfluxError) as error:
        extract_readings(settings, METERS, extracted_at=RUN)

    assert str(error.value) == f"InfluxDB at {influx2_fake.url} {message}"
    token = influx2_fake.requests[0].headers["Authorization"]
    assert token == f"Token {settings.influx_token}"
    assert not (tmp_path / "data").exists()


def test_unknown_org_says_check_influx_org(influx2_fake: FakeInflux2) -> None:
    target = InfluxTarget(
        url=influx2_fake.url, api_version=2, token=influx2_fake.token, org="acme"
    )

    with pytest.raises(InfluxError) as error:
        flux_csv(target, 'from(bucket: "lampfi") |> range(start: -1h)')

    assert str(error.value) == (
        f"InfluxDB at {influx2_fake.url} has no organization 'acme': check INFLUX_ORG"
    )


def test_write_lines_sends_gzip_batches_with_token_org_bucket(
    influx2_fake: FakeInflux2,
) -> None:
    lines = [f"m,meter_id=a value={i} {1700000000 + i}" for i in range(12001)]

    written = write_lines(target_for(influx2_fake), "lampfi_processed", lines)

    assert written == 12001
    # 12001 lines in batches of 5000: 5000 + 5000 + 2001
    sizes = [len(r.text.split("\n")) for r in influx2_fake.requests]
    assert sizes == [5000, 5000, 2001]
    first = influx2_fake.requests[0]
    assert first.path == "/api/v2/write"
    assert first.params == {
        "org": "test-org",
        "bucket": "lampfi_processed",
        "precision": "s",
    }
    assert first.headers["Content-Encoding"] == "gzip"
    assert first.headers["Authorization"] == "Token test-token"
    assert gzip.decompress(first.body).decode().split("\n")[0] == (
        "m,meter_id=a value=0 1700000000"
    )
    assert influx2_fake.written["lampfi_processed"] == lines


def test_write_to_unknown_bucket_names_it(influx2_fake: FakeInflux2) -> None:
    with pytest.raises(InfluxError) as error:
        write_lines(target_for(influx2_fake), "nope", ["m value=1 1"])

    assert str(error.value) == (
        f'InfluxDB at {influx2_fake.url} has no bucket "nope": create it or fix '
        "INFLUX_BUCKET_RAW / INFLUX_BUCKET_PROCESSED"
    )


def test_delete_posts_range_and_quoted_predicate(influx2_fake: FakeInflux2) -> None:
    delete(
        target_for(influx2_fake),
        "lampfi_processed",
        "meter_anomaly",
        'eg "x"',
        datetime(2024, 3, 1, tzinfo=UTC),
        datetime(2024, 3, 2, tzinfo=UTC),
    )

    assert influx2_fake.deletes == [
        {
            "bucket": "lampfi_processed",
            "start": "2024-03-01T00:00:00Z",
            # 2.x deletes up to stop inclusive: one nanosecond before the end
            "stop": "2024-03-01T23:59:59.999999999Z",
            "predicate": '_measurement="meter_anomaly" AND meter_id="eg \\"x\\""',
        }
    ]
    request = influx2_fake.requests[0]
    assert request.params == {"org": "test-org", "bucket": "lampfi_processed"}


def test_server_errors_are_retried_then_succeed(influx2_fake: FakeInflux2) -> None:
    influx2_fake.fail_next = [503, 500]

    write_lines(target_for(influx2_fake), "lampfi", ["m value=1 1"])

    assert len(influx2_fake.requests) == 3
    assert influx2_fake.lines == ["m value=1 1"]


def test_persistent_server_error_gives_one_line(influx2_fake: FakeInflux2) -> None:
    influx2_fake.fail_next = [503] * 4  # first attempt + 3 retries

    with pytest.raises(InfluxError) as error:
        write_lines(target_for(influx2_fake), "lampfi", ["m value=1 1"])

    assert str(error.value) == (
        f"InfluxDB at {influx2_fake.url} failed the write (HTTP 503): "
        "fake failure; try again later"
    )
    assert len(influx2_fake.requests) == 4


FINGERPRINT_FLUX = """\
import "types"

data = from(bucket: "lampfi")
  |> range(start: 1970-01-01T00:00:00Z, stop: 2024-03-13T00:00:00Z)
  |> filter(fn: (r) => r._field == "value" and r.domain == "input_number")
  |> filter(fn: (r) => r.entity_id == "eg_strom" or r.entity_id == "gas_zahler")
  |> filter(fn: (r) => types.isType(v: r._value, type: "float") \
or types.isType(v: r._value, type: "int"))

data |> count() |> keep(columns: ["_measurement", "entity_id", "_value"]) \
|> yield(name: "count")
data |> sum() |> keep(columns: ["_measurement", "entity_id", "_value"]) \
|> yield(name: "sum")
"""


def day(number: int) -> datetime:
    return datetime(2024, 3, number, tzinfo=UTC)


def test_fingerprint_flux_finds_old_deletions_and_corrections(
    influx2_fake: FakeInflux2, tmp_path: Path
) -> None:
    """eg_strom and gas_zahler read on March 1, 10 and 20; the watermark is
    March 20, the window starts March 13 (7 days before). Then, before the
    window, eg_strom's March 10 reading is corrected (110 -> 11) and
    gas_zahler's March 1 reading deleted: the fingerprint query (exact text
    above) finds both meters, which are read again from the beginning; the
    deleted reading gets a tombstone."""
    store = FluxStore(bucket="lampfi")
    for number, value in ((1, 100.0), (10, 110.0), (20, 120.0)):
        store.points[("kWh", "eg_strom", day(number))] = value
        store.points[("m³", "gas_zahler", day(number))] = value / 10
    influx2_fake.on_query = lambda flux: (
        ENTITIES_CSV if "schema.tagValues" in flux else store.answer(flux)
    )
    settings = settings_for(tmp_path, influx2_fake)
    first = extract_readings(settings, METERS, extracted_at=RUN)
    assert first.rows_written == 6
    influx2_fake.queries.clear()

    unchanged = extract_readings(settings, METERS, extracted_at=RUN)
    assert influx2_fake.queries[0] == FINGERPRINT_FLUX
    # 2 meters x 2 readings before March 13 counted; March 20 of both read
    assert (unchanged.fingerprinted_points, unchanged.points_read) == (4, 2)
    assert unchanged.reread_meters == []
    assert (unchanged.rows_written, unchanged.rows_deleted) == (0, 0)

    store.points[("kWh", "eg_strom", day(10))] = 11.0
    del store.points[("m³", "gas_zahler", day(1))]
    influx2_fake.queries.clear()
    later = datetime(2024, 4, 2, tzinfo=UTC)

    result = extract_readings(settings, METERS, extracted_at=later)

    assert influx2_fake.queries[0] == FINGERPRINT_FLUX
    assert "|> range(start: 1970-01-01T00:00:00Z)\n" in influx2_fake.queries[1]
    assert result.reread_meters == ["eg_strom", "gas_zahler"]
    assert result.points_read == 5  # 3 of eg_strom, 2 left of gas_zahler
    assert (result.rows_written, result.rows_deleted) == (1, 1)
    rows = {
        (r["meter_id"], r["measured_at"]): r["value"]
        for r in landing.current(settings.data_dir, "readings").to_pylist()
    }
    assert rows == {
        ("eg_strom", day(1)): 100.0,
        ("eg_strom", day(10)): 11.0,
        ("eg_strom", day(20)): 120.0,
        ("gas_zahler", day(10)): 11.0,
        ("gas_zahler", day(20)): 12.0,
    }
