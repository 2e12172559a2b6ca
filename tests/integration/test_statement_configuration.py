"""A billing configuration the rules forbid stops `make run` and `make
statement` with one line naming the seed row, before anything is published;
empty billing seeds bill no one and change nothing else."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipeline.dbt import BILLING_SEEDS, copy_project
from tests.support.fixtures_demo import demo_environment

ROOT = Path(__file__).resolve().parents[2]


def house_with(tmp_path: Path, edits: dict[str, str]) -> Path:
    """A copy of the project whose billing seeds get `edits` (seed name ->
    text appended; a text starting with '=' replaces the whole file)."""
    house = tmp_path / "house"
    shutil.copytree(ROOT / "seeds", house)
    for name, text in edits.items():
        path = house / f"{name}.csv"
        if text.startswith("="):
            path.write_text(text[1:])
        else:
            path.write_text(path.read_text() + text)
    return copy_project(house, tmp_path / "project")


def run(project: Path, data_dir: Path, module: str, *args: str):
    env = demo_environment(data_dir)
    env["DBT_PROJECT_DIR"] = str(project)
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def data_dir(demo_build: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(demo_build, copy, ignore=shutil.ignore_patterns("run.lock"))
    return copy


def replace_line(name: str, old: str, new: str) -> str:
    text = (ROOT / "seeds" / f"{name}.csv").read_text()
    assert old in text
    return "=" + text.replace(old, new)


BAD = {
    "overlapping_tenancies": (
        {"tenancies": "og1-extra,og1,Extra,2025-06-01,2025-06-30,1,10.00\n"},
        "tenancy og1-extra overlaps tenancy og1-yilmaz of flat og1",
    ),
    "overlapping_prices": (
        {"prices": "water,2025-06-01,,m³,5.00,96.00\n"},
        "price water valid from 2024-01-01 overlaps its period valid from 2025-06-01",
    ),
    "day_without_price": (
        {"prices": replace_line("prices", "water,2024-01-01", "water,2025-02-01")},
        "cost item water has no price water on 2025-01-01 (and 30 more days)",
    ),
    "unknown_meter": (
        {"flat_meters": "og2,og2_gas,heat\n"},
        "meter og2_gas is not in meters.csv",
    ),
    "unknown_key": (
        {"cost_items": replace_line("cost_items", "water,persons", "water,bedrooms")},
        "fixed_key bedrooms is not living_area, heated_area, persons or units",
    ),
    "split_parent_unknown": (
        {"cost_items": replace_line("cost_items", ",gas,100,", ",gass,100,")},
        "split parent gass is not a cost item with its own amount",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_billing_configuration_stops_the_run_naming_the_row(
    case: str, tmp_path: Path, data_dir: Path
):
    edits, problem = BAD[case]
    project = house_with(tmp_path, edits)
    result = run(project, data_dir, "pipeline", "run")
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert problem in line
    assert "nothing was published" in line
    if case == "overlapping_tenancies":
        # `make statement` builds first and stops the same way, writing nothing.
        shutil.rmtree(data_dir / "statements", ignore_errors=True)
        (data_dir / "warehouse.duckdb").unlink()
        result = run(project, data_dir, "statement")
        assert result.returncode == 1
        (line,) = result.stderr.strip().splitlines()
        assert problem in line
        assert not (data_dir / "statements").exists()


def test_empty_billing_seeds_bill_no_one_and_change_nothing_else(
    demo_build: Path, tmp_path: Path, data_dir: Path
):
    headers = {
        name: "=" + (ROOT / "seeds" / f"{name}.csv").read_text().splitlines()[0] + "\n"
        for name in BILLING_SEEDS
    }
    project = house_with(tmp_path, headers)
    result = run(project, data_dir, "pipeline", "run")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = (
        "select count(*), round(sum(consumption), 6), count(distinct meter_id) "
        "from main.meter_daily_consumption"
    )
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as db:
        empty = [
            db.execute(f"select count(*) from main.{mart}").fetchone()[0]
            for mart in ("billing_statements", "billing_statement_lines")
        ] + [db.execute("select count(*) from main.flat_cost_monthly").fetchone()[0]]
        without_billing = db.execute(summary).fetchone()
        anomalies = db.execute("select count(*) from main.meter_anomalies").fetchone()
    with duckdb.connect(str(demo_build / "warehouse.duckdb"), read_only=True) as db:
        with_billing = db.execute(summary).fetchone()
        demo_anomalies = db.execute(
            "select count(*) from main.meter_anomalies"
        ).fetchone()
    assert empty == [0, 0, 0]
    assert without_billing == with_billing
    assert anomalies == demo_anomalies
    result = run(project, data_dir, "statement")
    assert result.returncode == 0, result.stderr
    assert "no statements: the billing seeds bill no one" in result.stdout
    assert not (data_dir / "statements").exists()
