"""`make docs`: the dbt docs site of a demo build, generated, served and seen
in a real (headless) browser.

The screenshot of the lineage graph stays in test-artifacts/ for a human to
look at; the test checks it is a real picture holding the graph's colours.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from load.publish import MARTS
from tests.support.fixtures_demo import ROOT, run_pipeline, start_pipeline

ARTIFACTS = ROOT / "test-artifacts"
PROJECT = "utility_meters"

# The measurements `make run` loads (docs/interfaces.md) and the mart each is
# read from; the exposures must say the same.
PUBLISHED = {
    "meter_interpolated_daily": "meter_daily_readings",
    "meter_interpolated_monthly": "meter_monthly_readings",
    "meter_consumption_daily": "meter_daily_consumption",
    "meter_consumption": "meter_monthly_consumption",
    "meter_anomaly": "meter_anomalies",
    "meter_interval_anomaly": "meter_interval_anomalies",
}
# Published for the dashboards (grafana/), next to those.
FOR_DASHBOARDS = {
    "electricity_cost_daily": "electricity_daily_cost",
    "electricity_cost_monthly": "electricity_monthly_cost",
    "data_quality_finding": "data_quality_findings",
    "flat_cost_monthly": "flat_cost_monthly",
}
SOURCES = {
    f"source.{PROJECT}.landing.readings",
    f"source.{PROJECT}.landing.tibber_hours",
}
# dbt docs' lineage graph paints each kind of node in its own colour.
SOURCE_GREEN = bytes.fromhex("5fb825")
MODEL_BLUE = bytes.fromhex("0094b3")
EXPOSURE_ORANGE = bytes.fromhex("ff694b")


@dataclass
class Site:
    folder: Path
    url: str


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def site(demo_build: Path) -> Iterator[Site]:
    """`python -m pipeline docs --port N` running: generated, then served.

    Generated while this process holds the warehouse the way a running
    `make run` does (opened for writing, so locked exclusively)."""
    port = free_port()
    with duckdb.connect(str(demo_build / "warehouse.duckdb")):
        server = start_pipeline(demo_build, "docs", "--port", str(port))
        assert server.stdout is not None
        lines = []
        for line in server.stdout:
            lines.append(line)
            if line.startswith("docs: http://"):
                break
        else:
            pytest.fail(f"docs failed:\n{''.join(lines)}{server.stderr.read()}")
    assert line.strip() == f"docs: http://localhost:{port}/ (Ctrl-C to stop)"
    yield Site(demo_build / "docs", f"http://127.0.0.1:{port}/")
    server.send_signal(signal.SIGINT)
    output, _ = server.communicate()
    assert server.returncode == 0
    assert "docs: stopped" in output


def chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("headless Chromium is missing: apt-get install -y chromium")
    return binary


def browse(url: str, profile: Path, *action: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--window-size=1400,900",
            "--force-device-scale-factor=2",  # labels a human can read
            "--virtual-time-budget=10000",
            *action,
            url,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def png_pixels(data: bytes) -> tuple[int, int, Counter[bytes]]:
    """Width, height and a count of each RGB colour of an 8-bit RGB(A) PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, compressed, header = 8, b"", None
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            compressed += body
    assert header is not None, "PNG without IHDR"
    width, height, depth, colour_type, _, _, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, header
    step = 3 if colour_type == 2 else 4
    stride = width * step
    raw = zlib.decompress(compressed)
    colours: Counter[bytes] = Counter()
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            up = previous[i]
            corner = previous[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                near = min(
                    (abs(guess - left), 0, left),
                    (abs(guess - up), 1, up),
                    (abs(guess - corner), 2, corner),
                )[2]
                line[i] = (line[i] + near) & 0xFF
        colours.update(bytes(line[i : i + 3]) for i in range(0, stride, step))
        previous = line
    return width, height, colours


def ancestors(parent_map: dict[str, list[str]], node: str) -> set[str]:
    seen: set[str] = set()
    todo = [node]
    while todo:
        for parent in parent_map.get(todo.pop(), []):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def test_docs_site_is_written_with_a_static_page(site: Site) -> None:
    for name in ("index.html", "manifest.json", "catalog.json", "static_index.html"):
        assert (site.folder / name).stat().st_size > 10_000, name
    catalog = json.loads((site.folder / "catalog.json").read_text())
    assert f"model.{PROJECT}.meter_daily_consumption" in catalog["nodes"]
    assert not catalog.get("errors")


def test_exposures_name_every_published_measurement_and_its_mart(site: Site) -> None:
    manifest = json.loads((site.folder / "manifest.json").read_text())
    assert {mart.measurement: mart.table for mart in MARTS} == (
        PUBLISHED | FOR_DASHBOARDS
    )
    for measurement, mart in (PUBLISHED | FOR_DASHBOARDS).items():
        exposure = manifest["exposures"][f"exposure.{PROJECT}.{measurement}"]
        assert exposure["type"] == "application"
        assert exposure["owner"]["name"] == "house owner"
        assert "lampfi_processed" in exposure["description"]
        assert exposure["depends_on"]["nodes"] == [f"model.{PROJECT}.{mart}"]
    dashboard = manifest["exposures"][f"exposure.{PROJECT}.grafana_meter_dashboards"]
    assert dashboard["type"] == "dashboard"
    assert set(dashboard["depends_on"]["nodes"]) == {
        f"model.{PROJECT}.{mart}" for mart in (PUBLISHED | FOR_DASHBOARDS).values()
    }


def test_lineage_runs_from_influx_and_tibber_sources_to_each_measurement(
    site: Site,
) -> None:
    manifest = json.loads((site.folder / "manifest.json").read_text())
    parent_map, child_map = manifest["parent_map"], manifest["child_map"]
    for measurement, mart in PUBLISHED.items():
        exposure = f"exposure.{PROJECT}.{measurement}"
        assert exposure in child_map[f"model.{PROJECT}.{mart}"]
        upstream = ancestors(parent_map, exposure)
        assert f"source.{PROJECT}.landing.readings" in upstream, measurement
        staging = {node for node in upstream if ".stg_landing__" in node}
        intermediate = {node for node in upstream if ".int_" in node}
        assert staging and intermediate, measurement
    consumption = ancestors(parent_map, f"exposure.{PROJECT}.meter_consumption_daily")
    assert consumption >= SOURCES  # Tibber hours feed the main meter's days


def test_served_lineage_of_a_mart_shows_sources_models_and_measurement(
    site: Site, tmp_path: Path
) -> None:
    """The full-screen lineage graph of meter_daily_consumption, narrowed to
    everything upstream of the measurement it is loaded into."""
    url = (
        f"{site.url}#!/model/model.{PROJECT}.meter_daily_consumption"
        "?g_v=1&g_i=%2Bexposure:meter_consumption_daily"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    picture = ARTIFACTS / "docs_lineage_meter_daily_consumption.png"
    picture.unlink(missing_ok=True)

    result = browse(url, tmp_path / "profile", f"--screenshot={picture}")

    assert picture.is_file(), result.stderr[-2000:]
    data = picture.read_bytes()
    assert len(data) > 50_000
    width, height, colours = png_pixels(data)
    assert (width, height) == (2800, 1800)
    assert len(colours) > 500  # a drawing, not a blank or single-colour page
    assert colours[SOURCE_GREEN] > 100  # the landing sources
    assert colours[MODEL_BLUE] > 1000  # staging, intermediate, mart
    assert colours[EXPOSURE_ORANGE] > 100  # InfluxDB: meter_consumption_daily


def test_static_page_opens_from_disk_and_lists_the_models(
    site: Site, tmp_path: Path
) -> None:
    page = (site.folder / "static_index.html").as_uri()

    result = browse(page, tmp_path / "profile", "--dump-dom")

    assert result.returncode == 0, result.stderr[-2000:]
    # the page inlines manifest and catalog; look only at what it rendered
    rendered = re.sub(r"<script\b.*?</script>", "", result.stdout, flags=re.S)
    for measurement, mart in PUBLISHED.items():
        assert f'data-nav-unique-id="model.{PROJECT}.{mart}"' in rendered
        assert f'data-nav-unique-id="exposure.{PROJECT}.{measurement}"' in rendered


def test_docs_without_a_warehouse_says_run_make_run_first(tmp_path: Path) -> None:
    result = run_pipeline(tmp_path, "docs", "--no-serve")
    assert result.returncode == 1
    assert result.stderr.startswith(
        "error [docs]: no warehouse yet: run `make run` first, then `make docs`"
    )
    assert not (tmp_path / "docs").exists()


def test_busy_port_is_reported_before_generating(demo_build: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_pipeline(demo_build, "docs", "--port", str(port))
    assert result.returncode == 1
    assert result.stderr.startswith(f"error [docs]: cannot serve on port {port}")
    assert "make docs PORT=" in result.stderr
    assert "docs: site written" not in result.stdout


def test_overview_page_is_the_projects_and_links_every_published_mart(
    site: Site,
) -> None:
    manifest = json.loads((site.folder / "manifest.json").read_text())
    overview = manifest["docs"][f"doc.{PROJECT}.__overview__"]
    assert overview["package_name"] == PROJECT  # not dbt's default page
    text = overview["block_contents"]
    assert "## Where to start" in text
    for measurement, mart in PUBLISHED.items():
        assert f"(#!/model/model.{PROJECT}.{mart})" in text
        assert f"(#!/exposure/exposure.{PROJECT}.{measurement})" in text
    seeds = [
        node for node in manifest["nodes"].values() if node["resource_type"] == "seed"
    ]
    assert {seed["name"] for seed in seeds} == {
        path.stem for path in (ROOT / "seeds").glob("*.csv")
    }
    for seed in seeds:
        assert seed["description"], seed["name"]
        assert all(column["description"] for column in seed["columns"].values())


SERVE = """
import sys
from pathlib import Path
from pipeline.docs import serve_until_interrupted, site_server
serve_until_interrupted(site_server(Path(sys.argv[1]), 0))
"""


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_the_server_stops_on_ctrl_c_or_sigterm_even_started_with_sigint_ignored(
    tmp_path: Path, stop: signal.Signals
) -> None:
    """Started as a shell starts a script's background job (SIGINT ignored,
    which Python then keeps), `make docs` still stops on Ctrl-C, and on
    SIGTERM, saying so."""
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert server.stdout is not None
    assert server.stdout.readline().startswith("docs: http://localhost:")

    server.send_signal(stop)
    try:
        output, _ = server.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        pytest.fail(f"the server ignored signal {stop.name}")
    assert server.returncode == 0
    assert output.strip() == "docs: stopped"
