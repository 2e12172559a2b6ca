"""A wire-level FAKE of the InfluxDB 2.x HTTP API, for tests only.

No InfluxDB 2.x server can run here, so this fake (http.server on 127.0.0.1)
checks requests the way the InfluxDB 2.x API documents them and answers the way
InfluxDB 2.x does:

- POST /api/v2/query?org=<name> (or orgID=<id>), `Authorization: Token <tok>`,
  `Content-Type: application/json` with {"query": ..., "dialect": {...}} or
  `Content-Type: application/vnd.flux` with the Flux text. The answer is
  annotated CSV from `on_query(flux)` (default: no tables).
- POST /api/v2/write?org=&bucket=&precision=, line protocol body, optionally
  `Content-Encoding: gzip`; stores the lines (`lines`, `written[bucket]`).
- POST /api/v2/delete?org=&bucket=, JSON {start, stop, predicate}; records it
  in `deletes`.
- GET /ping (and /health): 204 with `X-Influxdb-Version: <version>` and
  `X-Influxdb-Build: OSS`, as InfluxDB 2.x answers (no token needed).
- GET /api/v2/orgs?org=<name>: {"orgs": [{"id", "name"}]}.
- POST /api/v2/buckets, JSON {orgID, name, retentionRules}: creates the
  bucket (201), or 403 when `may_create_buckets` is false.
- wrong or missing token: 401 {"code":"unauthorized","message":"unauthorized
  access"}; unknown bucket: 404 {"code":"not found","message":"bucket \\"x\\"
  not found"}.

It evaluates no Flux: tests give canned answers through `on_query`.
`fail_next` (a list of HTTP statuses) makes the next requests fail, e.g. 503.
Every request is recorded in `requests` for assertions.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from requests.structures import CaseInsensitiveDict

_PRECISIONS = {"ns", "us", "ms", "s"}
_FROM_BUCKET = re.compile(r'from\(\s*bucket\s*:\s*"((?:[^"\\]|\\.)*)"')
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    params: dict[str, str]
    headers: CaseInsensitiveDict[str]
    body: bytes  # as received (gzip still compressed)
    text: str  # decoded body (gzip decompressed)


@dataclass
class FakeInflux2:
    """The fake server; `start()` binds a free port on 127.0.0.1."""

    token: str = "test-token"
    org: str = "test-org"
    org_id: str = "0a1b2c3d4e5f6071"
    buckets: set[str] = field(default_factory=lambda: {"lampfi", "lampfi_processed"})
    on_query: Callable[[str], str] = field(default=lambda flux: "\r\n")
    requests: list[RecordedRequest] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    written: dict[str, list[str]] = field(default_factory=dict)
    deletes: list[dict[str, Any]] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # statuses to answer first
    version: str = "v2.7.11"  # what /ping names in X-Influxdb-Version
    may_create_buckets: bool = True  # the token's permission
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        ).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- request handling (called by the handler, one request at a time) --

    def handle(self, request: RecordedRequest) -> tuple[Any, ...]:
        with self._lock:
            self.requests.append(request)
            if self.fail_next:
                return _json(self.fail_next.pop(0), "internal error", "fake failure")
            if request.path == "/ping" or request.path == "/health":
                return 204, "text/plain", b"", self._version_headers()
            admin = {"/api/v2/orgs": self._orgs, "/api/v2/buckets": self._create_bucket}
            if request.path in admin:
                if request.headers.get("Authorization") != f"Token {self.token}":
                    return _json(401, "unauthorized", "unauthorized access")
                return admin[request.path](request)
            routes = {
                "/api/v2/query": self._query,
                "/api/v2/write": self._write,
                "/api/v2/delete": self._delete,
            }
            route = routes.get(request.path)
            if route is None:
                return _json(404, "not found", "path not found")
            if request.method != "POST":
                return _json(405, "method not allowed", "method not allowed")
            if request.headers.get("Authorization") != f"Token {self.token}":
                return _json(401, "unauthorized", "unauthorized access")
            org_error = self._check_org(request.params)
            if org_error is not None:
                return org_error
            return route(request)

    def _version_headers(self) -> dict[str, str]:
        return {"X-Influxdb-Version": self.version, "X-Influxdb-Build": "OSS"}

    def _orgs(self, request: RecordedRequest) -> tuple[int, str, bytes]:
        name = request.params.get("org")
        if name is not None and name != self.org:
            return _json(404, "not found", f'organization name "{name}" not found')
        body = {"orgs": [{"id": self.org_id, "name": self.org}]}
        return 200, "application/json; charset=utf-8", json.dumps(body).encode()

    def _create_bucket(self, request: RecordedRequest) -> tuple[int, str, bytes]:
        if not self.may_create_buckets:
            return _json(
                403,
                "forbidden",
                f"insufficient permissions for write:orgs/{self.org_id}/buckets",
            )
        try:
            body = json.loads(request.text)
        except ValueError:
            return _json(400, "invalid", "failed to decode request body")
        if body.get("orgID") != self.org_id:
            return _json(404, "not found", "organization not found")
        name = body.get("name")
        if not isinstance(name, str) or not name:
            return _json(400, "invalid", "bucket name is required")
        if name in self.buckets:
            return _json(422, "conflict", f"bucket with name {name} already exists")
        self.buckets.add(name)
        answer = {"id": "0fedcba987654321", "orgID": self.org_id, "name": name}
        return 201, "application/json; charset=utf-8", json.dumps(answer).encode()

    def _check_org(self, params: dict[str, str]) -> tuple[int, str, bytes] | None:
        if "org" in params:
            if params["org"] != self.org:
                return _json(
                    404, "not found", f'organization name "{params["org"]}" not found'
                )
            return None
        if "orgID" in params:
            if params["orgID"] != self.org_id:
                return _json(404, "not found", "organization not found")
            return None
        return _json(400, "invalid", "Please provide either orgID or org")

    def _query(self, request: RecordedRequest) -> tuple[int, str, bytes]:
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type == "application/json":
            try:
                body = json.loads(request.text)
            except ValueError:
                return _json(400, "invalid", "failed to decode request body")
            flux = body.get("query") if isinstance(body, dict) else None
            if not isinstance(flux, str):
                return _json(400, "invalid", "query is required")
            dialect = body.get("dialect", {})
            if not isinstance(dialect, dict):
                return _json(400, "invalid", "dialect must be an object")
        elif content_type == "application/vnd.flux":
            flux = request.text
        else:
            return _json(400, "invalid", f'unsupported content type "{content_type}"')
        self.queries.append(flux)
        for bucket in _FROM_BUCKET.findall(flux):
            name = bucket.replace('\\"', '"').replace("\\\\", "\\")
            if name not in self.buckets:
                return _json(
                    404,
                    "not found",
                    "failed to initialize execute state: "
                    f'could not find bucket "{name}"',
                )
        return 200, "text/csv; charset=utf-8", self.on_query(flux).encode()

    def _bucket(self, params: dict[str, str]) -> tuple[int, str, bytes] | None:
        bucket = params.get("bucket")
        if not bucket:
            return _json(400, "invalid", "bucket is required")
        if bucket not in self.buckets:
            return _json(404, "not found", f'bucket "{bucket}" not found')
        return None

    def _write(self, request: RecordedRequest) -> tuple[int, str, bytes]:
        missing = self._bucket(request.params)
        if missing is not None:
            return missing
        precision = request.params.get("precision", "ns")
        if precision not in _PRECISIONS:
            return _json(400, "invalid", f'invalid precision "{precision}"')
        lines = [line for line in request.text.split("\n") if line.strip()]
        for line in lines:
            if not _plausible_line(line):
                return _json(400, "invalid", f"unable to parse '{line}'")
        self.lines.extend(lines)
        self.written.setdefault(request.params["bucket"], []).extend(lines)
        return 204, "text/plain", b""

    def _delete(self, request: RecordedRequest) -> tuple[int, str, bytes]:
        missing = self._bucket(request.params)
        if missing is not None:
            return missing
        try:
            body = json.loads(request.text)
        except ValueError:
            return _json(400, "invalid", "invalid request; error parsing request json")
        for key in ("start", "stop"):
            if not isinstance(body.get(key), str) or not _RFC3339.match(body[key]):
                return _json(400, "invalid", f"invalid request; {key} is not RFC3339")
        self.deletes.append({"bucket": request.params["bucket"], **body})
        return 204, "text/plain", b""


def _plausible_line(line: str) -> bool:
    """measurement[,tags] fields [timestamp] with an integer timestamp."""
    parts = re.split(r"(?<!\\) ", line)
    return (
        len(parts) in (2, 3)
        and "=" in parts[1]
        and (len(parts) == 2 or parts[2].lstrip("-").isdigit())
    )


def _json(status: int, code: str, message: str) -> tuple[int, str, bytes]:
    body = json.dumps({"code": code, "message": message}).encode()
    return status, "application/json; charset=utf-8", body


class _Handler(BaseHTTPRequestHandler):
    owner: FakeInflux2
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        split = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(split.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        raw = body
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            raw = gzip.decompress(body)
        request = RecordedRequest(
            method=self.command,
            path=split.path,
            params=params,
            headers=CaseInsensitiveDict(dict(self.headers.items())),
            body=body,
            text=raw.decode("utf-8"),
        )
        status, content_type, answer, *extra = self.owner.handle(request)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (extra[0] if extra else {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = _serve
    do_POST = _serve
    do_DELETE = _serve


# -- annotated CSV, the way InfluxDB 2.x renders query results --

Column = tuple[str, str]  # (name, datatype) e.g. ("_value", "double")


def annotated_csv(
    tables: Sequence[tuple[Sequence[Column], Sequence[str], Sequence[Sequence[Any]]]],
) -> str:
    """Render tables as InfluxDB 2.x annotated CSV (\\r\\n line ends).

    Each table is (columns, group_columns, rows). Every table gets its own
    #datatype/#group/#default annotations and header and is followed by a
    blank line, as InfluxDB does when the schema changes between tables.
    The first two columns `result` and `table` are added here.
    """
    out: list[str] = []
    for number, (columns, group, rows) in enumerate(tables):
        names = [name for name, _ in columns]
        types = [kind for _, kind in columns]
        out.append(",".join(["#datatype", "string", "long", *types]))
        out.append(
            ",".join(
                ["#group", "false", "false"]
                + ["true" if name in group else "false" for name in names]
            )
        )
        out.append(",".join(["#default", "_result", ""] + [""] * len(names)))
        out.append(",".join(["", "result", "table", *names]))
        for row in rows:
            cells = [_cell(value) for value in row]
            out.append(",".join(["", "", str(number), *cells]))
        out.append("")
    return "\r\n".join(out) + "\r\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "+Inf" if value > 0 else "-Inf"
        return repr(value)
    text = str(value)
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


# -- a tiny store answering the extractor's three Flux queries exactly --

_READ = re.compile(
    r'^from\(bucket: "(?P<bucket>[^"\\]*)"\)\n'
    r"  \|> range\(start: (?P<start>\S+)\)\n"
    r'  \|> filter\(fn: \(r\) => r\._field == "value" and '
    r'r\.domain == "input_number"\)\n'
    r"  \|> filter\(fn: \(r\) => (?P<ids>.*)\)\n"
    r'  \|> keep\(columns: \["_time", "_value", "_measurement", "entity_id"\]\)\n$'
)
_FINGERPRINT = re.compile(
    r'^import "types"\n\n'
    r'data = from\(bucket: "(?P<bucket>[^"\\]*)"\)\n'
    r"  \|> range\(start: 1970-01-01T00:00:00Z, stop: (?P<stop>\S+)\)\n"
    r'  \|> filter\(fn: \(r\) => r\._field == "value" and '
    r'r\.domain == "input_number"\)\n'
    r"  \|> filter\(fn: \(r\) => (?P<ids>.*)\)\n"
    r'  \|> filter\(fn: \(r\) => types\.isType\(v: r\._value, type: "float"\)'
    r' or types\.isType\(v: r\._value, type: "int"\)\)\n\n'
    r'data \|> count\(\) \|> keep\(columns: \["_measurement", "entity_id", '
    r'"_value"\]\) \|> yield\(name: "count"\)\n'
    r'data \|> sum\(\) \|> keep\(columns: \["_measurement", "entity_id", '
    r'"_value"\]\) \|> yield\(name: "sum"\)\n$'
)
_ID = re.compile(r'r\.entity_id == "((?:[^"\\]|\\.)*)"')


@dataclass
class FluxStore:
    """Points (measurement, entity_id, time, float value) of input_number
    entities in one bucket, and `answer(flux)`: for the exact Flux texts of
    the reading query and the fingerprint query, what InfluxDB 2.x would
    answer (one table per series); anything else is an error table, so a
    test fails when the extractor sends other Flux."""

    bucket: str
    points: dict[tuple[str, str, datetime], float] = field(default_factory=dict)

    def answer(self, flux: str) -> str:
        if match := _READ.match(flux):
            return self._read(match)
        if match := _FINGERPRINT.match(flux):
            return self._fingerprint(match)
        return _error_table(f"the fake does not know this Flux: {flux!r}")

    def _series(
        self, match: re.Match[str], start: datetime | None, stop: datetime | None
    ) -> dict[tuple[str, str], list[tuple[datetime, float]]]:
        if match["bucket"] != self.bucket:
            return {}
        ids = {
            i.replace('\\"', '"').replace("\\\\", "\\")
            for i in _ID.findall(match["ids"])
        }
        series: dict[tuple[str, str], list[tuple[datetime, float]]] = {}
        for (measurement, entity_id, at), value in sorted(self.points.items()):
            if entity_id not in ids:
                continue
            if (start and at < start) or (stop and at >= stop):
                continue
            series.setdefault((measurement, entity_id), []).append((at, value))
        return series

    def _read(self, match: re.Match[str]) -> str:
        start = _instant(match["start"])
        columns = [
            ("_time", "dateTime:RFC3339"),
            ("_value", "double"),
            ("_measurement", "string"),
            ("entity_id", "string"),
        ]
        return annotated_csv(
            [
                (
                    columns,
                    ["_measurement", "entity_id"],
                    [(at, value, m, e) for at, value in points],
                )
                for (m, e), points in self._series(match, start, None).items()
            ]
        )

    def _fingerprint(self, match: re.Match[str]) -> str:
        series = self._series(match, None, _instant(match["stop"]))
        group = ["_measurement", "entity_id"]
        tables: list[tuple[Sequence[Column], Sequence[str], Sequence[Sequence[Any]]]]
        tables = []
        for name, kind in (("count", "long"), ("sum", "double")):
            columns = [("_measurement", "string"), ("entity_id", "string")]
            columns.append(("_value", kind))
            for (m, e), points in series.items():
                values = [value for _, value in points]
                total = len(values) if name == "count" else sum(values)
                tables.append((columns, group, [(m, e, total)]))
        text = annotated_csv(tables)
        # the yield names: count tables, then sum tables
        names = ["count"] * len(series) + ["sum"] * len(series)
        return _with_result_names(text, names)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _with_result_names(text: str, names: list[str]) -> str:
    """Set each table's `result` default (annotated_csv writes _result)."""
    blocks = text.split("#default,_result,")
    out = [blocks[0]]
    for name, block in zip(names, blocks[1:], strict=True):
        out.append(f"#default,{name},{block}")
    return "".join(out)


def _error_table(message: str) -> str:
    cell = '"' + message.replace('"', '""') + '"'
    return (
        "#datatype,string,string\r\n#group,true,true\r\n#default,,\r\n"
        f",error,reference\r\n,{cell},\r\n\r\n"
    )
