"""Which source a DATA_DIR holds: the demo, or one InfluxDB and Tibber home.

A DATA_DIR holds one source's history. The landing zone records it in
DATA_DIR/landing/source.json when the first extraction lands; the warehouse
copies it into `run_state.source` with every build; the published record
(`run_state.published_source`) holds the source whose points were written.

A run against another source than the one its DATA_DIR holds stops before it
touches anything, with one line that says what to do: demo and real readings
must never be mixed in one warehouse, and demo points must never reach an
InfluxDB. Starting a separate state automatically was rejected: the owner
would not learn that `make shell`, `make docs` and the statements still show
the other source's data, and a typo in INFLUX_URL would silently start an
empty history.

The source is "demo" or "influxdb <url> bucket <raw bucket>", plus the Tibber
home when one was chosen (TIBBER_HOME_ID). A DATA_DIR from before the record
existed holds the demo when its landing zone holds the demo's Tibber home,
else real data, which the first real run adopts as its own.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import duckdb

from core import run_state
from core.errors import PipelineError
from core.settings import Settings

DEMO = "demo"
SCHEMA = run_state.SCHEMA
RECORD = "source.json"
# extract/demo.py's Tibber home; the core does not import extract.
DEMO_TIBBER_HOME_ID = "5f3a9c2e-7b14-4d8e-a6c1-0e2d4b9f7a35"


class SourceError(PipelineError):
    stage = "source"


@dataclass(frozen=True)
class Source:
    influx: str | None  # "<url> bucket <raw bucket>"; None: the demo
    tibber_home: str | None = None

    @property
    def is_demo(self) -> bool:
        return self.influx is None

    def describe(self) -> str:
        if self.influx is None:
            return "the demo"
        if self.influx == ANY_INFLUXDB:
            return "data of an InfluxDB (landed before the source was recorded)"
        text = f"InfluxDB {self.influx}"
        if self.tibber_home:
            text += f" with Tibber home {self.tibber_home}"
        return text

    def to_json(self) -> str:
        return json.dumps({"influx": self.influx, "tibber_home": self.tibber_home})

    @classmethod
    def from_json(cls, text: str) -> Source:
        data = json.loads(text)
        return cls(influx=data.get("influx"), tibber_home=data.get("tibber_home"))

    def same_as(self, other: Source) -> bool:
        """The same source: the same InfluxDB bucket, and the same Tibber
        home when both name one (adding TIBBER_HOME_ID later is no change)."""
        if ANY_INFLUXDB in (self.influx, other.influx):
            return None not in (self.influx, other.influx)
        if self.influx != other.influx:
            return False
        homes = {self.tibber_home, other.tibber_home} - {None}
        return len(homes) <= 1


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def current(settings: Settings) -> Source:
    """The source this run's settings point at."""
    if settings.demo_mode or settings.influx_url is None:
        return Source(influx=None)
    return Source(
        influx=f"{_safe_url(settings.influx_url)} bucket {settings.influx_bucket_raw}",
        tibber_home=settings.tibber_home_id,
    )


def record_path(data_dir: Path) -> Path:
    return data_dir / "landing" / RECORD


ANY_INFLUXDB = "*"  # real data landed before the record existed


def _landed_before_the_record(data_dir: Path) -> Source | None:
    """What a DATA_DIR without a record holds: nothing (None), the demo when
    its Tibber home is the demo's, else real data of some InfluxDB."""
    landing = data_dir / "landing"
    files = [
        path
        for path in landing.glob("*/*.parquet")
        if not path.name.startswith("00000000-")
    ]
    if not files:
        return None
    pattern = str(landing / "tibber_hours" / "*.parquet").replace("'", "''")
    try:
        with duckdb.connect() as connection:
            (demo,) = connection.execute(
                f"select count(*) > 0 from read_parquet('{pattern}') where home_id = ?",
                [DEMO_TIBBER_HOME_ID],
            ).fetchone() or (False,)
    except duckdb.Error:
        demo = False
    return Source(influx=None) if demo else Source(influx=ANY_INFLUXDB)


def held(data_dir: Path) -> Source | None:
    """The source the DATA_DIR's landing zone holds; None: nothing yet."""
    path = record_path(data_dir)
    if path.is_file():
        return Source.from_json(path.read_text())
    return _landed_before_the_record(data_dir)


def mismatch(data_dir: Path, held_source: Source, wanted: Source) -> str:
    """The one line that says what to do."""
    here = f"DATA_DIR {data_dir} holds {held_source.describe()}"
    if held_source.is_demo:
        return (
            f"{here}, this run reads {wanted.describe()}: demo and real data "
            "must not mix; give your own data its own folder (e.g. "
            "DATA_DIR=data-home in .env) or delete the demo's folder "
            f"(rm -r {data_dir}), then run again; nothing was touched"
        )
    if wanted.is_demo:
        return (
            f"{here}, but INFLUX_URL is not set, which means the demo: set "
            "INFLUX_URL again, or run the demo in its own folder "
            "(DATA_DIR=data-demo make run); nothing was touched"
        )
    return (
        f"{here}, this run reads {wanted.describe()}: a DATA_DIR holds one "
        "source; use another DATA_DIR for this one, or if it is the same "
        f"database under a new address, delete {record_path(data_dir)} and "
        "run again; nothing was touched"
    )


def check(settings: Settings) -> Source:
    """Stop (SourceError) when DATA_DIR holds another source than the
    settings name; else the source to record (`record`) once work starts."""
    wanted = current(settings)
    found = held(settings.data_dir)
    if found is not None and not found.same_as(wanted):
        raise SourceError(mismatch(settings.data_dir, found, wanted))
    return Source(
        influx=wanted.influx,
        tibber_home=wanted.tibber_home or (found.tibber_home if found else None),
    )


def record(data_dir: Path, source: Source) -> None:
    """The landing zone's record of its source (written atomically)."""
    path = record_path(data_dir)
    if path.is_file() and Source.from_json(path.read_text()) == source:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(source.to_json())
    os.replace(temporary, path)


def record_in_warehouse(warehouse: Path, source: Source) -> None:
    """`run_state.source`: which source the warehouse was built from."""
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("begin")
        connection.execute(f"create schema if not exists {SCHEMA}")
        connection.execute(
            f"create or replace table {SCHEMA}.source (source_json varchar)"
        )
        connection.execute(
            f"insert into {SCHEMA}.source values (?)", [source.to_json()]
        )
        connection.execute("commit")


def in_warehouse(connection: duckdb.DuckDBPyConnection) -> Source | None:
    (count,) = connection.execute(
        "select count(*) from information_schema.tables "
        f"where table_schema = '{SCHEMA}' and table_name = 'source'"
    ).fetchone() or (0,)
    if not count:
        return None
    row = connection.execute(f"select source_json from {SCHEMA}.source").fetchone()
    return Source.from_json(row[0]) if row else None


def check_publishable(
    connection: duckdb.DuckDBPyConnection | None, settings: Settings
) -> None:
    """Before anything is written to InfluxDB: the warehouse (or, without a
    connection, the landing zone) holds data of the very source the settings
    point at, never the demo's. Data from before the record is adopted."""
    wanted = current(settings)
    if wanted.is_demo:
        raise SourceError(
            "the demo never writes to InfluxDB: set INFLUX_URL to publish "
            "your own data; nothing was written"
        )
    built = in_warehouse(connection) if connection is not None else None
    if built is None:
        built = held(settings.data_dir)
    if built is not None and (built.is_demo or not built.same_as(wanted)):
        raise SourceError(
            f"{settings.data_dir} holds {built.describe()}, not "
            f"{wanted.describe()}: nothing was written; give this source a "
            "DATA_DIR of its own"
        )


def record_published(connection: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """`run_state.published_source`: the source whose points the processed
    bucket holds. Another source's record stops the load: its points would
    mix with this one's (`make reset-processed` starts the bucket over)."""
    wanted = current(settings)
    connection.execute(f"create schema if not exists {SCHEMA}")
    connection.execute(
        f"create table if not exists {SCHEMA}.published_source (source_json varchar)"
    )
    row = connection.execute(
        f"select source_json from {SCHEMA}.published_source"
    ).fetchone()
    if row is not None:
        published = Source.from_json(row[0])
        if not published.same_as(wanted):
            raise SourceError(
                f"{settings.influx_bucket_processed} holds points published from "
                f"{published.describe()}, not {wanted.describe()}: run "
                "`make reset-processed` to start it over; nothing was written"
            )
        if published == wanted:
            return
    connection.execute("begin")
    connection.execute(f"delete from {SCHEMA}.published_source")
    connection.execute(
        f"insert into {SCHEMA}.published_source values (?)", [wanted.to_json()]
    )
    connection.execute("commit")
