"""Settings from the environment, `.env` and `secrets/*.env` (docs/interfaces.md).

The real environment wins over `secrets/*.env`, which wins over `.env`. Every
setting is read here and nowhere else. The dbt project reads some of them
through `env_var('NAME', 'default')`: its defaults are written there once and
taken from there (`dbt_defaults`), and `Settings.dbt_environment` is the one
place that hands dbt their values.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import ConfigError
from core.notify_urls import secret_parts, split_urls

TIBBER_PUBLIC_URL = "https://api.tibber.com/v1-beta/gql"
# The repository: the dbt project unless DBT_PROJECT_DIR names a copy.
ROOT = Path(__file__).resolve().parent.parent
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
# env_var('NAME') or env_var('NAME', 'default') in the dbt project's files.
ENV_VAR = re.compile(
    r"""env_var\(\s*['"]([A-Z_][A-Z0-9_]*)['"]\s*(?:,\s*['"]([^'"]*)['"]\s*)?\)"""
)
# What dbt reads that does not change what the models compute.
NOT_RESULTS = ("DATA_DIR", "DUCKDB_MEMORY_LIMIT", "DBT_SEND_ANONYMOUS_USAGE_STATS")
# DuckDB's memory_limit: a number and a unit (1000- or 1024-based).
_MEMORY = re.compile(r"^\d+(\.\d+)?\s*([KMGT]i?B|B|bytes)$", re.IGNORECASE)


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
    duckdb_memory_limit: str  # DuckDB spills to disk beyond it
    dbt_project_dir: Path  # the repository, or a copy describing another house
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

    @property
    def house_dir(self) -> Path:
        """The seeds describing the house."""
        return self.dbt_project_dir / "seeds"

    def dbt_environment(self) -> dict[str, str]:
        """Every variable the dbt project reads through env_var(): the one
        place dbt's environment is built (a test checks the names)."""
        return {
            "DATA_DIR": str(self.data_dir),
            "METER_TIMEZONE": self.timezone,
            "TIBBER_METER_ID": self.tibber_meter_id,
            "TIBBER_HOME_ID": self.tibber_home_id or "",
            "DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }

    def model_settings(self) -> list[str]:
        """The values of what dbt reads that change what the models compute
        (not where the warehouse lies, nor DuckDB's memory), in order."""
        return [
            value
            for name, value in self.dbt_environment().items()
            if name not in NOT_RESULTS
        ]

    def secrets(self) -> list[str]:
        """The values that must never appear in output, logs or files."""
        values = [self.influx_token, self.tibber_api_token]
        if self.influx_token and ":" in self.influx_token:
            values.append(self.influx_token.split(":", 1)[1])
        values += [p for u in split_urls(self.notify_urls) for p in secret_parts(u)]
        return [v for v in values if v]


def dbt_env_vars(project: Path) -> dict[str, str]:
    """Every env_var() of the dbt project (profiles.yml, dbt_project.yml, the
    models' YAML and SQL, the macros) with its default ('' when it has none).
    A name whose defaults differ between files is refused."""
    files = [project / "profiles.yml", project / "dbt_project.yml"]
    for folder, pattern in (
        ("models", "*.yml"),
        ("models", "*.sql"),
        ("macros", "*.sql"),
    ):
        files += sorted((project / folder).rglob(pattern))
    found: dict[str, str] = {}
    for path in files:
        for name, default in ENV_VAR.findall(path.read_text()):
            if found.setdefault(name, default) != default:
                raise ConfigError(
                    f"{path} gives env_var('{name}') the default {default!r}, "
                    f"another file {found[name]!r}: make them equal"
                )
    return found


@cache
def dbt_defaults() -> dict[str, str]:
    """The defaults of the settings dbt reads, as the dbt project writes them."""
    return dbt_env_vars(ROOT)


@cache
def dbt_vars() -> dict[str, object]:
    """The vars of dbt_project.yml as written (a var that reads a setting is
    its env_var() text): the constants Python shares with the models."""
    import yaml  # only the demo and tests need it: no cost to every start

    with open(ROOT / "dbt_project.yml") as handle:
        return dict(yaml.safe_load(handle)["vars"])


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

    defaults = dbt_defaults()
    timezone = get("METER_TIMEZONE", defaults["METER_TIMEZONE"])
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

    memory_limit = get("DUCKDB_MEMORY_LIMIT", defaults["DUCKDB_MEMORY_LIMIT"])
    if not _MEMORY.match(memory_limit):
        raise ConfigError(
            f"DUCKDB_MEMORY_LIMIT={memory_limit!r} is not a size: "
            "use a number and a unit, e.g. 4GB or 512MiB"
        )
    project = (root / get("DBT_PROJECT_DIR", str(ROOT))).resolve()
    if not (project / "dbt_project.yml").is_file():
        raise ConfigError(
            f"DBT_PROJECT_DIR={str(project)!r} holds no dbt_project.yml: "
            "point it at a copy of the dbt project or unset it"
        )

    as_of_text = get("AS_OF")
    return Settings(
        data_dir=(root / get("DATA_DIR", defaults["DATA_DIR"])).resolve(),
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
        tibber_meter_id=get("TIBBER_METER_ID", defaults["TIBBER_METER_ID"]),
        notify_urls=get("NOTIFY_URLS"),
        docs_host=get("DOCS_HOST", "127.0.0.1") or "127.0.0.1",
        data_dir_group=get("DATA_DIR_GROUP"),
        duckdb_memory_limit=memory_limit,
        dbt_project_dir=project,
    )
