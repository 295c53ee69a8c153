"""AppServer: a tier that does its own work, then calls the tier behind it.

A three-tier service (balancer -> application servers -> database) needs a
server that is both: it serves a request for its own service time, like any
``hasim.Server``, then sends it on to its ``backend`` and holds the worker
until the backend answers, as a thread-per-request application server does
with a synchronous database call. A slow or stalled database therefore
fills the application tier's workers and queue: the tiers' failures and
slowness compose the way they do in production.

Failure semantics are a Server's (a request to a down app server ends
``error``; a crash ends everything queued, in service or waiting on the
backend with ``error``), plus those of the call: the request's outcome and
responder are the backend's; with ``timeout``, a call not answered by then
ends ``timeout`` (responder: the app server) and the backend's late answer is
dropped; without one, a call the network drops ends ``lost`` at once. Each
hop to the backend and back goes through the network.

Health probes are answered by the app server itself after its own work (a
shallow check, the usual default), unless ``deep_health``: then they go on
to the backend as well, so a database outage marks every app server
unhealthy.
"""

from __future__ import annotations

from typing import Any

from hasim import network
from hasim.errors import config_error
from hasim.health import Probe
from hasim.metrics.recorder import LOST, OK, TIMEOUT
from hasim.node import Server, _Job
from hasim.units import duration

__all__ = ["AppServer"]


class _Call:
    """A request an app server has sent to its backend and is waiting on."""

    __slots__ = ("owner", "job", "outcome", "by")

    def __init__(self, owner: AppServer, job: _Job) -> None:
        self.owner = owner
        self.job = job

    def answer(self, request: Any, outcome: str, by: str | None) -> None:
        self.outcome, self.by = outcome, by
        self.owner._back.send(_arrive, self, self.owner._dropped)


class AppServer(Server):
    """A Server whose every request, once served, is passed to ``backend``.

    Args:
        sim, name, workers, service_time, queue_limit, zone, failures: as for
            ``hasim.Server``; ``service_time`` is the app's own work.
        backend: the service behind it (a database, a replicated store, a
            balancer, another app tier): anything with ``submit``.
        timeout: seconds to wait for the backend's answer (None: as long as
            it takes).
        deep_health: whether health probes go on to the backend (False: the
            app answers them itself).

    ``calls`` counts requests sent to the backend; ``waiting`` is how many
    workers are waiting on it now.
    """

    def __init__(
        self,
        sim: Any,
        name: str,
        *,
        backend: Any,
        workers: int = 1,
        service_time: Any = 0.0,
        queue_limit: int | None = None,
        timeout: float | str | None = None,
        deep_health: bool = False,
        zone: str | None = None,
        failures: Any = None,
    ) -> None:
        owner = f"AppServer {name!r}"
        if not callable(getattr(backend, "submit", None)):
            raise config_error(owner, "backend", "a service (something with submit)", backend)
        if timeout is not None:
            timeout = duration(owner, "timeout", timeout, positive=True)
        if not isinstance(deep_health, bool):
            raise config_error(owner, "deep_health", "True or False", deep_health)
        super().__init__(
            sim,
            name,
            workers=workers,
            service_time=service_time,
            queue_limit=queue_limit,
            zone=zone,
            failures=failures,
        )
        self.backend = backend
        self.timeout = timeout
        self.deep_health = deep_health
        self._calls: dict[_Job, _Call] = {}
        self._held: list[tuple[_Job, str, str | None]] = []  # answered while stalled
        self.calls = 0

    @property
    def waiting(self) -> int:
        """Workers waiting on the backend now."""
        return len(self._calls)

    def _prepare(self) -> None:
        super()._prepare()
        net = network.get(self.sim)
        self._out = net.path(self.name, self.backend.name)
        self._back = net.path(self.backend.name, self.name)
        self._dropped = None if self.timeout is not None else self._lost

    def _finish(self, job: _Job) -> None:
        if not job.alive:  # crashed while serving it
            return
        if type(job.request) is Probe and not self.deep_health:
            super()._finish(job)
            return
        call = _Call(self, job)
        self._calls[job] = call
        self.calls += 1
        if self.timeout is not None:
            self.sim.call_later(self.timeout, self._expire, call)
        self._out.send(_submit, call, self._dropped)

    def _returned(self, call: _Call, outcome: str, by: str | None) -> None:
        job = call.job
        if self._calls.get(job) is not call:  # crashed or timed out meanwhile
            return
        del self._calls[job]
        if self.stalled:  # a paused process reads the answer when it resumes
            self._held.append((job, outcome, by))
            return
        self._complete(job, outcome, by)

    def _complete(self, job: _Job, outcome: str, by: str | None) -> None:
        del self._in_service[job]
        if outcome == OK:
            self.served += 1
        if self._queue and not self.stalled:
            self._start(*self._queue.popleft())
        job.reply(job.request, outcome, by)

    def _expire(self, call: _Call) -> None:
        self._returned(call, TIMEOUT, self.name)

    def _lost(self, message: Any) -> None:
        self._returned(message, LOST, None)

    def _stall_changed(self, stalled: bool) -> None:
        # Workers waiting on the backend have no work of their own to freeze.
        if not stalled:
            held, self._held = self._held, []
            for job, outcome, by in held:
                self._complete(job, outcome, by)
            super()._stall_changed(stalled)
            return
        waiting = {job: None for job in self._calls}
        for job in waiting:
            del self._in_service[job]
        super()._stall_changed(stalled)
        self._in_service.update(waiting)

    def _crashed(self) -> None:
        self._calls.clear()  # late answers are dropped; Server._crashed answers error
        self._held.clear()
        super()._crashed()


def _submit(call: _Call) -> None:
    call.owner.backend.submit(call.job.request, call.answer)


def _arrive(call: _Call) -> None:
    call.owner._returned(call, call.outcome, call.by)
