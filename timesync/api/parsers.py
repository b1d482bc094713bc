"""Request body parsers that refuse absurd JSON with a 400 instead of failing on it."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# No request of ours nests deeper than a few levels (a shift, a list of ids, a settings
# object); 32 is far past any of them and far below where Python's recursion ends.
MAX_JSON_DEPTH = 32


def _depth(value: Any) -> int:
    """How deep lists and objects nest (iteratively: the check must not recurse itself)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        current, level = pending.pop()
        if isinstance(current, dict):
            children = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        pending.extend((child, level + 1) for child in children)
    return deepest


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, plus: nesting deeper than MAX_JSON_DEPTH is a parse error (400).
    Python's decoder raises RecursionError (not ValueError, which DRF catches) on JSON nested
    a few thousand deep."""

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: dict | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as error:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels."
                             ) from error
        if _depth(data) > MAX_JSON_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.")
        return data
