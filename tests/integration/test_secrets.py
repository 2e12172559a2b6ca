"""Secrets: never shown, never stored outside secrets/; exposed secret files
are warned about; every HTTP call has a timeout; TLS is always verified.

The failure paths of tests/integration/test_faults.py and
tests/integration/test_bad_input.py check their own output and DATA_DIR for
the recognisable tokens (`assert_no_secret_leak`); here are the paths specific
to credentials and the project tree as a whole.
"""

from __future__ import annotations

import ast
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import InfluxError, TibberError
from core.influxdb import InfluxTarget, flux_csv, influxql, write_lines
from core.settings import load_settings
from extract.tibber import TibberPolicy, extract_hours
from pipeline.run import exposed_secret_files
from tests.support.fixtures_influx import InfluxServer, free_port
from tests.support.fixtures_pipeline import (
    INFLUX_PASSWORD,
    INFLUX_TOKEN,
    ROOT,
    SECRETS,
    TIBBER_TOKEN,
    Baseline,
    House,
    assert_no_secret_leak,
    error_lines,
    find_secrets,
    pipeline_env,
    run_pipeline,
)

SKIPPED_IN_TREE = {".venv", ".git", "secrets"}


def project_files() -> list[Path]:
    return [
        path
        for path in ROOT.iterdir()
        if path.name not in SKIPPED_IN_TREE and not path.is_symlink()
    ]


def test_tokens_appear_nowhere_in_the_project_tree_outside_secrets(
    baseline: Baseline,
) -> None:
    """After at least one real run (baseline) and whatever else ran in this
    session: the recognisable tokens are in no file of the project."""
    assert baseline.stdout
    assert find_secrets(project_files()) == []


def test_wrong_influx_password_is_refused_without_showing_it(
    influxd_auth: InfluxServer, house_factory, baseline: Baseline
) -> None:
    house: House = house_factory(influxd_auth, influx_token=INFLUX_TOKEN)
    house.use_copy_of(baseline.data_dir)
    influxd_auth.query(
        f"CREATE USER \"user\" WITH PASSWORD '{INFLUX_PASSWORD}-old' "
        "WITH ALL PRIVILEGES"
    )
    try:
        result = house.run()
    finally:
        influxd_auth.query('DROP USER "user"')

    assert result.returncode == 1
    assert error_lines(result) == [
        f"error [influxdb]: InfluxDB at {influxd_auth.url} refused the "
        "credentials: check INFLUX_TOKEN"
    ]
    assert_no_secret_leak(result, house.data_dir)


def test_password_inside_influx_url_is_never_shown(tmp_path: Path) -> None:
    port = free_port()  # nobody listens: the run fails in the extract
    env = pipeline_env(
        tmp_path / "data",
        influx_url=f"http://user:{INFLUX_PASSWORD}@127.0.0.1:{port}",
        raw_db="lampfi",
        processed_db="lampfi_processed",
        tibber_url="http://127.0.0.1:9/v1-beta/gql",
    )

    result = run_pipeline(env, 120)

    assert error_lines(result) == [
        f"error [influxdb]: cannot reach InfluxDB at http://127.0.0.1:{port}: "
        "is it running? check INFLUX_URL"
    ]
    assert_no_secret_leak(result, tmp_path / "data")


# -- secret files readable by others --


def write_secret_file(path: Path, text: str, mode: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_exposed_secret_files_lists_files_group_or_others_can_access(
    tmp_path: Path,
) -> None:
    root = tmp_path / "project"
    dotenv = write_secret_file(root / ".env", "METER_TIMEZONE=UTC\n", 0o640)
    write_secret_file(root / "secrets" / "private.env", "A=1\n", 0o600)
    shared = write_secret_file(root / "secrets" / "tibber.env", "B=2\n", 0o604)
    write_secret_file(root / "secrets" / "notes.txt", "not settings\n", 0o644)

    assert exposed_secret_files(root) == [dotenv, shared]


def test_exposed_secret_files_is_empty_without_any(tmp_path: Path) -> None:
    assert exposed_secret_files(tmp_path) == []


def test_run_warns_about_a_readable_secrets_file_and_uses_it_silently(
    influxd: InfluxServer, tmp_path: Path
) -> None:
    """The real command, started where its settings live: the token comes
    from a world-readable secrets/tibber.env; the run warns, then fails
    quickly (the database does not exist) without showing the token."""
    root = tmp_path / "project"
    write_secret_file(
        root / "secrets" / "tibber.env", f"TIBBER_API_TOKEN={TIBBER_TOKEN}\n", 0o644
    )
    write_secret_file(root / "secrets" / "influx.env", "INFLUX_ORG=home\n", 0o600)
    env = pipeline_env(
        tmp_path / "data",
        influx_url=influxd.url,
        raw_db="no_such_database",
        processed_db="no_such_database_either",
        tibber_url="http://127.0.0.1:9/v1-beta/gql",
    )
    del env["TIBBER_API_TOKEN"]  # only the file has it
    env["PYTHONPATH"] = str(ROOT)

    result = run_pipeline(env, 120, cwd=root)

    assert result.stdout.splitlines()[0] == (
        "warning: secrets/tibber.env is readable by group or others: "
        "chmod 600 secrets/tibber.env"
    )
    assert "influx.env" not in result.stdout
    assert error_lines(result) == [
        f"error [influxdb]: InfluxDB at {influxd.url} has no database "
        '"no_such_database": create it or fix INFLUX_BUCKET_RAW'
    ]
    assert_no_secret_leak(result, tmp_path / "data")
    assert load_settings(root, env).tibber_api_token == TIBBER_TOKEN


# -- every HTTP call has a timeout --


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        listener.close()


def silent_target(url: str, version: int) -> InfluxTarget:
    return InfluxTarget(
        url=url,
        api_version=version,
        token=INFLUX_TOKEN if version == 1 else "tok",
        org="home",
        timeout_s=0.3,
        retries=1,
        backoff_s=0.01,
    )


def test_influx_query_gives_up_on_a_server_that_never_answers(
    silent_server: str,
) -> None:
    with pytest.raises(InfluxError) as caught:
        influxql(silent_target(silent_server, 1), "lampfi", "SHOW MEASUREMENTS")
    assert str(caught.value) == (
        f"InfluxDB at {silent_server} did not answer within 0.3s: "
        "check that it is healthy and INFLUX_URL"
    )
    assert not any(secret in str(caught.value) for secret in SECRETS)


def test_influx_write_gives_up_on_a_server_that_never_answers(
    silent_server: str,
) -> None:
    with pytest.raises(InfluxError, match=r"did not answer within 0\.3s"):
        write_lines(silent_target(silent_server, 1), "lampfi", ["m v=1 1"])


def test_influx2_query_gives_up_on_a_server_that_never_answers(
    silent_server: str,
) -> None:
    with pytest.raises(InfluxError, match=r"did not answer within 0\.3s"):
        flux_csv(silent_target(silent_server, 2), 'from(bucket: "lampfi")')


def test_tibber_gives_up_on_a_server_that_never_answers(
    silent_server: str, tmp_path: Path
) -> None:
    settings = load_settings(
        tmp_path,
        {
            "DATA_DIR": str(tmp_path / "data"),
            "TIBBER_API_TOKEN": TIBBER_TOKEN,
            "TIBBER_API_URL": f"{silent_server}/v1-beta/gql",
        },
    )
    policy = TibberPolicy(timeout_s=0.3, attempts=2, base_delay_s=0.01)

    with pytest.raises(TibberError) as caught:
        extract_hours(settings, policy=policy)

    assert "last with no answer within 0.3 s" in str(caught.value)
    assert TIBBER_TOKEN not in str(caught.value)


def test_default_timeouts_are_finite() -> None:
    settings = load_settings(
        ROOT, {"INFLUX_URL": "http://nas:8086", "INFLUX_API_VERSION": "1"}
    )
    target = InfluxTarget.from_settings(settings)
    assert 0 < target.timeout_s <= 60
    assert 0 < TibberPolicy().timeout_s <= 60


# -- TLS verification is never turned off --

UNSAFE_NAMES = {
    "_create_unverified_context",
    "CERT_NONE",
    "disable_warnings",
    "InsecureRequestWarning",
}


def python_sources() -> list[Path]:
    return sorted(
        path
        for top in project_files()
        for path in ([top] if top.is_file() else top.rglob("*.py"))
        if path.suffix == ".py"
    )


def _is_true(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def unsafe_tls(path: Path) -> list[str]:
    """`file:line what` for every place that turns TLS verification off."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.keyword) and node.arg == "verify":
            if not _is_true(node.value):
                found.append((line, f"verify={ast.unparse(node.value)}"))
        elif isinstance(node, ast.Attribute) and node.attr in UNSAFE_NAMES:
            found.append((line, node.attr))
        elif isinstance(node, ast.Name) and node.id in UNSAFE_NAMES:
            found.append((line, node.id))
        elif isinstance(node, ast.Assign) and not _is_true(node.value):
            names = {t.attr for t in node.targets if isinstance(t, ast.Attribute)}
            if names & {"check_hostname", "verify"}:
                found.append((line, ast.unparse(node)))
    return [f"{path.name}:{line} {what}" for line, what in sorted(found)]


def test_tls_verification_is_never_turned_off() -> None:
    sources = python_sources()
    assert any(p.name == "tibber.py" for p in sources)  # the scan sees the code
    assert [hit for path in sources for hit in unsafe_tls(path)] == []


def test_the_tls_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    bad = tmp_path / "insecure.py"
    bad.write_text(
        "import ssl, requests\n"
        "requests.get('https://x', verify=False, timeout=1)\n"
        "ctx = ssl._create_unverified_context()\n"
        "session = requests.Session()\n"
        "session.verify = False\n"
        "ctx.check_hostname = False\n"
        "ctx.verify_mode = ssl.CERT_NONE\n"
    )
    assert unsafe_tls(bad) == [
        "insecure.py:2 verify=False",
        "insecure.py:3 _create_unverified_context",
        "insecure.py:5 session.verify = False",
        "insecure.py:6 ctx.check_hostname = False",
        "insecure.py:7 CERT_NONE",
    ]
