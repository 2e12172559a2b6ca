"""`make shell`: the real DuckDB shell, read-only on the warehouse snapshot,
never blocks a run and is never broken by one."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import time
from pathlib import Path

from pipeline.shell import shell_command
from tests.support.fixtures_demo import ROOT, run_pipeline, start_pipeline


def seed_meter_count() -> int:
    with open(ROOT / "seeds" / "meters.csv", newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def ask(shell: subprocess.Popen, tag: str, sql: str) -> str:
    """Send one query whose single value is printed after `tag:`; return it.

    The shell answers statement by statement when its stdin is a pipe."""
    assert shell.stdin is not None and shell.stdout is not None
    shell.stdin.write(f"select '{tag}:' || ({sql}) as answer;\n")
    shell.stdin.flush()
    for line in shell.stdout:
        if f"{tag}:" in line:
            return line.split(f"{tag}:", 1)[1].strip(" │|\n")
    raise AssertionError(f"the shell ended before answering {tag}")


def open_shell(data_dir: Path) -> subprocess.Popen:
    return start_pipeline(data_dir, "shell", stdin=subprocess.PIPE)


def close(shell: subprocess.Popen) -> tuple[int, str]:
    assert shell.stdin is not None and shell.stderr is not None
    shell.stdin.close()
    errors = shell.stderr.read()
    return shell.wait(), errors


def open_files(pid: int) -> set[str]:
    """The files a process has open (Linux /proc; read without touching them)."""
    folder = Path(f"/proc/{pid}/fd")
    names = set()
    for entry in folder.iterdir() if folder.exists() else []:
        try:
            names.add(os.readlink(entry))
        except OSError:
            continue
    return names


def test_shell_command_is_read_only_on_the_snapshot_in_local_time() -> None:
    command = shell_command(
        "duckdb", Path("/d/snapshot/warehouse.duckdb"), "Asia/Kolkata"
    )
    assert command == [
        "duckdb",
        "-readonly",
        "-cmd",
        "set TimeZone = 'Asia/Kolkata'",
        "/d/snapshot/warehouse.duckdb",
    ]


def test_shell_without_a_snapshot_says_run_make_run_first(tmp_path: Path) -> None:
    result = run_pipeline(tmp_path, "shell")
    assert result.returncode == 1
    assert result.stderr.strip() == "no warehouse yet: run `make run` first"


def test_open_shell_does_not_block_a_run_and_keeps_working(
    demo_data_dir: Path,
) -> None:
    snapshot = demo_data_dir / "snapshot" / "warehouse.duckdb"
    shell = open_shell(demo_data_dir)
    try:
        assert ask(shell, "meters", "select count(*) from house.meters") == str(
            seed_meter_count()
        )
        assert ask(shell, "zone", "select current_setting('TimeZone')") == (
            "Europe/Berlin"
        )
        old_snapshot = snapshot.stat().st_ino

        # --full-tests: a plain retry of the demo build would skip dbt
        run = run_pipeline(demo_data_dir, "run", "--full-tests")

        assert run.returncode == 0, run.stdout + run.stderr
        assert snapshot.stat().st_ino != old_snapshot  # replaced by a rename
        assert ask(shell, "still", "select count(*) from house.meters") == str(
            seed_meter_count()
        )
    finally:
        code, errors = close(shell)
    assert code == 0, errors


def test_shell_refuses_to_write(demo_build: Path) -> None:
    snapshot = demo_build / "snapshot" / "warehouse.duckdb"
    before = snapshot.stat().st_mtime_ns

    shell = open_shell(demo_build)
    _, errors = shell.communicate("create table main.scratch as select 1 as one;\n")

    assert shell.returncode != 0
    assert "read-only" in errors.lower()
    assert snapshot.stat().st_mtime_ns == before


def test_shell_opens_and_answers_while_a_run_writes_the_warehouse(
    demo_data_dir: Path,
) -> None:
    warehouse = str(demo_data_dir / "warehouse.duckdb")
    run = start_pipeline(demo_data_dir, "run", "--full-tests")  # not a retry
    try:
        # wait (no clock) until the run's dbt build has the warehouse open:
        # the extract's line comes just before the build starts
        assert run.stdout is not None
        for line in run.stdout:
            if line.startswith("[extract]"):
                break
        # Paused with the warehouse open, the run keeps it open for as long
        # as the shell takes, however busy the machine.
        while True:
            assert run.poll() is None, "the run ended before it opened the warehouse"
            os.kill(run.pid, signal.SIGSTOP)
            if warehouse in open_files(run.pid):
                break
            os.kill(run.pid, signal.SIGCONT)
            time.sleep(0.05)  # polling interval, not an assertion on time
        try:
            shell = open_shell(demo_data_dir)
            try:
                answer = ask(shell, "meters", "select count(*) from house.meters")
            finally:
                code, _ = close(shell)
        finally:
            os.kill(run.pid, signal.SIGCONT)
        assert answer == str(seed_meter_count())
        assert code == 0
    finally:
        output, errors = run.communicate()
    assert run.returncode == 0, output + errors
