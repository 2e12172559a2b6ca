"""The Grafana dashboards (grafana/): generated, loadable, and every query runs.

No Grafana can be installed here, so the dashboards are checked by what
Grafana would do with them:

- the committed JSON is exactly what grafana/generate.py writes (no drift);
- every panel of both flavours names a published measurement and field;
- every InfluxQL query of every panel (and every variable query), with
  Grafana's macros expanded the way Grafana expands them ($timeFilter from the
  panel's or the dashboard's time range, evaluated at the demo house's as_of
  in the dashboards' time zone; $__interval as the panel's minimum interval;
  the template variables), runs against the real influxd after the demo house
  was published there by `python -m pipeline run`, and returns series with
  every field the panel shows;
- every Flux query is sent to the InfluxDB 2.x wire FAKE
  (tests/support/fake_influx2.py),
  which evaluates no Flux: it checks the request and the bucket. The test
  itself checks the rest as far as text allows: the bucket variable, the
  measurement, the fields and the tag filters are those of the InfluxQL
  twin of the same panel, whose data was checked against influxd.

Measurements that other work adds (flat_cost_monthly from the cost statement,
meter_interval_anomaly from the interval anomalies) are skipped in the demo
house while they are not published there; their panels' queries run instead
against hand-written points of the agreed shape in a scratch database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from dateutil.relativedelta import relativedelta

from grafana import generate
from load.publish import MARTS
from tests.support.fake_influx2 import FakeInflux2
from tests.support.fixtures_influx import InfluxServer
from tests.support.fixtures_pipeline import (
    AS_OF,
    HouseHistory,
    served_house,
)

DASHBOARDS = generate.OUT
NOW = datetime.fromisoformat(AS_OF.replace("Z", "+00:00"))
ZONE = ZoneInfo(generate.TIMEZONE)
PENDING = {
    "flat_cost_monthly": ("amount_eur",),
    "meter_interval_anomaly": ("consumption", "expected", "ratio", "days"),
}
PUBLISHED = {mart.measurement: tuple(mart.fields) for mart in MARTS}
# The demo's leak: og1_wasser_kalt used 10x from 2025-03-10 (extract/demo.py);
# it is read by hand, so it also has estimated days after its last reading.
DEMO_METER = "og1_wasser_kalt"


# -- reading the dashboards --


def load(flavour: str) -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((DASHBOARDS / flavour).glob("*.json"))
    }


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


@dataclass(frozen=True)
class Target:
    file: str
    dashboard: dict[str, Any]
    panel: dict[str, Any]
    target: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.file}:{self.panel['title']}:{self.target['refId']}"


def targets(flavour: str) -> list[Target]:
    return [
        Target(file, dashboard, panel, target)
        for file, dashboard in load(flavour).items()
        for panel in panels(dashboard)
        for target in panel["targets"]
    ]


# -- what a query asks for, from its text --


@dataclass(frozen=True)
class Asks:
    measurement: str
    fields: frozenset[str]
    tags: frozenset[tuple[str, str, str]]  # key, operator (= or =~), value


def influxql_asks(query: str) -> Asks:
    (measurement,) = re.findall(r'FROM "(\w+)"', query)
    select = query.split(" FROM ", 1)[0]
    fields = set(re.findall(r'\w*\(?"(\w+)"\)?(?: AS "\w+")?', select))
    where = query.split(" WHERE ", 1)[1].split(" GROUP BY ", 1)[0]
    tags = set()
    for key, value in re.findall(r"\"(\w+)\" = '([^']*)'", where):
        tags.add((key, "=", value))
    for key, value in re.findall(r'"(\w+)" =~ /(.*?)/(?: |\)|$)', where):
        tags.add((key, "=~", value))
    fields |= {key for key in re.findall(r'"(\w+)" = [-\d.]+(?: |$)', where) if key}
    return Asks(measurement, frozenset(fields), frozenset(tags))


def flux_asks(query: str) -> Asks:
    (measurement,) = re.findall(r'r\._measurement == "(\w+)"', query)
    fields = set(re.findall(r'r\._field == "(\w+)"', query))
    tags = set()
    for key, value in re.findall(r'r\.(\w+) == "([^"]*)"', query):
        if not key.startswith("_"):
            tags.add((key, "=", value))
    for key, value in re.findall(r"r\.(\w+) =~ /(.*?)/\)", query):
        tags.add((key, "=~", value))
    return Asks(measurement, frozenset(fields), frozenset(tags))


def test_committed_dashboards_are_what_the_generator_writes() -> None:
    """Regenerating gives the committed files, and there is no other file."""
    rendered = generate.render()
    committed = {
        path.relative_to(DASHBOARDS): path.read_text(encoding="utf-8")
        for path in DASHBOARDS.rglob("*.json")
    }
    assert sorted(committed) == sorted(rendered), "run `make dashboards`"
    for path, text in rendered.items():
        assert committed[path] == text, f"{path} is stale: run `make dashboards`"


def test_both_flavours_have_the_same_dashboards_panels_and_queries() -> None:
    """Flux and InfluxQL twins: same files, panel titles, and what they ask."""
    influxql = targets("influxql")
    flux = targets("flux")
    assert [t.name for t in influxql] == [t.name for t in flux]
    assert len(influxql) >= 30
    for ql, fx in zip(influxql, flux, strict=True):
        assert influxql_asks(ql.target["query"]) == flux_asks(fx.target["query"]), (
            ql.name
        )


@pytest.mark.parametrize("flavour", generate.FLAVOURS)
def test_every_panel_names_a_published_measurement_and_its_fields(
    flavour: str,
) -> None:
    """The dashboards load as Grafana dashboard JSON, and every query reads a
    measurement the loader publishes (or one of the pending ones) and only
    fields that measurement has."""
    dashboards = load(flavour)
    assert set(dashboards) == {
        "house.json",
        "flat.json",
        "meter.json",
        "anomalies.json",
        "electricity-cost.json",
    }
    known = {**PUBLISHED, **PENDING}
    uids = set()
    for dashboard in dashboards.values():
        assert dashboard["uid"] not in uids
        uids.add(dashboard["uid"])
        assert dashboard["schemaVersion"] >= 36  # Grafana 9.1+ panel JSON
        ids = [p["id"] for p in dashboard["panels"]] + [
            nested["id"]
            for row in dashboard["panels"]
            for nested in row.get("panels", [])
        ]
        assert len(ids) == len(set(ids))
        for panel in panels(dashboard):
            assert panel["datasource"] == {"type": "influxdb", "uid": "${datasource}"}
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                asks = (influxql_asks if flavour == "influxql" else flux_asks)(
                    target["query"]
                )
                assert asks.measurement in known, (panel["title"], asks)
                assert asks.fields and asks.fields <= set(known[asks.measurement]), (
                    panel["title"],
                    asks,
                )


def test_flat_variable_maps_each_flat_to_its_meters_by_prefix() -> None:
    """Every flat of the `flat` variable has meters in seeds/meters.csv whose
    ids start with `<flat>_`, and every utility panel's meter list is the
    seed's meters of that utility: og1 has og1_strom (electricity),
    og1_wasser_kalt and og1_wasser_warm (water) and og1_heat (heat)."""
    meters = generate.read_meters()
    (flat,) = [
        v
        for v in load("influxql")["flat.json"]["templating"]["list"]
        if v["name"] == "flat"
    ]
    values = [o["value"] for o in flat["options"]]
    assert values == ["eg", "og1", "og2", "buro"]
    for value in values:
        assert any(m.startswith(f"{value}_") for m in meters), value
    queries = {
        p["title"]: p["targets"][0]["query"]
        for p in panels(load("influxql")["flat.json"])
    }
    water = queries["Water: daily consumption"]
    assert '"meter_id" =~ /^${flat}_.*$/' in water
    lists = re.findall(r"/\^\(([^)]*)\)\$/", water)
    assert lists == ["og1_wasser_kalt|og1_wasser_warm|og2_wasser_kalt|og2_wasser_warm"]


# -- running the InfluxQL queries against the published demo house --


@dataclass(frozen=True)
class Published:
    server: InfluxServer
    db: str
    measurements: frozenset[str]


@pytest.fixture(scope="module")
def published(
    influxd: InfluxServer,
    house_history: HouseHistory,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Published]:
    """The demo house after one `python -m pipeline run` into influxd."""
    data_dir = tmp_path_factory.mktemp("grafana") / "data"
    with served_house(influxd, data_dir, house_history) as house:
        result = house.run()
        assert result.returncode == 0, result.stdout + result.stderr
        answer = influxd.query("SHOW MEASUREMENTS", db=house.processed_db)
        names = frozenset(row[0] for row in answer["results"][0]["series"][0]["values"])
        yield Published(influxd, house.processed_db, names)


def instant(expression: str, now: datetime = NOW) -> datetime:
    """Grafana's relative time (now, now-90d, now-2y, now/M, now/y) in ZONE."""
    match = re.fullmatch(r"now(?:-(\d+)([dMy]))?(?:/([dMy]))?", expression)
    assert match, expression
    count, unit, rounding = match.groups()
    moment = now.astimezone(ZONE)
    if count:
        moment -= {
            "d": relativedelta(days=int(count)),
            "M": relativedelta(months=int(count)),
            "y": relativedelta(years=int(count)),
        }[unit]
    if rounding:
        moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        if rounding in "My":
            moment = moment.replace(day=1)
        if rounding == "y":
            moment = moment.replace(month=1)
    return moment.astimezone(UTC)


def test_relative_times_round_in_the_house_time_zone() -> None:
    """now = 2026-11-27T10:00Z: this month starts at local 2026-11-01 00:00
    (CET, UTC+1) = 2026-10-31T23:00Z; this year at 2025-12-31T23:00Z. Days
    are counted on the wall clock, as Grafana's date math does: 90 days
    before 11:00 CET is 2026-08-29 11:00 CEST (UTC+2) = 09:00Z."""
    assert instant("now/M") == datetime(2026, 10, 31, 23, tzinfo=UTC)
    assert instant("now/y") == datetime(2025, 12, 31, 23, tzinfo=UTC)
    assert instant("now-90d") == datetime(2026, 8, 29, 9, tzinfo=UTC)
    assert instant("now-2y") == datetime(2024, 11, 27, 10, tzinfo=UTC)


def time_range(target: Target) -> tuple[datetime, datetime]:
    start = instant(target.panel.get("timeFrom") or target.dashboard["time"]["from"])
    stop = NOW
    shift = target.panel.get("timeShift")
    if shift:
        count, unit = re.fullmatch(r"(\d+)([dMy])", shift).groups()
        delta = {"d": "days", "M": "months", "y": "years"}[unit]
        start -= relativedelta(**{delta: int(count)})
        stop -= relativedelta(**{delta: int(count)})
    return start, stop


def expand(target: Target, variables: dict[str, str]) -> str:
    """The query as Grafana sends it to InfluxDB."""
    start, stop = time_range(target)
    query = target.target["query"].replace(
        "$timeFilter",
        f"time >= {int(start.timestamp() * 1000)}ms "
        f"and time <= {int(stop.timestamp() * 1000)}ms",
    )
    query = query.replace("$__interval", target.panel.get("interval") or "1d")
    for name, value in variables.items():
        query = query.replace("${" + name + "}", value).replace("$" + name, value)
    assert not re.search(r"\$\{?[A-Za-z_]", query.replace("$tag_", "")), query
    return query


def run_influxql(published: Published, query: str) -> list[dict[str, Any]]:
    answer = published.server.query(query, db=published.db)
    (result,) = answer["results"]
    assert "error" not in result, f"{query}: {result['error']}"
    return result.get("series") or []


def cases() -> list[Any]:
    """(target, variables) for every InfluxQL query; the flat dashboard once
    per flat, the meter dashboard for the demo's hand-read leaking meter."""
    result = []
    for target in targets("influxql"):
        if target.file == "flat.json":
            for flat in generate.FLATS:
                result.append(
                    pytest.param(target, {"flat": flat}, id=f"{target.name}[{flat}]")
                )
        elif target.file == "meter.json":
            result.append(pytest.param(target, {"meter": DEMO_METER}, id=target.name))
        else:
            result.append(pytest.param(target, {}, id=target.name))
    return result


def expected_meters(query: str, flat: str) -> set[str]:
    """The seed's meters a flat panel's query may return for this flat."""
    (listed,) = re.findall(r"/\^\(([^)]*)\)\$/", query)
    return {m for m in listed.split("|") if m.startswith(f"{flat}_")}


@pytest.mark.influx
@pytest.mark.slow
@pytest.mark.parametrize(("target", "variables"), cases())
def test_influxql_query_returns_series_with_the_fields_the_panel_shows(
    published: Published, target: Target, variables: dict[str, str]
) -> None:
    asks = influxql_asks(target.target["query"])
    if asks.measurement in PENDING and asks.measurement not in published.measurements:
        pytest.skip(f"{asks.measurement} is not published yet (added by other work)")
    query = expand(target, variables)
    series = run_influxql(published, query)
    rows = sum(len(s["values"]) for s in series)
    print(f"influxql {target.name} {variables} series={len(series)} rows={rows}")

    flat = variables.get("flat")
    if flat is not None and asks.measurement != "flat_cost_monthly":
        # Only the flat's meters of the panel's utility, and all of them.
        allowed = expected_meters(query, flat)
        found = {s["tags"]["meter_id"] for s in series}
        assert found == allowed, query
        if not allowed:
            return  # e.g. the office has no electricity meter of its own
    assert series, f"no data: {query}"
    assert rows > 0
    shown = {
        alias or field
        for field, alias in re.findall(
            r'(?:\w+\()?"(\w+)"\)?(?: AS "(\w+)")?', query.split(" FROM ")[0]
        )
    }
    for one in series:
        assert shown <= set(one["columns"]), (query, one["columns"])
        assert any(
            value is not None
            for row in one["values"]
            for column, value in zip(one["columns"], row, strict=True)
            if column in shown
        ), query
    if "GROUP BY" in query and '"meter_id"' in query.split("GROUP BY")[1]:
        assert all("meter_id" in (s.get("tags") or {}) for s in series)


@pytest.mark.influx
@pytest.mark.slow
def test_meter_dashboard_shows_measured_and_estimated_days_apart(
    published: Published,
) -> None:
    """og1_wasser_kalt is read by hand: its days up to the last reading are
    measured (is_estimated = 0) and the days after it, up to as_of, are
    estimated (is_estimated = 1). The two queries of the panel split the
    days: together they are every day of the range, none twice."""
    (panel,) = [
        t
        for t in targets("influxql")
        if t.panel["title"] == "Daily consumption: measured and estimated days"
        and t.target["refId"] == "A"
    ]
    both = [
        Target(panel.file, panel.dashboard, panel.panel, target)
        for target in panel.panel["targets"]
    ]
    times = []
    for target in both:
        series = run_influxql(published, expand(target, {"meter": DEMO_METER}))
        (one,) = series
        times.append([row[0] for row in one["values"]])
    measured, estimated = times
    assert measured and estimated
    assert max(measured) < min(estimated)
    start, stop = time_range(both[0])
    everything = run_influxql(
        published,
        f'SELECT "consumption" FROM "meter_consumption_daily" WHERE '
        f"\"meter_id\" = '{DEMO_METER}' AND time >= "
        f"{int(start.timestamp() * 1000)}ms AND time <= "
        f"{int(stop.timestamp() * 1000)}ms",
    )
    assert sorted(measured + estimated) == [row[0] for row in everything[0]["values"]]


@pytest.mark.influx
@pytest.mark.slow
def test_variable_queries_list_the_published_meters(published: Published) -> None:
    """The meter variable lists the meters with daily consumption: every
    meter of seeds/meters.csv (26: physical, master and virtual)."""
    meters = generate.read_meters()
    (variable,) = [
        v
        for v in load("influxql")["meter.json"]["templating"]["list"]
        if v["name"] == "meter"
    ]
    series = run_influxql(published, variable["query"])
    values = {row[1] for row in series[0]["values"]}
    print(f"influxql meter.json:variable meter series=1 rows={len(values)}")
    assert values == set(meters)
    assert len(values) == 26


# -- Flux, against the 2.x wire fake --


def post_flux(fake: FakeInflux2, query: str) -> requests.Response:
    return requests.post(
        f"{fake.url}/api/v2/query",
        params={"org": fake.org},
        headers={
            "Authorization": f"Token {fake.token}",
            "Content-Type": "application/json",
            "Accept": "application/csv",
        },
        json={"query": query, "type": "flux"},
        timeout=10,
    )


def test_flux_queries_are_accepted_and_ask_for_what_influxql_asks(
    influx2_fake: FakeInflux2,
) -> None:
    """Each Flux query, with the variables as Grafana expands them (${bucket}
    the default lampfi_processed, ${flat} og1, ${meter} og1_wasser_kalt), is
    accepted by the 2.x API fake (token, org, a bucket that exists; the fake
    evaluates no Flux), reads that bucket over the dashboard's time range
    (v.timeRangeStart/Stop) and asks for the same measurement, fields and tag
    filters as its InfluxQL twin; an unknown bucket is refused as InfluxDB
    2.x refuses it."""
    influxql = {t.name: t for t in targets("influxql")}
    checked = 0
    for target in targets("flux"):
        query = target.target["query"]
        assert query.startswith('from(bucket: "${bucket}")')
        assert "range(start: v.timeRangeStart, stop: v.timeRangeStop)" in query
        if "aggregateWindow" in query:
            assert "every: v.windowPeriod" in query
        sent = (
            query.replace("${bucket}", generate.BUCKET)
            .replace("${flat}", "og1")
            .replace("${meter}", DEMO_METER)
        )
        assert "${" not in sent
        response = post_flux(influx2_fake, sent)
        assert response.status_code == 200, (target.name, response.text)
        assert influx2_fake.queries[-1] == sent
        twin = influxql[target.name].target["query"]
        assert flux_asks(query) == influxql_asks(twin), target.name
        checked += 1
    assert checked == len(influxql)
    print(f"flux queries accepted by the 2.x fake: {checked}")
    refused = post_flux(influx2_fake, 'from(bucket: "nope") |> range(start: -1d)')
    assert refused.status_code == 404


def test_flux_variable_query_reads_the_bucket_variable(
    influx2_fake: FakeInflux2,
) -> None:
    (variable,) = [
        v
        for v in load("flux")["meter.json"]["templating"]["list"]
        if v["name"] == "meter"
    ]
    query = variable["query"].replace("${bucket}", generate.BUCKET)
    assert 'tag: "meter_id"' in query
    assert 'r._measurement == "meter_consumption_daily"' in query
    assert post_flux(influx2_fake, query).status_code == 200


def test_every_dashboard_defaults_to_the_provisioned_data_source() -> None:
    """The data source variable picks the provisioned source by uid, so a
    provisioned Grafana shows data at once; import lets the owner choose."""
    sources = (
        generate.ROOT / "grafana" / "provisioning" / "datasources" / "influxdb.yaml"
    ).read_text()
    for flavour in generate.FLAVOURS:
        for dashboard in load(flavour).values():
            (variable,) = [
                v for v in dashboard["templating"]["list"] if v["name"] == "datasource"
            ]
            assert f"uid: {variable['current']['value']}" in sources


@pytest.mark.influx
@pytest.mark.slow
def test_house_compares_this_years_months_with_the_same_span_last_year(
    published: Published,
) -> None:
    """At 2026-11-27 the panel "this year" shows the months January to
    November 2026 and the panel "same span last year" (shifted by 1y) January
    to November 2025: 11 points each, stamped at local month starts (1 January
    00:00 CET = 31 December 23:00Z; 1 April 00:00 CEST = 31 March 22:00Z)."""
    house = {t.panel["title"]: t for t in targets("influxql") if t.file == "house.json"}
    for title, year in (
        ("Electricity per month: this year", 2026),
        ("Electricity per month: same span last year", 2025),
    ):
        (series,) = run_influxql(published, expand(house[title], {}))
        times = [row[0] for row in series["values"]]
        starts = [
            int(datetime(year, month, 1, tzinfo=ZONE).timestamp())
            for month in range(1, 12)
        ]
        assert [datetime.fromtimestamp(t, UTC) for t in times[:1]] == [
            datetime(year - 1, 12, 31, 23, tzinfo=UTC)
        ]
        assert times == starts, title
    (month,) = run_influxql(
        published, expand(house["Electricity: this month so far"], {})
    )
    assert [row[0] for row in month["values"]] == [
        int(datetime(2026, 10, 31, 23, tzinfo=UTC).timestamp())
    ]


@pytest.mark.influx
def test_panels_on_pending_measurements_read_their_agreed_shape(
    influxd: InfluxServer, influx_db: str
) -> None:
    """Until the cost statement and the interval anomalies publish their
    measurements, their panels run against hand-written points of the agreed
    shape: flat_cost_monthly (tags flat_id, cost_item; field amount_eur) and
    meter_interval_anomaly (tag meter_id; consumption, expected, ratio, days).
    OG1 in October 2026 (local start 2026-09-30T22:00Z): heating 41.5 EUR and
    water 12.25 EUR, so its year so far is 53.75; OG2's 30 EUR is not OG1's."""
    october = int(datetime(2026, 9, 30, 22, tzinfo=UTC).timestamp())
    influxd.write(
        influx_db,
        "\n".join(
            [
                f"flat_cost_monthly,cost_item=heating,flat_id=og1 amount_eur=41.5 "
                f"{october}",
                f"flat_cost_monthly,cost_item=water,flat_id=og1 amount_eur=12.25 "
                f"{october}",
                f"flat_cost_monthly,cost_item=heating,flat_id=og2 amount_eur=30 "
                f"{october}",
                "meter_interval_anomaly,meter_id=og1_wasser_kalt consumption=3.5,"
                f"expected=1.0,ratio=3.5,days=14 {october}",
            ]
        ),
    )
    scratch = Published(influxd, influx_db, frozenset())
    pending = {
        t.panel["title"]: t
        for t in targets("influxql")
        if influxql_asks(t.target["query"]).measurement in PENDING
    }
    assert set(pending) == {
        "Cost per month by item",
        "Cost this year so far",
        "Anomalous intervals between readings",
    }
    by_item = run_influxql(
        scratch, expand(pending["Cost per month by item"], {"flat": "og1"})
    )
    assert {s["tags"]["cost_item"]: s["values"] for s in by_item} == {
        "heating": [[october, 41.5]],
        "water": [[october, 12.25]],
    }
    (year,) = run_influxql(
        scratch, expand(pending["Cost this year so far"], {"flat": "og1"})
    )
    assert sum(row[1] for row in year["values"]) == 53.75
    (interval,) = run_influxql(
        scratch, expand(pending["Anomalous intervals between readings"], {})
    )
    assert interval["tags"] == {"meter_id": "og1_wasser_kalt"}
    assert interval["columns"] == [
        "time",
        "consumption",
        "expected",
        "ratio",
        "days",
    ]
    assert interval["values"] == [[october, 3.5, 1.0, 3.5, 14.0]]


def test_one_query_definition_renders_as_influxql_and_as_flux() -> None:
    """The texts Grafana sends, written out by hand for two definitions."""
    measured = generate.Query(
        "meter_consumption_daily",
        ("consumption",),
        (
            generate.Tag("meter_id", regex="${flat}_.*"),
            generate.Tag("meter_id", values=("a", "b")),
        ),
        where_field=("is_estimated", 0),
    )
    assert generate.influxql(measured) == (
        'SELECT "consumption" FROM "meter_consumption_daily" WHERE '
        '"meter_id" =~ /^${flat}_.*$/ AND ("meter_id" = \'a\' OR "meter_id" = \'b\') '
        'AND "is_estimated" = 0 AND $timeFilter GROUP BY "meter_id"'
    )
    assert generate.flux(measured) == "\n".join(
        [
            'from(bucket: "${bucket}")',
            "  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)",
            '  |> filter(fn: (r) => r._measurement == "meter_consumption_daily")',
            '  |> filter(fn: (r) => r._field == "consumption" or '
            'r._field == "is_estimated")',
            "  |> filter(fn: (r) => r.meter_id =~ /^${flat}_.*$/)",
            '  |> filter(fn: (r) => r.meter_id == "a" or r.meter_id == "b")',
            '  |> keep(columns: ["_time", "_field", "_value", "meter_id"])',
            '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], '
            'valueColumn: "_value")',
            "  |> filter(fn: (r) => r.is_estimated == 0.0)",
            '  |> drop(columns: ["is_estimated"])',
        ]
    )
    summed = generate.Query(
        "electricity_cost_daily", ("cost",), group_by=(), aggregate="sum"
    )
    assert generate.influxql(summed) == (
        'SELECT sum("cost") AS "cost" FROM "electricity_cost_daily" WHERE '
        "$timeFilter GROUP BY time($__interval) fill(none) tz('Europe/Berlin')"
    )
    assert generate.flux(summed, table=True) == "\n".join(
        [
            'from(bucket: "${bucket}")',
            "  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)",
            '  |> filter(fn: (r) => r._measurement == "electricity_cost_daily")',
            '  |> filter(fn: (r) => r._field == "cost")',
            '  |> keep(columns: ["_start", "_stop", "_time", "_field", "_value"])',
            "  |> aggregateWindow(every: v.windowPeriod, fn: sum, createEmpty: false)",
            "  |> group()",
        ]
    )
