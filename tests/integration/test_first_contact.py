"""An owner's first steps from the demo to their own InfluxDB.

Real `python -m pipeline run` subprocesses against a real influxd 1.6 and the
local Tibber server (tests/support/fixtures_pipeline.py), and the 2.x wire fake:
- demo data and real data never meet, and demo data never reaches InfluxDB;
- the preflight stops a run before it extracts anything, with one line each;
- INFLUX_API_VERSION=auto asks the server which it is;
- anomalies count as reported only after the publish that carried them;
- without a terminal the console holds one line per stage and no raw log.
"""

from __future__ import annotations

import logging
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from core import logs
from core.errors import InfluxError
from core.influxdb import major_version, server_version
from core.settings import Settings, load_settings
from core.source import SourceError
from load.publish import publish_marts
from load.tibber_hours import publish_hours
from pipeline import preflight
from tests.support.fake_influx2 import FakeInflux2
from tests.support.fixtures_demo import demo_environment
from tests.support.fixtures_influx import InfluxServer
from tests.support.fixtures_pipeline import (
    ROOT,
    House,
    assert_no_secret_leak,
    error_lines,
    run_pipeline,
)

pytestmark = pytest.mark.influx


def landed_files(data_dir: Path) -> list[str]:
    """The landing zone's data files (its schema-only files excluded)."""
    folder = data_dir / "landing"
    return sorted(
        str(path.relative_to(folder))
        for path in folder.rglob("*.parquet")
        if not path.name.startswith("00000000-")
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout + result.stderr
    lines = error_lines(result)
    assert len(lines) == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


# -- demo and real data never meet --


def test_demo_then_real_in_the_same_data_dir_stops_and_writes_nothing(
    house: House,
) -> None:
    """The sequence an owner follows: `make run` (demo), then INFLUX_URL set
    with the same DATA_DIR. The second run stops before it reads or writes
    anything; neither bucket receives a point."""
    raw_before = house.raw()
    demo = run_pipeline(demo_environment(house.data_dir))
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "[load] skipped: the demo never writes to InfluxDB" in demo.stdout

    real = house.run()

    line = one_error_line(real)
    assert line == (
        f"error [source]: DATA_DIR {house.data_dir} holds the demo, this run "
        f"reads InfluxDB {house.server.url} bucket {house.raw_db}: demo and real "
        "data must not mix; give your own data its own folder (e.g. "
        "DATA_DIR=data-home in .env) or delete the demo's folder "
        f"(rm -r {house.data_dir}), then run again; nothing was touched"
    )
    assert house.raw() == raw_before  # no `energy` hours, nothing else
    assert "energy" not in house.raw()
    assert house.processed() == {}
    assert house.tibber.request_count == 0


def test_the_loaders_themselves_refuse_a_demo_data_dir(house: House) -> None:
    """Even called directly, neither loader writes demo data anywhere."""
    demo = run_pipeline(demo_environment(house.data_dir))
    assert demo.returncode == 0, demo.stdout + demo.stderr
    settings = load_settings(ROOT, house.env)

    with pytest.raises(SourceError, match="holds the demo"):
        publish_hours(settings)
    with pytest.raises(SourceError, match="holds the demo"):
        publish_marts(settings, settings.warehouse)

    assert house.processed() == {}
    assert "energy" not in house.raw()


def test_real_then_demo_in_the_same_data_dir_stops(house: House, baseline) -> None:
    house.use_copy_of(baseline.data_dir)
    before = landed_files(house.data_dir)

    result = run_pipeline(demo_environment(house.data_dir))

    line = one_error_line(result)
    assert line.startswith(f"error [source]: DATA_DIR {house.data_dir} holds InfluxDB ")
    assert "but INFLUX_URL is not set, which means the demo" in line
    assert landed_files(house.data_dir) == before


def test_another_influxdb_bucket_in_the_same_data_dir_stops(
    house: House, baseline
) -> None:
    house.use_copy_of(baseline.data_dir)
    house.extra_env["INFLUX_BUCKET_RAW"] = "someone_else"

    line = one_error_line(house.run())

    assert "this run reads InfluxDB " in line
    assert "bucket someone_else" in line
    assert "a DATA_DIR holds one source" in line


# -- the preflight: one line each, nothing extracted --


def test_missing_raw_database_is_named_before_anything_is_extracted(
    house: House,
) -> None:
    house.extra_env["INFLUX_BUCKET_RAW"] = "no_such_raw"

    result = house.run()

    assert one_error_line(result) == (
        f"error [influxdb]: InfluxDB at {house.server.url} has no database "
        '"no_such_raw": create it or fix INFLUX_BUCKET_RAW'
    )
    assert landed_files(house.data_dir) == []
    assert house.tibber.request_count == 0


def test_tibber_token_refused_is_named_before_anything_is_extracted(
    house: House,
) -> None:
    house.tibber.token = "another-token"

    result = house.run()

    assert one_error_line(result) == (
        "error [tibber]: Tibber refused the token: check TIBBER_API_TOKEN"
    )
    assert landed_files(house.data_dir) == []
    assert_no_secret_leak(result, house.data_dir)


def test_unknown_tibber_home_is_named_before_anything_is_extracted(
    house: House,
) -> None:
    house.extra_env["TIBBER_HOME_ID"] = "no-such-home"

    line = one_error_line(house.run())

    assert line == (
        "error [tibber]: the Tibber account has no home no-such-home (it has "
        f"{house.history.home_id}): check TIBBER_HOME_ID"
    )
    assert landed_files(house.data_dir) == []


def test_configured_api_version_contradicting_the_server_is_named(
    house: House,
) -> None:
    """The 1.x server given a token and INFLUX_API_VERSION=2 used to answer
    'has no bucket'; now the mismatch is the message."""
    house.extra_env.update({"INFLUX_API_VERSION": "2", "INFLUX_ORG": "home"})
    house.influx_token = "some-token"
    version = server_version(house.server.url)

    line = one_error_line(house.run())

    assert line == (
        f"error [influxdb]: INFLUX_API_VERSION=2 but InfluxDB at "
        f"{house.server.url} is {version}, a 1.x server: set "
        "INFLUX_API_VERSION=1 (or auto, the default)"
    )
    assert landed_files(house.data_dir) == []


def test_unreachable_influxdb_is_named_before_anything_is_extracted(
    house: House,
) -> None:
    from tests.support.fixtures_influx import free_port

    url = f"http://127.0.0.1:{free_port()}"
    house.extra_env["INFLUX_URL"] = url

    line = one_error_line(house.run())

    assert line == (
        f"error [influxdb]: cannot reach InfluxDB at {url}: is it running? "
        "check INFLUX_URL"
    )
    assert landed_files(house.data_dir) == []


@pytest.fixture
def limited_user(influxd_auth: InfluxServer) -> Iterator[Callable[..., str]]:
    """`limited_user(read=[...], write=[...])`: a non-admin user's token."""
    users: list[str] = []

    def make(read: list[str], write: list[str]) -> str:
        name = f"u{uuid.uuid4().hex[:8]}"
        influxd_auth.query(f"CREATE USER \"{name}\" WITH PASSWORD 'pw-{name}'")
        for db in read:
            influxd_auth.query(f'GRANT READ ON "{db}" TO "{name}"')
        for db in write:
            influxd_auth.query(f'GRANT WRITE ON "{db}" TO "{name}"')
        users.append(name)
        return f"{name}:pw-{name}"

    yield make
    for name in users:
        influxd_auth.query(f'DROP USER "{name}"')


def test_processed_database_not_writable_is_named_with_the_grant(
    influxd_auth: InfluxServer, house_factory, limited_user
) -> None:
    house: House = house_factory(influxd_auth)
    house.influx_token = limited_user(read=[house.raw_db, house.processed_db], write=[])

    line = one_error_line(house.run())

    assert line == (
        f"error [influxdb]: InfluxDB at {influxd_auth.url} does not let "
        f'INFLUX_TOKEN write to the database "{house.processed_db}": give it '
        f'write access (GRANT WRITE ON "{house.processed_db}" TO <user>) or fix '
        "INFLUX_TOKEN / INFLUX_BUCKET_PROCESSED"
    )
    assert landed_files(house.data_dir) == []
    assert house.processed() == {}


def test_raw_database_the_user_may_not_read_is_named_with_the_grant(
    influxd_auth: InfluxServer, house_factory, limited_user
) -> None:
    """On 1.x a user without access cannot tell a missing database from a
    forbidden one: the line names both fixes."""
    house: House = house_factory(influxd_auth)
    house.influx_token = limited_user(read=[], write=[house.processed_db])

    line = one_error_line(house.run())

    assert line == (
        f"error [influxdb]: InfluxDB at {influxd_auth.url} does not let "
        f'INFLUX_TOKEN read the database "{house.raw_db}": give it read access '
        f'(GRANT READ ON "{house.raw_db}" TO <user>), or fix INFLUX_BUCKET_RAW'
    )
    assert landed_files(house.data_dir) == []


def test_missing_processed_database_the_user_may_not_create_says_how(
    influxd_auth: InfluxServer, house_factory, limited_user
) -> None:
    house: House = house_factory(influxd_auth)
    influxd_auth.query(f'DROP DATABASE "{house.processed_db}"')
    house.influx_token = limited_user(read=[house.raw_db], write=[])

    line = one_error_line(house.run())

    assert line == (
        f"error [influxdb]: InfluxDB at {influxd_auth.url} has no database "
        f'"{house.processed_db}" and INFLUX_TOKEN may not create it: as an admin '
        f"run influx -execute 'CREATE DATABASE \"{house.processed_db}\"', or fix "
        "INFLUX_BUCKET_PROCESSED"
    )
    assert landed_files(house.data_dir) == []


def test_missing_processed_database_is_created_when_allowed(
    influxd: InfluxServer, tmp_path: Path
) -> None:
    raw = f"raw_{uuid.uuid4().hex[:8]}"
    processed = f"processed_{uuid.uuid4().hex[:8]}"
    influxd.query(f'CREATE DATABASE "{raw}"')
    settings = influx_settings(influxd.url, raw, processed, tmp_path)
    try:
        result = preflight.preflight(settings)
        databases = influxd.query("SHOW DATABASES")["results"][0]["series"][0]
        assert [processed] in databases["values"]
    finally:
        influxd.query(f'DROP DATABASE "{raw}"')
        influxd.query(f'DROP DATABASE "{processed}"')
    assert result.created == [processed]
    assert f'(created "{processed}", it was missing)' in result.describe()
    # the probe wrote nothing: no measurement appeared in the new database


def test_the_write_probe_stores_nothing(influx_db: str, influxd: InfluxServer) -> None:
    settings = influx_settings(influxd.url, influx_db, influx_db, Path("/nonexistent"))

    preflight.preflight(settings)

    answer = influxd.query("SHOW MEASUREMENTS", db=influx_db)
    assert "series" not in answer["results"][0]


def influx_settings(
    url: str, raw: str, processed: str, data_dir: Path, **extra: str
) -> Settings:
    environ = {
        "INFLUX_URL": url,
        "INFLUX_BUCKET_RAW": raw,
        "INFLUX_BUCKET_PROCESSED": processed,
        "DATA_DIR": str(data_dir),
        "TIBBER_API_TOKEN": "",
        **extra,
    }
    return load_settings(data_dir, environ)


# -- which InfluxDB answers --


def test_auto_detects_the_real_influxd_as_1x(
    influxd: InfluxServer, influx_db: str, tmp_path: Path
) -> None:
    version = server_version(influxd.url)
    assert version is not None and version.startswith("1.6.7")  # Debian's 1.6.7
    settings = influx_settings(influxd.url, influx_db, influx_db, tmp_path)
    assert settings.influx_api_version == 0  # auto, the default

    result = preflight.preflight(settings)

    assert result.settings.influx_api_version == 1
    assert result.describe().startswith(
        f"InfluxDB {version} at {influxd.url} (1.x API, asked the server); "
        f'"{influx_db}" readable, "{influx_db}" writable'
    )


@pytest.fixture
def fake2() -> Iterator[FakeInflux2]:
    fake = FakeInflux2(buckets={"lampfi"})
    fake.start()
    yield fake
    fake.stop()


def fake2_settings(fake2: FakeInflux2, data_dir: Path) -> Settings:
    """The 2.x fake with its token and org: raw lampfi, processed
    lampfi_processed, the version asked of the server."""
    return influx_settings(
        fake2.url,
        "lampfi",
        "lampfi_processed",
        data_dir,
        INFLUX_TOKEN=fake2.token,
        INFLUX_ORG=fake2.org,
    )


def test_auto_detects_the_2x_fake_and_creates_the_missing_bucket(
    fake2: FakeInflux2, tmp_path: Path
) -> None:
    settings = fake2_settings(fake2, tmp_path)

    result = preflight.preflight(settings)

    assert result.settings.influx_api_version == 2
    assert result.server_version == "v2.7.11"
    assert "lampfi_processed" in fake2.buckets
    assert fake2.lines == []  # the write probe carried no point
    assert result.describe() == (
        f"InfluxDB v2.7.11 at {fake2.url} (2.x API, asked the server); "
        '"lampfi" readable, "lampfi_processed" writable (created '
        '"lampfi_processed", it was missing); Tibber skipped '
        "(TIBBER_API_TOKEN is not set)"
    )


def test_2x_bucket_the_token_may_not_create_says_how(
    fake2: FakeInflux2, tmp_path: Path
) -> None:
    fake2.may_create_buckets = False
    settings = fake2_settings(fake2, tmp_path)

    with pytest.raises(InfluxError) as caught:
        preflight.preflight(settings)

    assert str(caught.value) == (
        f'InfluxDB at {fake2.url} has no bucket "lampfi_processed" and '
        "INFLUX_TOKEN may not create it: run influx bucket create --name "
        f"lampfi_processed --org {fake2.org} (or create it in the InfluxDB UI), "
        "or fix INFLUX_BUCKET_PROCESSED"
    )


def test_2x_server_configured_as_1x_is_named_as_the_mismatch(
    fake2: FakeInflux2, tmp_path: Path
) -> None:
    settings = influx_settings(
        fake2.url, "lampfi", "lampfi", tmp_path, INFLUX_API_VERSION="1"
    )

    with pytest.raises(InfluxError) as caught:
        preflight.preflight(settings)

    assert str(caught.value) == (
        f"INFLUX_API_VERSION=1 but InfluxDB at {fake2.url} is v2.7.11, a 2.x "
        "server: set INFLUX_API_VERSION=2 (or auto, the default)"
    )


def test_auto_on_a_2x_server_without_token_names_the_setting(
    fake2: FakeInflux2, tmp_path: Path
) -> None:
    settings = influx_settings(fake2.url, "lampfi", "lampfi", tmp_path)

    with pytest.raises(InfluxError) as caught:
        preflight.preflight(settings)

    assert str(caught.value) == (
        f"INFLUX_TOKEN is not set: InfluxDB at {fake2.url} is 2.x, whose API needs it"
    )


@pytest.mark.parametrize(
    ("text", "major"),
    [("1.6.7~rc0", 1), ("1.8.10", 1), ("v2.7.11", 2), ("2.1.1", 2), ("", None)],
)
def test_major_version_from_the_ping_header(text: str, major: int | None) -> None:
    assert major_version(text) == major


# -- nothing is marked done before it is done --


def new_anomalies(stdout: str) -> int:
    found = re.search(r"(\d+) new anomal(?:y|ies)\b", stdout)
    assert found, stdout
    return int(found.group(1))


def test_anomalies_of_a_failed_load_are_reported_as_new_by_the_next_run(
    house: House,
) -> None:
    """A point of another field type in the processed database (same shard)
    makes the load fail (InfluxDB refuses the batch); the anomalies that run found are
    not reported. Once the conflict is gone, the next run reports each of
    them as new, and the run after it none."""
    house.server.write(  # 2025-03-12 00:00 in Berlin, a day of the leak
        house.processed_db,
        'meter_anomaly,meter_id=og1_wasser_kalt consumption="text" 1741734000',
    )

    failed = house.run()

    line = one_error_line(failed)
    assert "field type conflict" in line or "already has another type" in line
    house.server.query('DROP MEASUREMENT "meter_anomaly"', db=house.processed_db)

    good = house.run()
    assert good.returncode == 0, good.stdout + good.stderr
    again = house.run()
    assert again.returncode == 0, again.stdout + again.stderr

    with duckdb.connect(str(house.data_dir / "warehouse.duckdb")) as db:
        (anomalies,) = db.execute(
            "select (select count(*) from meter_anomalies)"
            " + (select count(*) from meter_interval_anomalies)"
        ).fetchone()
    assert anomalies > 0
    assert new_anomalies(good.stdout) == anomalies
    assert f"anomalies: {anomalies} ({anomalies} new)" in good.stdout
    assert "none new" in again.stdout


# -- the console without a terminal --


def test_console_without_a_terminal_has_one_line_per_stage_and_no_raw_log(
    tmp_path: Path,
) -> None:
    result = run_pipeline(demo_environment(tmp_path / "data"))

    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "event=" not in output
    assert "\r" not in output and "\033" not in output  # no live progress
    lines = result.stdout.splitlines()
    stages = [line.split("]")[0] + "]" for line in lines if line.startswith("[")]
    assert stages == ["[extract]", "[dbt]", "[load]"]
    assert re.match(r"done: [\d,]+ new readings, ", lines[-1]), lines[-1]
    assert (tmp_path / "data" / "logs" / "pipeline.jsonl").read_text().count(
        '"event": "stage_done"'
    ) == 2


def test_warning_events_stay_in_the_json_log(tmp_path: Path, capsys) -> None:
    path = logs.setup(tmp_path, [])
    logging.getLogger("core.influxdb").warning(
        "event=influx_retry url=http://nas:8086 attempt=1"
    )
    logging.getLogger("pipeline").warning("a warning in words")

    captured = capsys.readouterr()
    assert "event=" not in captured.err + captured.out
    assert "a warning in words" in captured.err
    assert "influx_retry" in path.read_text()


# -- the console on a terminal --


def run_on_a_terminal(env: dict[str, str]) -> str:
    """`python -m pipeline run` with a pseudo-terminal as stdout and stderr;
    everything it wrote there, raw."""
    import os
    import pty
    import sys

    main, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "run"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the run closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=600)
    os.close(main)
    assert process.returncode == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode(errors="replace")


def test_terminal_shows_progress_in_place_and_keeps_one_line_per_stage(
    tmp_path: Path,
) -> None:
    raw = run_on_a_terminal(demo_environment(tmp_path / "data"))

    assert "event=" not in raw
    # live progress: rewritten in place with carriage return + erase line
    frames = re.findall(r"\r\x1b\[K(\[dbt\] \d+/(\d+) nodes: \d+ models? built)", raw)
    assert frames, raw
    totals = {int(total) for _, total in frames}
    assert len(totals) == 1  # one N for the whole build
    # what stays on the screen: the last text of every line
    kept = [
        line.split("\r")[-1].replace("\x1b[K", "")
        for line in raw.replace("\r\n", "\n").split("\n")
    ]
    kept = [line for line in kept if line.strip()]
    stages = [line.split("]")[0] + "]" for line in kept if line.startswith("[")]
    assert stages == ["[extract]", "[dbt]", "[load]"], kept
    assert kept[-1].startswith("done: ")


def test_the_first_install_says_it_takes_about_a_minute_once(tmp_path: Path) -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", f"VENV={tmp_path}/.venv", "run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    commands = result.stdout.splitlines()
    assert commands[0] == (
        f'echo "Installing the environment into {tmp_path}/.venv: about a '
        'minute, once."'
    )
    assert any("pip install" in command for command in commands[1:])


def test_a_data_dir_from_before_the_record_is_judged_by_what_it_holds(
    tmp_path: Path,
) -> None:
    """Old DATA_DIRs: the demo's Tibber home marks the demo; any other data
    is real and adopted by a real run, refused by the demo."""
    import pyarrow as pa

    from core import landing, source
    from extract.demo import DEMO_TIBBER_HOME_ID

    def hours_of(home: str) -> pa.Table:
        return pa.Table.from_pylist(
            [{"home_id": home, "hour_start_at": None, "extracted_at": None}],
            schema=landing.SCHEMAS["tibber_hours"],
        )

    demo_dir, real_dir, empty_dir = tmp_path / "demo", tmp_path / "real", tmp_path / "x"
    landing.append(demo_dir, "tibber_hours", hours_of(DEMO_TIBBER_HOME_ID))
    landing.append(real_dir, "tibber_hours", hours_of("my-home"))
    assert source.DEMO_TIBBER_HOME_ID == DEMO_TIBBER_HOME_ID
    assert source.held(empty_dir) is None
    assert source.held(demo_dir) == source.Source(influx=None)
    real = influx_settings("http://nas:8086", "lampfi", "p", real_dir)
    assert source.check(real).influx == "http://nas:8086 bucket lampfi"
    demo = load_settings(real_dir, {"DATA_DIR": str(real_dir), "INFLUX_URL": ""})
    with pytest.raises(SourceError, match="but INFLUX_URL is not set"):
        source.check(demo)
    with pytest.raises(SourceError, match="holds the demo"):
        source.check(influx_settings("http://nas:8086", "lampfi", "p", demo_dir))
