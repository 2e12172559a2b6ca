"""Write one year's statements into DATA_DIR/statements/<year>/.

`statement_lines.csv` and `statements.csv` hold the marts' rows of the year
(the contract's columns, unrounded amounts); each occupancy gets
`<occupancy_id>.html` and `<occupancy_id>.pdf`. The year's folder is written
beside the old one and swapped in whole, so it never mixes two runs.
"""

from __future__ import annotations

import csv
import os
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from core.settings import Settings
from pipeline.run import run_lock
from statement.document import Line, Statement, render_html, write_pdf
from statement.warehouse import StatementError, ensure_fresh

LINE_COLUMNS = (
    "year",
    "occupancy_id",
    "flat_id",
    "tenant",
    "cost_item",
    "part",
    "basis_unit",
    "flat_basis",
    "total_basis",
    "amount_eur",
)
STATEMENT_COLUMNS = (
    "year",
    "occupancy_id",
    "flat_id",
    "tenant",
    "days",
    "costs_eur",
    "prepayments_eur",
    "balance_eur",
    "is_estimated",
)


@dataclass
class Outcome:
    year: int
    folder: Path | None
    statements: int
    warehouse: str
    seconds: float = 0.0
    note: str = ""


def default_year(settings: Settings, as_of: datetime) -> int:
    """The last calendar year that ended before the as_of day."""
    return as_of.astimezone(ZoneInfo(settings.timezone)).year - 1


def produce(settings: Settings, year: int | None = None) -> Outcome:
    started = time.perf_counter()
    as_of = settings.as_of or datetime.now(UTC).replace(microsecond=0)
    latest = default_year(settings, as_of)
    year = latest if year is None else year
    if year > latest:
        raise StatementError(
            f"YEAR={year} has not ended before as_of "
            f"{as_of.astimezone(ZoneInfo(settings.timezone)).date()}: "
            f"choose {latest} or earlier"
        )
    with run_lock(settings.data_dir):
        warehouse = ensure_fresh(settings, as_of)
        # Not read_only: the dbt build of this process may hold it open.
        with duckdb.connect(str(settings.warehouse)) as db:
            statements = _rows(
                db,
                "select * from main.billing_statements where year = ? "
                "order by flat_id, first_day",
                [year],
            )
            billed = db.execute(
                "select min(year), max(year) from main.billing_statements"
            ).fetchone()
            lines = _rows(
                db,
                "select * from main.billing_statement_lines where year = ? "
                "order by occupancy_id, item_order, part",
                [year],
            )
            monthly = _rows(
                db,
                "select * from main.flat_monthly_consumption "
                "where year(month) in (?, ?)",
                [year, year - 1],
            )
    outcome = Outcome(year=year, folder=None, statements=0, warehouse=warehouse)
    if not statements:
        if billed is None or billed[0] is None:
            outcome.note = "no statements: the billing seeds bill no one"
        else:
            outcome.note = (
                f"no statements for {year}: the complete years billed are "
                f"{billed[0]} to {billed[1]}"
            )
        outcome.seconds = round(time.perf_counter() - started, 2)
        return outcome
    folder = settings.data_dir / "statements" / str(year)
    staging = folder.with_name(f".{year}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    _write_csv(staging / "statement_lines.csv", LINE_COLUMNS, lines)
    _write_csv(staging / "statements.csv", STATEMENT_COLUMNS, statements)
    for row in statements:
        document = _statement(row, lines, monthly)
        html = render_html(document)
        (staging / f"{document.occupancy_id}.html").write_text(html)
        write_pdf(html, staging / f"{document.occupancy_id}.pdf")
    _swap(staging, folder)
    outcome.folder = folder
    outcome.statements = len(statements)
    outcome.seconds = round(time.perf_counter() - started, 2)
    return outcome


def _rows(db: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    cursor = db.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(
                ["" if row[name] is None else _text(row[name]) for name in columns]
            )


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _statement(row: dict, lines: list[dict], monthly: list[dict]) -> Statement:
    year = row["year"]
    charts: dict[str, tuple[str, dict[int, float], dict[int, float]]] = {}
    for month in monthly:
        if month["flat_id"] != row["flat_id"]:
            continue
        _, this_year, last_year = charts.setdefault(
            month["measure"], (month["unit"], {}, {})
        )
        target = this_year if month["month"].year == year else last_year
        target[month["month"].month] = month["consumption"]
    return Statement(
        year=year,
        occupancy_id=row["occupancy_id"],
        house_name=row["house_name"],
        flat_name=row["flat_name"],
        tenant=row["tenant"],
        first_day=row["first_day"],
        last_day=row["last_day"],
        days=row["days"],
        costs_eur=row["costs_eur"],
        prepayments_eur=row["prepayments_eur"],
        balance_eur=row["balance_eur"],
        is_estimated=row["is_estimated"],
        lines=[
            Line(
                label=line["label"],
                part=line["part"],
                allocation_key=line["allocation_key"],
                basis_unit=line["basis_unit"],
                flat_basis=line["flat_basis"],
                total_basis=line["total_basis"],
                share=line["share"],
                part_amount_eur=line["part_amount_eur"],
                amount_eur=line["amount_eur"],
                is_estimated=line["is_estimated"],
            )
            for line in lines
            if line["occupancy_id"] == row["occupancy_id"]
        ],
        monthly=charts,
    )


def _swap(staging: Path, folder: Path) -> None:
    old = folder.with_name(f".{folder.name}.{os.getpid()}.old")
    if folder.exists():
        os.replace(folder, old)
    os.replace(staging, folder)
    shutil.rmtree(old, ignore_errors=True)
