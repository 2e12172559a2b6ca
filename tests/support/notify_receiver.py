"""A real local HTTP receiver for Apprise's `json://` notifications.

It listens on 127.0.0.1 on a free port, keeps every message it accepted (the
JSON body Apprise posts: title, message, type) with the request's path and
Basic-auth credentials, and answers `status` (200, or e.g. 500 to refuse:
a refused message is counted in `refused`, not kept).
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Message:
    title: str
    message: str
    type: str
    path: str
    credentials: str  # "user:password" of Basic auth, or ""


@dataclass
class NotifyReceiver:
    status: int = 200
    messages: list[Message] = field(default_factory=list)
    refused: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def url(self, userinfo: str = "", path: str = "/alerts") -> str:
        """The Apprise URL that posts here (json://, plain HTTP)."""
        at = f"{userinfo}@" if userinfo else ""
        return f"json://{at}127.0.0.1:{self.port}{path}"

    def start(self) -> NotifyReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length) or b"{}")
                auth = self.headers.get("Authorization", "")
                credentials = (
                    base64.b64decode(auth.removeprefix("Basic ")).decode()
                    if auth.startswith("Basic ")
                    else ""
                )
                with receiver._lock:
                    status = receiver.status
                    if status == 200:
                        receiver.messages.append(
                            Message(
                                title=payload.get("title", ""),
                                message=payload.get("message", ""),
                                type=payload.get("type", ""),
                                path=self.path,
                                credentials=credentials,
                            )
                        )
                    else:
                        receiver.refused += 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def take(self) -> list[Message]:
        """The messages received since the last take."""
        with self._lock:
            taken, self.messages = self.messages, []
        return taken

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> NotifyReceiver:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
