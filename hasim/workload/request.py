"""What a client sends: the Request (one per issue) and its tries (Attempt)."""

from __future__ import annotations

from typing import Any

__all__ = ["Request", "Attempt"]


class Request:
    """One client request (one row of ``RunResult.requests()``).

    Without resilience a request is also its own single attempt: it answers
    to the ``Attempt`` interface (``key``, ``request``, ``number``).
    """

    __slots__ = (
        "id",
        "client",
        "issued",
        "key",
        "deadline",
        "ended",
        "outcome",
        "responder",
        "attempts",
        "measured",
        "_answer",
        "_by",
        "_inflight",
        "_tries",
        "_hedges",
        "_pause",
    )

    #: As an attempt (the fast path), a request is its own first and only try.
    number = 1

    def __init__(self, id: int, client: str, issued: float, key: Any = None) -> None:
        self.id = id
        self.client = client
        self.issued = issued
        self.key = key
        #: When the client stops waiting for it (None: no limit).
        self.deadline = None
        self.ended = None
        #: The final outcome (one of hasim.OUTCOMES), None while in flight.
        self.outcome = None
        #: Name of the component that gave the final answer (None for timeout).
        self.responder = None
        #: Tries sent to the target (hedges included).
        self.attempts = 1
        self.measured = False

    @property
    def request(self) -> Request:
        """The request itself (the attempt interface of the fast path)."""
        return self

    def __repr__(self) -> str:
        return (
            f"Request(id={self.id}, client={self.client!r}, issued={self.issued:g}, "
            f"outcome={self.outcome!r})"
        )


class Attempt:
    """One try of a request: what the target's ``submit(attempt, reply)`` receives.

    Attributes:
        request: the Request it is a try of.
        number: 1 for the first try, then 2, 3, ... in the order sent.
        key: the request's key (what consistent hashing reads).
        sent: when the client sent it.
        hedge: whether it is a hedge (sent while another try was out).
        live: whether the client still waits for its answer.
    """

    __slots__ = ("request", "number", "key", "sent", "hedge", "live", "ticket", "_answer", "_by")

    def __init__(self, request: Request, number: int, sent: float, hedge: bool, ticket: int):
        self.request = request
        self.number = number
        self.key = request.key
        self.sent = sent
        self.hedge = hedge
        self.live = True
        self.ticket = ticket  # the breaker's epoch when it let the try through

    def __repr__(self) -> str:
        return (
            f"Attempt(request={self.request.id}, number={self.number}, sent={self.sent:g}, "
            f"hedge={self.hedge}, live={self.live})"
        )
