"""Rows not already stored (core.changes), the one rule by which the landing
zone, the Tibber hours' publish record and the marts' publish record find
what to write; and the landing zone's use of it with each table's key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from core import changes, landing

STORED = """(select * from (values
    (1, 1.0, 'x'), (2, null, 'y'), (3, 100.0, 'z'), (6, 5.0, 'q')
) as t(k, a, b))"""


def unstored(
    incoming: str, stored: str = STORED, values: tuple[str, ...] = ("a", "b"), **options
) -> list[int]:
    """The keys of the rows of `incoming` (k, a, b) not stored."""
    with duckdb.connect() as db:
        sql = changes.not_stored(f"({incoming})", stored, ["k"], values, **options)
        return sorted(k for (k, *_) in db.execute(sql).fetchall())


def test_new_keys_and_changed_values_are_not_stored_equal_rows_are() -> None:
    # 1: the same row; 2: null is null; 3: 'z' became 'Z'; 4: a new key;
    # 6: 5.0 became null.
    incoming = """select * from (values
        (1, 1.0, 'x'), (2, null, 'y'), (3, 100.0, 'Z'), (4, 1.0, 'x'),
        (6, null, 'q')
    ) as t(k, a, b)"""
    assert unstored(incoming) == [3, 4, 6]


@pytest.mark.parametrize(
    ("stored", "incoming", "is_change"),
    [
        # 1e-9 apart: within 1e-11 x 1000 = 1e-8, float noise
        (1000.0, 1000.0 + 1e-9, False),
        # 1e-3 apart: beyond 1e-8, a change
        (1000.0, 1000.001, True),
        # a value that became null, or appeared, always is a change
        (0.0, None, True),
        (None, 0.0, True),
        (None, None, False),
    ],
)
def test_relative_noise_is_no_change(
    stored: float | None, incoming: float | None, is_change: bool
) -> None:
    with duckdb.connect() as db:
        sql = changes.differs(["v"], "n", "s", relative_noise=1e-11)
        (differs,) = db.execute(
            f"select {sql} from (select ?::double as v) as n, "
            "(select ?::double as v) as s",
            [incoming, stored],
        ).fetchone()
    assert differs is is_change


def test_without_noise_the_last_bit_is_a_change() -> None:
    stored = "(select 1 as k, 1000.0::double as a)"
    incoming = "select 1 as k, 1000.0::double + 1e-9 as a"
    assert unstored(incoming, stored, ("a",)) == [1]
    assert unstored(incoming, stored, ("a",), relative_noise=1e-11) == []


def test_a_table_key_is_the_whole_row_when_there_are_no_values() -> None:
    stored = "(select 1 as k, 1.0 as a, 'x' as b)"
    with duckdb.connect() as db:
        sql = changes.not_stored(
            "(select * from (values (1, 1.0, 'x'), (1, 2.0, 'x')) as t(k, a, b))",
            stored,
            ["k", "a", "b"],
            [],
        )
        assert db.execute(sql).fetchall() == [(1, 2.0, "x")]


def test_each_landing_table_has_one_key_and_its_other_columns_are_values() -> None:
    assert landing.KEYS["readings"] == ["meter_id", "measured_at"]
    assert landing.values("readings") == ["value", "unit"]
    assert landing.KEYS["tibber_hours"] == ["home_id", "hour_start_at"]
    assert landing.values("tibber_hours") == [
        "hour_end_at",
        "consumption",
        "cost",
        "unit_price",
        "unit_price_vat",
        "currency",
    ]
    assert landing.values("reading_issues") == []
    # a tombstone names the key of its table
    assert landing.KEYS["readings_deleted"] == landing.KEYS["readings"]
    assert landing.SCHEMAS["tibber_hours_deleted"].names == [
        "home_id",
        "hour_start_at",
        "extracted_at",
    ]


def reading(meter_id: str, day: int, value: float, extracted: int) -> dict:
    return {
        "meter_id": meter_id,
        "measured_at": datetime(2024, 1, day, tzinfo=UTC),
        "value": value,
        "unit": "kWh",
        "extracted_at": datetime(2024, 2, extracted, tzinfo=UTC),
    }


def test_landing_keeps_only_new_or_changed_readings(tmp_path: Path) -> None:
    """Landed: a on Jan 1 = 10 (Feb 1, corrected to 11 on Feb 2), a on Jan 2
    = 20. Read again on Feb 3: a Jan 1 = 11 (the current value: stored), a Jan
    2 = 21 (changed), b Jan 1 = 5 (new); a Jan 1 = 10 would be a change back."""
    landing.append(
        tmp_path,
        "readings",
        pa.Table.from_pylist([reading("a", 1, 10.0, 1), reading("a", 2, 20.0, 1)]),
    )
    landing.append(
        tmp_path, "readings", pa.Table.from_pylist([reading("a", 1, 11.0, 2)])
    )
    read = pa.Table.from_pylist(
        [reading("a", 1, 11.0, 3), reading("a", 2, 21.0, 3), reading("b", 1, 5.0, 3)]
    )
    changed = landing.new_or_changed(tmp_path, "readings", read)
    assert sorted(
        (row["meter_id"], row["measured_at"].day, row["value"])
        for row in changed.to_pylist()
    ) == [("a", 2, 21.0), ("b", 1, 5.0)]
    back = pa.Table.from_pylist([reading("a", 1, 10.0, 3)])
    assert landing.new_or_changed(tmp_path, "readings", back).num_rows == 1
