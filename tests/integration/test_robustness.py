"""Failure paths: secrets in exception texts, the traceback log, a full
disk, DATA_DIR's permissions and the exit codes.

Runs that must fail quickly point INFLUX_URL at a closed port: the run
creates DATA_DIR, its logs and landing folders, then fails in extract.
A full disk is a real one: a tmpfs of 2 MB mounted for the test (root only;
skipped otherwise).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from core import logs
from core.errors import PipelineError
from core.settings import load_settings
from pipeline.run import remove_leftovers, take_snapshot
from tests.support.fixtures_influx import free_port
from tests.support.mounts import mounted

ROOT = Path(__file__).resolve().parents[2]
# Two halves of a token pasted with a line break in between.
HALF_1 = "-".join(["tok", "SECRET", "a1b2c3"])
HALF_2 = "-".join(["tok", "SECRET", "d4e5f6"])
TOKEN = "-".join(["whole", "SECRET", "77aa"])


def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("INFLUX_", "TIBBER_", "DBT_", "DATA_DIR"))
    }
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "INFLUX_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens
            "INFLUX_API_VERSION": "1",
            "INFLUX_TOKEN": "",
            "TIBBER_API_TOKEN": "",
            "AS_OF": "2026-11-27T10:00:00Z",
            **extra,
        }
    )
    return env


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


# -- secrets --


def test_a_secret_is_masked_in_every_form_an_exception_shows_it() -> None:
    pasted = f"{HALF_1}\n{HALF_2}"
    # what requests' InvalidHeader says about such a header value
    text = f"Invalid leading whitespace in header value: {('Token ' + pasted)!r}"
    masked = logs.mask(text, [pasted])
    assert HALF_1 not in masked and HALF_2 not in masked
    assert masked == "Invalid leading whitespace in header value: 'Token ***'"
    # each line alone too (a message quoting only part of it), and JSON
    assert logs.mask(f"x {HALF_2} y", [pasted]) == "x *** y"
    assert logs.mask(json.dumps({"t": pasted}), [pasted]) == '{"t": "***"}'


def test_a_token_with_a_line_break_is_refused_without_printing_it(
    tmp_path: Path,
) -> None:
    env = environment(tmp_path / "data", INFLUX_TOKEN=f"user:{HALF_1}\n{HALF_2}")

    result = run([sys.executable, "-m", "pipeline", "run"], env)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error [settings]: INFLUX_TOKEN contains a line break or another "
        "control character (a paste error?): set it again on one line"
    )
    for half in (HALF_1, HALF_2):
        assert half not in result.stdout + result.stderr


@pytest.fixture
def restore_process_state() -> Iterator[None]:
    """main() sets the umask and the root logger's handlers: put them back."""
    umask = os.umask(0o022)
    os.umask(umask)
    handlers = list(logging.getLogger().handlers)
    level = logging.getLogger().level
    yield
    os.umask(umask)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_unexpected_failure_prints_one_masked_line_and_logs_the_traceback(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    restore_process_state: None,
) -> None:
    from pipeline import __main__ as command
    from pipeline import run as run_module

    data_dir = tmp_path / "data"
    for key, value in environment(data_dir, INFLUX_TOKEN=f"u:{TOKEN}").items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)

    def explode(*args: object, **kwargs: object) -> None:
        raise ValueError(f"header Authorization: 'Basic {TOKEN}' is invalid")

    monkeypatch.setattr(run_module, "run", explode)

    code = command.main(["run"])

    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == (
        "error [run]: unexpected ValueError: header Authorization: 'Basic ***' "
        "is invalid (traceback in DATA_DIR/logs/pipeline.jsonl)"
    )
    events = [
        json.loads(line)
        for line in (data_dir / "logs" / "pipeline.jsonl").read_text().splitlines()
    ]
    failure = next(e for e in events if e["message"] == "unexpected failure")
    assert failure["traceback"].startswith("Traceback (most recent call last):")
    assert "in explode" in failure["traceback"]
    assert failure["traceback"].endswith(
        "ValueError: header Authorization: 'Basic ***' is invalid"
    )
    assert TOKEN not in (data_dir / "logs" / "pipeline.jsonl").read_text()


# -- a full disk --


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MB file system (tmpfs), unmounted afterwards."""
    mount = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    with mounted(["-t", "tmpfs", "-o", "size=2m"], "tmpfs", mount):
        yield mount


def test_full_disk_during_the_snapshot_is_named_and_leaves_no_temporary_file(
    small_disk: Path,
) -> None:
    """A warehouse of about 1 MB, then other files leave 300 kB free: the
    checkpoint succeeds, the copy for `make shell` runs out of space."""
    settings = load_settings(small_disk, {"DATA_DIR": str(small_disk / "data")})
    settings.data_dir.mkdir()
    with duckdb.connect(str(settings.warehouse)) as db:
        db.execute(
            "create table filler as select random() as x, random() as y "
            "from range(40000)"
        )
    size = settings.warehouse.stat().st_size
    assert 900_000 < size < 1_200_000, size
    free = shutil.disk_usage(small_disk).free
    (small_disk / "other-files").write_bytes(b"x" * (free - 300_000))

    with pytest.raises(PipelineError) as failure:
        take_snapshot(settings)

    assert str(failure.value).startswith(
        "the disk is full (No space left on device): free space on the disk "
        "holding DATA_DIR and run again"
    )
    assert sorted(p.name for p in (settings.data_dir / "snapshot").iterdir()) == []


def test_temporary_files_of_a_killed_run_are_removed(tmp_path: Path) -> None:
    left = [
        tmp_path / "snapshot" / ".warehouse.duckdb.4242.tmp",
        tmp_path / "landing" / "readings" / ".20260101-x.parquet.ab12.tmp",
        tmp_path / "state" / ".tibber_hours_published.parquet.cd34.tmp",
    ]
    kept = tmp_path / "landing" / "readings" / "20260101-x.parquet"
    for path in [*left, kept]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"partial")

    assert sorted(remove_leftovers(tmp_path)) == sorted(left)
    assert [p for p in left if p.exists()] == []
    assert kept.exists()


# -- DATA_DIR's permissions --


def modes(data_dir: Path) -> tuple[set[int], set[int], set[int]]:
    """(folder modes, file modes, group ids) of DATA_DIR and all it holds."""
    folders, files, groups = {stat.S_IMODE(data_dir.stat().st_mode)}, set(), set()
    for path in data_dir.rglob("*"):
        info = path.lstat()
        (folders if path.is_dir() else files).add(stat.S_IMODE(info.st_mode))
        groups.add(info.st_gid)
    return folders, files, groups


def test_data_dir_is_private_to_its_owner(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "statements").mkdir(parents=True)
    old = data_dir / "statements" / "tenants.csv"
    old.write_text("tenant\n")
    old.chmod(0o644)  # left by an older version

    result = run([sys.executable, "-m", "pipeline", "run"], environment(data_dir))

    assert result.returncode == 1  # InfluxDB is not there
    folders, files, _ = modes(data_dir)
    assert folders == {0o700}
    assert files == {0o600}
    assert {"logs", "statements"} <= {p.name for p in data_dir.iterdir()}


def test_data_dir_group_shares_it_with_that_group(tmp_path: Path) -> None:
    import grp

    data_dir = tmp_path / "data"
    env = environment(data_dir, DATA_DIR_GROUP="daemon")

    result = run([sys.executable, "-m", "pipeline", "run"], env)

    assert result.returncode == 1
    folders, files, groups = modes(data_dir)
    assert folders == {0o2770}
    assert files == {0o660}
    assert groups == {grp.getgrnam("daemon").gr_gid}

    unknown = environment(data_dir, DATA_DIR_GROUP="no-such-group-x")
    refused = run([sys.executable, "-m", "pipeline", "run"], unknown)
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        "error [settings]: DATA_DIR_GROUP='no-such-group-x' is not a group"
    )


# -- exit codes --


def test_make_run_exits_2_on_failure_as_the_readme_says(tmp_path: Path) -> None:
    result = run(["make", "--no-print-directory", "run"], environment(tmp_path))

    assert result.returncode == 2
    assert "error [influxdb]: cannot reach InfluxDB" in result.stderr
    readme = (ROOT / "README.md").read_text()
    assert "`make run` exits 0 on\nsuccess and 2 on any failure" in readme
    assert "exit 1 |" not in readme


def test_full_disk_during_a_run_is_named_and_leaves_no_temporary_file(
    demo_build: Path, tmp_path: Path
) -> None:
    """A demo DATA_DIR on a disk with 200 kB left: whichever write fails
    first (dbt's log, the warehouse, the snapshot), the run says the disk is
    full, in one line, and leaves no temporary file."""
    from tests.support.fixtures_demo import demo_environment

    # tmpfs counts whole pages: the blocks each file and folder takes
    used = sum(p.lstat().st_blocks * 512 for p in demo_build.rglob("*"))
    folders = sum(1 for p in demo_build.rglob("*") if p.is_dir())
    size_kb = (used + 4096 * (folders + 2)) // 1024 + 200
    tmpfs = ["-t", "tmpfs", "-o", f"size={size_kb}k"]
    with mounted(tmpfs, "tmpfs", tmp_path / "disk") as disk:
        data_dir = disk / "data"
        shutil.copytree(demo_build, data_dir, ignore=shutil.ignore_patterns("run.lock"))
        # a moved as_of: the build has work to do, the snapshot a copy to write
        env = demo_environment(data_dir, "2026-11-28T10:00:00Z")

        result = run([sys.executable, "-m", "pipeline", "run"], env)

        errors = [line for line in result.stderr.splitlines() if line]
        assert result.returncode == 1, result.stdout + result.stderr
        assert len(errors) == 1, errors
        assert "the disk is full (No space left on device)" in errors[0], errors
        assert [str(p) for p in data_dir.rglob("*.tmp")] == []
