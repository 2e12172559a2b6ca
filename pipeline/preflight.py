"""Before any work: is everything a run needs there and allowed?

1. Which InfluxDB answers: its /ping names its version (X-Influxdb-Version);
   INFLUX_API_VERSION=auto (the default) uses it, an explicit 1 or 2 that
   contradicts it is named as the mismatch it is.
2. The raw bucket (database) can be read.
3. The processed bucket (database) can be written: an empty write, which
   stores nothing but passes the same checks as a real one. When it is
   missing it is created if the credentials allow, else the line says how.
4. Tibber accepts the token (and knows TIBBER_HOME_ID), when one is set.

Each failure is one InfluxError/TibberError line with the fix; nothing has
been extracted then. Demo runs need none of this.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import requests

from core import influxdb
from core.errors import InfluxError
from core.influxdb import InfluxTarget
from core.settings import Settings


@dataclass
class PreflightResult:
    settings: Settings  # INFLUX_API_VERSION resolved to 1 or 2
    server_version: str | None = None
    detected: bool = False
    created: list[str] = field(default_factory=list)
    tibber_homes: int | None = None

    def describe(self) -> str:
        settings = self.settings
        major = settings.influx_api_version
        how = (
            "asked the server"
            if self.detected
            else f"INFLUX_API_VERSION={major}"
            + (", as the server says" if self.server_version else "")
        )
        version = self.server_version or "of unnamed version"
        url = InfluxTarget(url=settings.influx_url or "").safe_url
        text = (
            f"InfluxDB {version} at {url}"
            f" ({major}.x API, {how}); "
            f'"{settings.influx_bucket_raw}" readable, '
            f'"{settings.influx_bucket_processed}" writable'
        )
        for name in self.created:
            text += f' (created "{name}", it was missing)'
        if self.tibber_homes is None:
            text += "; Tibber skipped (TIBBER_API_TOKEN is not set)"
        else:
            text += f"; Tibber token accepted ({self.tibber_homes} home"
            text += ")" if self.tibber_homes == 1 else "s)"
        return text


def resolve_api_version(settings: Settings) -> tuple[Settings, str | None, bool]:
    """(settings with the API version, the server's version, detected?)."""
    assert settings.influx_url is not None
    url = InfluxTarget(url=settings.influx_url).safe_url
    version = influxdb.server_version(settings.influx_url)
    major = influxdb.major_version(version)
    configured = settings.influx_api_version
    if major is None:
        if configured == 0:
            raise InfluxError(
                f"InfluxDB at {url} did not say its version in its /ping answer: "
                "set INFLUX_API_VERSION=1 or 2"
            )
        return settings, version, False
    if configured and configured != major:
        raise InfluxError(
            f"INFLUX_API_VERSION={configured} but InfluxDB at {url} is "
            f"{version}, a {major}.x server: set INFLUX_API_VERSION={major} "
            "(or auto, the default)"
        )
    return replace(settings, influx_api_version=major), version, configured == 0


def preflight(
    settings: Settings, *, tibber_check: Callable[[Settings], list[str]] | None = None
) -> PreflightResult:
    settings, version, detected = resolve_api_version(settings)
    target = InfluxTarget.from_settings(settings)  # 2.x: token and org set
    result = PreflightResult(settings, version, detected)
    check_readable(target, settings.influx_bucket_raw)
    if ensure_writable(target, settings.influx_bucket_processed):
        result.created.append(settings.influx_bucket_processed)
    if settings.tibber_api_token and tibber_check is not None:
        result.tibber_homes = len(tibber_check(settings))
    return result


def check_readable(target: InfluxTarget, bucket: str) -> None:
    """A small read of the raw bucket; a missing one or a refused read
    raises the usual one-line InfluxError naming INFLUX_BUCKET_RAW."""
    if target.api_version == 1:
        database = bucket.partition("/")[0]
        statement = (
            f"SHOW RETENTION POLICIES ON {influxdb.influxql_identifier(database)}"
        )
        answer = _send(target, "POST", "/query", params={"q": statement})
        if answer.status_code == 403:  # a user without access to it
            raise InfluxError(
                f"InfluxDB at {target.safe_url} does not let INFLUX_TOKEN read the "
                f'database "{database}": give it read access (GRANT READ ON '
                f'"{database}" TO <user>), or fix INFLUX_BUCKET_RAW'
            )
        influxdb.influxql(target, bucket, statement)
        return
    influxdb.flux_csv(
        target,
        f"from(bucket: {influxdb.flux_string(bucket)}) "
        "|> range(start: -1m) |> limit(n: 1)",
        bucket=bucket,
    )


def _send(
    target: InfluxTarget, method: str, path: str, **options: Any
) -> requests.Response:
    """One request whose 4xx answer is returned, not raised."""
    headers, auth = influxdb._auth_headers(target)
    headers.update(options.pop("headers", {}))
    try:
        return requests.request(
            method,
            target.url + path,
            headers=headers,
            auth=auth,
            timeout=target.timeout_s,
            **options,
        )
    except requests.RequestException:
        raise InfluxError(
            f"cannot reach InfluxDB at {target.safe_url}: is it running? "
            "check INFLUX_URL"
        ) from None


def _probe_write(target: InfluxTarget, bucket: str) -> requests.Response:
    if target.api_version == 1:
        database, _, retention = bucket.partition("/")
        params = {"db": database, **({"rp": retention} if retention else {})}
        return _send(target, "POST", "/write", params=params, data=b"")
    params = {"org": target.org or "", "bucket": bucket, "precision": "s"}
    return _send(target, "POST", "/api/v2/write", params=params, data=b"")


def _is_missing(response: requests.Response) -> bool:
    text = response.text.lower()
    return response.status_code == 404 and (
        "database not found" in text or "bucket" in text
    )


def ensure_writable(target: InfluxTarget, bucket: str) -> bool:
    """Probe a write of nothing; create the bucket when missing and the
    credentials allow. True: it was created."""
    response = _probe_write(target, bucket)
    created = False
    if _is_missing(response):
        create(target, bucket)
        created = True
        response = _probe_write(target, bucket)
    if response.status_code < 300 or "writing requires points" in response.text:
        return created  # 2.0 before 2.0.9 refuses empty writes after its checks
    kind = "database" if target.api_version == 1 else "bucket"
    if response.status_code in (401, 403):
        grant = (
            f'GRANT WRITE ON "{bucket.partition("/")[0]}" TO <user>'
            if target.api_version == 1
            else "a token with write access to it"
        )
        raise InfluxError(
            f"InfluxDB at {target.safe_url} does not let INFLUX_TOKEN write to the "
            f'{kind} "{bucket}": give it write access ({grant}) or fix '
            "INFLUX_TOKEN / INFLUX_BUCKET_PROCESSED"
        )
    raise influxdb._client_error(target, response, "write", bucket)


def create(target: InfluxTarget, bucket: str) -> None:
    """Create the processed database (1.x) or bucket (2.x), or say how."""
    url = target.safe_url
    if target.api_version == 1:
        database = bucket.partition("/")[0]
        statement = f"CREATE DATABASE {influxdb.influxql_identifier(database)}"
        response = _send(target, "POST", "/query", params={"q": statement})
        body = _json(response)
        error = body.get("error") or next(
            (r.get("error") for r in body.get("results") or [] if r.get("error")),
            None,
        )
        if response.status_code < 300 and not error:
            return
        raise InfluxError(
            f'InfluxDB at {url} has no database "{database}" and INFLUX_TOKEN may '
            f"not create it: as an admin run influx -execute "
            f"'CREATE DATABASE \"{database}\"', or fix INFLUX_BUCKET_PROCESSED"
        )
    how = (
        f'InfluxDB at {url} has no bucket "{bucket}" and INFLUX_TOKEN may not '
        f"create it: run influx bucket create --name {bucket} --org {target.org} "
        "(or create it in the InfluxDB UI), or fix INFLUX_BUCKET_PROCESSED"
    )
    orgs = _send(target, "GET", "/api/v2/orgs", params={"org": target.org or ""})
    found = _json(orgs).get("orgs") or []
    if orgs.status_code >= 300 or not found:
        raise InfluxError(how)
    response = _send(
        target,
        "POST",
        "/api/v2/buckets",
        data=json.dumps(
            {"orgID": found[0]["id"], "name": bucket, "retentionRules": []}
        ).encode(),
        headers={"Content-Type": "application/json"},
    )
    if response.status_code >= 300:
        raise InfluxError(how)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
