"""The documentation stays true to the code: every table of the warehouse is
documented column for column, the published marts keep their columns by an
enforced contract, and the links between the docs resolve."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
import yaml

from load.publish import MARTS
from tests.support.fixtures_demo import ROOT
from tests.support.fixtures_pipeline import failed_small_house_build

DBT_SCHEMAS = ("house", "staging", "base", "intermediate", "main")


def documented() -> dict[str, dict]:
    """Every model, seed and source table of the project's YAML files, by
    name."""
    entries: dict[str, dict] = {}
    for path in sorted([*ROOT.glob("models/**/*.yml"), *ROOT.glob("seeds/*.yml")]):
        content = yaml.safe_load(path.read_text()) or {}
        for kind in ("models", "seeds"):
            for entry in content.get(kind) or []:
                entries[entry["name"]] = entry
        for source in content.get("sources") or []:
            for entry in source.get("tables") or []:
                entries[entry["name"]] = entry
    return entries


def test_every_model_and_seed_documents_exactly_its_columns(
    demo_build: Path,
) -> None:
    snapshot = demo_build / "snapshot" / "warehouse.duckdb"
    with duckdb.connect(str(snapshot), read_only=True) as db:
        rows = db.execute(
            "select table_name, column_name from information_schema.columns "
            f"where table_schema in {DBT_SCHEMAS} order by ordinal_position"
        ).fetchall()
    actual: dict[str, list[str]] = {}
    for table, column in rows:
        actual.setdefault(table, []).append(column)
    entries = documented()
    assert {"meters", "int_daily_readings_interpolated"} <= set(actual)
    problems = []
    for table, columns in sorted(actual.items()):
        entry = entries.get(table)
        if entry is None or not entry.get("description"):
            problems.append(f"{table}: no description")
            continue
        described = {
            column["name"]
            for column in entry.get("columns") or []
            if column.get("description")
        }
        if set(columns) != described:
            problems.append(
                f"{table}: undocumented {sorted(set(columns) - described)}, "
                f"not in the table {sorted(described - set(columns))}"
            )
    assert problems == []


def test_published_marts_declare_an_enforced_contract_with_the_loaded_columns() -> None:
    entries = documented()
    for mart in MARTS:
        entry = entries[mart.table]
        types = {column["name"]: column.get("data_type") for column in entry["columns"]}
        assert all(types.values()), mart.table
        assert entry["config"]["contract"].get("enforced") is True, mart.table
        # The columns the loader reads by name (a mart published through a
        # query of its own names only the ones that query reads).
        tags = {sql for sql in mart.tags.values() if sql.isidentifier()}
        fields = set() if mart.rows else set(mart.fields.values())
        loaded = {mart.time_column, *tags, *fields}
        assert loaded <= set(types), mart.table


def test_a_mart_whose_columns_drift_from_its_contract_fails_the_build(
    tmp_path: Path,
) -> None:
    """meter_monthly_consumption.day_count is a count (bigint); a contract
    that says integer must stop the build, so the loader never sees it."""

    def say_integer(project: Path) -> None:
        marts = project / "models" / "marts" / "_marts__models.yml"
        text = marts.read_text()
        assert text.count("      - name: day_count\n        data_type: bigint\n") == 1
        marts.write_text(
            text.replace(
                "      - name: day_count\n        data_type: bigint\n",
                "      - name: day_count\n        data_type: integer\n",
            )
        )

    message, data_dir = failed_small_house_build(tmp_path, say_integer)

    # The cause, not dbt's heading "Compilation Error in model ...".
    assert (
        "first model meter_monthly_consumption: This model has an enforced "
        "contract that failed" in message
    )
    assert "nothing was published" in message
    log = (data_dir / "logs" / "dbt.log").read_text()
    assert "This model has an enforced contract that failed" in log
    assert re.search(r"day_count\s*\|\s*BIGINT\s*\|\s*INTEGER", log)


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {
        slug(line.lstrip("#"))
        for line in path.read_text().splitlines()
        if line.startswith("#")
    }


@pytest.mark.parametrize(
    "page",
    [
        "README.md",
        "docs/README.md",
        "docs/numbers.md",
        "docs/interfaces.md",
        "docs/architecture.md",
    ],
)
def test_relative_links_of_the_docs_resolve(page: str) -> None:
    source = ROOT / page
    links = re.findall(r"\]\(([^)\s]+)\)", source.read_text())
    local = [link for link in links if not re.match(r"^[a-z]+:", link)]
    assert page == "README.md" or local  # every docs page links its siblings
    for link in local:
        target, _, anchor = link.partition("#")
        path = (source.parent / target).resolve() if target else source
        assert path.is_file(), f"{page}: {link}"
        if anchor:
            assert anchor in anchors(path), f"{page}: {link}"
