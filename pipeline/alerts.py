"""Alerts through Apprise (NOTIFY_URLS): new anomalies, findings the owner must
act on, a failed run and the first success after it.

Events and their keys:

- `anomaly_day/<meter>/<day>`: a row of the mart `meter_anomalies` (one more
  entry in ANOMALY_SOURCES adds another mart of anomalies);
- `finding/<type>/<meter>/<instant>`: a row of `data_quality_findings` of a
  type in FINDINGS (a counter reset, a month of negative virtual consumption);
- `unknown_entity/<entity_id>`: an input_number entity in InfluxDB that
  seeds/meters.csv does not know (the extractor reports it every run);
- `run_failed/<instant>`, `run_recovered/<instant>`: a run that failed while
  the runs before it succeeded, and the first successful run after it.

Events from the marts are announced only after a successful run published
them; the others are recorded when the run meets them. Each event is sent once
to each URL: it counts as sent only once Apprise confirmed its delivery, and an
event a URL did not confirm is sent again on the next run (the sending to that
URL stops at the first failure, so events keep their order).

State, in the warehouse's schema `run_state` (core/run_state.py):

- `run_state.run_events`: the events only a run knows (failures,
  recoveries, unknown entities), one row each, kept;
- `run_state.sent_alerts`: one row per event and URL that Apprise
  confirmed, written right after the confirmation. The URL is named by a
  one-way fingerprint (`target`), never by itself: a changed URL (say, a new
  token) is a new target and receives every current event once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import duckdb

from core import logs, run_state
from core.errors import ConfigError, PipelineError
from core.notify_urls import fingerprint, mask, split_urls
from core.settings import Settings

if TYPE_CHECKING:
    from pipeline.run import RunSummary

log = logging.getLogger(__name__)

STATE_SCHEMA = run_state.SCHEMA
STATE_DDL = f"""
create schema if not exists {STATE_SCHEMA};
create table if not exists {STATE_SCHEMA}.run_events (
    event_key varchar primary key,
    kind varchar not null,
    title varchar not null,
    body varchar not null,
    recorded_at timestamptz not null
);
create table if not exists {STATE_SCHEMA}.sent_alerts (
    event_key varchar not null,
    target varchar not null,
    kind varchar not null,
    title varchar not null,
    body varchar not null,
    sent_at timestamptz not null,
    primary key (event_key, target)
);
"""


@dataclass(frozen=True)
class AnomalySource:
    """A mart of anomalies: columns meter_id, unit, consumption, expected,
    plus `period_key` (SQL naming the period in the event key) and
    `period_text` (SQL: the period in a sentence, e.g. 'on 2025-03-11').

    A mart of anomalies between two readings would be one more entry, e.g.
    `AnomalySource("anomaly_interval", "meter_interval_anomalies",
    "strftime(first_day, '%Y-%m-%d')", "'from ' || first_day || ' to ' ||
    last_day", "first_day")`; a source whose table is missing is skipped."""

    kind: str
    table: str
    period_key: str
    period_text: str
    order_by: str


ANOMALY_SOURCES = (
    AnomalySource(
        kind="anomaly_day",
        table="meter_anomalies",
        period_key="strftime(day, '%Y-%m-%d')",
        period_text="'on ' || strftime(day, '%Y-%m-%d')",
        order_by="day_start_at",
    ),
)

# Findings the owner must act on: what they are, and the message about one
# (fields: meter, when, amount).
FINDINGS = {
    "counter_reset": (
        "counter reset",
        "{meter}: the reading of {when}, {amount}, is below the reading before, "
        "so it counts as a counter restarted from 0. If the meter was replaced "
        "or the reading is a typo, correct the reading or the house's seeds.",
    ),
    "negative_virtual_month": (
        "negative virtual consumption",
        "{meter}: the virtual consumption of {when} is {amount}: the meters it "
        "subtracts used more than its base meter. Check their readings and "
        "seeds/virtual_meter_components.csv.",
    ),
}


@dataclass(frozen=True)
class Event:
    key: str
    kind: str
    title: str
    body: str
    notify_type: str = "warning"  # Apprise: info, success, warning, failure


@dataclass(frozen=True)
class Target:
    url: str = field(repr=False)
    shown: str  # masked: safe to print
    fingerprint: str  # names the target in run_state.sent_alerts


@dataclass
class Delivery:
    sent: int = 0
    pending: int = 0
    refused_by: tuple[str, ...] = ()


def targets(settings: Settings) -> list[Target]:
    """NOTIFY_URLS, each checked by Apprise; a URL it cannot use stops the run."""
    import apprise

    found = []
    quiet = logging.getLogger("apprise")
    for number, url in enumerate(split_urls(settings.notify_urls), start=1):
        level, quiet.level = quiet.level, logging.CRITICAL  # its line shows parts
        try:
            usable = apprise.Apprise().add(url)
        finally:
            quiet.level = level
        if not usable:
            raise ConfigError(
                f"NOTIFY_URLS entry {number} ({mask(url)}) is not a URL Apprise "
                "can send to: check its scheme and form in Apprise's URL list"
            )
        found.append(Target(url, mask(url), fingerprint(url)))
    return found


@contextmanager
def reporting(settings: Settings, summary: RunSummary) -> Iterator[None]:
    """Around a run: on success announce what is new, on failure the failure.
    Alerts never change a run's outcome: a failed send is retried next run."""
    receivers = targets(settings)
    if not receivers:
        yield
        return
    try:
        yield
    except Exception as error:
        _guarded(
            settings,
            "warning: the failure was not announced ({problem})",
            _report_failure,
            receivers,
            summary,
            error,
        )
        raise
    started = time.perf_counter()
    print("[alerts] ...", flush=True)
    _guarded(
        settings,
        "warning: alerts not sent ({problem}); the next run tries again",
        _report_success,
        receivers,
        summary,
    )
    summary.stage_seconds["alerts"] = round(time.perf_counter() - started, 2)


def _guarded(
    settings: Settings, warning: str, report: Callable[..., None], *args: Any
) -> None:
    try:
        report(settings, *args)
    except Exception as problem:  # an alert never breaks or hides a run's result
        text = str(problem).splitlines()[0] if str(problem) else ""
        for secret in settings.secrets():
            text = text.replace(secret, "***")
        message = warning.format(problem=f"{type(problem).__name__}: {text}")
        print(message, flush=True)
        log.info(message)  # the console has it already


def _report_failure(
    settings: Settings,
    receivers: list[Target],
    summary: RunSummary,
    error: Exception,
) -> None:
    stage = getattr(error, "stage", "pipeline")
    if not isinstance(error, PipelineError) or stage == "pipeline":
        stage = next(reversed(summary.stage_seconds), "run")
    cause = str(error).splitlines()[0] if str(error) else ""
    if not isinstance(error, PipelineError):
        cause = f"unexpected {type(error).__name__}: {cause}"
    for secret in settings.secrets():
        cause = cause.replace(secret, "***")
    with _warehouse(settings) as db:
        if not _is_failing(db):
            now = datetime.now(UTC)
            _record(
                db,
                Event(
                    key=f"run_failed/{now.isoformat()}",
                    kind="run_failed",
                    title="utility-meters: a run failed",
                    body=(
                        f"The run as of {summary.as_of.isoformat()} failed: "
                        f"error [{stage}]: {cause}. You are told once when "
                        "runs succeed again."
                    ),
                    notify_type="failure",
                ),
                now,
            )
        delivery = _deliver(db, receivers, _run_events(db))
    _tell(delivery)


def _report_success(
    settings: Settings, receivers: list[Target], summary: RunSummary
) -> None:
    with _warehouse(settings) as db:
        now = datetime.now(UTC)
        if _is_failing(db):
            _record(
                db,
                Event(
                    key=f"run_recovered/{now.isoformat()}",
                    kind="run_recovered",
                    title="utility-meters: runs succeed again",
                    body=(
                        f"The run as of {summary.as_of.isoformat()} succeeded "
                        "after failed runs."
                    ),
                    notify_type="success",
                ),
                now,
            )
        for entity in summary.unknown_entities:
            _record(db, unknown_entity_event(entity), now)
        events = _run_events(db) + mart_events(db, settings.timezone)
        delivery = _deliver(db, receivers, events)
    summary.notes.extend(_tell(delivery))


def _tell(delivery: Delivery) -> list[str]:
    line = f"alerts: {delivery.sent} sent"
    notes = []
    if delivery.refused_by:
        notes.append(
            f"alerts: {delivery.pending} not confirmed by "
            f"{', '.join(delivery.refused_by)}: sent again on the next run"
        )
        line += f", {notes[0].removeprefix('alerts: ')}"
    print(line, flush=True)
    logs.event(
        "alerts",
        sent=delivery.sent,
        pending=delivery.pending,
        refused_by=",".join(delivery.refused_by),
    )
    return notes


@contextmanager
def _warehouse(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse)) as db:
        db.execute("set TimeZone = 'UTC'")
        db.execute(STATE_DDL)
        yield db


def _is_failing(db: duckdb.DuckDBPyConnection) -> bool:
    latest = db.execute(
        f"select kind from {STATE_SCHEMA}.run_events "
        "where kind in ('run_failed', 'run_recovered') "
        "order by recorded_at desc limit 1"
    ).fetchone()
    return latest is not None and latest[0] == "run_failed"


def _record(db: duckdb.DuckDBPyConnection, event: Event, at: datetime) -> None:
    db.execute(
        f"insert into {STATE_SCHEMA}.run_events values (?, ?, ?, ?, ?) "
        "on conflict do nothing",
        [event.key, event.kind, event.title, event.body, at],
    )


def _run_events(db: duckdb.DuckDBPyConnection) -> list[Event]:
    rows = db.execute(
        f"select event_key, kind, title, body from {STATE_SCHEMA}.run_events "
        "order by recorded_at, event_key"
    ).fetchall()
    types = {"run_failed": "failure", "run_recovered": "success"}
    return [
        Event(key, kind, title, body, types.get(kind, "warning"))
        for key, kind, title, body in rows
    ]


def unknown_entity_event(entity_id: str) -> Event:
    return Event(
        key=f"unknown_entity/{entity_id}",
        kind="unknown_entity",
        title=f"utility-meters: unknown meter {entity_id}",
        body=(
            f"InfluxDB has readings of input_number.{entity_id}, which "
            "seeds/meters.csv does not know: add it there if it is a meter "
            "(its readings are not used until then)."
        ),
    )


def _tables(db: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        name
        for (name,) in db.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'main'"
        ).fetchall()
    }


def _amount(value: float | None, unit: str) -> str:
    return "unknown" if value is None else f"{value:.3f} {unit}"


def mart_events(db: duckdb.DuckDBPyConnection, timezone: str) -> list[Event]:
    """Every event the marts hold now: anomalies by day, then findings by
    instant."""
    tables = _tables(db)
    events: list[Event] = []
    for source in ANOMALY_SOURCES:
        if source.table not in tables:
            continue
        rows = db.execute(
            f"select meter_id, unit, consumption, expected, "
            f"{source.period_key}, {source.period_text} "
            f"from main.{source.table} "
            f"order by {source.order_by}, meter_id"
        ).fetchall()
        for meter, unit, consumption, expected, period_key, period in rows:
            ratio = (
                f" ({consumption / expected:.1f} times as much)"
                if expected and consumption is not None
                else ""
            )
            events.append(
                Event(
                    key=f"{source.kind}/{meter}/{period_key}",
                    kind=source.kind,
                    title=f"utility-meters: {meter} used more than usual {period}",
                    body=(
                        f"{meter} used {_amount(consumption, unit)} {period}, "
                        f"expected {_amount(expected, unit)}{ratio}. "
                        "Look for a leak, a device left on or a wrong reading."
                    ),
                )
            )
    if "data_quality_findings" in tables:
        zone = ZoneInfo(timezone)
        kinds = ", ".join(f"'{kind}'" for kind in FINDINGS)
        rows = db.execute(
            "select findings.meter_id, findings.finding_type, findings.found_at, "
            "findings.value, meters.unit "
            "from main.data_quality_findings as findings "
            "left join house.meters as meters "
            "on findings.meter_id = meters.meter_id "
            f"where findings.finding_type in ({kinds}) "
            "order by findings.found_at, findings.meter_id"
        ).fetchall()
        for meter, kind, found_at, value, unit in rows:
            what, template = FINDINGS[kind]
            local = found_at.astimezone(zone)
            when = (
                local.strftime("%Y-%m")
                if kind.endswith("_month")
                else local.strftime("%Y-%m-%d %H:%M")
            )
            events.append(
                Event(
                    key=(
                        f"finding/{kind}/{meter}/"
                        f"{found_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
                    ),
                    kind=kind,
                    title=f"utility-meters: {what} of {meter} ({when})",
                    body=template.format(
                        meter=meter, when=when, amount=_amount(value, unit or "")
                    ),
                )
            )
    return events


def _deliver(
    db: duckdb.DuckDBPyConnection, receivers: list[Target], events: list[Event]
) -> Delivery:
    """Send every event each target has not confirmed yet, in order; record
    each confirmation at once; stop at a target's first failure."""
    import apprise

    delivery = Delivery()
    refused = []
    for target in receivers:
        sent = {
            key
            for (key,) in db.execute(
                f"select event_key from {STATE_SCHEMA}.sent_alerts where target = ?",
                [target.fingerprint],
            ).fetchall()
        }
        waiting = [event for event in events if event.key not in sent]
        sender = apprise.Apprise(
            asset=apprise.AppriseAsset(
                app_id="utility-meters", app_desc="utility-meters alerts"
            )
        )
        sender.add(target.url)
        for number, event in enumerate(waiting):
            confirmed = sender.notify(
                body=event.body,
                title=event.title,
                notify_type=apprise.NotifyType(event.notify_type),
                body_format=apprise.NotifyFormat.TEXT,
            )
            if not confirmed:
                refused.append(target.shown)
                delivery.pending += len(waiting) - number
                break
            db.execute(
                f"insert into {STATE_SCHEMA}.sent_alerts "
                "values (?, ?, ?, ?, ?, ?) on conflict do nothing",
                [
                    event.key,
                    target.fingerprint,
                    event.kind,
                    event.title,
                    event.body,
                    datetime.now(UTC),
                ],
            )
            delivery.sent += 1
    delivery.refused_by = tuple(refused)
    return delivery
