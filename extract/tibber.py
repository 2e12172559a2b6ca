"""Hourly consumption from Tibber's GraphQL API into the landing zone.

docs/interfaces.md "Read from Tibber", docs/numbers.md "Tibber hours". Per home,
pages of at most 744 hours are read backwards (`last`/`before`) from the
newest hour: on the first run until Tibber has no earlier page, later until
the page reaches back to the last stored hour and at least 30 days, because
Tibber revises hours. Only new or changed hours are written, as one new
landing file (and a landed hour the re-read no longer holds gets a
tombstone), after every page of every home was read: a failed run leaves
the landing zone as it was.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from gql import Client, GraphQLRequest
from gql.transport.exceptions import (
    TransportConnectionFailed,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
from gql.transport.requests import RequestsHTTPTransport

from core import landing
from core.errors import TibberError
from core.settings import Settings

log = logging.getLogger(__name__)

TABLE = "tibber_hours"
MAX_PAGE = 744  # Tibber serves at most 744 nodes a request
REREAD = timedelta(days=30)
NO_TOKEN = "TIBBER_API_TOKEN is not set: Tibber step skipped"  # noqa: S105
TOKEN_REFUSED = "Tibber refused the token: check TIBBER_API_TOKEN"  # noqa: S105
RETRY_STATUSES = {429, 500, 502, 503, 504}

_CONNECTION = """
consumption(resolution: HOURLY, last: $last, before: $before) {
  nodes { from to consumption cost unitPrice unitPriceVAT currency }
  pageInfo { hasPreviousPage startCursor }
}
"""
HOMES_QUERY = (
    "query TibberHours($last: Int!, $before: String) "
    "{ viewer { homes { id " + _CONNECTION + " } } }"
)
HOME_QUERY = (
    "query TibberHomeHours($id: ID!, $last: Int!, $before: String) "
    "{ viewer { home(id: $id) { id " + _CONNECTION + " } } }"
)


@dataclass(frozen=True)
class TibberPolicy:
    """How hard to try: tests shrink the delays and the timeout."""

    timeout_s: float = 30.0
    attempts: int = 5
    base_delay_s: float = 2.0
    max_delay_s: float = 60.0
    page_size: int = MAX_PAGE
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random

    def delay(self, retry: int) -> float:
        """Exponential backoff with jitter before retry number `retry` (1..)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (retry - 1))
        return ceiling * (0.5 + 0.5 * self.jitter())


@dataclass
class HoursExtract:
    requests: int = 0
    hours_read: int = 0
    rows_written: int = 0
    rows_deleted: int = 0  # tombstones: landed hours Tibber no longer reports
    homes: list[str] = field(default_factory=list)
    skipped_reason: str | None = None


def extract_hours(
    settings: Settings,
    *,
    full_refresh: bool = False,
    now: datetime | None = None,
    policy: TibberPolicy | None = None,
) -> HoursExtract:
    """Read Tibber's hourly consumption into the landing table tibber_hours."""
    if not settings.tibber_api_token:
        log.info("event=tibber_skipped reason=no_token")
        return HoursExtract(skipped_reason=NO_TOKEN)
    policy = policy or TibberPolicy()
    now = (now or settings.as_of or datetime.now(UTC)).astimezone(UTC)
    last_stored = {} if full_refresh else _last_stored_hours(settings)
    api = _Api(settings.tibber_api_url, settings.tibber_api_token, policy)
    extracted_at = datetime.now(UTC)
    rows: dict[tuple[str, datetime], dict[str, Any]] = {}
    result = HoursExtract()
    with api:
        for home_id, first_page in _first_pages(api, settings.tibber_home_id):
            stored = last_stored.get(home_id)
            stop_at = min(stored, now - REREAD) if stored else None
            for row in _read_home(api, home_id, first_page, stop_at, extracted_at):
                rows[(row["home_id"], row["hour_start_at"])] = row
                result.hours_read += 1
            result.homes.append(home_id)
    result.requests = api.requests
    if not result.homes:
        result.skipped_reason = "the Tibber account has no homes: nothing written"
        log.info("event=tibber_no_homes requests=%d", result.requests)
        return result
    table = pa.Table.from_pylist(list(rows.values()), schema=landing.SCHEMAS[TABLE])
    changed = landing.new_or_changed(settings.data_dir, TABLE, table)
    gone = vanished_hours(settings.data_dir, table, extracted_at)
    landing.append(settings.data_dir, TABLE, changed)
    landing.append(settings.data_dir, landing.DELETIONS[TABLE][0], gone)
    result.rows_written = changed.num_rows
    result.rows_deleted = gone.num_rows
    log.info(
        "event=tibber_extracted homes=%d requests=%d hours_read=%d rows_written=%d "
        "rows_deleted=%d",
        len(result.homes),
        result.requests,
        result.hours_read,
        result.rows_written,
        result.rows_deleted,
    )
    return result


def check_access(settings: Settings, policy: TibberPolicy | None = None) -> list[str]:
    """Before any work: Tibber accepts the token (and knows TIBBER_HOME_ID);
    one small request; returns the account's home ids."""
    if not settings.tibber_api_token:
        return []
    api = _Api(
        settings.tibber_api_url, settings.tibber_api_token, policy or TibberPolicy()
    )
    with api:
        data = api.query("query TibberHomes { viewer { homes { id } } }", {})
    homes = _field(data, "viewer", "homes")
    if not isinstance(homes, list):
        raise TibberError(f"Tibber at {api.url} sent no list of homes: {_brief(data)}")
    ids = [str(home.get("id")) for home in homes if isinstance(home, dict)]
    if settings.tibber_home_id and settings.tibber_home_id not in ids:
        raise TibberError(
            f"the Tibber account has no home {settings.tibber_home_id} "
            f"(it has {', '.join(ids) or 'none'}): check TIBBER_HOME_ID"
        )
    return ids


def vanished_hours(data_dir: Path, read: pa.Table, extracted_at: datetime) -> pa.Table:
    """Tombstones for the landed hours of a home, from the earliest hour this
    run read of it on, that Tibber no longer reports (a home read without
    any hour is left alone)."""
    gone = landing.query(
        data_dir,
        TABLE,
        """
        with reread as (
            select home_id, min(hour_start_at) as first_at
            from read group by home_id
        )
        select distinct live.home_id, live.hour_start_at
        from live
        inner join reread on reread.home_id = live.home_id
        where live.hour_start_at >= reread.first_at
            and not exists (
                select 1 from read
                where read.home_id = live.home_id
                    and read.hour_start_at = live.hour_start_at
            )
        order by 1, 2
        """,
        tables={"read": read.select(landing.KEYS[TABLE])},
    )
    if gone.num_rows:
        log.info("event=tibber_hours_deleted rows=%d", gone.num_rows)
    return landing.tombstones(TABLE, gone, extracted_at)


def _last_stored_hours(settings: Settings) -> dict[str, datetime]:
    """Per home, the start of its latest hour that no tombstone removed
    (one aggregate: every extraction of an hour has the same start, so the
    latest extraction need not be picked)."""
    landing.ensure(settings.data_dir)
    latest = landing.query(
        settings.data_dir,
        TABLE,
        "select home_id, max(hour_start_at) as latest from live group by home_id",
    )
    return dict(
        zip(
            latest["home_id"].to_pylist(),
            latest["latest"].to_pylist(),
            strict=True,
        )
    )


def _first_pages(api: _Api, home_id: str | None) -> list[tuple[str, dict[str, Any]]]:
    """Each home's id and newest page: one request for all homes."""
    if home_id:
        home = api.home_page(home_id, before=None)
        return [(str(home["id"]), home)]
    data = api.query(HOMES_QUERY, {"last": api.policy.page_size, "before": None})
    homes = _field(data, "viewer", "homes")
    if not isinstance(homes, list):
        raise TibberError(f"Tibber at {api.url} sent no list of homes: {_brief(data)}")
    return [(str(home["id"]), home) for home in homes]


def _read_home(
    api: _Api,
    home_id: str,
    page: dict[str, Any],
    stop_at: datetime | None,
    extracted_at: datetime,
) -> list[dict[str, Any]]:
    """Every hour from the newest page back to `stop_at` (None: all history)."""
    rows: list[dict[str, Any]] = []
    before: str | None = None
    while True:
        connection = page.get("consumption")
        if connection is None:  # a home without a metering subscription
            log.info("event=tibber_home_without_consumption home=%s", home_id)
            return rows
        nodes = [n for n in connection.get("nodes") or [] if n is not None]
        page_rows = [_row(home_id, node, extracted_at, api.url) for node in nodes]
        rows.extend(page_rows)
        info = connection.get("pageInfo") or {}
        start_cursor = info.get("startCursor")
        log.info(
            "event=tibber_page home=%s hours=%d has_previous=%s",
            home_id,
            len(page_rows),
            bool(info.get("hasPreviousPage")),
        )
        if not page_rows or not info.get("hasPreviousPage") or not start_cursor:
            return rows
        earliest = min(row["hour_start_at"] for row in page_rows)
        if stop_at is not None and earliest <= stop_at:
            return rows
        if start_cursor == before:
            raise TibberError(
                f"Tibber at {api.url} returned the same page twice for home "
                f"{home_id}: paging does not advance, try again later"
            )
        before = start_cursor
        page = api.home_page(home_id, before=before)


def _row(
    home_id: str, node: dict[str, Any], extracted_at: datetime, url: str
) -> dict[str, Any]:
    return {
        "home_id": home_id,
        "hour_start_at": _instant(node.get("from"), url),
        "hour_end_at": _instant(node.get("to"), url),
        "consumption": _number(node.get("consumption"), url),
        "cost": _number(node.get("cost"), url),
        "unit_price": _number(node.get("unitPrice"), url),
        "unit_price_vat": _number(node.get("unitPriceVAT"), url),
        "currency": node.get("currency"),
        "extracted_at": extracted_at,
    }


def _instant(text: Any, url: str) -> datetime:
    """Tibber's "2024-10-27T02:00:00.000+01:00" as a UTC instant."""
    try:
        instant = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        instant = None
    if instant is None or instant.tzinfo is None:
        raise TibberError(
            f"Tibber at {url} sent the time {_brief(text)}, not an ISO instant "
            "with offset: check TIBBER_API_URL"
        )
    return instant.astimezone(UTC)


def _number(value: Any, url: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TibberError(
            f"Tibber at {url} sent {_brief(value)} where a number belongs: "
            "check TIBBER_API_URL"
        )
    return float(value)


def _field(data: Any, *path: str) -> Any:
    for name in path:
        data = data.get(name) if isinstance(data, dict) else None
    return data


def _brief(value: Any, limit: int = 200) -> str:
    """One line, bounded length."""
    text = re.sub(r"\s+", " ", str(value)).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _StatusAwareTransport(RequestsHTTPTransport):
    """gql parses a JSON body whatever the HTTP status; look at the status first.

    A 401/403, 429 or 5xx answer is a transport failure even when its body
    looks like GraphQL, so it is retried or reported as a token problem.
    """

    def _prepare_result(self, response: Any) -> Any:
        if response.status_code in {401, 403} | RETRY_STATUSES:
            raise TransportServerError(
                f"HTTP {response.status_code}", response.status_code
            )
        return super()._prepare_result(response)


class _Api:
    """One gql session against Tibber, with retries and a request count."""

    def __init__(self, url: str, token: str, policy: TibberPolicy) -> None:
        self.url = url
        self.policy = policy
        self.requests = 0
        self._token = token
        transport = _StatusAwareTransport(
            url=url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=policy.timeout_s,  # type: ignore[arg-type]  # requests takes floats
            verify=True,
            retries=0,
        )
        self._client = Client(transport=transport, fetch_schema_from_transport=False)
        self._session: Any = None

    def __enter__(self) -> _Api:
        self._session = self._client.connect_sync()
        return self

    def __exit__(self, *_: object) -> None:
        self._client.close_sync()

    def home_page(self, home_id: str, before: str | None) -> dict[str, Any]:
        variables = {"id": home_id, "last": self.policy.page_size, "before": before}
        home = _field(self.query(HOME_QUERY, variables), "viewer", "home")
        if not isinstance(home, dict) or "id" not in home:
            raise TibberError(
                f"Tibber at {self.url} sent no home {home_id}: check TIBBER_HOME_ID"
            )
        return home

    def query(self, text: str, variables: dict[str, Any]) -> dict[str, Any]:
        request = GraphQLRequest(text, variable_values=variables)
        for attempt in range(1, self.policy.attempts + 1):
            self.requests += 1
            try:
                data = self._session.execute(request)
            except TransportQueryError as error:
                raise self._query_error(error) from None
            except TransportServerError as error:
                if error.code in {401, 403}:
                    raise TibberError(TOKEN_REFUSED) from None
                if error.code not in RETRY_STATUSES:
                    raise TibberError(
                        f"Tibber at {self.url} answered HTTP {error.code}: "
                        "check TIBBER_API_URL"
                    ) from None
                reason = f"HTTP {error.code}"
            except TransportConnectionFailed as error:
                reason = self._connection_reason(error)
            except TransportProtocolError:
                raise TibberError(
                    f"Tibber at {self.url} sent an answer that is not GraphQL "
                    "JSON: check TIBBER_API_URL or try again later"
                ) from None
            else:
                if not isinstance(data, dict):
                    raise TibberError(
                        f"Tibber at {self.url} sent no data: {_brief(data)}"
                    )
                return data
            if attempt == self.policy.attempts:
                raise TibberError(
                    f"Tibber at {self.url} failed {attempt} times, last with "
                    f"{reason}: try again later"
                )
            delay = self.policy.delay(attempt)
            log.warning(
                "event=tibber_retry attempt=%d reason=%r delay_s=%.3f",
                attempt,
                reason,
                delay,
            )
            self.policy.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _query_error(self, error: TransportQueryError) -> TibberError:
        errors = [e for e in error.errors or [] if isinstance(e, dict)]
        codes = {_field(e, "extensions", "code") for e in errors}
        if "UNAUTHENTICATED" in codes or "FORBIDDEN" in codes:
            return TibberError(TOKEN_REFUSED)
        message = errors[0].get("message") if errors else str(error)
        text = _brief(message).replace(self._token, "***")
        return TibberError(f"Tibber at {self.url} answered with an error: {text}")

    def _connection_reason(self, error: TransportConnectionFailed) -> str:
        cause = error.__cause__
        name = type(cause).__name__ if cause is not None else "connection error"
        if "Timeout" in name:
            return f"no answer within {self.policy.timeout_s:g} s"
        return f"connection failed ({name})"
