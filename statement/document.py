"""One occupancy's statement as HTML (with an inline SVG chart) and PDF.

The document rounds to cents; the CSVs and marts keep amounts unrounded, so
rounded lines may differ from their rounded sum by cents.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from html import escape
from pathlib import Path

PART_NAMES = {
    "consumption": "consumption",
    "fixed": "fixed",
    "metered": "own meters",
    "base_fee": "base fee",
}
KEY_NAMES = {
    "living_area": "living area",
    "heated_area": "heated area",
    "persons": "persons",
    "units": "units",
}
DECIMALS = {"MWh": 3, "kWh": 1, "m³": 1}


@dataclass(frozen=True)
class Line:
    label: str
    part: str
    allocation_key: str
    basis_unit: str
    flat_basis: float
    total_basis: float
    share: float | None
    part_amount_eur: float
    amount_eur: float
    is_estimated: bool


@dataclass(frozen=True)
class Statement:
    year: int
    occupancy_id: str
    house_name: str
    flat_name: str
    tenant: str | None
    first_day: date
    last_day: date
    days: int
    costs_eur: float
    prepayments_eur: float
    balance_eur: float
    is_estimated: bool
    lines: list[Line]
    # measure -> (unit, {month number: consumption} this year, previous year)
    monthly: dict[str, tuple[str, dict[int, float], dict[int, float]]]


def euros(amount: float) -> str:
    return f"{amount:,.2f} €"


def quantity(value: float, unit: str) -> str:
    return f"{value:,.{DECIMALS.get(unit, 0)}f} {unit}"


def basis_text(line: Line) -> str:
    """'42.1 m³ of 311.9 m³'."""
    return (
        f"{quantity(line.flat_basis, line.basis_unit)} of "
        f"{quantity(line.total_basis, line.basis_unit)}"
    )


def key_text(line: Line) -> str:
    key = KEY_NAMES.get(line.allocation_key, line.allocation_key.replace("_", " "))
    return f"{key} ({PART_NAMES.get(line.part, line.part)})"


def chart_svg(
    measure: str,
    unit: str,
    this_year: dict[int, float],
    last_year: dict[int, float],
    year: int,
) -> str:
    """Bars: the year's months; dots and line: the previous year's."""
    width, height, left, bottom, top = 245, 118, 40, 20, 18
    plot_w, plot_h = width - left - 8, height - bottom - top
    values = [*this_year.values(), *last_year.values(), 0.0]
    high = max(values) or 1.0
    low = min(values)
    span = high - min(low, 0.0)

    def y(value: float) -> float:
        return top + plot_h * (high - value) / span

    slot = plot_w / 12
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" class="chart">',
        f'<text x="{left}" y="12" font-size="9" font-weight="bold">'
        f"{escape(measure)} ({escape(unit)}) {year} vs {year - 1}</text>",
        f'<line x1="{left}" y1="{y(0):.1f}" x2="{left + plot_w}" y2="{y(0):.1f}" '
        'stroke="#888888" stroke-width="0.7"/>',
        f'<text x="{left - 4}" y="{y(high) + 4:.1f}" font-size="8" fill="#555555" '
        f'text-anchor="end">{high:,.{DECIMALS.get(unit, 0)}f}</text>',
        f'<text x="{left - 4}" y="{y(0) + 4:.1f}" font-size="8" fill="#555555" '
        'text-anchor="end">0</text>',
    ]
    for month in range(1, 13):
        x = left + slot * (month - 1)
        if month in this_year:
            value = this_year[month]
            top_y, base_y = sorted((y(value), y(0)))
            parts.append(
                f'<rect x="{x + slot * 0.15:.1f}" y="{top_y:.1f}" '
                f'width="{slot * 0.7:.1f}" height="{base_y - top_y:.1f}" '
                'fill="#4f81bd"/>'
            )
        parts.append(
            f'<text x="{x + slot / 2:.1f}" y="{height - 6}" font-size="8" '
            f'fill="#555555" text-anchor="middle">'
            f"{calendar.month_abbr[month][0]}</text>"
        )
    previous = [
        (left + slot * (month - 0.5), y(last_year[month]))
        for month in range(1, 13)
        if month in last_year
    ]
    if previous:
        points = " ".join(f"{x:.1f},{y_:.1f}" for x, y_ in previous)
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="#c0504d" '
            'stroke-width="1.2"/>'
        )
        parts.extend(
            f'<circle cx="{x:.1f}" cy="{y_:.1f}" r="2" fill="#c0504d"/>'
            for x, y_ in previous
        )
    parts.append("</svg>")
    return "".join(parts)


STYLE = """
@page { size: A4; margin: 16mm 15mm; }
body { font-family: 'DejaVu Sans', sans-serif; font-size: 9pt; color: #222; }
h1 { font-size: 15pt; margin: 0 0 4pt; }
.meta td { padding: 1pt 12pt 1pt 0; }
table.lines { border-collapse: collapse; width: 100%; margin-top: 10pt;
  table-layout: fixed; font-size: 8.5pt; }
table.lines td.basis { text-align: right; }
table.lines th { text-align: left; border-bottom: 1px solid #444; padding: 3pt; }
table.lines td { padding: 2.5pt 3pt; border-bottom: 1px solid #ddd; }
table.lines .num { text-align: right; white-space: nowrap; }
table.lines tr.total td { border-top: 1px solid #444; font-weight: bold; }
.balance { font-size: 11pt; font-weight: bold; margin-top: 8pt; }
.note { color: #555; font-size: 8pt; margin-top: 8pt; }
.charts { margin-top: 10pt; }
svg.chart { display: inline-block; margin: 0 10pt 6pt 0; }
h2 { font-size: 10pt; margin: 12pt 0 4pt; }
"""


def render_html(statement: Statement) -> str:
    who = escape(statement.tenant or "vacant (borne by the owner)")
    rows = []
    for line in statement.lines:
        mark = " *" if line.is_estimated else ""
        share = "" if line.share is None else f"{line.share * 100:.2f} %"
        rows.append(
            "<tr>"
            f"<td>{escape(line.label)}{mark}</td>"
            f"<td>{escape(key_text(line))}</td>"
            f'<td class="basis">{escape(basis_text(line))}</td>'
            f'<td class="num">{share}</td>'
            f'<td class="num">{euros(line.part_amount_eur)}</td>'
            f'<td class="num">{euros(line.amount_eur)}</td>'
            "</tr>"
        )
    balance = statement.balance_eur
    if round(balance, 2) > 0:
        verdict = f"Balance to pay: {euros(balance)}"
    elif round(balance, 2) < 0:
        verdict = f"Balance refunded to you: {euros(-balance)}"
    else:
        verdict = f"Balance: {euros(0.0)}"
    prepaid = (
        f"−{euros(statement.prepayments_eur)}"
        if round(statement.prepayments_eur, 2)
        else euros(0.0)
    )
    charts = "".join(
        chart_svg(measure, unit, this_year, last_year, statement.year)
        for measure, (unit, this_year, last_year) in sorted(statement.monthly.items())
    )
    estimated = (
        '<p class="note">* rests on estimated consumption (days the meters\' '
        "daily series estimates: beyond a meter's first or last reading, or a "
        "missing Tibber hour); the amount may change when readings arrive.</p>"
        if statement.is_estimated
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Cost statement {statement.year} {escape(statement.occupancy_id)}</title>
<style>{STYLE}</style></head>
<body>
<h1>Utility cost statement {statement.year}</h1>
<table class="meta">
<tr><td>House</td><td>{escape(statement.house_name)}</td></tr>
<tr><td>Unit</td><td>{escape(statement.flat_name)}</td></tr>
<tr><td>Tenant</td><td>{who}</td></tr>
<tr><td>Period</td><td>{statement.first_day:%d.%m.%Y} – {statement.last_day:%d.%m.%Y}
 ({statement.days} days)</td></tr>
<tr><td>Reference</td><td>{escape(statement.occupancy_id)}</td></tr>
</table>
<table class="lines">
<col style="width: 21%"><col style="width: 15%"><col style="width: 27%">
<col style="width: 10%"><col style="width: 13%"><col style="width: 14%">
<tr><th>Cost item</th><th>Key</th><th class="num">Your basis of the total</th>
<th class="num">Share</th><th class="num">Part total</th>
<th class="num">Your amount</th></tr>
{"".join(rows)}
<tr class="total"><td colspan="5">Your costs</td>
<td class="num">{euros(statement.costs_eur)}</td></tr>
<tr><td colspan="5">Prepayments</td>
<td class="num">{prepaid}</td></tr>
</table>
<p class="balance">{verdict}</p>
{estimated}
<p class="note">Each cost item's total is divided among all occupancies of the
year, vacancies included: the consumption part by metered consumption of the
unit on your days, the fixed part by the key times your days. Amounts are
rounded to cents; the rounded lines may differ from their rounded sum by cents.
</p>
<div class="charts"><h2>The unit's monthly consumption
(bars: {statement.year}, line: {statement.year - 1})</h2>{charts}</div>
</body></html>
"""


def write_pdf(html: str, path: Path) -> None:
    from weasyprint import HTML

    HTML(string=html).write_pdf(path)
