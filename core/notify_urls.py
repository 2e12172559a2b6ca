"""NOTIFY_URLS: comma-separated Apprise URLs, split, masked and fingerprinted.

An Apprise URL carries its secrets in any part: a password (`mailtos://user:pw@`),
a token as the host (`tgram://<bot token>/<chat>`), in the path
(`hassio://host/<token>`, a webhook id) or in the query (`?token=`). So the
shown form keeps only the scheme and a host that looks like a host name, and
masks everything else; the parts it masks are also masked in the logs.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote

_SPLIT = re.compile(r"[\s,]+(?=[A-Za-z][A-Za-z0-9+.-]*://)")
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", re.DOTALL)
_HOST = re.compile(
    r"^(?:localhost|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]"
    r"|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)(?::\d{1,5})?$"
)
MIN_SECRET_LENGTH = 4  # shorter parts are masked when shown, not in every log line
_FINGERPRINT_SALT = b"utility-meters NOTIFY_URLS target"
_FINGERPRINT_ROUNDS = 100_000


def split_urls(text: str | None) -> list[str]:
    """The URLs of NOTIFY_URLS. A comma separates URLs only where a new
    `scheme://` follows, so `mailtos://...?to=a@x.org,b@y.org` stays whole."""
    if not text:
        return []
    return [part.strip(" ,\t\n") for part in _SPLIT.split(text.strip()) if part]


def _parts(url: str) -> tuple[str, str, str, str] | None:
    """(scheme, userinfo, host, rest) of an Apprise URL, or None."""
    match = _URL.match(url)
    if not match:
        return None
    scheme, remainder = match.groups()
    cut = min(
        (i for i in (remainder.find("/"), remainder.find("?")) if i >= 0),
        default=len(remainder),
    )
    netloc, rest = remainder[:cut], remainder[cut:]
    userinfo, _, host = netloc.rpartition("@")
    return scheme, userinfo, host, rest


def mask(url: str) -> str:
    """The URL as it may be shown: scheme and host name, the rest `***`.

    `json://user:pw@127.0.0.1:8080/hook/abc` -> `json://***@127.0.0.1:8080/***`,
    `tgram://123:AAH.../456` -> `tgram://***/***`."""
    parts = _parts(url)
    if parts is None:
        return "***"
    scheme, userinfo, host, rest = parts
    shown = f"{scheme}://"
    if userinfo:
        shown += "***@"
    shown += host if _HOST.match(host) else "***"
    if rest.strip("/"):
        shown += "/***"
    return shown


def secret_parts(url: str) -> list[str]:
    """Every part `mask` hides (raw and percent-decoded), for masking logs;
    parts shorter than MIN_SECRET_LENGTH are left out, they would mask
    ordinary words."""
    parts = _parts(url)
    if parts is None:
        return [url]
    _, userinfo, host, rest = parts
    pieces = [url, userinfo, *userinfo.split(":", 1)]
    if not _HOST.match(host):
        pieces.append(host)
    path, _, query = rest.partition("?")
    pieces.extend(path.split("/"))
    for pair in re.split(r"[&;]", query):
        pieces.append(pair.partition("=")[2])
        pieces.extend(pair.partition("=")[2].split(","))
    found = {p for piece in pieces for p in (piece, unquote(piece))}
    return sorted(
        (p for p in found if len(p) >= MIN_SECRET_LENGTH), key=len, reverse=True
    )


def fingerprint(url: str) -> str:
    """A one-way, slow fingerprint naming the target in the sent-state, so the
    warehouse never holds the URL or its secrets."""
    digest = hashlib.pbkdf2_hmac(
        "sha256", url.encode(), _FINGERPRINT_SALT, _FINGERPRINT_ROUNDS
    )
    return digest.hex()[:32]
