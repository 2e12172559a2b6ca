"""`make docs`: the dbt docs site (lineage from the InfluxDB and Tibber sources
to the measurements loaded back into InfluxDB), generated and served.

dbt reads the warehouse snapshot (DATA_DIR/snapshot/warehouse.duckdb, the copy
each successful `make run` replaces atomically), opened read-only through a
copy of the project's profile. So the docs never wait for or block a running
`make run`, which holds the warehouse itself exclusively, nor an open
`make shell`. dbt writes into its own target folder; the site's files are then
published into DATA_DIR/docs one by one with an atomic rename:

- index.html, manifest.json, catalog.json: the site served over HTTP;
- static_index.html: the same site in one file (manifest and catalog inlined)
  that opens from disk without a server.
"""

from __future__ import annotations

import functools
import http.server
import logging
import os
import shutil
import signal
import socket
from datetime import UTC, datetime
from pathlib import Path

import yaml

from core.errors import DbtError, PipelineError
from core.settings import Settings
from pipeline.dbt import dbt_log, failure_cause, invoke
from pipeline.run import snapshot_path

SITE_FILES = ("index.html", "manifest.json", "catalog.json", "static_index.html")

log = logging.getLogger("pipeline.docs")


def docs_error(message: str) -> PipelineError:
    error = PipelineError(message)
    error.stage = "docs"
    return error


def docs_dir(settings: Settings) -> Path:
    return settings.data_dir / "docs"


def read_only_profile(project: Path, snapshot: Path, destination: Path) -> Path:
    """The project's profiles.yml with every DuckDB output pointed read-only at
    the snapshot; returns the folder holding it (for --profiles-dir)."""
    profiles = yaml.safe_load((project / "profiles.yml").read_text())
    for profile in profiles.values():
        for output in profile.get("outputs", {}).values():
            output["path"] = str(snapshot)
            options = dict(output.get("config_options") or {})
            options["access_mode"] = "READ_ONLY"
            output["config_options"] = options
    destination.mkdir(parents=True, exist_ok=True)
    (destination / "profiles.yml").write_text(yaml.safe_dump(profiles))
    return destination


def publish(target: Path, site: Path) -> None:
    """Copy the site's files from dbt's target folder, each atomically."""
    site.mkdir(parents=True, exist_ok=True)
    for name in SITE_FILES:
        temporary = site / f".{name}.{os.getpid()}.tmp"
        shutil.copyfile(target / name, temporary)
        os.replace(temporary, site / name)


def generate(settings: Settings) -> Path:
    """Run `dbt docs generate --static` on the snapshot; returns DATA_DIR/docs."""
    snapshot = snapshot_path(settings)
    if not snapshot.is_file():
        raise docs_error("no warehouse yet: run `make run` first, then `make docs`")
    as_of = settings.as_of or datetime.now(UTC).replace(microsecond=0)
    work = settings.data_dir / "state" / "docs"
    project = settings.dbt_project_dir
    profiles = read_only_profile(project, snapshot, work / "profile")
    target = work / "target"
    result = invoke(
        settings,
        as_of,
        ["docs", "generate", "--static", "--quiet"],
        project,
        profiles=profiles,
        target=target,
    )
    if result.exception is not None or not result.success:
        cause = (
            failure_cause(str(result.exception))
            if result.exception is not None
            else "see the dbt log"
        )
        raise DbtError(
            f"dbt docs generate failed: {cause} (details: {dbt_log(settings)})"
        )
    site = docs_dir(settings)
    publish(target, site)
    return site


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        log.debug("docs request " + format, *args)


def site_server(
    site: Path, port: int, host: str = "127.0.0.1"
) -> http.server.ThreadingHTTPServer:
    """An HTTP server for the site, bound now (so a busy port shows at once)."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    try:
        return http.server.ThreadingHTTPServer((host, port), handler)
    except OSError as error:
        raise docs_error(
            f"cannot serve on port {port} ({error.strerror}): "
            "choose another one, e.g. `make docs PORT=8081`"
        ) from None


def serve_until_interrupted(server: http.server.ThreadingHTTPServer) -> None:
    """Serve until Ctrl-C (SIGINT) or SIGTERM, then say so: also when the
    server was started with SIGINT ignored, as a shell starts a background
    job of a script or nohup does (Python then keeps it ignored)."""
    host, port = server.server_address[:2]
    shown = "localhost" if host in {"127.0.0.1", "0.0.0.0"} else host  # noqa: S104
    with server:
        try:
            for stop in (signal.SIGINT, signal.SIGTERM):
                signal.signal(stop, signal.default_int_handler)
            print(f"docs: http://{shown}:{port}/ (Ctrl-C to stop)", flush=True)
            if host in {"0.0.0.0", "::"}:  # noqa: S104 (the owner asked: DOCS_HOST)
                print(
                    f"docs: other machines reach it at "
                    f"http://{socket.gethostname()}:{port}/",
                    flush=True,
                )
            server.serve_forever()
        except KeyboardInterrupt:
            print("docs: stopped", flush=True)


def docs(
    settings: Settings, *, port: int, serve: bool, host: str = "127.0.0.1"
) -> None:
    """Generate the docs site into DATA_DIR/docs and, with serve, serve it on
    http://localhost:port until Ctrl-C."""
    server = site_server(docs_dir(settings), port, host) if serve else None
    try:
        site = generate(settings)
    except BaseException:
        if server is not None:
            server.server_close()
        raise
    print(f"docs: site written to {site} (static_index.html opens from disk)")
    if server is not None:
        serve_until_interrupted(server)
