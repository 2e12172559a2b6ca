"""Command line: `python -m pipeline run|docs|dbt|shell` (`--help` says
all)."""

from __future__ import annotations

import argparse
import errno
import logging
import sys
import textwrap
from pathlib import Path

from core import logs
from core.errors import DISK_FULL, PipelineError
from core.settings import dbt_defaults, load_settings
from pipeline import privacy

# The defaults of the settings dbt reads are the dbt project's.
_DBT = dbt_defaults()
SETTINGS_HELP = f"""\
settings (environment, or KEY=VALUE lines in .env and secrets/*.env; the
environment wins):
  INFLUX_URL               InfluxDB base URL, e.g. http://nas:8086
                           (default: unset, which runs the demo)
  INFLUX_API_VERSION       auto, 1 or 2 (default: auto, asks the server)
  INFLUX_TOKEN             2.x token; for 1.x optional user:password
                           (default: unset)
  INFLUX_ORG               2.x organisation (default: unset)
  INFLUX_BUCKET_RAW        where readings are read and Tibber hours written
                           (default: lampfi)
  INFLUX_BUCKET_PROCESSED  where results are written
                           (default: lampfi_processed)
  TIBBER_API_TOKEN         Tibber token (default: unset, Tibber is skipped)
  TIBBER_API_URL           (default: https://api.tibber.com/v1-beta/gql)
  TIBBER_HOME_ID           which home (default: unset, every home)
  TIBBER_METER_ID          the meter Tibber reports (default: {_DBT["TIBBER_METER_ID"]})
  METER_TIMEZONE           local time of days and months
                           (default: {_DBT["METER_TIMEZONE"]})
  AS_OF                    run as if it were then, ISO date or instant
                           (default: now)
  DATA_DIR                 landing zone, warehouse, logs (default: {_DBT["DATA_DIR"]})
  DATA_DIR_GROUP           a group to share DATA_DIR with (default: unset,
                           private to its owner)
  DUCKDB_MEMORY_LIMIT      DuckDB's memory cap (default: {_DBT["DUCKDB_MEMORY_LIMIT"]})
  DBT_PROJECT_DIR          a copy of the dbt project describing another
                           house (default: unset, this repository)
  DOCS_HOST                where `docs` listens; 0.0.0.0 for other machines
                           (default: 127.0.0.1)
  NOTIFY_URLS              comma-separated Apprise URLs for alerts
                           (default: unset, no alerts)
"""


def parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    main_parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Utility meters: InfluxDB and Tibber -> dbt on DuckDB -> "
        "InfluxDB. `make run`, `make docs`, `make dbt` and `make shell` call "
        "these.",
        epilog=SETTINGS_HELP,
        formatter_class=formatter,
    )
    commands = main_parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser(
        "run",
        help="extract, build (models and data tests), load",
        description=textwrap.fill(
            "Extract new readings (InfluxDB) and hours (Tibber) into "
            "DATA_DIR/landing, build the warehouse with dbt, publish the results "
            "to INFLUX_BUCKET_PROCESSED. Without INFLUX_URL: the demo, which "
            "writes nothing to any InfluxDB. Checks InfluxDB and Tibber before "
            "any work; exit 0 on success, else one line naming stage and cause."
        ),
        epilog=SETTINGS_HELP,
        formatter_class=formatter,
    )
    run_parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="re-read everything from InfluxDB and Tibber and rebuild every "
        "model (default: only what is new or changed)",
    )
    run_parser.add_argument(
        "--full-tests",
        action="store_true",
        help="data tests on every row (default: on the rows an incremental "
        "build rebuilt; a full build tests every row)",
    )
    docs_parser = commands.add_parser(
        "docs",
        help="build and serve the dbt docs site",
        description="Generate the docs site into DATA_DIR/docs and serve it "
        "on DOCS_HOST:PORT until Ctrl-C.",
        epilog=SETTINGS_HELP,
        formatter_class=formatter,
    )
    docs_parser.add_argument(
        "--port", type=int, default=8080, help="port to serve on (default: 8080)"
    )
    docs_parser.add_argument(
        "--host",
        default=None,
        help="address to listen on (default: DOCS_HOST, else 127.0.0.1; "
        "0.0.0.0 lets other machines in)",
    )
    docs_parser.add_argument(
        "--no-serve", action="store_true", help="only generate the site"
    )
    dbt_parser = commands.add_parser(
        "dbt",
        help="dbt with the settings a run gives it; every row in scope",
        description=textwrap.fill(
            "Run dbt on DATA_DIR's warehouse with the settings a run exports, "
            "e.g. `python -m pipeline dbt build -s my_model+`. The incremental "
            "models it builds are rebuilt in full (never the scope of an "
            "earlier run), and the next run builds everything. AS_OF set: "
            "the models read it as the run's as_of; else the last run's."
        ),
        epilog=SETTINGS_HELP,
        formatter_class=formatter,
    )
    dbt_parser.add_argument(
        "args", nargs=argparse.REMAINDER, help="dbt's command and options"
    )
    commands.add_parser(
        "shell",
        help="DuckDB shell on a snapshot of the warehouse, read-only",
        description="Open the DuckDB shell on DATA_DIR/snapshot/warehouse.duckdb "
        "read-only; never blocks a running `make run`.",
        epilog=SETTINGS_HELP,
        formatter_class=formatter,
    )
    return main_parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)

    stage = "settings"
    root = Path.cwd()  # settings come from the environment, .env, secrets/
    secrets: list[str] = []
    try:
        settings = load_settings(root)
        secrets = settings.secrets()
        privacy.secure(settings.data_dir, settings.data_dir_group)
        logs.setup(settings.data_dir, secrets)
        if args.command == "run":
            from pipeline.run import render, run

            stage = "run"
            summary = run(
                settings,
                full_refresh=args.full_refresh,
                full_tests=args.full_tests,
                settings_root=root,
            )
            print(render(summary))
        elif args.command == "docs":
            from pipeline.docs import docs

            stage = "docs"
            docs(
                settings,
                port=args.port,
                serve=not args.no_serve,
                host=args.host or settings.docs_host,
            )
        elif args.command == "dbt":
            from pipeline.dbt import by_hand
            from pipeline.run import run_lock

            stage = "dbt"
            if not args.args:
                print(
                    "error [dbt]: name dbt's command, e.g. "
                    "`make dbt ARGS='build -s my_model+'`",
                    file=sys.stderr,
                )
                return 2
            with run_lock(settings.data_dir):
                return 0 if by_hand(settings, args.args) else 1
        elif args.command == "shell":
            from pipeline.shell import shell

            stage = "shell"
            return shell(settings)
        return 0
    except PipelineError as error:
        _clear_progress()
        message = logs.mask(str(error), secrets)
        print(f"error [{error.stage}]: {message}", file=sys.stderr)
        logs.event("failed", stage=error.stage, message=message)
        return 1
    except KeyboardInterrupt:
        _clear_progress()
        print(f"error [{stage}]: interrupted; the next run completes the work")
        return 130
    except OSError as error:
        if error.errno != errno.ENOSPC:
            return unexpected(stage, error, secrets)
        _clear_progress()
        logging.getLogger("pipeline").info("disk full", exc_info=True)
        print(f"error [{stage}]: {DISK_FULL}", file=sys.stderr)
        return 1
    except Exception as error:  # the product's answer is never a traceback
        return unexpected(stage, error, secrets)


def unexpected(stage: str, error: BaseException, secrets: list[str]) -> int:
    """One masked line on stderr; the masked traceback in the JSON log."""
    _clear_progress()
    logging.getLogger("pipeline").info("unexpected failure", exc_info=error)
    text = logs.mask(str(error), secrets)
    print(
        f"error [{stage}]: unexpected {type(error).__name__}: "
        f"{text.splitlines()[0] if text else ''} "
        "(traceback in DATA_DIR/logs/pipeline.jsonl)",
        file=sys.stderr,
    )
    return 2


def _clear_progress() -> None:
    running = sys.modules.get("pipeline.run")
    if running is not None:
        running.CONSOLE.finish()


if __name__ == "__main__":
    sys.exit(main())
