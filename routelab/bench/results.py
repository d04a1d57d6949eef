"""The results CSV: append-only, one physical line per job, fsynced row by row.

That discipline is the whole resume story. A finished job's row is on disk before the next one is recorded; a
run killed mid-write leaves at most one torn last line (no trailing newline), which :func:`prepare_results`
cuts off before appending. Rows are never rewritten, so whatever a crashed run recorded survives unchanged.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path
from types import TracebackType
from typing import Any

from routelab.bench.jobs import COLUMNS, ResultRow
from routelab.problems import FormatError

_TYPES: dict[str, str] = {f.name: str(f.type) for f in fields(ResultRow)}


def _encode(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)  # str(float) is repr: it round-trips exactly


def _decode(column: str, text: str, source: str) -> Any:
    kind = _TYPES[column]
    if kind == "str":
        return text
    if text == "":
        if "None" in kind:
            return None
        if kind == "bool":
            return False
        raise FormatError(source, column, f"a value ({kind})", "empty")
    try:
        if kind == "bool":
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "1")
        if kind.startswith("int"):
            return int(text)
        return float(text)
    except ValueError:
        raise FormatError(source, column, f"a {kind.split()[0]}", text) from None


def row_to_line(row: ResultRow) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(_encode(getattr(row, c)) for c in COLUMNS)
    return buffer.getvalue()


def _parse(text: str, source: str) -> list[ResultRow]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        return []
    if tuple(header) != COLUMNS:
        raise FormatError(source, "header", f"the results columns {','.join(COLUMNS)}", ",".join(header))
    rows = []
    for line, record in enumerate(reader, start=2):
        if not record:
            continue
        if len(record) != len(COLUMNS):
            raise FormatError(source, f"line {line}", f"{len(COLUMNS)} fields", f"{len(record)} fields")
        where = f"{source}:{line}"
        rows.append(ResultRow(**{c: _decode(c, v, where) for c, v in zip(COLUMNS, record, strict=True)}))
    return rows


def _complete_text(path: Path) -> tuple[str, int]:
    """The file's text up to its last newline (complete lines only) and the byte length of that part."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    return data[:end].decode(), end


def read_results(paths: str | Path | Iterable[str | Path]) -> list[ResultRow]:
    """Rows of one or more results files (read-only: a torn last line is skipped, not cut off)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    rows: list[ResultRow] = []
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise FormatError(str(path), "file", "an existing results CSV", "no such file")
        rows.extend(_parse(_complete_text(path)[0], str(path)))
    return rows


def prepare_results(path: str | Path) -> list[ResultRow]:
    """Make ``path`` ready to append to (cutting a torn last line off) and return the rows it already holds."""
    path = Path(path)
    if not path.exists():
        return []
    text, end = _complete_text(path)
    rows = _parse(text, str(path))  # parse first: never truncate a file that is not ours
    if end != path.stat().st_size:
        os.truncate(path, end)
    return rows


class ResultWriter:
    """Appends rows to a results CSV, writing the header only into a new (or empty) file.

    Holds an exclusive advisory lock while open, so two runs cannot interleave rows in one file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._handle: io.TextIOWrapper | None = None

    def __enter__(self) -> ResultWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a", newline="", encoding="utf-8")
        try:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # not POSIX: no lock, the rest still holds
            pass
        except OSError:
            handle.close()
            raise RuntimeError(f"{self.path}: another run is appending to this results file") from None
        self._handle = handle
        if self.path.stat().st_size == 0:
            self._write(",".join(COLUMNS) + "\n")
        return self

    def _write(self, line: str) -> None:
        assert self._handle is not None
        self._handle.write(line)
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def write(self, row: ResultRow) -> None:
        self._write(row_to_line(row))

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
