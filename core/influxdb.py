"""The one InfluxDB HTTP connection used by extract and load, for both APIs.

1.x: InfluxQL over /query, line protocol over /write; a bucket is a database,
optionally "database/retention_policy"; a token "user:password" is sent as HTTP
basic auth (never in the URL), any other token as `Authorization: Token`.
2.x: Flux over /api/v2/query (annotated CSV), /api/v2/write (gzip) and
/api/v2/delete, with `Authorization: Token <token>` and the organisation.

Every call has a timeout; connection errors and 5xx answers are retried a few
times with exponential backoff; anything else becomes one InfluxError line that
says what to do. No message ever contains the token.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from core.errors import InfluxError
from core.settings import Settings

log = logging.getLogger(__name__)

WRITE_BATCH_LINES = 5000
CHUNK_SIZE = 10000
_FLUX_DIALECT = {
    "header": True,
    "delimiter": ",",
    "annotations": ["datatype", "group", "default"],
    "commentPrefix": "#",
    "dateTimeFormat": "RFC3339",
}
_FIELD_CONFLICT = re.compile(
    r'input field \\?"(?P<field>.*?)\\?" on measurement \\?"(?P<measurement>.*?)\\?"'
)
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(Z|[+-]\d{2}:\d{2})$"
)


@dataclass(frozen=True)
class InfluxTarget:
    """Where and how to talk to InfluxDB; `token` never shows in repr."""

    url: str
    api_version: int = 2
    token: str | None = field(default=None, repr=False)
    org: str | None = None
    timeout_s: float = 30
    retries: int = 3  # extra attempts after the first, on connection errors/5xx
    backoff_s: float = 0.5  # first wait; doubles each retry
    bucket_settings: tuple[tuple[str, str], ...] = ()  # (bucket, setting name)

    @classmethod
    def from_settings(cls, settings: Settings) -> InfluxTarget:
        if not settings.influx_url:
            raise InfluxError(
                "INFLUX_URL is not set: set it to your InfluxDB, e.g. http://nas:8086"
            )
        version = settings.influx_api_version
        if version == 0:  # INFLUX_API_VERSION=auto
            version = api_version_of(settings.influx_url, settings.influx_token)
        if version == 2:
            for name in ("influx_token", "influx_org"):
                if not getattr(settings, name):
                    raise InfluxError(
                        f"{name.upper()} is not set: InfluxDB at "
                        f"{cls(url=settings.influx_url).safe_url} is 2.x, whose "
                        "API needs it"
                    )
        return cls(
            url=settings.influx_url.rstrip("/"),
            api_version=version,
            token=settings.influx_token,
            org=settings.influx_org,
            bucket_settings=(
                (settings.influx_bucket_raw, "INFLUX_BUCKET_RAW"),
                (settings.influx_bucket_processed, "INFLUX_BUCKET_PROCESSED"),
            ),
        )

    @property
    def safe_url(self) -> str:
        """The URL without any user:password@ part, for messages."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))

    def setting_for(self, bucket: str) -> str:
        for name, setting in self.bucket_settings:
            if name == bucket:
                return setting
        return "INFLUX_BUCKET_RAW / INFLUX_BUCKET_PROCESSED"


# -- which server answers --


def server_version(url: str, timeout_s: float = 10) -> str | None:
    """The version InfluxDB names in its /ping answer (X-Influxdb-Version:
    "1.8.10" from 1.x, "v2.7.1" or "2.7.1" from 2.x); None when it names none.
    """
    target = InfluxTarget(url=url.rstrip("/"), timeout_s=timeout_s, retries=1)
    with requests.Session() as session:
        response = _request(session, target, "GET", "/ping", what="ping")
    version = response.headers.get("X-Influxdb-Version", "").strip()
    return version or None


def major_version(version: str | None) -> int | None:
    """1 or 2 from a version text such as "1.6.7~rc0" or "v2.7.1"."""
    match = re.match(r"^v?(\d+)\.", version or "")
    if not match:
        return None
    major = int(match.group(1))
    return 1 if major <= 1 else 2


def api_version_of(url: str, token: str | None = None) -> int:
    """The API to use with the server at `url`: its major version."""
    version = server_version(url)
    major = major_version(version)
    if major is None:
        shown = InfluxTarget(url=url).safe_url
        raise InfluxError(
            f"InfluxDB at {shown} did not say its version in its /ping answer: "
            "set INFLUX_API_VERSION=1 or 2"
        )
    return major


# -- quoting (InfluxQL and Flux literals) --


def influxql_identifier(name: str) -> str:
    """A double-quoted InfluxQL identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def influxql_string(value: str) -> str:
    """A single-quoted InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def flux_string(value: str) -> str:
    """A double-quoted Flux string literal (no interpolation)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
    return '"' + escaped + '"'


def rfc3339(instant: datetime) -> str:
    """UTC RFC3339 with microseconds when present, e.g. 2024-01-01T00:00:00Z."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime: give InfluxDB times in UTC")
    text = instant.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


# -- HTTP with retries and one-line errors --


def _auth_headers(target: InfluxTarget) -> tuple[dict[str, str], Any]:
    """(headers, requests auth) for the target's token."""
    if not target.token:
        return {}, None
    if target.api_version == 1 and ":" in target.token:
        user, password = target.token.split(":", 1)
        return {}, (user, password)
    return {"Authorization": f"Token {target.token}"}, None


def _server_message(response: requests.Response) -> str:
    """The server's error text, one line, short."""
    text = response.text or ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        text = str(body.get("message") or body.get("error") or text)
    line = " ".join(text.split())
    return line[:300] if line else f"HTTP {response.status_code}"


def _client_error(
    target: InfluxTarget, response: requests.Response, what: str, bucket: str | None
) -> InfluxError:
    status = response.status_code
    message = _server_message(response)
    url = target.safe_url
    if status in (401, 403):
        return InfluxError(
            f"InfluxDB at {url} refused the credentials: check INFLUX_TOKEN"
        )
    conflict = _FIELD_CONFLICT.search(message)
    if conflict and "field type conflict" in message:
        return InfluxError(
            f"InfluxDB at {url} rejected the write: field "
            f'"{conflict["field"]}" of measurement "{conflict["measurement"]}" '
            "already has another type in "
            f'"{bucket}"; write it as that type or drop the old series'
        )
    lowered = message.lower()
    if status == 404 or "not found" in lowered:
        if "organization" in lowered:
            return InfluxError(
                f"InfluxDB at {url} has no organization {target.org!r}: "
                "check INFLUX_ORG"
            )
        named = re.search(r'(?:bucket|database not found:) \\?"?([^"\\]+)', message)
        name = bucket or (named.group(1) if named else None)
        if name:
            kind = "bucket" if target.api_version == 2 else "database"
            return InfluxError(
                f'InfluxDB at {url} has no {kind} "{name}": create it or fix '
                f"{target.setting_for(name)}"
            )
    return InfluxError(
        f"InfluxDB at {url} rejected the {what} (HTTP {status}): {message}"
    )


def _request(
    session: requests.Session,
    target: InfluxTarget,
    method: str,
    path: str,
    *,
    what: str,
    bucket: str | None = None,
    params: dict[str, str] | None = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    stream: bool = False,
) -> requests.Response:
    auth_headers, auth = _auth_headers(target)
    all_headers = {**auth_headers, **(headers or {})}
    url = target.url + path
    attempt = 0
    while True:
        try:
            response = session.request(
                method,
                url,
                params=params,
                data=data,
                headers=all_headers,
                auth=auth,
                timeout=target.timeout_s,
                stream=stream,
            )
        except requests.Timeout:
            reason = "timeout"
            response = None
        except requests.ConnectionError:
            reason = "connection"
            response = None
        else:
            if response.status_code < 400:
                return response
            if response.status_code < 500:
                raise _client_error(target, response, what, bucket)
            reason = f"http_{response.status_code}"
        if attempt >= target.retries:
            break
        wait = target.backoff_s * (2**attempt)
        attempt += 1
        log.warning(
            "event=influx_retry url=%s what=%s reason=%s attempt=%d wait_s=%.2f",
            target.safe_url,
            what.replace(" ", "_"),
            reason,
            attempt,
            wait,
        )
        time.sleep(wait)
    if reason == "connection":
        raise InfluxError(
            f"cannot reach InfluxDB at {target.safe_url}: is it running? "
            "check INFLUX_URL"
        )
    if reason == "timeout":
        raise InfluxError(
            f"InfluxDB at {target.safe_url} did not answer within "
            f"{target.timeout_s:g}s: check that it is healthy and INFLUX_URL"
        )
    assert response is not None
    raise InfluxError(
        f"InfluxDB at {target.safe_url} failed the {what} "
        f"(HTTP {response.status_code}): {_server_message(response)}; "
        "try again later"
    )


def _require_version(target: InfluxTarget, version: int, function: str) -> None:
    if target.api_version != version:
        raise InfluxError(
            f"{function} needs the InfluxDB {version}.x API but "
            f"INFLUX_API_VERSION={target.api_version}"
        )


def _database(bucket: str) -> dict[str, str]:
    """1.x "database/retention_policy" as query parameters."""
    database, _, retention = bucket.partition("/")
    params = {"db": database}
    if retention:
        params["rp"] = retention
    return params


# -- 1.x: InfluxQL --


def influxql(
    target: InfluxTarget,
    database: str | None,
    query: str,
    *,
    epoch: str = "s",
    chunk_size: int = CHUNK_SIZE,
) -> list[dict[str, Any]]:
    """Run InfluxQL (1.x) and return its series, partial chunks merged.

    Each series: {"name", "tags", "columns", "values", "statement_id"}. Writes
    and schema statements (CREATE, DROP, DELETE) work too; they return [].
    """
    return list(
        iter_influxql(target, database, query, epoch=epoch, chunk_size=chunk_size)
    )


def iter_influxql(
    target: InfluxTarget,
    database: str | None,
    query: str,
    *,
    epoch: str = "s",
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[dict[str, Any]]:
    """Like `influxql`, yielding each series once complete (streams chunks)."""
    _require_version(target, 1, "InfluxQL")
    params = {"q": query, "epoch": epoch, "chunked": "true"}
    params["chunk_size"] = str(chunk_size)
    if database:
        params.update(_database(database))
    with requests.Session() as session:
        response = _request(
            session,
            target,
            "POST",
            "/query",
            what="query",
            bucket=database,
            params=params,
            stream=True,
        )
        with response:
            pending: dict[str, Any] | None = None
            for raw in _lines(response):
                for series in _chunk_series(target, database, raw):
                    if pending is not None and _continues(pending, series):
                        pending["values"].extend(series.get("values") or [])
                        pending["partial"] = bool(series.get("partial"))
                        continue
                    if pending is not None:
                        yield _finished(pending)
                    pending = series
                    pending["values"] = pending.get("values") or []
            if pending is not None:
                yield _finished(pending)


def _lines(response: requests.Response) -> Iterator[bytes]:
    """The non-blank lines of a streamed body, in linear time (requests'
    iter_lines re-splits its whole buffer for every small chunk)."""
    parts: list[bytes] = []
    for block in response.iter_content(chunk_size=1 << 20):
        start = 0
        while (end := block.find(b"\n", start)) != -1:
            parts.append(block[start:end])
            line = b"".join(parts)
            parts = []
            start = end + 1
            if line.strip():
                yield line
        if start < len(block):
            parts.append(block[start:])
    line = b"".join(parts)
    if line.strip():
        yield line


def _continues(pending: dict[str, Any], series: dict[str, Any]) -> bool:
    """A chunk of `series` that continues the partial `pending` one."""
    return bool(pending.get("partial")) and all(
        pending.get(key) == series.get(key)
        for key in ("statement_id", "name", "tags", "columns")
    )


def _finished(series: dict[str, Any]) -> dict[str, Any]:
    series.pop("partial", None)
    return series


def _chunk_series(
    target: InfluxTarget, database: str | None, raw: bytes
) -> list[dict[str, Any]]:
    try:
        body = json.loads(raw)
    except ValueError:
        raise InfluxError(
            f"InfluxDB at {target.safe_url} sent an unreadable query answer: "
            "check that INFLUX_URL points at InfluxDB 1.x (or set INFLUX_API_VERSION)"
        ) from None
    if body.get("error"):
        raise _statement_error(target, database, str(body["error"]))
    found: list[dict[str, Any]] = []
    for result in body.get("results") or []:
        if result.get("error"):
            raise _statement_error(target, database, str(result["error"]))
        for series in result.get("series") or []:
            series["statement_id"] = result.get("statement_id", 0)
            found.append(series)
    return found


def _statement_error(
    target: InfluxTarget, database: str | None, message: str
) -> InfluxError:
    line = " ".join(message.split())[:300]
    if line.startswith(("database not found", "retention policy not found")):
        kind = "database" if line.startswith("database") else "retention policy for"
        return InfluxError(
            f'InfluxDB at {target.safe_url} has no {kind} "{database}": '
            f"create it or fix {target.setting_for(database or '')}"
        )
    if "authoriz" in line or "authenticat" in line:
        return InfluxError(
            f"InfluxDB at {target.safe_url} refused the credentials: check INFLUX_TOKEN"
        )
    return InfluxError(f"InfluxDB at {target.safe_url} rejected the query: {line}")


# -- 2.x: Flux and annotated CSV --


def flux_csv(
    target: InfluxTarget, flux: str, *, bucket: str | None = None
) -> list[dict[str, Any]]:
    """Run Flux (2.x) and return every row of every table as a dict.

    Values are typed from the #datatype annotation (double -> float, NaN/Inf
    included; long -> int; dateTime -> UTC datetime; string -> str). `bucket`
    only names the bucket in error messages.
    """
    _require_version(target, 2, "Flux")
    with requests.Session() as session:
        response = _request(
            session,
            target,
            "POST",
            "/api/v2/query",
            what="query",
            bucket=bucket,
            params=_org(target),
            data=json.dumps(
                {"query": flux, "type": "flux", "dialect": _FLUX_DIALECT}
            ).encode(),
            headers={
                "Content-Type": "application/json",
                "Accept": "application/csv",
            },
        )
        response.encoding = "utf-8"
        return parse_annotated_csv(response.text, url=target.safe_url)


def _org(target: InfluxTarget) -> dict[str, str]:
    if not target.org:
        raise InfluxError("INFLUX_ORG is not set: the InfluxDB 2.x API needs it")
    return {"org": target.org}


def parse_annotated_csv(text: str, *, url: str = "InfluxDB") -> list[dict[str, Any]]:
    """Rows of InfluxDB 2.x annotated CSV (several tables, blank-line separated).

    The leading annotation column is dropped; `result` and `table` are kept.
    An error table (columns error, reference) raises InfluxError.
    """
    rows: list[dict[str, Any]] = []
    types: list[str] = []
    defaults: list[str] = []
    header: list[str] | None = None
    for record in csv.reader(io.StringIO(text, newline="")):
        if not record or all(cell == "" for cell in record):
            header, types, defaults = None, [], []
            continue
        first = record[0]
        if first.startswith("#"):
            if header is not None:  # new annotations without a blank line
                header, types, defaults = None, [], []
            if first == "#datatype":
                types = record[1:]
            elif first == "#default":
                defaults = record[1:]
            continue
        if header is None:
            header = record[1:]
            if header[:1] == ["error"]:
                header = ["error", *header[1:]]
            continue
        cells = record[1:]
        if header[:1] == ["error"]:
            message = " ".join((cells[0] if cells else "").split())[:300]
            raise InfluxError(f"InfluxDB at {url} rejected the query: {message}")
        row: dict[str, Any] = {}
        for index, name in enumerate(header):
            cell = cells[index] if index < len(cells) else ""
            kind = types[index] if index < len(types) else "string"
            if cell == "" and index < len(defaults):
                cell = defaults[index]
            row[name] = _typed(cell, kind)
        rows.append(row)
    return rows


def _typed(cell: str, kind: str) -> Any:
    if kind == "string":
        return cell
    if cell == "":
        return None
    if kind == "double":
        return float(cell)  # accepts NaN, +Inf, -Inf
    if kind in ("long", "unsignedLong"):
        return int(cell)
    if kind == "boolean":
        return cell == "true"
    if kind.startswith("dateTime"):
        return parse_rfc3339(cell)
    return cell


def parse_rfc3339(text: str) -> datetime:
    """RFC3339 (nanoseconds allowed, truncated to microseconds) as UTC."""
    match = _RFC3339.match(text)
    if not match:
        raise InfluxError(f"InfluxDB sent a time that is not RFC3339: {text[:40]!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    instant = datetime(
        int(year),
        int(month),
        int(day),
        int(hour),
        int(minute),
        int(second),
        micro,
        tzinfo=UTC,
    )
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        instant -= sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return instant


# -- writes and deletes (both APIs) --


def _batches(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def write_lines(
    target: InfluxTarget,
    bucket: str,
    lines: Iterable[str],
    precision: str = "s",
    *,
    batch_lines: int = WRITE_BATCH_LINES,
) -> int:
    """Write finished line-protocol lines in batches; returns the count written."""
    written = 0
    with requests.Session() as session:
        for batch in _batches(lines, batch_lines):
            body = "\n".join(batch).encode()
            if target.api_version == 1:
                params = {**_database(bucket), "precision": precision}
                path, headers = "/write", {"Content-Type": "text/plain"}
            else:
                params = {**_org(target), "bucket": bucket, "precision": precision}
                path = "/api/v2/write"
                headers = {
                    "Content-Type": "text/plain; charset=utf-8",
                    "Content-Encoding": "gzip",
                }
                body = gzip.compress(body)
            _request(
                session,
                target,
                "POST",
                path,
                what="write",
                bucket=bucket,
                params=params,
                data=body,
                headers=headers,
            )
            written += len(batch)
    log.info(
        "event=influx_written url=%s bucket=%s lines=%d",
        target.safe_url,
        bucket,
        written,
    )
    return written


def delete(
    target: InfluxTarget,
    bucket: str,
    measurement: str,
    meter_id: str,
    start: datetime,
    stop: datetime,
    *,
    tags: dict[str, str] | None = None,
) -> None:
    """Delete the points of one series in [start, stop): tag meter_id, or
    the given `tags` (e.g. flat_id and cost_item)."""
    delete_points(
        target, bucket, measurement, tags or {"meter_id": meter_id}, start, stop
    )


def delete_points(
    target: InfluxTarget,
    bucket: str,
    measurement: str,
    tags: dict[str, str],
    start: datetime,
    stop: datetime,
) -> None:
    """Delete the points of one series (these tag values) in [start, stop)."""
    if target.api_version == 1:
        where = " AND ".join(
            f"{influxql_identifier(key)} = {influxql_string(value)}"
            for key, value in tags.items()
        )
        statement = (
            f"DELETE FROM {influxql_identifier(measurement)} "
            f"WHERE {where} "
            f"AND time >= {influxql_string(rfc3339(start))} "
            f"AND time < {influxql_string(rfc3339(stop))}"
        )
        influxql(target, bucket, statement)
        return
    # 2.x deletes [start, stop] (stop inclusive): stop 1 ns earlier.
    predicate = " AND ".join(
        [f"_measurement={_predicate_string(measurement)}"]
        + [f"{key}={_predicate_string(value)}" for key, value in tags.items()]
    )
    _delete_v2(target, bucket, rfc3339(start), _one_ns_before(stop), predicate)


def _delete_v2(
    target: InfluxTarget, bucket: str, start: str, stop: str, predicate: str
) -> None:
    """POST /api/v2/delete: the points matching `predicate` in [start, stop]."""
    body = {"start": start, "stop": stop, "predicate": predicate}
    with requests.Session() as session:
        _request(
            session,
            target,
            "POST",
            "/api/v2/delete",
            what="delete",
            bucket=bucket,
            params={**_org(target), "bucket": bucket},
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )


def _one_ns_before(instant: datetime) -> str:
    """RFC3339Nano of `instant` minus 1 ns (2.x delete's stop is inclusive)."""
    earlier = instant.astimezone(UTC) - timedelta(microseconds=1)
    return earlier.strftime("%Y-%m-%dT%H:%M:%S.%f") + "999Z"


def _predicate_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def delete_measurement(target: InfluxTarget, bucket: str, measurement: str) -> None:
    """Delete every point of one measurement in the bucket (all time)."""
    if target.api_version == 1:
        influxql(target, bucket, f"DROP MEASUREMENT {influxql_identifier(measurement)}")
        return
    _delete_v2(
        target,
        bucket,
        "1970-01-01T00:00:00Z",
        "2262-04-11T23:47:16Z",  # the latest instant InfluxDB stores
        f"_measurement={_predicate_string(measurement)}",
    )
