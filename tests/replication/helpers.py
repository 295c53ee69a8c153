"""Helpers for the replication tests: operations made by hand, and scripted services."""

from __future__ import annotations

import hasim as hs
from hasim.replication import READ, WRITE, Operation, ReplicatedService, operation


def w(id, key, value, invoked, completed, *, version=None, outcome="ok", client="c"):
    """A write of ``value`` (``completed`` None and outcome timeout: open-ended)."""
    if completed is None and outcome == "ok":
        outcome = "timeout"
    return Operation(
        id,
        client,
        WRITE,
        key,
        value,
        invoked,
        version=version,
        completed=completed,
        outcome=outcome,
    )


def r(id, key, value, invoked, completed, *, version=None, outcome="ok", client="c"):
    """A read that returned ``value``."""
    return Operation(
        id,
        client,
        READ,
        key,
        value,
        invoked,
        version=version,
        completed=completed,
        outcome=outcome,
    )


class Scripted(hs.Component, ReplicatedService):
    """Answers try n after ``delays[n - 1]`` s with value ``"value<n>"`` and version n."""

    def __init__(self, sim, name, delays):
        super().__init__(sim, name)
        self.delays = delays
        self.seen = []

    @property
    def up(self):
        return True

    def submit(self, attempt, reply):
        op = operation(attempt)
        self.seen.append((attempt.number, op.kind, op.key))
        n = attempt.number
        self.sim.call_later(
            self.delays[n - 1], lambda _: self.respond(attempt, reply, f"value{n}", n)
        )
