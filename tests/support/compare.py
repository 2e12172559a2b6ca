"""Row-by-row comparison of two warehouses (incremental against full builds)."""

from __future__ import annotations

from pathlib import Path

import duckdb

# Every table an incremental build updates in place, and the tables built on
# them, compared row by row, floats to 1e-6 (meter_daily_readings and
# meter_daily_consumption are views over the intermediate tables).
COMPARED = [
    "intermediate.int_readings_classified",
    "intermediate.int_readings_combined",
    "intermediate.int_reading_segments",
    "intermediate.int_daily_readings_interpolated",
    "intermediate.int_master_readings_combined",
    "intermediate.int_daily_consumption_master",
    "intermediate.int_daily_consumption_virtual",
    "main.meter_monthly_consumption",
    "main.meter_anomalies",
    "intermediate.int_reading_intervals_judged",
    "main.meter_interval_anomalies",
    "main.electricity_daily_cost",
    "main.electricity_monthly_cost",
    "main.data_quality_findings",
]


def differences(first: Path, second: Path, table: str) -> int:
    with duckdb.connect() as db:
        db.execute(f"attach '{first}' as a (read_only)")
        db.execute(f"attach '{second}' as b (read_only)")
        columns = db.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_catalog = 'a' and table_schema = ? and table_name = ? "
            "order by ordinal_position",
            table.split("."),
        ).fetchall()
        select = ", ".join(
            f"round({name}, 6)" if kind == "DOUBLE" else name for name, kind in columns
        )
        return db.execute(
            f"""
            select count(*) from (
                (select {select} from a.{table} except all
                 select {select} from b.{table})
                union all
                (select {select} from b.{table} except all
                 select {select} from a.{table})
            )
            """
        ).fetchone()[0]
