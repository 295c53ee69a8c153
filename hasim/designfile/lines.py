"""Where tables and keys are in a design file's text: tomllib gives values, not positions."""

from __future__ import annotations

import re

__all__ = ["Lines"]


class Lines:
    """Where tables and keys are in the text (tomllib gives no positions)."""

    _HEADER = re.compile(r"\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers: list[tuple[int, tuple[str, ...]]] = []
        for n, line in enumerate(self.lines, 1):
            match = self._HEADER.match(line)
            if match:
                path = tuple(p.strip().strip("\"'") for p in match[1].split("."))
                self.headers.append((n, path))

    def table(self, *path: str) -> int | None:
        """The line of the header ``[a.b]`` (None if the table has none)."""
        for n, header in self.headers:
            if header == path:
                return n
        return None

    def key(self, path: tuple[str, ...], keys: tuple[str, ...]) -> int | None:
        """The line of ``keys`` (a dotted path) inside the table ``path``."""
        for cut in range(len(keys) - 1, 0, -1):  # a sub-table [a.b.key] of its own
            line = self.table(*path, *keys[:cut])
            if line is not None:
                return self.key((*path, *keys[:cut]), keys[cut:])
        if not path:  # a top-level name: its table's header, or a key before any header
            for n, header in self.headers:
                if header[:1] == keys[:1]:
                    return n
        start = self.table(*path) if path else 0
        if start is None:
            return None
        later = [n for n, _ in self.headers if n > start]
        end = later[0] - 1 if later else len(self.lines)
        key = re.escape(keys[0]) if keys else None
        if key is None:
            return start or None
        for pattern in (rf"\s*[\"']?{key}[\"']?\s*=", rf".*\b{key}\s*="):
            for n in range(start + 1, end + 1):
                if re.match(pattern, self.lines[n - 1]):
                    return n
        return start or None

    def comment(self, path: tuple[str, ...], key: str) -> str:
        """The comment at the end of ``key = value  # comment`` in the table ``path``."""
        n = self.key(path, (key,))
        if n is None:
            return ""
        match = re.search(r"#\s*(.*)$", self.lines[n - 1])
        return match[1].strip() if match and "=" in self.lines[n - 1].split("#")[0] else ""
