"""The one error type for bad input, so every message names the file, the field and what was expected."""

from __future__ import annotations


class FormatError(ValueError):
    """Raised when a file or document does not describe a valid instance or solution.

    The message always has the shape ``SOURCE: FIELD: expected WHAT[, got WHAT]`` so that a user who
    sees it knows where to look without reading a traceback.
    """

    def __init__(self, source: str, field: str, expected: str, got: object | None = None) -> None:
        self.source = str(source)
        self.field = field
        self.expected = expected
        self.got = got
        message = f"{self.source}: {field}: expected {expected}"
        if got is not None:
            message += f", got {_short(got)}"
        super().__init__(message)


def _short(value: object, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
