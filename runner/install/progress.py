"""What ``sluice install`` shows while it works, on stderr.

On a terminal: one line per connector, redrawn in place (what it is doing, for how long). Elsewhere
(a log, a CI job): a plain line when a connector starts and one when it ends.
"""

from __future__ import annotations

import threading
import time
from typing import TextIO

__all__ = ["Progress"]

FINAL = ("up to date", "installed", "failed")


class Progress:
    def __init__(self, names: list[str], stream: TextIO, live: bool) -> None:
        self.stream = stream
        self.live = live
        self.width = max((len(n) for n in names), default=0)
        self.started = {n: 0.0 for n in names}
        self.state = dict.fromkeys(names, "waiting")
        self.lock = threading.Lock()
        self.drawn = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if live and names:
            self._thread = threading.Thread(target=self._loop, name="sluice-install-progress", daemon=True)
            self._thread.start()

    def __call__(self, name: str, text: str) -> None:
        with self.lock:
            if not self.started[name]:
                self.started[name] = time.monotonic()
                if not self.live and not text.startswith(FINAL):
                    self._line(f"sluice: {name}: {text}")
            self.state[name] = text
            if not self.live and text.startswith(FINAL):
                self._line(f"sluice: {name}: {text}")

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def _render(self) -> None:
        now = time.monotonic()
        out = [f"\x1b[{self.drawn}A"] if self.drawn else []
        for name, text in self.state.items():
            running = self.started[name] and not text.startswith(FINAL)
            clock = f" {now - self.started[name]:5.1f} s" if running else ""
            out.append(f"\x1b[2K  {name:<{self.width}}  {text}{clock}\n")
        self.stream.write("".join(out))
        self.stream.flush()
        self.drawn = len(self.state)

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            with self.lock:
                self._render()

    def close(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            with self.lock:
                self._render()
