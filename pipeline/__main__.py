"""Command line: `python -m pipeline run|docs|shell`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pipeline import logs
from pipeline.errors import PipelineError
from pipeline.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline")
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="extract, build, load")
    run_parser.add_argument("--full-refresh", action="store_true")
    run_parser.add_argument(
        "--full-tests", action="store_true", help="data tests on every row"
    )
    docs_parser = commands.add_parser("docs", help="build and serve the docs site")
    docs_parser.add_argument("--port", type=int, default=8080)
    docs_parser.add_argument("--no-serve", action="store_true")
    commands.add_parser("shell", help="DuckDB shell on the warehouse snapshot")
    args = parser.parse_args(argv)

    stage = "settings"
    root = Path.cwd()  # settings come from the environment, .env, secrets/
    try:
        settings = load_settings(root)
        logs.setup(settings.data_dir, settings.secrets())
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
            docs(settings, port=args.port, serve=not args.no_serve)
        elif args.command == "shell":
            from pipeline.shell import shell

            stage = "shell"
            return shell(settings)
        return 0
    except PipelineError as error:
        print(f"error [{error.stage}]: {error}", file=sys.stderr)
        logs.event("failed", stage=error.stage, message=str(error))
        return 1
    except KeyboardInterrupt:
        print(f"error [{stage}]: interrupted; the next run completes the work")
        return 130
    except Exception as error:  # the product's answer is never a traceback
        logging.getLogger("pipeline").info("unexpected failure", exc_info=True)
        print(
            f"error [{stage}]: unexpected {type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''} "
            "(traceback in DATA_DIR/logs/pipeline.jsonl)",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
