"""A real house for end-to-end runs of `python -m pipeline run`.

The house's physical meters (seeds/meters.csv) get the demo history's manual
readings (extract/demo.py, as_of AS_OF) written to a real influxd 1.6 in Home
Assistant's schema (measurement = unit, tags entity_id and domain =
input_number, float field `value`); the main meter's Tibber hours are served by
the local Tibber GraphQL server (tests/support/tibber_server.py). The pipeline runs as
a subprocess with INFLUX_API_VERSION=1, its own raw and processed databases,
DATA_DIR in tmp_path and AS_OF fixed.

The tokens are recognisable so tests can search for them everywhere; they are
assembled at import time, so the literal never sits in the project tree.

Fixtures:
- `house_history` (session): the readings (as HA line protocol) and hours.
- `house` (function): fresh databases on the session `influxd` + a Tibber
  server + `env`; `house.run()` runs the pipeline.
- `house_factory` (function): `house_factory(server=..., auth=...)` for a
  house on another server (a private one a test may stop, or one with auth).
- `baseline` (session): the results of one undisturbed run, to compare with.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from core import landing, source
from core.errors import DbtError
from core.settings import load_settings, parse_as_of
from extract.demo import write_demo_history
from pipeline.dbt import build, copy_project
from tests.support.fixtures_influx import InfluxServer
from tests.support.tibber_server import Hour, TibberServer

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-11-27T10:00:00Z"
# Built from parts: the whole secret exists only at run time.
TIBBER_TOKEN = "-".join(["tibber", "SECRET", "7f3a"])
INFLUX_USER = "user"
INFLUX_PASSWORD = "-".join(["influx", "SECRET", "9c2b"])
INFLUX_TOKEN = f"{INFLUX_USER}:{INFLUX_PASSWORD}"
SECRETS = (TIBBER_TOKEN, INFLUX_PASSWORD, INFLUX_TOKEN)
RUN_TIMEOUT_S = 240
# The house's Tibber home: its own id, not the demo's (a DATA_DIR holding the
# demo's home is demo data, core/source.py).
HOUSE_TIBBER_HOME_ID = "8d1e4f27-3c5a-4b9e-9f60-2a7c1d5e8b43"
MARTS = (
    "meter_daily_readings",
    "meter_monthly_readings",
    "meter_daily_consumption",
    "meter_monthly_consumption",
    "meter_anomalies",
    "meter_interval_anomalies",
    "data_quality_findings",
    "electricity_daily_cost",
    "electricity_monthly_cost",
)


# -- line protocol in Home Assistant's schema --


def escape_tag(text: str) -> str:
    return text.replace(",", "\\,").replace(" ", "\\ ").replace("=", "\\=")


def epoch_us(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def ha_line(unit: str, entity_id: str, value: float | str, at: datetime) -> str:
    """One Home Assistant point (precision=u); a str value is a string field."""
    field_value = f'"{value}"' if isinstance(value, str) else repr(float(value))
    return (
        f"{escape_tag(unit)},domain=input_number,entity_id={escape_tag(entity_id)} "
        f"value={field_value} {epoch_us(at)}"
    )


# -- the house's history --


@dataclass(frozen=True)
class HouseHistory:
    readings: list[tuple[str, str, datetime, float]]  # meter, unit, at, value
    hours: list[Hour]
    home_id: str

    @property
    def lines(self) -> list[str]:
        return [ha_line(u, m, v, at) for m, u, at, v in self.readings]


def make_house_history(work: Path, as_of: str = AS_OF) -> HouseHistory:
    """The demo house's readings and Tibber hours before `as_of`."""
    instant = parse_as_of(as_of, "Europe/Berlin")
    write_demo_history(work, instant, "Europe/Berlin", ROOT / "seeds")
    readings = landing.current(work, "readings")
    hours = landing.current(work, "tibber_hours")
    homes = set(hours.column("home_id").to_pylist())
    assert len(homes) == 1, homes
    return HouseHistory(
        readings=sorted(
            (r["meter_id"], r["unit"], r["measured_at"], r["value"])
            for r in readings.to_pylist()
        ),
        hours=[
            Hour(
                start=h["hour_start_at"],
                consumption=h["consumption"],
                cost=h["cost"],
                unit_price=h["unit_price"],
                unit_price_vat=h["unit_price_vat"],
                currency=h["currency"],
            )
            for h in hours.to_pylist()
        ],
        home_id=HOUSE_TIBBER_HOME_ID,
    )


# -- running the command --


def pipeline_env(
    data_dir: Path,
    *,
    influx_url: str,
    raw_db: str,
    processed_db: str,
    tibber_url: str,
    influx_token: str | None = None,
) -> dict[str, str]:
    """The environment of a real run; nothing from the caller's INFLUX_*,
    TIBBER_* or DBT_* settings leaks in."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("INFLUX_", "TIBBER_", "DBT_", "METER_"))
    }
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "AS_OF": AS_OF,
            "METER_TIMEZONE": "Europe/Berlin",
            "INFLUX_URL": influx_url,
            "INFLUX_API_VERSION": "1",
            "INFLUX_TOKEN": influx_token or "",
            "INFLUX_BUCKET_RAW": raw_db,
            "INFLUX_BUCKET_PROCESSED": processed_db,
            "TIBBER_API_URL": tibber_url,
            "TIBBER_API_TOKEN": TIBBER_TOKEN,
            "NOTIFY_URLS": "",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def pipeline_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", *(args or ("run",))]


def run_pipeline(
    env: dict[str, str],
    timeout: float = RUN_TIMEOUT_S,
    *,
    command: list[str] | None = None,
    cwd: Path = ROOT,
) -> subprocess.CompletedProcess[str]:
    """`python -m pipeline run` (or `command`) in the project root (or `cwd`)."""
    return subprocess.run(
        command or pipeline_command(),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_pipeline(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        pipeline_command(),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The lines starting with `error [`, from stdout and stderr."""
    text = f"{result.stdout}\n{result.stderr}"
    return [line for line in text.splitlines() if line.startswith("error [")]


def wait_for_log(
    data_dir: Path,
    needle: str,
    process: subprocess.Popen[str],
    *,
    log: str = "pipeline.jsonl",
    timeout_s: float = RUN_TIMEOUT_S,
) -> None:
    """Poll DATA_DIR/logs/<log> until it contains `needle` (the run must
    still be going)."""
    path = data_dir / "logs" / log
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and needle in path.read_text(errors="replace"):
            return
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"run ended before {needle!r}:\n{out}\n{err}")
        time.sleep(0.01)
    raise AssertionError(f"{needle!r} not logged within {timeout_s}s")


def kill_hard(process: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    """SIGKILL the run; what it had printed until then."""
    os.kill(process.pid, signal.SIGKILL)
    out, err = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def land_readings(
    data_dir: Path,
    rows: list[tuple[str, str, float, datetime]],
    extracted_at: datetime,
) -> None:
    """Readings (meter_id, unit, value, measured_at) appended to the landing
    zone as one extraction at `extracted_at` would land them."""
    landing.append(
        data_dir,
        "readings",
        pa.Table.from_pylist(
            [
                {
                    "meter_id": meter_id,
                    "measured_at": measured_at,
                    "value": value,
                    "unit": unit,
                    "extracted_at": extracted_at,
                }
                for meter_id, unit, value, measured_at in rows
            ],
            schema=landing.SCHEMAS["readings"],
        ),
    )


def failed_small_house_build(
    tmp_path: Path, edit: Callable[[Path], None]
) -> tuple[str, Path]:
    """A build of the small house (tests/scenarios/small_house) whose project
    copy `edit` broke: the DbtError's message, and the DATA_DIR."""
    project = copy_project(ROOT / "tests" / "scenarios" / "small_house", tmp_path)
    edit(project)
    data_dir = tmp_path / "data"
    settings = load_settings(tmp_path, {"DATA_DIR": str(data_dir)})
    as_of = datetime(2024, 1, 25, 11, tzinfo=UTC)
    landing.ensure(data_dir)
    landing.write_run_context(data_dir, as_of)
    with pytest.raises(DbtError) as failure:
        build(settings, as_of, project)
    return str(failure.value), data_dir


# -- what a run leaves behind --


def landing_rows(data_dir: Path) -> dict[str, set[tuple[Any, ...]]]:
    """Current landing rows per table, without extracted_at (the run's clock)."""
    result = {}
    for table in ("readings", "tibber_hours"):
        current = landing.current(data_dir, table).drop_columns(["extracted_at"])
        result[table] = {tuple(row.values()) for row in current.to_pylist()}
    return result


def landing_listing(data_dir: Path) -> list[tuple[str, int, int]]:
    """Every file under DATA_DIR/landing: (path, size, mtime_ns)."""
    folder = data_dir / "landing"
    return sorted(
        (str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    )


def _comparable(value: Any) -> Any:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else round(value, 9)
    return value


def mart_rows(data_dir: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every mart, sorted rows (floats to 9 decimals)."""
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as db:
        db.execute("set TimeZone = 'UTC'")
        return {
            table: sorted(
                (
                    tuple(_comparable(v) for v in row)
                    for row in db.execute(f"select * from main.{table}").fetchall()
                ),
                key=repr,
            )
            for table in MARTS
        }


def server_points(server: InfluxServer, db: str) -> dict[str, set[tuple[Any, ...]]]:
    """Every point of every measurement: (tags..., time, field values...)."""
    measurements = server.query("SHOW MEASUREMENTS", db=db)
    names = [
        row[0]
        for result in measurements["results"]
        for series in result.get("series") or []
        for row in series["values"]
    ]
    points: dict[str, set[tuple[Any, ...]]] = {}
    for name in names:
        answer = server.query(f'SELECT * FROM "{name}" GROUP BY *', db=db)
        rows: set[tuple[Any, ...]] = set()
        for result in answer["results"]:
            for series in result.get("series") or []:
                tags = tuple(sorted((series.get("tags") or {}).items()))
                for values in series["values"]:
                    fields = tuple(
                        (column, _comparable(value))
                        for column, value in zip(series["columns"], values, strict=True)
                        if value is not None
                    )
                    rows.add((tags, fields))
        points[name] = rows
    return points


def find_secrets(paths: list[Path], secrets: tuple[str, ...] = SECRETS) -> list[str]:
    """`path: secret` for every file (recursively, binary-safe) containing one."""
    needles = [s.encode() for s in secrets]
    hits = []
    for top in paths:
        files = [top] if top.is_file() else [p for p in top.rglob("*") if p.is_file()]
        for path in files:
            try:
                data = path.read_bytes()
            except OSError:
                continue
            hits.extend(f"{path}: {n.decode()}" for n in needles if n in data)
    return hits


def assert_no_secret_leak(
    result: subprocess.CompletedProcess[str] | None, data_dir: Path
) -> None:
    """The tokens appear neither in the run's output nor under DATA_DIR."""
    if result is not None:
        for secret in SECRETS:
            assert secret not in result.stdout, "secret in stdout"
            assert secret not in result.stderr, "secret in stderr"
    assert find_secrets([data_dir]) == []


# -- fixtures --


@dataclass
class House:
    """A house on `server`: its databases, Tibber server, DATA_DIR and env."""

    server: InfluxServer
    tibber: TibberServer
    raw_db: str
    processed_db: str
    data_dir: Path
    history: HouseHistory
    influx_token: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = pipeline_env(
            self.data_dir,
            influx_url=self.server.url,
            raw_db=self.raw_db,
            processed_db=self.processed_db,
            tibber_url=self.tibber.url,
            influx_token=self.influx_token,
        )
        env.update(self.extra_env)
        return env

    def run(self, timeout: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        return run_pipeline(self.env, timeout)

    def start(self) -> subprocess.Popen[str]:
        return start_pipeline(self.env)

    def write(self, lines: list[str]) -> None:
        self.server.write(self.raw_db, "\n".join(lines), precision="u")

    def processed(self) -> dict[str, set[tuple[Any, ...]]]:
        return server_points(self.server, self.processed_db)

    def raw(self) -> dict[str, set[tuple[Any, ...]]]:
        return server_points(self.server, self.raw_db)

    def use_copy_of(self, data_dir: Path) -> None:
        """Start from a copy of another run's DATA_DIR: the same history,
        read from this house's databases, so its record names them."""
        shutil.rmtree(self.data_dir)
        shutil.copytree(data_dir, self.data_dir)
        settings = load_settings(ROOT, self.env)
        source.record(self.data_dir, source.current(settings))


def make_house(
    server: InfluxServer,
    tibber: TibberServer,
    data_dir: Path,
    history: HouseHistory,
    *,
    influx_token: str | None = None,
    readings: bool = True,
    hours: bool = True,
) -> House:
    """Create the raw and processed databases, write the readings, serve the
    hours (or an account without homes) with the recognisable token."""
    suffix = uuid.uuid4().hex[:10]
    house = House(
        server=server,
        tibber=tibber,
        raw_db=f"lampfi_{suffix}",
        processed_db=f"lampfi_processed_{suffix}",
        data_dir=data_dir,
        history=history,
        influx_token=influx_token,
    )
    # One shard for the whole history: InfluxDB's default of one shard per
    # week makes each database take seconds to fill and to drop.
    for db in (house.raw_db, house.processed_db):
        server.query(f'CREATE DATABASE "{db}" WITH SHARD DURATION 520w')
    if readings:
        house.write(history.lines)
    tibber.token = TIBBER_TOKEN
    tibber.homes = {history.home_id: list(history.hours)} if hours else {}
    return house


def drop_house(house: House) -> None:
    if house.server.process is None:
        return
    for db in (house.raw_db, house.processed_db):
        house.server.query(f'DROP DATABASE "{db}"')


@contextmanager
def served_house(
    server: InfluxServer, data_dir: Path, history: HouseHistory
) -> Iterator[House]:
    """A house (make_house) with a Tibber server of its own, for a `with`
    block; its databases are dropped and the Tibber server stopped after."""
    with TibberServer() as tibber:
        house = make_house(server, tibber, data_dir, history)
        try:
            yield house
        finally:
            drop_house(house)


@pytest.fixture(scope="session")
def house_history(tmp_path_factory: pytest.TempPathFactory) -> HouseHistory:
    return make_house_history(tmp_path_factory.mktemp("house-history"))


@pytest.fixture
def house_factory(
    influxd: InfluxServer, house_history: HouseHistory, tmp_path: Path
) -> Iterator[Callable[..., House]]:
    """`house_factory(server=influxd, readings=True, influx_token=None)`."""
    houses: list[House] = []
    tibbers: list[TibberServer] = []

    def make(
        server: InfluxServer | None = None,
        *,
        readings: bool = True,
        influx_token: str | None = None,
    ) -> House:
        tibber = TibberServer().start()
        tibbers.append(tibber)
        data_dir = Path(tempfile.mkdtemp(prefix="data-", dir=tmp_path))
        house = make_house(
            server or influxd,
            tibber,
            data_dir,
            house_history,
            influx_token=influx_token,
            readings=readings,
        )
        houses.append(house)
        return house

    try:
        yield make
    finally:
        for house in houses:
            drop_house(house)
        for tibber in tibbers:
            tibber.stop()


@pytest.fixture
def house(house_factory: Callable[..., House]) -> House:
    return house_factory()


@dataclass(frozen=True)
class Baseline:
    """What one undisturbed run left: DATA_DIR (do not change it; copy it),
    its landing rows, marts and processed points."""

    data_dir: Path
    landing: dict[str, set[tuple[Any, ...]]]
    marts: dict[str, list[tuple[Any, ...]]]
    processed: dict[str, set[tuple[Any, ...]]]
    raw: dict[str, set[tuple[Any, ...]]]
    stdout: str


@pytest.fixture(scope="session")
def baseline(
    influxd: InfluxServer,
    house_history: HouseHistory,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Baseline]:
    data_dir = tmp_path_factory.mktemp("baseline") / "data"
    with served_house(influxd, data_dir, house_history) as house:
        result = house.run()
        assert result.returncode == 0, result.stdout + result.stderr
        assert_no_secret_leak(result, data_dir)
        yield Baseline(
            data_dir=data_dir,
            landing=landing_rows(data_dir),
            marts=mart_rows(data_dir),
            processed=house.processed(),
            raw=house.raw(),
            stdout=result.stdout,
        )
