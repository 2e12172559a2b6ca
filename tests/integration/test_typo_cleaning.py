"""A mistyped manual reading never becomes a bill (real influxd, real run).

The demo house in a real influxd 1.6, plus one more manual reading of
og1_strom on 2023-01-20 12:00 local (11:00Z), mistyped three ways: x10, a
+15 % slip and a 1e12 spike. og1_strom has no seasonal pattern, so its
counter between two readings is a straight line in time. Its neighbouring
readings in the demo history (inputs, read from the history below):

    A = 10888.7 at 2022-12-10T16:11Z
    B = 11030.1 at 2023-01-06T19:28Z
    C = 11261.9 at 2023-02-15T19:26Z

January 2023 (local) runs from 2022-12-31T23:00Z to 2023-01-31T23:00Z:

    counter at the start: A + (B - A) x 21d06h49m / 27d03h17m
                        = 10888.7 + 141.4 x 0.784323 = 10999.603
    counter at the end:   B + (C - B) x 25d03h32m / 39d23h58m
                        = 11030.1 + 231.8 x 0.628702 = 11175.833
    consumption:          176.230 kWh

The true value on 2023-01-20 lies on the line B-C: 11030.1 + 231.8 x
13d15h32m / 39d23h58m = 11109.188; the typos are 111091.88 (x10), 12775.567
(x1.15) and 1e12. Excluding the typo leaves exactly the line above, so
January is 176.230 kWh whatever the typo, and nothing else moves. Before
this cleaning, the x10 case published 105,007 kWh for January and -104,434
kWh for strom_allgemein (the next reading was taken as a counter reset, the
typo kept as valid and every later reading raised by it).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import pytest

from tests.support.fixtures_influx import InfluxServer
from tests.support.fixtures_pipeline import (
    House,
    HouseHistory,
    ha_line,
    served_house,
)

pytestmark = pytest.mark.influx

TYPO_AT = datetime(2023, 1, 20, 11, 0, tzinfo=UTC)
A = ("og1_strom", datetime(2022, 12, 10, 16, 11, tzinfo=UTC), 10888.7)
B = ("og1_strom", datetime(2023, 1, 6, 19, 28, tzinfo=UTC), 11030.1)
C = ("og1_strom", datetime(2023, 2, 15, 19, 26, tzinfo=UTC), 11261.9)
JANUARY_KWH = 176.230  # hand-computed in the module docstring
TYPOS = {"x10": 111091.88, "slip": 12775.567, "spike": 1e12}
JANUARY_START = int(datetime(2022, 12, 31, 23, tzinfo=UTC).timestamp())


@dataclass(frozen=True)
class TypoRun:
    house: House
    result: subprocess.CompletedProcess[str]
    typo: float

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        warehouse = self.house.data_dir / "warehouse.duckdb"
        with duckdb.connect(str(warehouse), read_only=True) as db:
            db.execute("set TimeZone = 'UTC'")
            return db.execute(sql, list(params)).fetchall()

    def january(self, meter_id: str) -> float:
        ((consumption,),) = self.query(
            "select consumption from main.meter_monthly_consumption "
            "where meter_id = ? and month = date '2023-01-01'",
            meter_id,
        )
        return consumption


@pytest.fixture(scope="module", params=sorted(TYPOS))
def typo_run(
    request: pytest.FixtureRequest,
    influxd: InfluxServer,
    house_history: HouseHistory,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TypoRun]:
    typo = TYPOS[request.param]
    work = tmp_path_factory.mktemp(f"typo-{request.param}")
    with served_house(influxd, work / "data", house_history) as house:
        house.write([ha_line("kWh", "og1_strom", typo, TYPO_AT)])
        yield TypoRun(house, house.run(), typo)


def test_the_history_has_the_neighbours_the_hand_computation_uses(
    house_history: HouseHistory,
) -> None:
    readings = {(m, at): v for m, _, at, v in house_history.readings}
    for meter, at, value in (A, B, C):
        assert readings[(meter, at)] == value
    between = [at for m, _, at, _ in house_history.readings if m == "og1_strom"]
    assert not [at for at in between if A[1] < at < B[1] or B[1] < at < C[1]]


def test_the_run_with_a_typo_succeeds(typo_run: TypoRun) -> None:
    result = typo_run.result
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_typo_is_one_excluded_reading_and_flagged(typo_run: TypoRun) -> None:
    findings = typo_run.query(
        "select finding_type, found_at, value from main.data_quality_findings "
        "where meter_id = 'og1_strom' and found_at between ? and ?",
        A[1],
        C[1],
    )
    assert [(kind, at.astimezone(UTC), v) for kind, at, v in findings] == [
        ("typo", TYPO_AT, typo_run.typo)
    ]
    # the summary names it as a new cleaning finding
    assert "typo og1_strom 2023-01-20T11:00:00Z" in typo_run.result.stdout


def test_the_neighbours_are_kept_with_their_values(typo_run: TypoRun) -> None:
    kept = typo_run.query(
        "select measured_at, reading_status, reading_value "
        "from intermediate.int_readings_classified "
        "where meter_id = 'og1_strom' and measured_at between ? and ? "
        "order by measured_at",
        A[1],
        C[1],
    )
    assert [(at.astimezone(UTC), status, value) for at, status, value in kept] == [
        (A[1], "valid", A[2]),
        (B[1], "valid", B[2]),
        (TYPO_AT, "typo", None),
        (C[1], "valid", C[2]),
    ]


def test_january_is_the_hand_computed_truth_in_the_warehouse_and_influxdb(
    typo_run: TypoRun,
) -> None:
    assert typo_run.january("og1_strom") == pytest.approx(JANUARY_KWH, abs=0.001)
    published = {
        dict(fields)["time"]: dict(fields)["consumption"]
        for tags, fields in typo_run.house.processed()["meter_consumption"]
        if dict(tags)["meter_id"] == "og1_strom"
    }
    assert published[JANUARY_START] == pytest.approx(JANUARY_KWH, abs=0.001)
    # no month of og1_strom is absurd: a flat uses well below 1000 kWh a month
    assert max(published.values()) < 1000


def test_the_common_area_is_not_pushed_negative(typo_run: TypoRun) -> None:
    """strom_allgemein = strom_total - eg - og1 - og2: the typo would
    subtract tens of thousands of kWh from it."""
    assert typo_run.january("strom_allgemein") > 0


def test_a_real_reset_is_still_a_reset(typo_run: TypoRun) -> None:
    """The demo's solarspeicher restarts from 0 on 2023-07-14 and grows."""
    kinds = typo_run.query(
        "select finding_type from main.data_quality_findings "
        "where meter_id = 'solarspeicher'"
    )
    assert kinds == [("counter_reset",)]
