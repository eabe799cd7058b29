"""Keeps secrets out of log lines: by key in an event, and by shape in any rendered text."""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

REDACTED = "[redacted]"
SECRET_KEY = re.compile(r"token|password|passwd|secret|authorization|cookie|api[_-]?key|jwt", re.I)
# A JWT (or any part of one that still starts with its header), a bearer credential, and
# secret-named fields in query strings, JSON, reprs and headers: 'token=…', '"password": "…"'.
_SHAPES = (
    (re.compile(r"eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){0,2}"), REDACTED),
    (
        # a credential has a digit, a capital or a symbol: "basic training" stays
        re.compile(r"\b([Bb]earer|[Bb]asic|BEARER|BASIC)(\s+)(?=\S*[0-9A-Z+/=_-])[\w.~+/=-]{8,}"),
        rf"\1\2{REDACTED}",
    ),
    (
        re.compile(
            r"(?i)((?:access_|refresh_)?token|password|passwd|secret|authorization|api[_-]?key)"
            r"(\\?[\"']?\s*[=:]\s*\\?[\"']?)(?!\[redacted\])[^\s\"'&,;)}\\]+"
        ),
        rf"\1\2{REDACTED}",
    ),
)


def scrub(text: str) -> str:
    """``text`` with every token-shaped or secret-named value replaced."""
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    return text


def redact_event(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: hide the values of secret-named keys, scrub the other strings."""
    for key, value in event_dict.items():
        if key.startswith("_") or key == "exc_info":
            continue
        if SECRET_KEY.search(key):
            event_dict[key] = REDACTED
        elif isinstance(value, str):
            event_dict[key] = scrub(value)
    return event_dict
