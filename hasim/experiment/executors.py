"""Where runs execute: in this process, in local processes, on any Executor, on Dask.

Every executor runs the same ``execute(task)`` on the same tasks; each run
is seeded by its task alone, and results are put back in task order, so the
table is bit-identical whatever the executor and the number of workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from typing import Any

from hasim.errors import config_error

__all__ = ["Runner", "runner_for"]


class Runner:
    """Runs tasks and yields their records as they finish (a context manager)."""

    name = "serial"

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close(cancel=exc[0] is not None)

    def close(self, cancel: bool = False) -> None:
        """Release what this runner started (nothing, for the serial one)."""

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        """Yield ``fn(task)`` for every task, in completion order."""
        for task in tasks:
            yield fn(task)


class ExecutorRunner(Runner):
    """Any ``concurrent.futures.Executor`` (a process pool by default)."""

    def __init__(self, executor: Executor, *, owned: bool, name: str) -> None:
        self.executor = executor
        self.owned = owned
        self.name = name

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        futures = [self.executor.submit(fn, task) for task in tasks]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()

    def close(self, cancel: bool = False) -> None:
        if not self.owned:
            return
        if cancel:  # Ctrl-C: stop the runs in progress too, their results are not wanted
            terminate = getattr(self.executor, "terminate_workers", None)  # Python >= 3.14
            if terminate is not None:
                terminate()
            else:
                for process in list(getattr(self.executor, "_processes", {}).values()):
                    process.terminate()
        self.executor.shutdown(wait=True, cancel_futures=True)


class DaskRunner(Runner):
    """A ``dask.distributed.Client``: given, at an address, or on a new LocalCluster."""

    name = "dask"

    def __init__(
        self, client: Any = None, *, address: str | None = None, workers: int | None = None
    ):
        try:
            import distributed
        except ImportError:  # pragma: no cover - depends on the extra
            raise config_error(
                "Experiment",
                "executor",
                "'dask' with hasim[dask] installed (pip install 'hasim[dask]')",
                "dask",
            ) from None
        self._distributed = distributed
        self._cluster = None
        self.owned = client is None
        if client is not None:
            self.client = client
        elif address in (None, "local"):
            self._cluster = distributed.LocalCluster(
                n_workers=workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            self.client = distributed.Client(self._cluster)
        else:
            self.client = distributed.Client(address)

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        futures = [self.client.submit(fn, task, pure=False) for task in tasks]
        try:
            for future in self._distributed.as_completed(futures):
                yield future.result()
        finally:
            self.client.cancel(futures)

    def close(self, cancel: bool = False) -> None:
        if self.owned:
            self.client.close()
            if self._cluster is not None:
                self._cluster.close()


def _is_dask_client(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "distributed" and hasattr(obj, "submit")


def runner_for(executor: Any = "processes", workers: int | None = None) -> Runner:
    """A Runner for what the user asked for.

    Args:
        executor: ``"serial"``, ``"processes"`` (default; ``workers`` processes,
            all cores if None), ``"dask"`` (a new LocalCluster), ``"dask://HOST:PORT"``
            or ``"tcp://HOST:PORT"`` (a Dask scheduler), a ``dask.distributed.Client``,
            or any ``concurrent.futures.Executor``.
        workers: the number of processes for ``"processes"`` and ``"dask"``.
    """
    if workers is not None and (
        not isinstance(workers, int) or isinstance(workers, bool) or workers < 1
    ):
        raise config_error("Experiment", "workers", "an integer >= 1 or None", workers)
    if executor == "serial":
        return Runner()
    if executor == "processes":
        if workers == 1:
            return Runner()
        return ExecutorRunner(
            ProcessPoolExecutor(max_workers=workers), owned=True, name="processes"
        )
    if executor == "dask":
        return DaskRunner(workers=workers)
    if isinstance(executor, str) and executor.startswith(("dask://", "tcp://", "tls://")):
        return DaskRunner(address=executor.replace("dask://", "tcp://", 1))
    if _is_dask_client(executor):
        return DaskRunner(executor)
    if isinstance(executor, Executor):
        return ExecutorRunner(executor, owned=False, name=type(executor).__name__)
    raise config_error(
        "Experiment",
        "executor",
        "'serial', 'processes', 'dask', a Dask address or Client, or a concurrent.futures.Executor",
        executor,
    )
