"""A failed build never leaves state a later good configuration trips over.

In demo mode, on a copy of the project (same files, so the demo build's
record describes it: a good build): a seed gets a typo, the run fails in dbt
naming the row; the owner reverts the seed; the next run, with no flag,
builds and passes. Three typos in turn; then a run with nothing changed is
incremental again.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from pipeline.dbt import copy_project
from tests.support.fixtures_demo import ROOT, demo_environment, pipeline_command


def run_in(
    project: Path, data_dir: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    env = demo_environment(data_dir) | {"DBT_PROJECT_DIR": str(project)}
    return subprocess.run(
        pipeline_command("run", *args),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def edit(path: Path, change: Callable[[list[dict[str, str]]], None]) -> None:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields, rows = list(reader.fieldnames or []), list(reader)
    change(rows)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def setter(meter_id: str, name: str, value: str, **match: str):
    def change(rows: list[dict[str, str]]) -> None:
        hits = [
            r
            for r in rows
            if r["meter_id"] == meter_id and all(r[k] == v for k, v in match.items())
        ]
        assert hits
        for row in hits:
            row[name] = value

    return change


# typo -> (seed file, the change, a word the error line names)
TYPOS = {
    "unit typo": ("meters.csv", setter("gas_zahler", "unit", "m3"), "gas_zahler"),
    "unknown meter type": (
        "meters.csv",
        setter("eg_strom", "meter_type", "physcal"),
        "eg_strom",
    ),
    "overlapping master periods": (
        "master_meter_periods.csv",
        setter("strom_total", "starts_on", "2024-11-20", period="2"),
        "strom_total",
    ),
}


def test_reverting_a_bad_seed_recovers_without_a_flag(
    demo_data_dir: Path, tmp_path: Path
) -> None:
    project = copy_project(ROOT / "seeds", tmp_path / "project")
    seeds = project / "seeds"
    good = tmp_path / "good-seeds"
    shutil.copytree(seeds, good)

    for name, (seed, change, named) in TYPOS.items():
        edit(seeds / seed, change)
        broken = run_in(project, demo_data_dir)
        assert broken.returncode != 0, name
        assert "error [dbt]" in broken.stderr and named in broken.stderr, (
            name,
            broken.stderr,
        )

        shutil.copy(good / seed, seeds / seed)
        reverted = run_in(project, demo_data_dir)
        assert reverted.returncode == 0, (name, reverted.stdout + reverted.stderr)
        assert "full build (the previous full build did not finish)" in (
            reverted.stdout
        ) or "full build (the models, seeds or settings changed)" in (
            reverted.stdout
        ), name

    # --full-tests: a plain retry of the same inputs would skip dbt
    again = run_in(project, demo_data_dir, "--full-tests")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "[dbt] incremental" in again.stdout
