"""Publishing the marts through the InfluxDB 2.x API, against its wire-level FAKE.

No InfluxDB 2.x server runs here; the fake (tests/support/fake_influx2.py) records every
request, and each is checked as the 2.x API documents it. The marts are the
small example of tests/integration/test_load_publish.py; the lines are written by hand.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings, load_settings
from load import reset
from load.publish import publish_marts
from tests.support.marts import marts_example, write_marts

# Times: 2024-03-29T23:00Z = 1711753200, 2024-03-30T23:00Z = 1711839600,
# 2024-03-31T22:00Z = 1711922400, 2024-02-29T23:00Z = 1709247600.
EXPECTED_LINES = [
    "meter_anomaly,meter_id=rest_strom consumption=0.3333333333333333,expected=0.0"
    " 1711839600",
    "meter_anomaly,meter_id=strom consumption=10.5,expected=5.0,ratio=2.1 1711753200",
    "meter_consumption,meter_id=strom consumption=70.25,is_estimated=1.0,"
    "is_partial=0.0 1709247600",
    "meter_consumption,meter_id=strom consumption=2.0,is_estimated=1.0,"
    "is_partial=1.0 1711922400",
    "meter_consumption_daily,meter_id=rest_strom consumption=-0.5,"
    "is_estimated=0.0,is_partial=0.0 1711753200",
    "meter_consumption_daily,meter_id=rest_strom consumption=0.3333333333333333,"
    "is_estimated=0.0,is_partial=0.0 1711839600",
    "meter_consumption_daily,meter_id=strom consumption=10.5,is_estimated=0.0,"
    "is_partial=0.0 1711753200",
    "meter_consumption_daily,meter_id=strom consumption=9.75,is_estimated=1.0,"
    "is_partial=0.0 1711839600",
    "meter_consumption_daily,meter_id=strom consumption=2.0,is_estimated=1.0,"
    "is_partial=1.0 1711922400",
    "meter_interpolated_daily,meter_id=strom value=100.0,is_estimated=0.0 1711753200",
    "meter_interpolated_daily,meter_id=strom value=110.5,is_estimated=0.0 1711839600",
    "meter_interpolated_daily,meter_id=strom value=120.25,is_estimated=1.0 1711922400",
    "meter_interpolated_monthly,meter_id=strom value=50.0,is_estimated=0.0 1709247600",
    "meter_interpolated_monthly,meter_id=strom value=120.25,is_estimated=1.0"
    " 1711922400",
    "meter_interval_anomaly,meter_id=strom consumption=60.0,expected=20.0,"
    "ratio=3.0,days=29.0 1709247600",
]


def settings_2x(url: str, data_dir: Path) -> Settings:
    return load_settings(
        data_dir,
        {
            "INFLUX_URL": url,
            "INFLUX_API_VERSION": "2",
            "INFLUX_TOKEN": "test-token",
            "INFLUX_ORG": "test-org",
            "DATA_DIR": str(data_dir),
        },
    )


@pytest.fixture
def published(influx2_fake: Any, tmp_path: Path) -> tuple[Settings, Path]:
    """The example marts published once over 2.x (settings, warehouse); the
    fake's record of requests and lines cleared."""
    warehouse = tmp_path / "warehouse.duckdb"
    write_marts(warehouse, marts_example())
    settings = settings_2x(influx2_fake.url, tmp_path)
    publish_marts(settings, warehouse)
    influx2_fake.requests.clear()
    influx2_fake.lines.clear()
    return settings, warehouse


def test_publish_over_2x_sends_gzip_line_protocol_with_token_org_and_bucket(
    influx2_fake: Any, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    write_marts(warehouse, marts_example())

    result = publish_marts(settings_2x(influx2_fake.url, tmp_path), warehouse)

    assert result.points_written == 15
    assert len(influx2_fake.requests) == 1
    request = influx2_fake.requests[0]
    assert (request.method, request.path) == ("POST", "/api/v2/write")
    assert request.params == {
        "org": "test-org",
        "bucket": "lampfi_processed",
        "precision": "s",
    }
    assert request.headers["Authorization"] == "Token test-token"
    assert request.headers["Content-Encoding"] == "gzip"
    assert request.headers["Content-Type"].startswith("text/plain")
    assert gzip.decompress(request.body).decode().split("\n") == EXPECTED_LINES
    assert influx2_fake.written == {"lampfi_processed": EXPECTED_LINES}


def test_unchanged_rerun_over_2x_sends_no_request(
    influx2_fake: Any, published: tuple[Settings, Path]
) -> None:
    settings, warehouse = published

    result = publish_marts(settings, warehouse)

    assert (result.points_written, result.points_deleted) == (0, 0)
    assert influx2_fake.requests == []


def test_vanished_anomaly_over_2x_is_deleted_with_a_predicate_for_its_second(
    influx2_fake: Any, published: tuple[Settings, Path]
) -> None:
    """strom's anomaly at 2024-03-29T23:00Z goes; the delete covers that
    second only: stop is inclusive in 2.x, so 1 ns before 23:00:01."""
    settings, warehouse = published
    marts = marts_example()
    del marts["meter_anomalies"][0]
    write_marts(warehouse, marts)

    result = publish_marts(settings, warehouse)

    assert (result.points_written, result.points_deleted) == (0, 1)
    assert len(influx2_fake.requests) == 1
    request = influx2_fake.requests[0]
    assert (request.method, request.path) == ("POST", "/api/v2/delete")
    assert request.params == {"org": "test-org", "bucket": "lampfi_processed"}
    assert request.headers["Authorization"] == "Token test-token"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.text) == {
        "start": "2024-03-29T23:00:00Z",
        "stop": "2024-03-29T23:00:00.999999999Z",
        "predicate": '_measurement="meter_anomaly" AND meter_id="strom"',
    }


def test_field_lost_over_2x_deletes_the_point_before_rewriting_it(
    influx2_fake: Any, published: tuple[Settings, Path]
) -> None:
    settings, warehouse = published
    marts = marts_example()
    marts["meter_anomalies"][0] = (
        "strom", "kWh", "2024-03-30", "2024-03-29T23:00:00Z",
        10.5, 0.0, None, "factor",
    )  # fmt: skip
    write_marts(warehouse, marts)

    publish_marts(settings, warehouse)

    paths = [request.path for request in influx2_fake.requests]
    assert paths == ["/api/v2/delete", "/api/v2/write"]
    assert influx2_fake.lines == [
        "meter_anomaly,meter_id=strom consumption=10.5,expected=0.0 1711753200"
    ]


def test_reset_over_2x_deletes_each_measurement_over_all_time(
    influx2_fake: Any, published: tuple[Settings, Path]
) -> None:
    settings, warehouse = published

    reset.reset_processed(settings, warehouse)

    assert influx2_fake.deletes == [
        {
            "bucket": "lampfi_processed",
            "start": "1970-01-01T00:00:00Z",
            "stop": "2262-04-11T23:47:16Z",
            "predicate": f'_measurement="{name}"',
        }
        for name in (
            "meter_interpolated_daily",
            "meter_interpolated_monthly",
            "meter_consumption_daily",
            "meter_consumption",
            "meter_anomaly",
            "meter_interval_anomaly",
            "electricity_cost_daily",
            "electricity_cost_monthly",
            "data_quality_finding",
            "flat_cost_monthly",
        )
    ]
    influx2_fake.lines.clear()
    assert publish_marts(settings, warehouse).points_written == 15
    assert sorted(influx2_fake.lines) == sorted(EXPECTED_LINES)
