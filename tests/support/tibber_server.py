"""A real local HTTP GraphQL server speaking the subset of Tibber's API we use.

It executes queries with graphql-core against Tibber's schema (the part the
extractor touches) and pages the way Tibber does: cursors are base64 of the
hour's start rendered in Europe/Berlin ("2024-10-27T02:00:00.000+01:00"),
`first`/`after` and `last`/`before`, at most 744 nodes a request, and GraphQL
errors arrive with HTTP 200 and an `errors` list. Tests configure the homes,
the token and scripted failures, and read the request log.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

from graphql import GraphQLError, build_schema, graphql_sync

BERLIN = ZoneInfo("Europe/Berlin")
MAX_NODES = 744
HOUR = timedelta(hours=1)

SDL = """
type Query {
  viewer: Viewer!
}

type Viewer {
  homes: [Home!]!
  home(id: ID!): Home!
}

enum EnergyResolution {
  HOURLY
  DAILY
  WEEKLY
  MONTHLY
  ANNUAL
}

type Home {
  id: ID!
  consumption(
    resolution: EnergyResolution!
    first: Int
    last: Int
    before: String
    after: String
    filterEmptyNodes: Boolean = false
  ): HomeConsumptionConnection
}

type HomeConsumptionPageInfo {
  endCursor: String
  hasNextPage: Boolean
  hasPreviousPage: Boolean
  startCursor: String
  count: Int
  currency: String
  totalCost: Float
  totalConsumption: Float
  filtered: Int
}

type HomeConsumptionConnection {
  pageInfo: HomeConsumptionPageInfo!
  nodes: [Consumption]
}

type Consumption {
  from: String!
  to: String!
  unitPrice: Float
  unitPriceVAT: Float
  consumption: Float
  consumptionUnit: String
  cost: Float
  currency: String
}
"""
SCHEMA = build_schema(SDL)


@dataclass
class Hour:
    """One hour as Tibber reports it; `start` is a UTC instant."""

    start: datetime
    consumption: float | None
    cost: float | None
    unit_price: float | None
    unit_price_vat: float | None
    currency: str | None = "EUR"


@dataclass(frozen=True)
class LoggedRequest:
    """What one HTTP request asked for and how it was answered."""

    authorized: bool
    query: str
    variables: dict[str, Any]
    answer: str  # "graphql", "429", "500", "garbage", "hang", "401"


def render(instant: datetime) -> str:
    """An instant the way Tibber renders it: Berlin time with offset."""
    return instant.astimezone(BERLIN).isoformat(timespec="milliseconds")


def cursor(instant: datetime) -> str:
    return base64.b64encode(render(instant).encode()).decode()


def decode_cursor(text: str) -> datetime:
    try:
        decoded = base64.b64decode(text, validate=True).decode()
        return datetime.fromisoformat(decoded).astimezone(UTC)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise GraphQLError(f"invalid cursor: {text}") from None


def hourly_series(
    start: datetime,
    count: int,
    *,
    price: float = 0.30,
    nulls: frozenset[int] = frozenset(),
) -> list[Hour]:
    """`count` consecutive hours from the UTC instant `start`.

    Hour i consumes 0.1 + (i % 24) / 100 kWh at `price` (cost = consumption *
    price, unit_price_vat = price, unit_price = price / 1.19); hours whose
    index is in `nulls` have null consumption and cost, as Tibber reports a
    missing hour.
    """
    hours = []
    for index in range(count):
        consumption = round(0.1 + (index % 24) / 100, 4)
        missing = index in nulls
        hours.append(
            Hour(
                start=start + index * HOUR,
                consumption=None if missing else consumption,
                cost=None if missing else round(consumption * price, 6),
                unit_price=round(price / 1.19, 6),
                unit_price_vat=price,
            )
        )
    return hours


@dataclass
class TibberServer:
    """Configure `homes`, `token`, and `fail_next`; read `log`."""

    token: str = "tibber-test-token-5f1c9a"
    homes: dict[str, list[Hour]] = field(default_factory=dict)
    hang_seconds: float = 10.0
    log: list[LoggedRequest] = field(default_factory=list)
    _failures: list[str | None] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _release: threading.Event = field(default_factory=threading.Event)
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "the server is not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1-beta/gql"

    @property
    def request_count(self) -> int:
        return len(self.log)

    def fail_next(self, kind: str, count: int = 1, *, after: int = 0) -> None:
        """Answer `count` requests with a failure, after `after` normal ones.

        kind: "429", "500", "401" (HTTP statuses), "garbage" (HTTP 200 with a
        body that is not JSON) or "hang" (no answer until the client gives up).
        """
        assert kind in {"429", "500", "401", "garbage", "hang"}, kind
        with self._lock:
            self._failures.extend([None] * after + [kind] * count)

    def start(self) -> TibberServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="tibber-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> TibberServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- request handling -------------------------------------------------

    def _next_failure(self) -> str | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _execute(self, body: dict[str, Any], authorized: bool) -> dict[str, Any]:
        result = graphql_sync(
            SCHEMA,
            body.get("query") or "",
            root_value={"viewer": lambda _info: self._viewer(authorized)},
            variable_values=body.get("variables"),
            operation_name=body.get("operationName"),
        )
        return result.formatted

    def _viewer(self, authorized: bool) -> dict[str, Any]:
        if not authorized:
            raise GraphQLError(
                "Context creation failed: invalid token",
                extensions={"code": "UNAUTHENTICATED"},
            )
        with self._lock:
            homes = {home_id: list(hours) for home_id, hours in self.homes.items()}

        def one(_info: Any, id: str) -> dict[str, Any]:
            if id not in homes:
                raise GraphQLError(f"home with id {id} not found")
            return _home(id, homes[id])

        return {
            "homes": [_home(home_id, hours) for home_id, hours in homes.items()],
            "home": one,
        }


def _home(home_id: str, hours: list[Hour]) -> dict[str, Any]:
    ordered = sorted(hours, key=lambda hour: hour.start)

    def consumption(_info: Any, **arguments: Any) -> dict[str, Any]:
        return _connection(ordered, **arguments)

    return {"id": home_id, "consumption": consumption}


def _connection(
    hours: list[Hour],
    *,
    resolution: str,
    first: int | None = None,
    last: int | None = None,
    before: str | None = None,
    after: str | None = None,
    filterEmptyNodes: bool | None = False,
) -> dict[str, Any]:
    if resolution != "HOURLY":
        raise GraphQLError(f"resolution {resolution} is not served by this test")
    for name, value in (("first", first), ("last", last)):
        if value is not None and value > MAX_NODES:
            raise GraphQLError(
                f"Requested {value} nodes with '{name}', "
                f"but at most {MAX_NODES} can be requested"
            )
        if value is not None and value < 0:
            raise GraphQLError(f"'{name}' must not be negative")
    candidates = hours
    filtered = 0
    if filterEmptyNodes:
        candidates = [hour for hour in hours if hour.consumption is not None]
        filtered = len(hours) - len(candidates)
    if after is not None:
        after_at = decode_cursor(after)
        candidates = [hour for hour in candidates if hour.start > after_at]
    if before is not None:
        before_at = decode_cursor(before)
        candidates = [hour for hour in candidates if hour.start < before_at]
    if first is not None:
        candidates = candidates[:first]
    if last is not None:
        candidates = candidates[-last:] if last else []
    if first is None and last is None and len(candidates) > MAX_NODES:
        raise GraphQLError(
            f"Requested {len(candidates)} nodes, "
            f"but at most {MAX_NODES} can be requested: use first or last"
        )
    page = candidates
    known = [h for h in hours if h.consumption is not None or not filterEmptyNodes]
    return {
        "nodes": [_node(hour) for hour in page],
        "pageInfo": {
            "startCursor": cursor(page[0].start) if page else None,
            "endCursor": cursor(page[-1].start) if page else None,
            "hasPreviousPage": bool(page) and known[0].start < page[0].start,
            "hasNextPage": bool(page) and known[-1].start > page[-1].start,
            "count": len(page),
            "currency": page[0].currency if page else None,
            "totalCost": sum(hour.cost or 0.0 for hour in page),
            "totalConsumption": sum(hour.consumption or 0.0 for hour in page),
            "filtered": filtered,
        },
    }


def _node(hour: Hour) -> dict[str, Any]:
    return {
        "from": render(hour.start),
        "to": render(hour.start + HOUR),
        "consumption": hour.consumption,
        "consumptionUnit": "kWh",
        "cost": hour.cost,
        "unitPrice": hour.unit_price,
        "unitPriceVAT": hour.unit_price_vat,
        "currency": hour.currency,
    }


def _handler_for(server: TibberServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: Any) -> None:  # keep pytest output quiet
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {}
            authorized = self.headers.get("Authorization") == f"Bearer {server.token}"
            failure = server._next_failure()
            server.log.append(
                LoggedRequest(
                    authorized=authorized,
                    query=str(body.get("query", "")),
                    variables=dict(body.get("variables") or {}),
                    answer=failure or "graphql",
                )
            )
            if failure == "hang":
                server._release.wait(server.hang_seconds)
                return self._send(503, b'{"errors":[{"message":"late"}]}')
            if failure == "garbage":
                return self._send(200, b"<html>Bad gateway</html>{", "text/html")
            if failure == "429":
                return self._send(429, b"Too Many Requests", "text/plain")
            if failure in {"500", "401"}:
                # A GraphQL-shaped body: the client must look at the status.
                message = {"500": "Internal server error", "401": "Unauthorized"}
                payload = {"errors": [{"message": message[failure]}]}
                return self._send(int(failure), json.dumps(payload).encode())
            answer = server._execute(body, authorized)
            self._send(200, json.dumps(answer).encode())

        def _send(
            self, status: int, payload: bytes, kind: str = "application/json"
        ) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

    return Handler
