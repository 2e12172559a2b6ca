"""Command line: `python -m statement [--year YEAR]` (`make statement`)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from core import logs
from core.errors import PipelineError
from core.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m statement")
    parser.add_argument(
        "--year",
        type=int,
        help="the calendar year (default: the last one ended before as_of)",
    )
    args = parser.parse_args(argv)
    stage = "settings"
    try:
        settings = load_settings(Path.cwd())
        logs.setup(settings.data_dir, settings.secrets())
        from statement.produce import produce

        stage = "statement"
        outcome = produce(settings, args.year)
        print(outcome.warehouse)
        if outcome.folder is None:
            print(outcome.note)
        else:
            print(
                f"statements {outcome.year}: {outcome.statements} occupancies "
                f"written to {outcome.folder} in {outcome.seconds}s"
            )
        logs.event(
            "statement_done",
            year=outcome.year,
            statements=outcome.statements,
            seconds=outcome.seconds,
        )
        return 0
    except PipelineError as error:
        print(f"error [{error.stage}]: {error}", file=sys.stderr)
        logs.event("failed", stage=error.stage, message=str(error))
        return 1
    except KeyboardInterrupt:
        print(f"error [{stage}]: interrupted; nothing half-written was kept")
        return 130
    except Exception as error:  # the product's answer is never a traceback
        logging.getLogger("statement").info("unexpected failure", exc_info=True)
        print(
            f"error [{stage}]: unexpected {type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''} "
            "(traceback in DATA_DIR/logs/pipeline.jsonl)",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
