"""`make statement` on the demo house: every line of the 2025 statement
recomputed here, independently, from the daily series in the warehouse and
the billing seeds, by the rules of the cost statement (README, "The yearly
cost statement"); the PDF read back with pdftotext.

The demo run's as_of is 2026-11-27, so the default year is 2025, the first
and only complete year with tenancies (they start on 2025-01-01).
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.support.fixtures_demo import demo_environment

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
YEAR = 2025
DAYS = [date(YEAR, 1, 1) + timedelta(days=n) for n in range(365)]
KWH_PER_M3 = 11.504 * 0.8885
FACTORS = {
    ("m³", "kWh"): KWH_PER_M3,
    ("kWh", "m³"): 1 / KWH_PER_M3,
    ("MWh", "kWh"): 1000.0,
    ("kWh", "MWh"): 0.001,
    ("m³", "MWh"): KWH_PER_M3 / 1000,
    ("MWh", "m³"): 1000 / KWH_PER_M3,
}
KEY_UNITS = {
    "living_area": "m²·days",
    "heated_area": "m²·days",
    "persons": "persons·days",
    "units": "units·days",
}


def factor(from_unit: str, to_unit: str) -> float:
    return 1.0 if from_unit == to_unit else FACTORS[(from_unit, to_unit)]


def seed(name: str) -> list[dict[str, str]]:
    with open(SEEDS / f"{name}.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def run_statement(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "statement", *args],
        cwd=ROOT,
        env=demo_environment(data_dir),
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def statement_data(demo_build: Path, tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("statement") / "data"
    shutil.copytree(demo_build, data_dir, ignore=shutil.ignore_patterns("run.lock"))
    landed = sorted((data_dir / "landing").rglob("*.parquet"))
    # Without a warehouse, the statement builds it from the landing zone ...
    (data_dir / "warehouse.duckdb").unlink()
    result = run_statement(data_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warehouse built (no warehouse yet): full build" in result.stdout
    assert f"statements {YEAR}: 6 occupancies" in result.stdout
    # ... without extracting anything; the next one finds it up to date.
    assert sorted((data_dir / "landing").rglob("*.parquet")) == landed
    result = run_statement(data_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warehouse up to date" in result.stdout
    return data_dir


class DailySeries:
    """The daily marts of the demo warehouse, read once."""

    def __init__(self, warehouse: Path) -> None:
        with duckdb.connect(str(warehouse), read_only=True) as db:
            rows = db.execute(
                "select meter_id, day, consumption, is_estimated "
                "from main.meter_daily_consumption where year(day) = ?",
                [YEAR],
            ).fetchall()
            costs = db.execute(
                "select day, cost from main.electricity_daily_cost where year(day) = ?",
                [YEAR],
            ).fetchall()
        self.consumption = {(m, d): c for m, d, c, _ in rows}
        self.estimated = {(m, d) for m, d, _, e in rows if e}
        self.tibber_cost = dict(costs)

    def of(self, meter: str, day: date) -> float:
        return self.consumption.get((meter, day), 0.0)

    def is_estimated(self, meters: list[str], days: list[date]) -> bool:
        return any((m, d) in self.estimated for m in meters for d in days)


def occupancies() -> list[dict]:
    """Each tenancy's days of the year, and each stretch without one."""
    tenancies = seed("tenancies")
    found: list[dict] = []
    for flat in seed("flats"):
        current = None
        for day in DAYS:
            tenancy = next(
                (
                    t
                    for t in tenancies
                    if t["flat_id"] == flat["flat_id"]
                    and date.fromisoformat(t["starts_on"]) <= day
                    and (not t["ends_on"] or day <= date.fromisoformat(t["ends_on"]))
                ),
                None,
            )
            occupancy_id = (
                tenancy["tenancy_id"]
                if tenancy
                else f"vacant-{flat['flat_id']}-{day.isoformat()}"
            )
            if current is None or (
                current["id"] != occupancy_id
                and not (tenancy is None and current["tenancy"] is None)
            ):
                current = {
                    "id": occupancy_id,
                    "flat": flat,
                    "tenancy": tenancy,
                    "days": [],
                }
                found.append(current)
            current["days"].append(day)
    return found


def expected_statement(series: DailySeries) -> tuple[dict, dict]:
    """(lines keyed by occupancy, item, part -> values; statements by id)."""
    meters = {row["meter_id"]: row["unit"] for row in seed("meters")}
    flat_meters = seed("flat_meters")
    measure_unit: dict[str, str] = {}
    for row in flat_meters:
        measure_unit.setdefault(row["measure"], meters[row["meter_id"]])
    prices = seed("prices")
    items = seed("cost_items")
    occupied = occupancies()

    def price(price_id: str, day: date) -> tuple[str, float, float]:
        if price_id == "tibber":
            return "kWh", series.tibber_cost[day] / series.of("haupt_strom", day), 0.0
        (row,) = [
            p
            for p in prices
            if p["price_id"] == price_id
            and date.fromisoformat(p["valid_from"]) <= day
            and (not p["valid_to"] or day <= date.fromisoformat(p["valid_to"]))
        ]
        return (
            row["unit"],
            float(row["unit_price_eur"]),
            float(row["base_fee_eur_per_year"]) / 365,
        )

    def priced(meter: str, price_id: str, days: list[date]) -> float:
        total = 0.0
        for day in days:
            unit, unit_price, _ = price(price_id, day)
            total += series.of(meter, day) * factor(meters[meter], unit) * unit_price
        return total

    def base_fees(price_id: str) -> float:
        return sum(price(price_id, day)[2] for day in DAYS)

    def meters_of(flat_id: str, measure: str) -> list[str]:
        return [
            r["meter_id"]
            for r in flat_meters
            if r["flat_id"] == flat_id and r["measure"] == measure
        ]

    def basis(occupancy: dict, measure: str) -> float:
        return sum(
            series.of(m, d) * factor(meters[m], measure_unit[measure])
            for m in meters_of(occupancy["flat"]["flat_id"], measure)
            for d in occupancy["days"]
        )

    def weight(occupancy: dict, key: str) -> float:
        days = len(occupancy["days"])
        flat = occupancy["flat"]
        if key == "living_area":
            return float(flat["living_area_m2"]) * days
        if key == "heated_area":
            return float(flat["heated_area_m2"] or flat["living_area_m2"]) * days
        if key == "persons":
            tenancy = occupancy["tenancy"]
            return (int(tenancy["persons"]) if tenancy else 0) * days
        return float(days)

    # Amounts.
    amount: dict[str, float] = {}
    item_estimated: dict[str, bool] = {}
    for item in items:
        name, source = item["cost_item"], item["amount_source"]
        if source == "meter":
            amount[name] = priced(item["meter_id"], item["price_id"], DAYS)
            amount[name] += base_fees(item["price_id"])
            item_estimated[name] = series.is_estimated([item["meter_id"]], DAYS)
        elif source == "invoice":
            amount[name] = 0.0
            for invoice in seed("invoices"):
                if invoice["cost_item"] != name:
                    continue
                start = date.fromisoformat(invoice["starts_on"])
                end = date.fromisoformat(invoice["ends_on"])
                inside = sum(start <= d <= end for d in DAYS)
                amount[name] += (
                    float(invoice["amount_eur"]) * inside / ((end - start).days + 1)
                )
            item_estimated[name] = False
        elif source == "metered_flats":
            flat_meter_ids = [
                r["meter_id"] for r in flat_meters if r["measure"] == item["measure"]
            ]
            amount[name] = sum(
                priced(m, item["price_id"], DAYS) for m in flat_meter_ids
            ) + base_fees(item["price_id"])
            item_estimated[name] = series.is_estimated(flat_meter_ids, DAYS)
    children: dict[str, list[dict]] = defaultdict(list)
    for item in items:
        if item["amount_source"] == "split":
            children[item["parent_cost_item"]].append(item)
    for parent_name, kids in children.items():
        (parent,) = [i for i in items if i["cost_item"] == parent_name]
        parent_unit = meters[parent["meter_id"]]
        used = {
            kid["cost_item"]: sum(
                series.of(kid["meter_id"], d)
                * factor(meters[kid["meter_id"]], parent_unit)
                for d in DAYS
            )
            for kid in kids
        }
        kids_estimated = series.is_estimated([k["meter_id"] for k in kids], DAYS)
        for kid in kids:
            amount[kid["cost_item"]] = (
                amount[parent_name] * used[kid["cost_item"]] / sum(used.values())
            )
            item_estimated[kid["cost_item"]] = (
                item_estimated[parent_name] or kids_estimated
            )

    # Allocation.
    lines: dict[tuple[str, str, str], dict] = {}

    def by_key(name: str, part: str, part_amount: float, key: str, estimated: bool):
        total = sum(weight(o, key) for o in occupied)
        for o in occupied:
            lines[(o["id"], name, part)] = {
                "basis_unit": KEY_UNITS[key],
                "flat_basis": weight(o, key),
                "total_basis": total,
                "amount_eur": part_amount * weight(o, key) / total,
                "is_estimated": estimated,
            }

    for item in items:
        name = item["cost_item"]
        if name in children:
            continue  # a split parent is not allocated itself
        pct = float(item["consumption_pct"] or 0)
        measure, key = item["measure"], item["fixed_key"]
        if item["amount_source"] == "metered_flats":
            own = {
                o["id"]: sum(
                    priced(m, item["price_id"], o["days"])
                    for m in meters_of(o["flat"]["flat_id"], measure)
                )
                for o in occupied
            }
            total = sum(basis(o, measure) for o in occupied)
            for o in occupied:
                lines[(o["id"], name, "metered")] = {
                    "basis_unit": measure_unit[measure],
                    "flat_basis": basis(o, measure),
                    "total_basis": total,
                    "amount_eur": own[o["id"]],
                    "is_estimated": series.is_estimated(
                        meters_of(o["flat"]["flat_id"], measure), o["days"]
                    ),
                }
            if base_fees(item["price_id"]):
                by_key(name, "base_fee", base_fees(item["price_id"]), key, False)
            continue
        if pct > 0:
            total = sum(basis(o, measure) for o in occupied)
            bases_estimated = series.is_estimated(
                [r["meter_id"] for r in flat_meters if r["measure"] == measure], DAYS
            )
            part_amount = amount[name] * pct / 100
            estimated = item_estimated[name] or bases_estimated
            if total == 0:
                by_key(name, "consumption", part_amount, key, estimated)
            for o in occupied if total != 0 else []:
                lines[(o["id"], name, "consumption")] = {
                    "basis_unit": measure_unit[measure],
                    "flat_basis": basis(o, measure),
                    "total_basis": total,
                    "amount_eur": part_amount * basis(o, measure) / total,
                    "is_estimated": estimated,
                }
        if pct < 100:
            by_key(
                name,
                "fixed",
                amount[name] * (100 - pct) / 100,
                key,
                item_estimated[name],
            )

    statements = {}
    for o in occupied:
        own_lines = [v for (oid, _, _), v in lines.items() if oid == o["id"]]
        costs = sum(v["amount_eur"] for v in own_lines)
        monthly = float(o["tenancy"]["monthly_prepayment_eur"]) if o["tenancy"] else 0
        per_month: dict[int, int] = defaultdict(int)
        for day in o["days"]:
            per_month[day.month] += 1
        prepayments = sum(
            monthly
            * n
            / (date(YEAR + (m == 12), m % 12 + 1, 1) - date(YEAR, m, 1)).days
            for m, n in per_month.items()
        )
        statements[o["id"]] = {
            "flat_id": o["flat"]["flat_id"],
            "tenant": o["tenancy"]["tenant"] if o["tenancy"] else "",
            "days": len(o["days"]),
            "costs_eur": costs,
            "prepayments_eur": prepayments,
            "balance_eur": costs - prepayments,
            "is_estimated": any(v["is_estimated"] for v in own_lines),
        }
    return lines, statements


@pytest.fixture(scope="module")
def expected(statement_data: Path) -> tuple[dict, dict]:
    return expected_statement(DailySeries(statement_data / "warehouse.duckdb"))


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_statement_line_equals_the_rules_applied_to_the_daily_series(
    statement_data: Path, expected
):
    lines, _ = expected
    folder = statement_data / "statements" / str(YEAR)
    rows = read_csv(folder / "statement_lines.csv")
    assert list(rows[0]) == [
        "year", "occupancy_id", "flat_id", "tenant", "cost_item", "part",
        "basis_unit", "flat_basis", "total_basis", "amount_eur",
    ]  # fmt: skip
    got = {(r["occupancy_id"], r["cost_item"], r["part"]): r for r in rows}
    assert set(got) == set(lines)
    for key, want in lines.items():
        row = got[key]
        assert row["year"] == str(YEAR)
        assert row["basis_unit"] == want["basis_unit"], key
        for column in ("flat_basis", "total_basis", "amount_eur"):
            assert float(row[column]) == pytest.approx(
                want[column], rel=1e-9, abs=1e-9
            ), (key, column)


def test_every_statement_has_its_costs_prepayments_and_balance(
    statement_data: Path, expected
):
    _, statements = expected
    rows = read_csv(statement_data / "statements" / str(YEAR) / "statements.csv")
    assert list(rows[0]) == [
        "year", "occupancy_id", "flat_id", "tenant", "days", "costs_eur",
        "prepayments_eur", "balance_eur", "is_estimated",
    ]  # fmt: skip
    assert {r["occupancy_id"] for r in rows} == set(statements)
    for row in rows:
        want = statements[row["occupancy_id"]]
        assert row["flat_id"] == want["flat_id"]
        assert row["tenant"] == want["tenant"]
        assert int(row["days"]) == want["days"]
        assert row["is_estimated"] == str(want["is_estimated"]).lower()
        for column in ("costs_eur", "prepayments_eur", "balance_eur"):
            assert float(row[column]) == pytest.approx(want[column], rel=1e-9)
    # By hand: og1-yilmaz pays 225 €/month Jan-May and 14 of June's 30 days;
    # the vacancy runs 15 Jun - 31 Jul (16 + 31 days); og1-hoffmann 240 €
    # for Aug-Dec; eg-becker 12 x 310.
    by_id = {r["occupancy_id"]: r for r in rows}
    assert float(by_id["og1-yilmaz"]["prepayments_eur"]) == pytest.approx(
        5 * 225 + 225 * 14 / 30
    )
    assert by_id["vacant-og1-2025-06-15"]["days"] == "47"
    assert by_id["vacant-og1-2025-06-15"]["tenant"] == ""
    assert float(by_id["og1-hoffmann"]["prepayments_eur"]) == pytest.approx(5 * 240)
    assert float(by_id["eg-becker"]["prepayments_eur"]) == pytest.approx(12 * 310)


def test_the_pdf_shows_the_basis_and_the_balance(statement_data: Path, expected):
    lines, statements = expected
    folder = statement_data / "statements" / str(YEAR)
    assert sorted(p.stem for p in folder.glob("*.pdf")) == sorted(statements)
    assert sorted(p.stem for p in folder.glob("*.html")) == sorted(statements)
    text = subprocess.run(
        ["pdftotext", "-layout", str(folder / "og1-yilmaz.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    balance = statements["og1-yilmaz"]["balance_eur"]
    if balance < 0:
        assert f"Balance refunded to you: {-balance:,.2f} €" in text
    else:
        assert f"Balance to pay: {balance:,.2f} €" in text
    water = lines[("og1-yilmaz", "water", "consumption")]
    assert f"{water['flat_basis']:,.1f} m³ of {water['total_basis']:,.1f} m³" in text
    assert "Deniz Yılmaz" in text
    assert "01.01.2025 – 14.06.2025 (165 days)" in text


def test_a_year_not_yet_ended_is_refused(statement_data: Path):
    result = run_statement(statement_data, "--year", "2026")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error [statement]: YEAR=2026 has not ended before as_of 2026-11-27: "
        "choose 2025 or earlier"
    ]
