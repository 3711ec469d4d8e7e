"""Fault injection: make chosen requests fail, to test how clients behave when the Hub misbehaves.

    hub.faults.add(method="POST", path_pattern=r"/commit/", action="500", times=1)
    hub.faults.add(method="POST", path_pattern=r"/commit/", action="drop")

`action` is an HTTP status ("500", "503", "429"...) answered with a JSON error body, or "drop", which
closes the connection without any response (the client sees a protocol/connection error). A rule
fires for the first `times` matching requests (None = forever), in the order rules were added.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass


@dataclass
class Fault:
    """One rule; `hits` counts the requests it has failed so far."""

    method: str | None
    path_pattern: str
    action: str
    times: int | None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        same_method = self.method is None or self.method.upper() == method.upper()
        return same_method and re.search(self.path_pattern, path) is not None

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times


class Faults:
    """The server's fault rules; thread-safe, since every request thread consults them."""

    def __init__(self) -> None:
        self._rules: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, *, path_pattern: str, action: str = "500", method: str | None = None, times: int | None = 1) -> Fault:
        """Fail requests whose path (without query) matches the regex `path_pattern` (and `method`, if given)."""
        if action != "drop" and not (action.isdigit() and 400 <= int(action) <= 599):
            raise ValueError(f"Unknown fault action {action!r}: use 'drop' or an HTTP error status such as '500'")
        re.compile(path_pattern)
        fault = Fault(method=method, path_pattern=path_pattern, action=action, times=times)
        with self._lock:
            self._rules.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first live rule matching this request, counting the hit; None when the request should proceed."""
        with self._lock:
            for fault in self._rules:
                if not fault.exhausted and fault.matches(method, path):
                    fault.hits += 1
                    return fault
        return None
