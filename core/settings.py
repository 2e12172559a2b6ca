"""Settings from the environment, `.env` and `secrets/*.env` (docs/interfaces.md).

The real environment wins over `secrets/*.env`, which wins over `.env`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import ConfigError
from core.notify_urls import secret_parts, split_urls

TIBBER_PUBLIC_URL = "https://api.tibber.com/v1-beta/gql"
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    timezone: str
    as_of: datetime | None  # None: now, decided once per run
    influx_url: str | None
    influx_api_version: int  # 1 or 2; 0: auto, asked from the server (/ping)
    influx_token: str | None = field(repr=False)
    influx_org: str | None
    influx_bucket_raw: str
    influx_bucket_processed: str
    tibber_api_token: str | None = field(repr=False)
    tibber_api_url: str
    tibber_home_id: str | None
    tibber_meter_id: str
    notify_urls: str | None = field(default=None, repr=False)
    docs_host: str = "127.0.0.1"
    data_dir_group: str | None = None  # unset: DATA_DIR private to its owner

    @property
    def demo_mode(self) -> bool:
        return self.influx_url is None

    @property
    def warehouse(self) -> Path:
        """The DuckDB file dbt builds (profiles.yml)."""
        return self.data_dir / "warehouse.duckdb"

    def secrets(self) -> list[str]:
        """The values that must never appear in output, logs or files."""
        values = [self.influx_token, self.tibber_api_token]
        if self.influx_token and ":" in self.influx_token:
            values.append(self.influx_token.split(":", 1)[1])
        values += [p for u in split_urls(self.notify_urls) for p in secret_parts(u)]
        return [v for v in values if v]


def read_env_file(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines; blank lines and # comments are ignored."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise ConfigError(
                f"{path}:{number} is not a KEY=VALUE line: fix or remove it"
            )
        key, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def gather_environment(
    root: Path, environ: dict[str, str] | None = None
) -> dict[str, str]:
    """`.env`, then `secrets/*.env` (sorted), then the real environment."""
    merged: dict[str, str] = {}
    files = [root / ".env", *sorted((root / "secrets").glob("*.env"))]
    for path in files:
        if path.is_file():
            merged.update(read_env_file(path))
    merged.update(os.environ if environ is None else environ)
    return merged


def parse_as_of(text: str, timezone: str) -> datetime:
    """An ISO date (its local 00:00) or an ISO instant, as a UTC instant.

    A date means the start of that local day; an instant without offset is local.
    """
    zone = ZoneInfo(timezone)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time(), zone).astimezone(UTC)
        instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"AS_OF={text!r} is not an ISO date or instant: "
            "use e.g. 2024-07-01 or 2024-07-01T12:00:00Z"
        ) from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=zone)
    return instant.astimezone(UTC)


def load_settings(
    root: Path | None = None, environ: dict[str, str] | None = None
) -> Settings:
    root = Path.cwd() if root is None else root
    env = gather_environment(root, environ)

    def get(name: str, default: str | None = None) -> str | None:
        value = env.get(name, "").strip()
        return value or default

    timezone = get("METER_TIMEZONE", "Europe/Berlin")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"METER_TIMEZONE={timezone!r} is not a known time zone: "
            "use an IANA name such as Europe/Berlin"
        ) from None

    version = get("INFLUX_API_VERSION", "auto").lower()
    if version not in {"auto", "1", "2"}:
        raise ConfigError(
            f"INFLUX_API_VERSION={version!r} is not supported: set it to auto, 1 or 2"
        )

    influx_url = get("INFLUX_URL")
    if influx_url and not re.match(r"^https?://[^/\s]+", influx_url):
        raise ConfigError(
            "INFLUX_URL must start with http:// or https://, e.g. http://nas:8086"
        )
    if influx_url and version == "2":
        for name in ("INFLUX_TOKEN", "INFLUX_ORG"):
            if not get(name):
                raise ConfigError(
                    f"{name} is not set: the InfluxDB 2.x API needs it "
                    "(or set INFLUX_API_VERSION=1)"
                )

    for name in ("INFLUX_TOKEN", "TIBBER_API_TOKEN"):
        if any(ord(c) < 32 or ord(c) == 127 for c in get(name) or ""):
            raise ConfigError(
                f"{name} contains a line break or another control character "
                "(a paste error?): set it again on one line"
            )

    as_of_text = get("AS_OF")
    return Settings(
        data_dir=(root / get("DATA_DIR", "data")).resolve(),
        timezone=timezone,
        as_of=parse_as_of(as_of_text, timezone) if as_of_text else None,
        influx_url=influx_url.rstrip("/") if influx_url else None,
        influx_api_version=0 if version == "auto" else int(version),
        influx_token=get("INFLUX_TOKEN"),
        influx_org=get("INFLUX_ORG"),
        influx_bucket_raw=get("INFLUX_BUCKET_RAW", "lampfi"),
        influx_bucket_processed=get("INFLUX_BUCKET_PROCESSED", "lampfi_processed"),
        tibber_api_token=get("TIBBER_API_TOKEN"),
        tibber_api_url=get("TIBBER_API_URL", TIBBER_PUBLIC_URL),
        tibber_home_id=get("TIBBER_HOME_ID"),
        tibber_meter_id=get("TIBBER_METER_ID", "haupt_strom"),
        notify_urls=get("NOTIFY_URLS"),
        docs_host=get("DOCS_HOST", "127.0.0.1") or "127.0.0.1",
        data_dir_group=get("DATA_DIR_GROUP"),
    )
