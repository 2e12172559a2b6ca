"""What a person sees of a run: one line per stage, live progress on a terminal.

On a terminal (stdout is a TTY) a stage shows its progress on one line that
is rewritten in place (dbt nodes n/N with the model running now, points
written of total), then leaves its result line. Without a terminal (cron,
docker logs, a pipe) only the result lines appear, one per stage. Raw log
events (`event=...`) never reach the console; they are in
DATA_DIR/logs/pipeline.jsonl.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

from core import logs


def number(value: int) -> str:
    """1204 -> '1,204'."""
    return f"{value:,}"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """'1 reading', '1,204 readings'."""
    word = singular if count == 1 else (plural_form or f"{singular}s")
    return f"{number(count)} {word}"


@dataclass
class Console:
    stream: TextIO = field(default_factory=lambda: sys.stdout)
    live: bool | None = None  # None: live progress when stream is a terminal
    _shown: bool = False
    _last: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.live is None:
            isatty = getattr(self.stream, "isatty", None)
            self.live = bool(isatty and isatty())

    def line(self, text: str) -> None:
        """A line that stays (also in the JSON log)."""
        with self._lock:
            self._clear()
            print(text, file=self.stream, flush=True)
        logs.log.info(text)

    def progress(self, text: str, *, force: bool = False) -> None:
        """A transient line on a terminal (at most ~10 updates a second)."""
        if not self.live:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        width = shutil.get_terminal_size((100, 20)).columns - 1
        with self._lock:
            self.stream.write("\r\033[K" + text[:width])
            self.stream.flush()
            self._shown = True

    def finish(self) -> None:
        """Clear a transient progress line (before an error line)."""
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        if self._shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._shown = False


@dataclass
class DbtProgress:
    """Follows dbt's events (a dbtRunner callback) and shows
    `[dbt] n/N nodes: m models built; now <model> (12 s)` on a terminal.
    Remembers each model's seconds, so the slow ones can be named."""

    show: Callable[[str], None]
    done: int = 0
    total: int = 0
    models_built: int = 0
    running: dict[str, float] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    model_seconds: dict[str, float] = field(default_factory=dict)

    def __call__(self, event) -> None:
        name = event.info.name
        if name == "LogStartLine":
            self.total = max(self.total, int(event.data.total))
        elif name == "NodeStart":
            node = event.data.node_info
            self.running[node.unique_id] = time.monotonic()
            self.names[node.unique_id] = node.node_name
        elif name == "NodeFinished":
            node = event.data.node_info
            started = self.running.pop(node.unique_id, None)
            self.done += 1
            if node.resource_type == "model":
                self.models_built += 1
                if started is not None:
                    self.model_seconds[node.node_name] = time.monotonic() - started
        else:
            return
        self.show(self.describe())

    def describe(self) -> str:
        total = f"/{self.total}" if self.total else ""
        text = (
            f"[dbt] {self.done}{total} nodes: "
            f"{plural(self.models_built, 'model')} built"
        )
        running = list(self.running.items())  # also read by the ticker
        if running:
            unique_id, started = running[0]
            seconds = time.monotonic() - started
            text += f"; now {self.names.get(unique_id, unique_id)} ({seconds:.0f} s)"
        return text

    @contextmanager
    def ticking(self, every_s: float = 1.0) -> Iterator[None]:
        """Refresh the line every second, so a slow model's time counts up
        while dbt says nothing."""
        stop = threading.Event()

        def tick() -> None:
            while not stop.wait(every_s):
                if self.running:
                    self.show(self.describe())

        thread = threading.Thread(target=tick, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def slowest(self, count: int = 3, at_least_s: float = 1.0) -> list[str]:
        """The slow models, slowest first: 'int_x 8.1 s'."""
        ranked = sorted(self.model_seconds.items(), key=lambda item: -item[1])
        return [
            f"{name} {seconds:.1f} s"
            for name, seconds in ranked[:count]
            if seconds >= at_least_s
        ]
