"""Small helpers every outside-format reader and writer shares (private to :mod:`routelab.data`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from routelab.problems import FormatError, atomic_write

T = TypeVar("T")


def read_text(path: str | Path) -> str:
    """The file's text; a missing or binary file is a FormatError naming it, not an OSError traceback."""
    path = Path(path)
    try:
        return path.read_text()
    except FileNotFoundError:
        raise FormatError(str(path), "file", "an existing file", "no such file") from None
    except IsADirectoryError:
        raise FormatError(str(path), "file", "a file", "a directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(str(path), "file", "a readable text file", str(exc)) from None


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` atomically (through :func:`routelab.problems.atomic_write`)."""
    atomic_write(path, lambda handle: handle.write(text.encode()))


def build(source: str | Path, make: Callable[[], T]) -> T:
    """Run an instance constructor, re-labelling its FormatError with the file the user gave.

    Instances validate themselves under their own name; a user reading ``C101.txt`` needs the file name.
    """
    try:
        return make()
    except FormatError as exc:
        raise FormatError(str(source), exc.field, exc.expected, exc.got) from None


def parse_float(source: str | Path, field: str, token: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise FormatError(str(source), field, "a number", token) from None
    if not math.isfinite(value):
        raise FormatError(str(source), field, "a finite number", token)
    return value


def parse_int(source: str | Path, field: str, token: str) -> int:
    value = parse_float(source, field, token)
    if not value.is_integer():
        raise FormatError(str(source), field, "an integer", token)
    return int(value)


def num(value: float | int | np.number) -> str:
    """A number written so that reading it back gives the same float64: ``3`` for 3.0, else ``repr``."""
    x = float(value)
    if x.is_integer() and abs(x) < 2**53:
        return str(int(x))
    return repr(x)
