"""Fixtures for the real InfluxDB 1.x server and the 2.x wire-level fake.

The server logic is plain functions (`start_influxd`, `InfluxServer.stop`,
`InfluxServer.start`) so the benchmark can use it outside pytest.

Fixtures:
- `influxd` (session): a real Debian `influxd` 1.6.7 on 127.0.0.1, no auth.
- `influxd_auth` (session): the same with auth-enabled = true and an admin user
  `admin` / `s3cret-admin` (its `query`/`write` helpers log in as that admin).
- `influx_db` (function): a fresh, uniquely named database on `influxd`; its
  name is yielded and the database is dropped afterwards.
- `influxd_factory` (function): `influxd_factory(auth=False)` starts a private
  server the test may `.stop()` and `.start()` again (same port, same data).
- `influx2_fake` (function): the wire-level fake of the InfluxDB 2.x HTTP API
  (tests/support/fake_influx2.py).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.fake_influx2 import FakeInflux2

INFLUXD = "/usr/bin/influxd"
ADMIN_USER = "admin"
ADMIN_PASSWORD = "s3cret-admin"
MISSING_INFLUXD = (
    "{path} not found: the integration tests need the real InfluxDB 1.x "
    "server; install it with `apt-get install influxdb`"
)

_CONFIG = """\
reporting-enabled = false
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root}/meta"
  logging-enabled = false

[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  wal-fsync-delay = "0s"
  query-log-enabled = false
  index-version = "inmem"

[monitor]
  store-enabled = false

[continuous_queries]
  enabled = false

[retention]
  enabled = false

[subscriber]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{port}"
  auth-enabled = {auth}
  log-enabled = false
  pprof-enabled = false
  max-row-limit = 0
  max-body-size = 0
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class InfluxServer:
    """A real influxd process on 127.0.0.1 with its private dirs under `root`."""

    root: Path
    port: int
    rpc_port: int
    auth_enabled: bool = False
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def _auth(self) -> tuple[str, str] | None:
        return (ADMIN_USER, ADMIN_PASSWORD) if self.auth_enabled else None

    def query(self, influxql: str, db: str | None = None) -> dict[str, Any]:
        """Run InfluxQL (POST /query, epoch=s) and return the JSON answer.

        Statement errors stay in the answer (results[i]["error"]); HTTP errors
        raise.
        """
        params = {"q": influxql, "epoch": "s"}
        if db is not None:
            params["db"] = db
        response = requests.post(
            f"{self.url}/query", params=params, auth=self._auth, timeout=30
        )
        if response.status_code >= 400:
            raise RuntimeError(
                f"influxd /query answered {response.status_code}: {response.text}"
            )
        return response.json()

    def write(self, db: str, lines: str, precision: str = "s") -> None:
        """POST line protocol to /write (timestamps in seconds by default)."""
        response = requests.post(
            f"{self.url}/write",
            params={"db": db, "precision": precision},
            data=lines.encode(),
            auth=self._auth,
            timeout=30,
        )
        if response.status_code != 204:
            raise RuntimeError(
                f"influxd /write answered {response.status_code}: {response.text}"
            )

    def start(self, timeout_s: float = 30.0) -> None:
        """Start (or restart) the process on the same port and data dirs."""
        if self.process is not None and self.process.poll() is None:
            return
        config = self.root / "influxdb.conf"
        log = open(self.root / "influxd.log", "ab")  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                [INFLUXD, "run", "-config", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"influxd exited with {self.process.returncode}: {self._log_tail()}"
                )
            try:
                if requests.get(f"{self.url}/ping", timeout=5).status_code == 204:
                    return
            # Not listening yet, or too busy to answer in time (a loaded
            # machine): ask again until the deadline.
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"influxd did not answer /ping: {self._log_tail()}")

    def stop(self) -> None:
        """Stop the process (the data stays for a later `start`)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.process = None

    def _log_tail(self) -> str:
        path = self.root / "influxd.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return " | ".join(text.strip().splitlines()[-5:])


def start_influxd(root: Path, *, auth_enabled: bool = False) -> InfluxServer:
    """Start influxd with its config and dirs under `root` on free ports.

    With auth, creates the admin user (allowed before any user exists).
    Raises FileNotFoundError when influxd is not installed.
    """
    if shutil.which(INFLUXD) is None:
        raise FileNotFoundError(MISSING_INFLUXD.format(path=INFLUXD))
    root.mkdir(parents=True, exist_ok=True)
    last_error: Exception | None = None
    for _attempt in range(3):  # a free port may be taken between check and bind
        server = InfluxServer(
            root=root,
            port=free_port(),
            rpc_port=free_port(),
            auth_enabled=auth_enabled,
        )
        (root / "influxdb.conf").write_text(
            _CONFIG.format(
                root=root,
                port=server.port,
                rpc_port=server.rpc_port,
                auth="true" if auth_enabled else "false",
            )
        )
        try:
            server.start()
        except RuntimeError as error:
            last_error = error
            continue
        if auth_enabled:
            response = requests.post(
                f"{server.url}/query",
                params={
                    "q": f"CREATE USER {ADMIN_USER} WITH PASSWORD "
                    f"'{ADMIN_PASSWORD}' WITH ALL PRIVILEGES"
                },
                timeout=30,
            )
            response.raise_for_status()
        return server
    raise RuntimeError(f"cannot start influxd: {last_error}")


def _start_or_fail(root: Path, *, auth_enabled: bool) -> InfluxServer:
    try:
        return start_influxd(root, auth_enabled=auth_enabled)
    except FileNotFoundError as error:
        pytest.fail(str(error), pytrace=False)


def _serve(
    tmp_path_factory: pytest.TempPathFactory, *, auth_enabled: bool
) -> Iterator[InfluxServer]:
    name = "influxd_auth" if auth_enabled else "influxd"
    server = _start_or_fail(tmp_path_factory.mktemp(name), auth_enabled=auth_enabled)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    yield from _serve(tmp_path_factory, auth_enabled=False)


@pytest.fixture(scope="session")
def influxd_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    yield from _serve(tmp_path_factory, auth_enabled=True)


@pytest.fixture
def influx_db(influxd: InfluxServer) -> Iterator[str]:
    """A fresh database on `influxd`; yields its name, drops it afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    influxd.query(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        influxd.query(f'DROP DATABASE "{name}"')


@pytest.fixture
def influxd_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., InfluxServer]]:
    """`influxd_factory(auth=False)`: a private server the test may stop/start."""
    servers: list[InfluxServer] = []

    def make(auth: bool = False) -> InfluxServer:
        root = Path(tempfile.mkdtemp(dir=tmp_path_factory.mktemp("influxd_own")))
        server = _start_or_fail(root, auth_enabled=auth)
        servers.append(server)
        return server

    try:
        yield make
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def influx2_fake() -> Iterator[FakeInflux2]:
    """The wire-level fake of the InfluxDB 2.x HTTP API (token "test-token",
    org "test-org", buckets "lampfi" and "lampfi_processed"; change them via
    the attributes `token`, `org`, `buckets` before use)."""
    fake = FakeInflux2()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
