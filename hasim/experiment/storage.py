"""Nothing lost: each finished run on disk, written atomically, found again on resume.

Layout of an output directory::

    experiment.json     the settings (refused if a later run asks for others)
    runs/KEY.json       one finished run each (metrics, seed, design, params)
    failed/KEY.json     one failed run each (error and traceback; retried on resume)

A run's file appears whole or not at all (written to a temporary file in the
same folder, then renamed), so Ctrl-C or a killed process leaves only
complete runs, and rerunning the same experiment skips them.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from hasim.errors import ConfigError

__all__ = ["RunStore"]


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` so that readers see all of it or nothing."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunStore:
    """The runs of one experiment in a directory."""

    def __init__(self, path: str | os.PathLike, settings: dict[str, Any]) -> None:
        self.path = Path(path)
        self.runs = self.path / "runs"
        self.failed = self.path / "failed"
        self.runs.mkdir(parents=True, exist_ok=True)
        self.failed.mkdir(exist_ok=True)
        # Left by a process killed in the middle of a write (one writer per directory).
        for folder in (self.runs, self.failed):
            for stale in folder.glob(".*.tmp"):
                stale.unlink(missing_ok=True)
        manifest = self.path / "experiment.json"
        settings = json.loads(json.dumps(settings, sort_keys=True, default=repr))
        if manifest.exists():
            before = json.loads(manifest.read_text())
            if before != settings:
                changed = sorted(
                    k for k in set(before) | set(settings) if before.get(k) != settings.get(k)
                )
                raise ConfigError(
                    f"Experiment: out directory {str(self.path)!r} holds an experiment with other "
                    f"settings ({', '.join(changed)}); use another directory or delete it"
                )
        else:
            write_json_atomic(manifest, settings)

    def done(self) -> dict[str, dict[str, Any]]:
        """The finished runs on disk, by key."""
        found = {}
        for file in sorted(self.runs.glob("*.json")):
            record = json.loads(file.read_text())
            found[record["key"]] = record
        return found

    def save(self, record: dict[str, Any]) -> None:
        """Store one run's record (finished or failed)."""
        if record["ok"]:
            write_json_atomic(self.runs / f"{record['key']}.json", record)
            (self.failed / f"{record['key']}.json").unlink(missing_ok=True)
        else:
            write_json_atomic(self.failed / f"{record['key']}.json", record)
