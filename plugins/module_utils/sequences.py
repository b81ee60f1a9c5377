"""Integer value lists as written by users: lists, "32 64 128" or "MIN..STEP..MAX"."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError

# A sweep longer than this is almost certainly a typo (e.g. a rate step of 1 pps).
MAX_VALUES = 10000

_INT_RE = re.compile(r"^[+-]?\d+$")
_SPLIT_RE = re.compile(r"[\s,]+")


def _parse_int(token: str, name: str, source: object) -> int:
    if not _INT_RE.match(token):
        raise IcperfInputError(f"{name}: {source!r}: {token!r} is not an integer")
    return int(token)


def _expand_range(token: str, name: str) -> list[int]:
    parts = token.split("..")
    if len(parts) != 3:
        raise IcperfInputError(
            f"{name}: {token!r}: a sequence is written MIN..STEP..MAX (e.g. 64..32..256)"
        )
    low, step, high = (_parse_int(part, name, token) for part in parts)
    if step <= 0:
        raise IcperfInputError(f"{name}: {token!r}: step must be > 0")
    if low > high:
        raise IcperfInputError(f"{name}: {token!r}: MIN ({low}) is greater than MAX ({high})")
    count = (high - low) // step + 1
    if count > MAX_VALUES:
        raise IcperfInputError(
            f"{name}: {token!r}: expands to {count} values (more than {MAX_VALUES})"
        )
    return list(range(low, high + 1, step))


def _expand_string(text: str, name: str) -> list[int]:
    tokens = [token for token in _SPLIT_RE.split(text.strip()) if token]
    if not tokens:
        raise IcperfInputError(f"{name}: {text!r}: empty, give at least one value")
    values: list[int] = []
    for token in tokens:
        if ".." in token:
            values.extend(_expand_range(token, name))
        else:
            values.append(_parse_int(token, name, text))
    return values


def _expand_items(items: Iterable[object], name: str) -> list[int]:
    values: list[int] = []
    for position, item in enumerate(items):
        item_name = f"{name}[{position}]"
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise IcperfInputError(
                f"{item_name}: {item!r} is not an integer ({type(item).__name__})"
            )
        values.extend([item] if isinstance(item, int) else _expand_string(item, item_name))
    return values


def expand_sequence(value: object, name: str) -> list[int]:
    """Expand a user-written value list into integers, keeping the order given.

    Accepts an int, a list of ints or integer strings, a string of integers separated by
    spaces or commas, or "MIN..STEP..MAX" (MAX included); list items and string tokens may
    themselves be MIN..STEP..MAX. Rejects empty input, non-integers (floats, booleans),
    zero or negative steps, MIN > MAX and repeated values, naming ``name`` in the message.
    """
    if isinstance(value, bool) or value is None:
        raise IcperfInputError(f"{name}: {value!r} is not an integer or a list of integers")
    if isinstance(value, int):
        values = [value]
    elif isinstance(value, str):
        values = _expand_string(value, name)
    elif isinstance(value, list | tuple):
        if not value:
            raise IcperfInputError(f"{name}: empty list, give at least one value")
        values = _expand_items(value, name)
    else:
        raise IcperfInputError(
            f"{name}: {value!r} is not an integer or a list of integers "
            f"({type(value).__name__})"
        )
    if len(values) > MAX_VALUES:
        raise IcperfInputError(f"{name}: {len(values)} values (more than {MAX_VALUES})")
    seen: set[int] = set()
    for number in values:
        if number in seen:
            raise IcperfInputError(f"{name}: {number} appears more than once")
        seen.add(number)
    return values
