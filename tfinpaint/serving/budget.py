"""The server's one budget for work: slots and memory, shared by the API, the page and gRPC.

Every request that decodes or runs anything first reserves one of `--max-concurrent` slots
and an estimate of the memory it will take (from the pixels its headers declare, before
anything is decoded). Requests wait their turn in arrival order; a request whose estimate is
above the whole budget gets 413 at once, one that finds the queue full gets 503 with
`Retry-After`, and one whose client goes away while it waits leaves the queue. So the memory
held by work never grows past the budget, however many clients ask at once.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable, Iterator

from tfinpaint.serving.errors import ServingError

# How often a waiting request checks whether its client is still there.
_POLL_SECONDS = 0.25
# What a refused client is told to wait before asking again.
RETRY_AFTER_SECONDS = 5
# The memory the estimates of the work under way may add up to by default: a 100-megapixel
# decode, or a 48-megapixel photo inpainted with the shipped network, fits (see `estimates`).
DEFAULT_MAX_WORK_BYTES = 1536 * 2**20
DEFAULT_SLOTS = 2


class ClientGone(ConnectionError):
    """The client closed its connection: its request is dropped, nobody is answered."""


def megabytes(nbytes: int) -> str:
    return f"{nbytes / 2**20:,.0f} MB"


class WorkBudget:
    """At most `slots` requests at work, together reserving at most `memory_bytes`.

    Args:
        slots: requests that may work at once (`--max-concurrent`).
        memory_bytes: the memory their estimates may add up to (`--max-work-memory`).
        max_waiting: requests that may wait for their turn; more get 503.
    """

    def __init__(self, slots: int, memory_bytes: int, max_waiting: int):
        if slots < 1 or memory_bytes < 1 or max_waiting < 0:
            raise ValueError(
                f"WorkBudget: slots {slots}, memory_bytes {memory_bytes}, max_waiting {max_waiting}; "
                "expected slots >= 1, memory_bytes >= 1, max_waiting >= 0"
            )
        self.slots = slots
        self.memory_bytes = memory_bytes
        self.max_waiting = max_waiting
        self.running = 0
        self.reserved = 0
        self._queue: list[int] = []  # tickets of waiting requests, oldest first
        self._tickets = itertools.count()
        self._condition = threading.Condition()

    @classmethod
    def default(cls) -> WorkBudget:
        """`tfinpaint serve`'s budget when not told otherwise."""
        return cls(DEFAULT_SLOTS, DEFAULT_MAX_WORK_BYTES, 4 * DEFAULT_SLOTS)

    def _fits(self, nbytes: int) -> bool:
        return self.running < self.slots and self.reserved + nbytes <= self.memory_bytes

    def _check_size(self, nbytes: int, what: str) -> None:
        if nbytes > self.memory_bytes:
            raise ServingError(
                "RESOURCE_EXHAUSTED",
                f"{what} needs about {megabytes(nbytes)} of memory; this server's work budget is "
                f"{megabytes(self.memory_bytes)} (--max-work-memory)",
                http_status=413,
            )

    @contextlib.contextmanager
    def reserve(self, nbytes: int, what: str, gone: Callable[[], bool] | None = None) -> Iterator[None]:
        """Hold a slot and `nbytes` of the budget for the `with` block, waiting for them.

        Args:
            nbytes: the work's memory estimate. what: names the work in refusals
                ("a 10000x10000 image").
            gone: returns True once the client has disconnected (checked while waiting).

        Raises:
            ServingError: 413 (RESOURCE_EXHAUSTED) when `nbytes` exceeds the whole budget;
                503 (UNAVAILABLE, with `retry_after`) when the queue is full.
            ClientGone: the client went away while the request waited.
        """
        self._check_size(nbytes, what)
        with self._condition:
            starts_now = not self._queue and self._fits(nbytes)
            if not starts_now and len(self._queue) >= self.max_waiting:
                raise ServingError(
                    "UNAVAILABLE",
                    f"the server is busy: {self.running} requests at work and {len(self._queue)} "
                    f"waiting (--max-concurrent {self.slots}); try again in {RETRY_AFTER_SECONDS} s",
                    retry_after=RETRY_AFTER_SECONDS,
                )
            ticket = next(self._tickets)
            self._queue.append(ticket)
            try:
                while self._queue[0] != ticket or not self._fits(nbytes):
                    self._condition.wait(_POLL_SECONDS)
                    if gone is not None and gone():
                        raise ClientGone("the client closed the connection while its request waited")
            finally:
                self._queue.remove(ticket)
                self._condition.notify_all()
            self.running += 1
            self.reserved += nbytes
        try:
            yield
        finally:
            with self._condition:
                self.running -= 1
                self.reserved -= nbytes
                self._condition.notify_all()
