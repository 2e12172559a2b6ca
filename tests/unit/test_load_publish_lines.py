"""The loader's lines written by DuckDB are the lines `point_line` writes."""

from __future__ import annotations

import duckdb

from load import publish
from load.line_protocol import point_line

ROWS = [
    # measurement, meter_id, time_s, {field: value}
    ("meter_interpolated_daily", "eg_strom", 1_700_000_000, {"value": 12.5}),
    (
        "meter_consumption_daily",
        "og1_wasser_kalt",
        1_700_086_400,
        {"consumption": 0.1, "is_estimated": 1.0, "is_partial": 0.0},
    ),
    ("meter_anomaly", "gas", 1_700_172_800, {"consumption": 1e16, "ratio": -0.0}),
    ("meter_interpolated_daily", "gas", 1_700_259_200, {"value": 1 / 3}),
    ("meter_consumption", "gas", 1_700_345_600, {"consumption": 1.5e-07}),
    ("meter_consumption", "gas", 1_700_432_000, {}),  # no field: no point
]


def diff_table(connection: duckdb.DuckDBPyConnection, rows=ROWS) -> None:
    columns = ", ".join(f"{name} double" for name in publish.FIELDS)
    connection.execute(
        "create temp table diff (n bigint, measurement varchar, meter_id varchar, "
        f"time_s bigint, is_wanted boolean, {columns})"
    )
    for n, (measurement, meter_id, time_s, fields) in enumerate(rows, start=1):
        values = [fields.get(name) for name in publish.FIELDS]
        connection.execute(
            f"insert into diff values (?, ?, ?, ?, true, "
            f"{', '.join('?' for _ in publish.FIELDS)})",
            [n, measurement, meter_id, time_s, *values],
        )


def test_duckdb_writes_the_lines_point_line_writes() -> None:
    expected = [
        point_line(measurement, {"meter_id": meter_id}, fields, time_s)
        for measurement, meter_id, time_s, fields in ROWS
    ]
    expected = [line for line in expected if line is not None]
    assert (
        expected[2]
        == "meter_anomaly,meter_id=gas consumption=1e+16,ratio=-0.0 1700172800"
    )
    with duckdb.connect() as connection:
        diff_table(connection)
        assert publish._lines_in_sql(connection)
        lines, counts = publish._lines_sql(connection, 1, len(ROWS))
    assert lines == expected
    assert counts == {
        "meter_interpolated_daily": 2,
        "meter_consumption_daily": 1,
        "meter_anomaly": 1,
        "meter_consumption": 1,
    }


def test_a_meter_id_that_needs_escaping_leaves_the_lines_to_python() -> None:
    with duckdb.connect() as connection:
        diff_table(
            connection,
            [("meter_interpolated_daily", "flat 2,a=b", 1_700_000_000, {"value": 1.0})],
        )
        assert not publish._lines_in_sql(connection)
