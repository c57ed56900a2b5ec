"""SIGTERM/SIGINT during a job: recorded, and raised as an interrupt, never in the middle of a tracking write."""

import signal
from contextlib import contextmanager


class JobKilled(KeyboardInterrupt):
    """SIGTERM/SIGINT reached the job; raised as an interrupt so no library swallows it."""


class StopSignal:
    """Signal handler that records the signal and interrupts the job, never in the middle of a tracking write
    (a write cut in half keeps the SQLite store locked, and the run could not then be marked KILLED)."""

    def __init__(self):
        self.received: str | None = None
        self._writing = 0

    def __call__(self, signum, frame):
        self.received = signal.Signals(signum).name
        if not self._writing:
            raise JobKilled(self.received)

    @contextmanager
    def deferred(self):
        """A signal that arrives inside interrupts the job at the block's end."""
        self._writing += 1
        try:
            yield
        finally:
            self._writing -= 1
        if self.received and not self._writing:
            raise JobKilled(self.received)

    @contextmanager
    def installed(self):
        """Handle SIGTERM and SIGINT inside the block; the previous handlers come back after it."""
        old = {s: signal.signal(s, self) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield self
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)
