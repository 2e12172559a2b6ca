"""docker-compose.yml and the Dockerfile for the NAS, checked without Docker:
`docker-compose config` parses them, and the scheduler and healthcheck
commands run here as they would in the container."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEDULE = ROOT / "docker" / "schedule.sh"


def compose(
    *args: str, tmp_path: Path, settings: str = ""
) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is missing: apt-get install -y docker-compose")
    no_settings = tmp_path / "compose.env"  # ignore a developer's ./.env
    no_settings.write_text(settings)
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "RUN_SCHEDULE",
            "DOCS_PORT",
            "DOCS_HOST",
            "GRAFANA_PORT",
            "COMPOSE_FILE",
        }
        and key != "COMPOSE_PROFILES"
    }
    return subprocess.run(
        [binary, "--env-file", str(no_settings), "-f", "docker-compose.yml", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp_path = tmp_path_factory.mktemp("compose")
    check = compose("config", "-q", tmp_path=tmp_path)
    assert check.returncode == 0, check.stderr
    result = compose("config", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_pipeline_service_runs_on_schedule_with_data_on_a_named_volume(
    config: dict,
) -> None:
    pipeline = config["services"]["pipeline"]
    assert Path(pipeline["build"]["context"]) == ROOT
    assert pipeline["command"] == ["docker/schedule.sh"]
    assert pipeline["environment"] == {
        "DATA_DIR": "/data",
        "RUN_SCHEDULE": "5 * * * *",
    }
    assert "data:/data:rw" in pipeline["volumes"]
    assert f"{ROOT}/secrets:/app/secrets:ro" in pipeline["volumes"]
    assert pipeline["restart"] == "unless-stopped"
    assert "data" in config["volumes"]


def published_ports(service: dict) -> list[tuple[str, int, int]]:
    """(host address, published, target) whichever syntax compose prints."""
    ports = []
    for port in service["ports"]:
        if isinstance(port, dict):
            address = port.get("host_ip", "0.0.0.0")  # noqa: S104
            ports.append((address, int(port["published"]), int(port["target"])))
        else:
            address, published, target = port.split("/")[0].rsplit(":", 2)
            ports.append((address, int(published), int(target)))
    return ports


def test_docs_service_serves_the_docs_folder_of_the_same_volume_on_8080(
    config: dict,
) -> None:
    docs = config["services"]["docs"]
    assert docs["image"] == config["services"]["pipeline"]["image"]
    assert "data:/data:rw" in docs["volumes"]
    assert published_ports(docs) == [("127.0.0.1", 8080, 8080)]
    assert "http.server 8080 --directory /data/docs" in docs["command"][-1]


def test_docs_reach_other_machines_only_when_asked(tmp_path: Path) -> None:
    result = compose("config", tmp_path=tmp_path, settings="DOCS_HOST=0.0.0.0\n")
    assert result.returncode == 0, result.stderr
    docs = yaml.safe_load(result.stdout)["services"]["docs"]
    assert published_ports(docs) == [("0.0.0.0", 8080, 8080)]  # noqa: S104


def healthcheck_on(config: dict, data_dir: Path, schedule: str = "5 * * * *") -> int:
    """Run the pipeline service's healthcheck with data_dir as DATA_DIR."""
    test = config["services"]["pipeline"]["healthcheck"]["test"]
    assert test[0] == "CMD"
    return subprocess.run(
        test[1:],
        cwd=ROOT,
        env={**os.environ, "DATA_DIR": str(data_dir), "RUN_SCHEDULE": schedule},
        check=False,
    ).returncode


def age_marker(data_dir: Path, minutes: int) -> None:
    marker = data_dir / "state" / "last_success"
    marker.parent.mkdir(exist_ok=True)
    marker.write_text("2026-11-27T10:05:40Z\n")
    then = time.time() - minutes * 60
    os.utime(marker, (then, then))


def test_healthcheck_is_healthy_only_after_a_recent_successful_run(
    config: dict, tmp_path: Path
) -> None:
    assert healthcheck_on(config, tmp_path) != 0  # never succeeded

    age_marker(tmp_path, 0)
    assert healthcheck_on(config, tmp_path) == 0

    age_marker(tmp_path, 150)  # hourly: 2 h 30 min, two runs were missed
    assert healthcheck_on(config, tmp_path) != 0


def test_healthcheck_follows_a_three_hourly_schedule(
    config: dict, tmp_path: Path
) -> None:
    """Every 3 hours: healthy up to 2 x 180 + 10 = 370 minutes after the
    last success, so never unhealthy between two runs."""
    schedule = "5 */3 * * *"
    age_marker(tmp_path, 179)  # just before the next run
    assert healthcheck_on(config, tmp_path, schedule) == 0
    age_marker(tmp_path, 300)  # one run missed
    assert healthcheck_on(config, tmp_path, schedule) == 0
    age_marker(tmp_path, 390)  # two runs missed
    assert healthcheck_on(config, tmp_path, schedule) != 0


def test_image_runs_as_an_unprivileged_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert users and users[-1] not in {"root", "0"}
    assert "chown meters:meters /data" in dockerfile


def requirement_names(path: Path) -> set[str]:
    return {
        re.split(r"[=\[<>]", line)[0].strip().lower()
        for line in path.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }


def test_image_installs_no_test_or_lint_tools() -> None:
    tools = {"pytest", "ruff", "sqlfluff", "sqlfluff-templater-dbt"}
    assert requirement_names(ROOT / "requirements.txt") & tools == set()
    assert requirement_names(ROOT / "requirements-dev.txt") >= tools
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ENV REQUIREMENTS=requirements.txt" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "requirements-dev.txt" in ignored
    assert {"tests/*.py", "tests/unit/", "tests/integration/", "tests/support/"} <= set(
        ignored
    )


def next_run(schedule: str, after: datetime) -> datetime:
    result = subprocess.run(
        ["sh", str(SCHEDULE), "--next", str(int(after.timestamp()))],
        env={**os.environ, "RUN_SCHEDULE": schedule},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return datetime.fromtimestamp(int(result.stdout), UTC)


def test_schedule_runs_every_hour_at_minute_five_by_default() -> None:
    def at(hour: int, minute: int, second: int = 0) -> datetime:
        return datetime(2026, 11, 27, hour, minute, second, tzinfo=UTC)

    assert next_run("5 * * * *", at(10, 4, 59)) == at(10, 5)
    assert next_run("5 * * * *", at(10, 5)) == at(11, 5)
    assert next_run("5 * * * *", at(23, 30)) == datetime(2026, 11, 28, 0, 5, tzinfo=UTC)
    assert next_run("30 */6 * * *", at(10, 0)) == at(12, 30)
    assert next_run("0 */2 * * *", at(12, 0)) == at(14, 0)


@pytest.mark.parametrize(
    "schedule", ["@hourly", "61 * * * *", "5 * * * 1", "5 1-3 * * *", "5 */0 * * *"]
)
def test_schedule_rejects_what_it_cannot_do_in_one_line(schedule: str) -> None:
    result = subprocess.run(
        ["sh", str(SCHEDULE), "--next", "0"],
        env={**os.environ, "RUN_SCHEDULE": schedule},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"error [schedule]: RUN_SCHEDULE='{schedule}'")
    assert len(result.stderr.strip().splitlines()) == 1


def test_image_installs_with_the_makefile_and_its_pinned_files() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    assert "COPY Makefile requirements.txt constraints.txt ./" in dockerfile
    assert "RUN make .venv/.installed" in dockerfile
    recipe = makefile.split("$(INSTALLED):", 1)[1].split("\n\n", 1)[0]
    assert "$(REQUIREMENTS) constraints.txt" in recipe.splitlines()[0]
    assert "$(addprefix -r ,$(REQUIREMENTS)) -c constraints.txt" in recipe
    assert re.search(
        r"^REQUIREMENTS \?= requirements\.txt requirements-dev\.txt$", makefile, re.M
    )
    assert re.search(r"^VENV := \.venv$", makefile, re.M)
    assert re.search(r"^INSTALLED := \$\(VENV\)/\.installed$", makefile, re.M)


def test_image_leaves_out_the_hosts_venv_data_and_secrets() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".venv/", "data/", "secrets/", ".env", "target/", ".git/"):
        assert entry in ignored


def test_grafana_profile_provisions_the_dashboards_against_the_owners_influxdb(
    config: dict, tmp_path: Path
) -> None:
    """`--profile grafana` starts Grafana 10+ with grafana/provisioning and
    grafana/dashboards mounted where the provisioning files point, and the
    pipeline's secrets/*.env read by docker/grafana.sh. It belongs to the
    profile `grafana` only, which a plain `docker-compose up` leaves out."""
    grafana = config["services"]["grafana"]
    assert grafana["profiles"] == ["grafana"]
    image, version = grafana["image"].split(":")
    assert image == "grafana/grafana-oss"
    assert int(version.split(".")[0]) >= 10
    assert {"published": 3000, "target": 3000} in grafana["ports"]
    mounts = {
        volume.split(":")[1]: (volume.split(":")[0], volume.split(":")[2])
        for volume in grafana["volumes"]
    }
    assert mounts["/app/secrets"] == (f"{ROOT}/secrets", "ro")
    assert mounts["/etc/grafana/provisioning"] == (
        f"{ROOT}/grafana/provisioning",
        "ro",
    )
    (dashboards,) = [m for m in mounts if m.startswith("/etc/grafana/dashboards")]
    assert mounts[dashboards] == (f"{ROOT}/grafana/dashboards", "ro")
    provider = yaml.safe_load(
        (ROOT / "grafana/provisioning/dashboards/utility-meters.yaml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == dashboards
    (script,) = [m for m in mounts if m.endswith("utility-meters-grafana.sh")]
    assert mounts[script] == (f"{ROOT}/docker/grafana.sh", "ro")
    assert grafana["entrypoint"] == ["sh", script]
    assert "grafana" in config["volumes"]

    listed = compose("config", "--services", tmp_path=tmp_path)
    assert listed.stdout.split() == ["pipeline", "docs", "grafana"]


def test_provisioned_data_sources_read_the_pipelines_influx_settings() -> None:
    sources = yaml.safe_load(
        (ROOT / "grafana/provisioning/datasources/influxdb.yaml").read_text()
    )["datasources"]
    by_uid = {source["uid"]: source for source in sources}
    assert set(by_uid) == {"utility-meters-influxql", "utility-meters-flux"}
    influxql, flux = by_uid["utility-meters-influxql"], by_uid["utility-meters-flux"]
    for source in sources:
        assert source["type"] == "influxdb"
        assert source["url"] == "${INFLUX_URL}"
    assert influxql["jsonData"]["dbName"] == "${INFLUX_BUCKET_PROCESSED}"
    assert influxql["secureJsonData"]["httpHeaderValue1"] == "Token ${INFLUX_TOKEN}"
    assert flux["jsonData"]["version"] == "Flux"
    assert flux["jsonData"]["organization"] == "${INFLUX_ORG}"
    assert flux["jsonData"]["defaultBucket"] == "${INFLUX_BUCKET_PROCESSED}"
    assert flux["secureJsonData"]["token"] == "${INFLUX_TOKEN}"


def start_grafana(secrets: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """docker/grafana.sh with a stand-in for Grafana's /run.sh that prints
    the settings it was started with (never the token itself)."""
    run = tmp_path / "run.sh"
    run.write_text(
        "#!/bin/sh\n"
        'echo "url=$INFLUX_URL bucket=$INFLUX_BUCKET_PROCESSED org=$INFLUX_ORG"\n'
        'echo "token_length=${#INFLUX_TOKEN} args=$*"\n'
    )
    run.chmod(0o755)
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("INFLUX_")
    }
    env.update({"SECRETS_DIR": str(secrets), "GRAFANA_RUN": str(run)})
    return subprocess.run(
        ["sh", str(ROOT / "docker" / "grafana.sh"), "cfg:default.paths.logs=/x"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_grafana_starts_with_the_settings_of_secrets_env(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "influx.env").write_text(
        "INFLUX_URL=http://nas:8086\nINFLUX_TOKEN='abc def'\nINFLUX_ORG=home\n"
    )
    result = start_grafana(secrets, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "url=http://nas:8086 bucket=lampfi_processed org=home",
        "token_length=7 args=cfg:default.paths.logs=/x",
    ]


def test_grafana_without_influx_url_stops_with_one_line(tmp_path: Path) -> None:
    result = start_grafana(tmp_path, tmp_path)  # no *.env at all
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error [grafana]: INFLUX_URL is not set")
    assert len(result.stderr.strip().splitlines()) == 1
