"""Logging: progress lines on the console, one JSON object per event in a
rotating file under DATA_DIR/logs. Secrets are masked in both."""

from __future__ import annotations

import json
import logging
import logging.handlers
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("pipeline")


def secret_forms(secrets: list[str]) -> list[str]:
    """What a secret may look like in a message: itself, escaped as Python's
    repr or JSON would show it (a pasted line break becomes \\n), and each of
    its lines; longest first, so a part never leaves the rest of a whole."""
    forms: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        forms.update({secret, repr(secret)[1:-1], json.dumps(secret)[1:-1]})
        forms.update(
            part.strip()
            for part in secret.splitlines()
            if len(part.strip()) >= MIN_PART
        )
    return sorted((f for f in forms if f), key=len, reverse=True)


MIN_PART = 4  # shorter pieces of a multi-line secret are not masked alone


def mask(text: str, secrets: list[str]) -> str:
    """`text` with every form of every secret replaced by ***."""
    for form in secret_forms(secrets):
        text = text.replace(form, "***")
    return text


class _Masking(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = mask(record.getMessage(), self.secrets), None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = mask(text, self.secrets)
        return True


class _NoRawEvents(logging.Filter):
    """Keeps `event=...` lines off the console: they are for the JSON log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("event=")


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        event.update(getattr(record, "fields", {}))
        if record.exc_text:  # masked by the filter
            event["traceback"] = record.exc_text
        return json.dumps(event, default=str)


def setup(data_dir: Path, secrets: list[str], *, verbose: bool = False) -> Path:
    """Console and JSON file handlers on the root logger; returns the file."""
    folder = data_dir / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pipeline.jsonl"
    # A log line that cannot be written (a full disk) is dropped quietly, in
    # this log and dbt's, instead of a traceback on stderr per line: the
    # console still says what failed, in one line.
    logging.raiseExceptions = False
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    masking = _Masking(secrets)
    file_handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=5_000_000, backupCount=5
    )
    file_handler.setFormatter(_Json())
    file_handler.addFilter(masking)
    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter("%(message)s"))
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    console.addFilter(masking)
    console.addFilter(_NoRawEvents())
    root.addHandler(file_handler)
    root.addHandler(console)
    root.setLevel(logging.INFO)
    return path


def event(name: str, **fields: object) -> None:
    """One structured event: name plus key=value fields."""
    text = " ".join([f"event={name}", *(f"{k}={v}" for k, v in fields.items())])
    log.info(text, extra={"fields": {"event": name, **fields}})
