"""The Grafana dashboards, defined once, written for InfluxQL and for Flux.

Each panel's queries are `Query` values (measurement, fields, tag filters,
aggregation); `influxql()` and `flux()` turn one into the text of either query
language, so the two flavours of a dashboard ask for the same data and cannot
drift. `python -m grafana.generate` (or `make dashboards`) rewrites
grafana/dashboards/{influxql,flux}/*.json; a test checks that the committed
files are what this module writes.

The flats: a meter belongs to flat F when its id starts with `F_` (FLATS,
e.g. og1_strom, og1_wasser_kalt and og1_heat are OG1's). The utilities and
units of the meters come from seeds/meters.csv at generation time.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "grafana" / "dashboards"
FLAVOURS = ("influxql", "flux")
TIMEZONE = "Europe/Berlin"  # METER_TIMEZONE of the house: days and months
BUCKET = "lampfi_processed"  # INFLUX_BUCKET_PROCESSED (Flux: a variable)

# The flats, as the prefix of their meters' ids, and their names.
FLATS = {"eg": "EG", "og1": "OG1", "og2": "OG2", "buro": "Office (Buero)"}
# The house's totals per utility: the meters whose consumption adds up to it.
HOUSE_UTILITIES = {
    "electricity": ("strom_total",),
    "gas": ("gas_total",),
    "water": ("haupt_wasser",),
    "heat": ("eg_nord_heat", "eg_sud_heat", "og1_heat", "og2_heat", "buro_heat"),
}
UNITS = {"kWh": "suffix: kWh", "MWh": "suffix: MWh", "m³": "suffix: m³"}


@dataclass(frozen=True)
class Meter:
    meter_id: str
    meter_type: str
    utility: str
    unit: str


def read_meters(path: Path = ROOT / "seeds" / "meters.csv") -> dict[str, Meter]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {
            row["meter_id"]: Meter(
                row["meter_id"], row["meter_type"], row["utility"], row["unit"]
            )
            for row in csv.DictReader(handle)
        }


# -- the query model --


@dataclass(frozen=True)
class Tag:
    """A tag filter: `key` equals `value`, or matches `regex` (anchored)."""

    key: str
    value: str = ""
    regex: str = ""
    values: tuple[str, ...] = ()  # any of these (an OR of equalities)


@dataclass(frozen=True)
class Query:
    """What one panel query reads.

    `fields` are shown as they are (no aggregation) unless `aggregate` is set:
    then each is aggregated per `$__interval` in local time. `where_field`
    keeps points whose field equals a value (e.g. is_estimated = 0).
    `group_by` splits the series by these tags.
    """

    measurement: str
    fields: tuple[str, ...]
    tags: tuple[Tag, ...] = ()
    group_by: tuple[str, ...] = ("meter_id",)
    aggregate: str = ""
    where_field: tuple[str, float] | None = None
    alias: str = ""
    ref_id: str = "A"


def _influxql_tag(tag: Tag) -> str:
    if tag.regex:
        return f'"{tag.key}" =~ /^{tag.regex}$/'
    if tag.values:
        return "(" + " OR ".join(f"\"{tag.key}\" = '{v}'" for v in tag.values) + ")"
    return f"\"{tag.key}\" = '{tag.value}'"


def influxql(query: Query) -> str:
    if query.aggregate:
        columns = ", ".join(
            f'{query.aggregate}("{name}") AS "{name}"' for name in query.fields
        )
    else:
        columns = ", ".join(f'"{name}"' for name in query.fields)
    conditions = [_influxql_tag(tag) for tag in query.tags]
    if query.where_field is not None:
        name, value = query.where_field
        conditions.append(f'"{name}" = {value:g}')
    conditions.append("$timeFilter")
    groups = [f'"{tag}"' for tag in query.group_by]
    if query.aggregate:
        groups.insert(0, "time($__interval)")
    text = f'SELECT {columns} FROM "{query.measurement}" WHERE ' + " AND ".join(
        conditions
    )
    if groups:
        text += " GROUP BY " + ", ".join(groups)
    if query.aggregate:
        text += f" fill(none) tz('{TIMEZONE}')"
    return text


def _flux_tag(tag: Tag) -> str:
    if tag.regex:
        return f"r.{tag.key} =~ /^{tag.regex}$/"
    if tag.values:
        return " or ".join(f'r.{tag.key} == "{v}"' for v in tag.values)
    return f'r.{tag.key} == "{tag.value}"'


def flux(query: Query, table: bool = False) -> str:
    """The same data in Flux; multi-field queries are pivoted into columns,
    and a table's series are merged into one table (group())."""
    fields = query.fields
    if query.where_field is not None and query.where_field[0] not in fields:
        fields = (*fields, query.where_field[0])
    lines = [
        'from(bucket: "${bucket}")',
        "  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)",
        f'  |> filter(fn: (r) => r._measurement == "{query.measurement}")',
        "  |> filter(fn: (r) => "
        + " or ".join(f'r._field == "{name}"' for name in fields)
        + ")",
    ]
    lines += [f"  |> filter(fn: (r) => {_flux_tag(tag)})" for tag in query.tags]
    keep = ["_time", "_field", "_value", *query.group_by]
    if query.aggregate:  # windows are cut from _start to _stop
        keep = ["_start", "_stop", *keep]
    lines.append(f"  |> keep(columns: {json.dumps(keep)})")
    if query.aggregate:
        # UTC windows, stamped at their end (timeSrc _stop): a local day's
        # point (22:00Z or 23:00Z the day before) lands in the UTC day that
        # ends at 00:00Z of that local day, so one-day windows keep their
        # day. No `location:`: timezone.location fails on InfluxDB 2.x images
        # without zoneinfo (influxdata/influxdb#23248).
        lines.append(
            f"  |> aggregateWindow(every: v.windowPeriod, fn: {query.aggregate}, "
            "createEmpty: false)"
        )
    if query.where_field is not None or len(query.fields) > 1:
        lines.append(
            '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], '
            'valueColumn: "_value")'
        )
    if query.where_field is not None:
        name, value = query.where_field
        lines.append(f"  |> filter(fn: (r) => r.{name} == {float(value)!r})")
        lines.append(f"  |> drop(columns: [{json.dumps(name)}])")
    if table:
        lines.append("  |> group()")
    return "\n".join(lines)


# -- panels --


@dataclass(frozen=True)
class Panel:
    title: str
    queries: tuple[Query, ...]
    kind: str = "timeseries"  # timeseries | bars | stat | table
    unit: str = ""
    width: int = 12
    height: int = 8
    time_from: str = ""  # the panel's own relative time, e.g. now/y
    time_shift: str = ""
    description: str = ""
    interval: str = ""  # the smallest $__interval, e.g. 1d


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]
    collapsed: bool = False


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    options: tuple[tuple[str, str], ...] = ()  # custom: (text, value)
    query: Query | None = None  # query: the values of query.group_by[0]
    default: str = ""


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    rows: tuple[Row, ...]
    variables: tuple[Variable, ...] = ()
    time_from: str = "now-1y"
    tags: tuple[str, ...] = field(default=("utility-meters",))


def by_meter(*queries: Query) -> tuple[Query, ...]:
    return tuple(
        q if q.alias or q.group_by != ("meter_id",) else _aliased(q, "$tag_meter_id")
        for q in queries
    )


def _aliased(query: Query, alias: str) -> Query:
    return Query(**{**query.__dict__, "alias": alias})


def house(meters: dict[str, Meter]) -> Dashboard:
    rows = []
    for utility, ids in HOUSE_UTILITIES.items():
        unit = UNITS[meters[ids[0]].unit]
        monthly = by_meter(
            Query("meter_consumption", ("consumption",), (Tag("meter_id", values=ids),))
        )
        label = utility.capitalize()
        rows.append(
            Row(
                label,
                (
                    Panel(
                        f"{label}: this month so far",
                        monthly,
                        kind="stat",
                        unit=unit,
                        width=4,
                        time_from="now/M",
                        description="The current month's consumption up to now "
                        "(partial: is_partial = 1).",
                    ),
                    Panel(
                        f"{label} per month: this year",
                        monthly,
                        kind="bars",
                        unit=unit,
                        width=10,
                        time_from="now/y",
                    ),
                    Panel(
                        f"{label} per month: same span last year",
                        monthly,
                        kind="bars",
                        unit=unit,
                        width=10,
                        time_from="now/y",
                        time_shift="1y",
                    ),
                ),
            )
        )
    return Dashboard(
        "um-house",
        "Utility meters: house",
        "Monthly consumption of the house per utility, this year against the "
        "same span of last year, and the current month so far.",
        tuple(rows),
        time_from="now/y",
    )


def flat(meters: dict[str, Meter]) -> Dashboard:
    panels = []
    for utility in ("electricity", "water", "heat", "gas"):
        of_utility = sorted(
            m.meter_id
            for m in meters.values()
            if m.utility == utility and m.meter_id.split("_")[0] in FLATS
        )
        units = {meters[m].unit for m in of_utility}
        assert len(units) == 1, f"{utility} meters of the flats in several units"
        unit = UNITS[units.pop()]
        tags = (
            Tag("meter_id", regex="${flat}_.*"),
            Tag("meter_id", regex="(" + "|".join(of_utility) + ")"),
        )
        label = utility.capitalize()
        panels += [
            Panel(
                f"{label}: daily consumption",
                by_meter(Query("meter_consumption_daily", ("consumption",), tags)),
                kind="bars",
                unit=unit,
                width=12,
                time_from="now-90d",
            ),
            Panel(
                f"{label}: monthly consumption",
                by_meter(Query("meter_consumption", ("consumption",), tags)),
                kind="bars",
                unit=unit,
                width=12,
            ),
        ]
    cost_tags = (Tag("flat_id", value="${flat}"),)
    cost = Row(
        "Running cost (from the cost statement; empty until it is published)",
        (
            Panel(
                "Cost per month by item",
                (
                    Query(
                        "flat_cost_monthly",
                        ("amount_eur",),
                        cost_tags,
                        group_by=("cost_item",),
                        alias="$tag_cost_item",
                    ),
                ),
                kind="bars",
                unit="currencyEUR",
                width=16,
            ),
            Panel(
                "Cost this year so far",
                (
                    Query(
                        "flat_cost_monthly",
                        ("amount_eur",),
                        cost_tags,
                        group_by=(),
                        alias="cost",
                    ),
                ),
                kind="stat",
                unit="currencyEUR",
                width=8,
                time_from="now/y",
            ),
        ),
        collapsed=True,
    )
    return Dashboard(
        "um-flat",
        "Utility meters: flat",
        "One flat's meters (ids starting with the flat's prefix): daily and "
        "monthly consumption per utility, and its running cost.",
        (Row("Consumption", tuple(panels)), cost),
        variables=(
            Variable(
                "flat",
                "Flat",
                options=tuple((name, prefix) for prefix, name in FLATS.items()),
                default="og1",
            ),
        ),
    )


def meter() -> Dashboard:
    one = (Tag("meter_id", value="${meter}"),)
    measured = Query(
        "meter_consumption_daily",
        ("consumption",),
        one,
        group_by=(),
        where_field=("is_estimated", 0),
        alias="measured",
    )
    estimated = Query(
        "meter_consumption_daily",
        ("consumption",),
        one,
        group_by=(),
        where_field=("is_estimated", 1),
        alias="estimated",
        ref_id="B",
    )
    return Dashboard(
        "um-meter",
        "Utility meters: meter",
        "One meter: its daily readings and consumption, measured (interpolated "
        "between readings) against estimated days (no reading yet), its months "
        "and its anomalies.",
        (
            Row(
                "Daily",
                (
                    Panel(
                        "Daily reading (counter at the day's start)",
                        (
                            Query(
                                "meter_interpolated_daily",
                                ("value",),
                                one,
                                group_by=(),
                                where_field=("is_estimated", 0),
                                alias="measured",
                            ),
                            Query(
                                "meter_interpolated_daily",
                                ("value",),
                                one,
                                group_by=(),
                                where_field=("is_estimated", 1),
                                alias="estimated",
                                ref_id="B",
                            ),
                        ),
                        width=12,
                    ),
                    Panel(
                        "Daily consumption: measured and estimated days",
                        (measured, estimated),
                        kind="bars",
                        width=12,
                    ),
                    Panel(
                        "Daily values",
                        (
                            Query(
                                "meter_consumption_daily",
                                ("consumption", "is_estimated", "is_partial"),
                                one,
                                group_by=(),
                            ),
                        ),
                        kind="table",
                        width=12,
                        time_from="now-60d",
                    ),
                    Panel(
                        "Monthly consumption",
                        (
                            Query(
                                "meter_consumption",
                                ("consumption", "is_estimated", "is_partial"),
                                one,
                                group_by=(),
                            ),
                        ),
                        kind="table",
                        width=12,
                    ),
                    Panel(
                        "Anomalies of this meter",
                        (
                            Query(
                                "meter_anomaly",
                                ("consumption", "expected", "ratio"),
                                one,
                                group_by=(),
                            ),
                        ),
                        kind="table",
                        width=24,
                    ),
                ),
            ),
        ),
        variables=(
            Variable(
                "meter",
                "Meter",
                query=Query("meter_consumption_daily", ("consumption",)),
                default="og1_wasser_kalt",
            ),
        ),
        time_from="now-2y",
    )


def anomalies() -> Dashboard:
    return Dashboard(
        "um-anomalies",
        "Utility meters: anomalies and data quality",
        "Days and intervals between readings that used far more than expected, "
        "and what the cleaning of the readings found.",
        (
            Row(
                "Anomalies",
                (
                    Panel(
                        "Anomalous days",
                        (
                            Query(
                                "meter_anomaly",
                                ("consumption", "expected", "ratio"),
                            ),
                        ),
                        kind="table",
                        width=12,
                        description="A day at least anomaly_factor times its "
                        "expected consumption.",
                    ),
                    Panel(
                        "Anomalous intervals between readings",
                        (
                            Query(
                                "meter_interval_anomaly",
                                ("consumption", "expected", "ratio", "days"),
                            ),
                        ),
                        kind="table",
                        width=12,
                        description="An interval between two readings of a "
                        "meter read by hand, stamped at its first day.",
                    ),
                    Panel(
                        "Anomaly ratio per day",
                        by_meter(Query("meter_anomaly", ("ratio",))),
                        kind="bars",
                        width=24,
                    ),
                ),
            ),
            Row(
                "Data quality",
                (
                    Panel(
                        "Data-quality findings",
                        (
                            Query(
                                "data_quality_finding",
                                (
                                    "findings",
                                    "counter_reset",
                                    "excluded_reading",
                                    "negative_virtual",
                                    "tibber_mismatch",
                                ),
                            ),
                        ),
                        kind="table",
                        width=24,
                        description="Per meter and instant, how many findings of "
                        "each kind: counter resets, readings excluded from the "
                        "series, negative virtual consumption, manual readings "
                        "that disagree with Tibber's counter.",
                    ),
                ),
            ),
        ),
        time_from="now-2y",
    )


def electricity_cost() -> Dashboard:
    monthly = Query("electricity_cost_monthly", ("cost",), group_by=(), alias="cost")
    daily = Query(
        "electricity_cost_daily",
        ("cost",),
        group_by=(),
        aggregate="sum",
        alias="cost",
    )
    return Dashboard(
        "um-electricity-cost",
        "Utility meters: electricity cost (Tibber)",
        "The house's electricity cost as Tibber bills it, per day and month.",
        (
            Row(
                "Cost",
                (
                    Panel(
                        "This month so far",
                        (daily,),
                        kind="stat",
                        unit="currencyEUR",
                        width=6,
                        time_from="now/M",
                        interval="1d",
                    ),
                    Panel(
                        "This year so far",
                        (daily,),
                        kind="stat",
                        unit="currencyEUR",
                        width=6,
                        time_from="now/y",
                        interval="1d",
                    ),
                    Panel(
                        "Cost per month",
                        (monthly,),
                        kind="bars",
                        unit="currencyEUR",
                        width=12,
                    ),
                    Panel(
                        "Cost per day (summed per interval when zoomed out)",
                        (daily,),
                        kind="bars",
                        unit="currencyEUR",
                        width=12,
                        interval="1d",
                    ),
                    Panel(
                        "Consumption and hours per month",
                        (
                            Query(
                                "electricity_cost_monthly",
                                (
                                    "cost",
                                    "consumption",
                                    "hours_without_cost",
                                    "hours_missing",
                                ),
                                group_by=(),
                            ),
                        ),
                        kind="table",
                        width=12,
                        description="Hours without cost are counted, not "
                        "guessed; missing hours are hours Tibber did not report.",
                    ),
                ),
            ),
        ),
    )


def dashboards(meters: dict[str, Meter] | None = None) -> tuple[Dashboard, ...]:
    meters = meters if meters is not None else read_meters()
    return (house(meters), flat(meters), meter(), anomalies(), electricity_cost())


# -- Grafana JSON --


def datasource() -> dict[str, str]:
    return {"type": "influxdb", "uid": "${datasource}"}


def target(query: Query, flavour: str, kind: str) -> dict[str, Any]:
    if flavour == "influxql":
        result: dict[str, Any] = {
            "refId": query.ref_id,
            "datasource": datasource(),
            "rawQuery": True,
            "query": influxql(query),
            "resultFormat": "table" if kind == "table" else "time_series",
        }
        if query.alias:
            result["alias"] = query.alias
        return result
    return {
        "refId": query.ref_id,
        "datasource": datasource(),
        "query": flux(query, table=kind == "table"),
    }


def field_config(panel: Panel, flavour: str) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": panel.unit} if panel.unit else {}
    if panel.kind in ("timeseries", "bars"):
        defaults["custom"] = {
            "drawStyle": "bars" if panel.kind == "bars" else "line",
            "fillOpacity": 70 if panel.kind == "bars" else 10,
            "lineWidth": 1,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"mode": "normal" if panel.kind == "bars" else "none"},
        }
    overrides = []
    if flavour == "flux":
        # Flux series are named by their labels: name them as InfluxQL's alias.
        for query in panel.queries:
            if query.alias and query.alias.startswith("$tag_"):
                label = query.alias.removeprefix("$tag_")
                defaults["displayName"] = "${__field.labels." + label + "}"
            elif query.alias and len(query.fields) == 1:
                overrides.append(
                    {
                        "matcher": {"id": "byFrameRefID", "options": query.ref_id},
                        "properties": [{"id": "displayName", "value": query.alias}],
                    }
                )
    return {"defaults": defaults, "overrides": overrides}


def options(panel: Panel) -> dict[str, Any]:
    if panel.kind == "stat":
        return {
            "reduceOptions": {"calcs": ["sum"], "fields": "", "values": False},
            "textMode": "value_and_name",
            "colorMode": "none",
        }
    if panel.kind == "table":
        return {"showHeader": True, "cellHeight": "sm"}
    return {
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "none"},
    }


def panel_json(
    panel: Panel, flavour: str, panel_id: int, x: int, y: int
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "id": panel_id,
        "type": "timeseries" if panel.kind == "bars" else panel.kind,
        "title": panel.title,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "datasource": datasource(),
        "targets": [target(q, flavour, panel.kind) for q in panel.queries],
        "fieldConfig": field_config(panel, flavour),
        "options": options(panel),
    }
    if panel.description:
        result["description"] = panel.description
    if panel.time_from:
        result["timeFrom"] = panel.time_from
    if panel.time_shift:
        result["timeShift"] = panel.time_shift
    if panel.interval:
        result["interval"] = panel.interval
    if panel.kind == "table" and flavour == "influxql":
        result["transformations"] = [{"id": "merge", "options": {}}]
    return result


def variable_json(variable: Variable, flavour: str) -> dict[str, Any]:
    if variable.options:
        options = [
            {"text": text, "value": value, "selected": value == variable.default}
            for text, value in variable.options
        ]
        current = next(o for o in options if o["selected"])
        return {
            "type": "custom",
            "name": variable.name,
            "label": variable.label,
            "query": ",".join(f"{t} : {v}" for t, v in variable.options),
            "current": {"text": current["text"], "value": current["value"]},
            "options": options,
            "multi": False,
            "includeAll": False,
            "hide": 0,
        }
    assert variable.query is not None
    query = variable.query
    tag = query.group_by[0]
    if flavour == "influxql":
        text = f'SHOW TAG VALUES FROM "{query.measurement}" WITH KEY = "{tag}"'
    else:
        text = (
            'import "influxdata/influxdb/schema"\n'
            f'schema.tagValues(bucket: "${{bucket}}", tag: "{tag}", '
            f'predicate: (r) => r._measurement == "{query.measurement}", '
            "start: -10y)"
        )
    return {
        "type": "query",
        "name": variable.name,
        "label": variable.label,
        "datasource": datasource(),
        "query": text,
        "definition": text,
        "current": {"text": variable.default, "value": variable.default},
        "refresh": 1,
        "sort": 1,
        "multi": False,
        "includeAll": False,
        "hide": 0,
    }


def templating(dashboard: Dashboard, flavour: str) -> list[dict[str, Any]]:
    name = "InfluxQL" if flavour == "influxql" else "Flux"
    result: list[dict[str, Any]] = [
        {
            "type": "datasource",
            "name": "datasource",
            "label": f"InfluxDB ({name})",
            "query": "influxdb",
            "current": {
                "text": f"utility-meters {name}",
                "value": f"utility-meters-{flavour}",
            },
            "hide": 0,
        }
    ]
    if flavour == "flux":
        result.append(
            {
                "type": "textbox",
                "name": "bucket",
                "label": "Bucket",
                "query": BUCKET,
                "current": {"text": BUCKET, "value": BUCKET},
                "hide": 0,
            }
        )
    result += [variable_json(v, flavour) for v in dashboard.variables]
    return result


def layout(rows: Iterable[Row], flavour: str) -> list[dict[str, Any]]:
    """Rows one under the other, panels left to right, wrapping at 24."""
    result: list[dict[str, Any]] = []
    panel_id = 1
    y = 0
    for row in rows:
        row_json: dict[str, Any] = {
            "id": panel_id,
            "type": "row",
            "title": row.title,
            "collapsed": row.collapsed,
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
            "panels": [],
        }
        panel_id += 1
        y += 1
        result.append(row_json)
        x = 0
        height = 0
        for panel in row.panels:
            if x + panel.width > 24:
                x, y, height = 0, y + height, 0
            placed = panel_json(panel, flavour, panel_id, x, y)
            panel_id += 1
            (row_json["panels"] if row.collapsed else result).append(placed)
            x += panel.width
            height = max(height, panel.height)
        y += height
    return result


def dashboard_json(dashboard: Dashboard, flavour: str) -> dict[str, Any]:
    name = "InfluxQL" if flavour == "influxql" else "Flux"
    return {
        "uid": f"{dashboard.uid}-{flavour}",
        "title": f"{dashboard.title} ({name})",
        "description": dashboard.description,
        "tags": [*dashboard.tags, flavour],
        "timezone": TIMEZONE,
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 38,  # Grafana 10.0; later versions migrate it
        "version": 1,
        "time": {"from": dashboard.time_from, "to": "now"},
        "refresh": "",
        "templating": {"list": templating(dashboard, flavour)},
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "tags": ["utility-meters", flavour],
                "title": "Utility meters",
                "asDropdown": True,
            }
        ],
        "panels": layout(dashboard.rows, flavour),
    }


def file_name(dashboard: Dashboard) -> str:
    return dashboard.uid.removeprefix("um-") + ".json"


def render(meters: dict[str, Meter] | None = None) -> dict[Path, str]:
    """Every dashboard file: path relative to OUT -> its text."""
    return {
        Path(flavour) / file_name(d): json.dumps(
            dashboard_json(d, flavour), indent=2, ensure_ascii=False
        )
        + "\n"
        for d in dashboards(meters)
        for flavour in FLAVOURS
    }


def main(out: Path = OUT) -> int:
    for path, text in render().items():
        target_path = out / path
        target_path.parent.mkdir(parents=True, exist_ok=True)
        target_path.write_text(text, encoding="utf-8")
        print(f"wrote {target_path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
