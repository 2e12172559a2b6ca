"""`make` alone is `make help`; `--help` names every command, option and
setting with its default."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def help_text(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", *args, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def settings_read() -> set[str]:
    """Every setting the code reads: load_settings' get("X") and the dbt
    profile's env_var('X')."""
    code = (ROOT / "core" / "settings.py").read_text()
    profile = (ROOT / "profiles.yml").read_text()
    names = set(re.findall(r'\bget\("([A-Z_]+)"', code))
    names |= set(re.findall(r"env_var\('([A-Z_]+)'", profile))
    return names


def test_make_without_a_target_prints_the_help() -> None:
    result = subprocess.run(
        ["make", "--no-print-directory"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for command in ("run", "test", "lint", "docs", "dbt", "shell", "bench"):
        assert re.search(rf"^  make {command} ", result.stdout, re.M), command
    assert "INFLUX_URL" in result.stdout


@pytest.mark.parametrize("command", [(), ("run",), ("docs",), ("dbt",), ("shell",)])
def test_help_names_every_setting_with_its_default(command: tuple[str, ...]) -> None:
    text = help_text(*command)
    for name in sorted(settings_read()):
        line = re.search(rf"^  {name}\s.*(?:\n {{20,}}.*)*", text, re.M)
        assert line, f"{name} missing from --help"
        assert "default:" in line.group(0), f"{name} has no default in --help"


def test_help_describes_every_command_and_option() -> None:
    main = help_text()
    for command in ("run", "docs", "dbt", "shell"):
        assert re.search(rf"^    {command}\s+\S", main, re.M), command
    assert "--full-refresh" in help_text("run")
    docs = help_text("docs")
    for option in ("--port", "--host", "--no-serve"):
        assert option in docs
    assert "(default: 8080)" in docs


def test_docs_listen_on_docs_host_only_when_asked(monkeypatch, tmp_path: Path) -> None:
    """`make docs` serves on 127.0.0.1 by default, on DOCS_HOST when set."""
    import pipeline.docs
    from pipeline.__main__ import main

    hosts: list[str] = []
    monkeypatch.setattr(
        pipeline.docs, "docs", lambda settings, **options: hosts.append(options["host"])
    )
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DOCS_HOST", raising=False)
    assert main(["docs", "--no-serve"]) == 0
    monkeypatch.setenv("DOCS_HOST", "0.0.0.0")  # noqa: S104
    assert main(["docs", "--no-serve"]) == 0
    assert hosts == ["127.0.0.1", "0.0.0.0"]  # noqa: S104
