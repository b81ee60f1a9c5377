"""Many applet logs at once through Arrow's JSON reader, into the columns records.py defines.

Decoding a million `second` records into Python dicts and picking their fields one by one is
most of the time a summary takes; Arrow's reader parses JSON lines straight into typed columns
in C++, on every core. The logs of one role are read into one buffer and parsed by one reader
call per BATCH_BYTES (a call costs about a millisecond, and a sweep holds thousands of logs).

The columnar result must equal the reference reader's (records.parse_log) to the record, so a
log takes this path only when Arrow cannot read it differently: every line one JSON object of
ASCII or valid UTF-8, every field of the role a number or null, every record of a known schema
version and type. Any other log (a corrupt or truncated line, a string where a counter belongs,
an unknown version that must be refused by name) is read by the reference reader, which counts
what it skips and raises what it refuses. Only the few records that are not `second` records
(start, summary, hist) are decoded by the json module.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from .errors import InputError
from .records import (
    KNOWN_VERSIONS,
    RECORD_TYPES,
    ROLE_COLUMNS,
    AppLog,
    interpret,
    parse_log,
    valid_seconds,
)

# Large enough that a call's fixed cost vanishes, small enough that the text and its table are
# a small part of the memory a summary needs.
BATCH_BYTES = 8 << 20
# Arrow splits a batch into blocks parsed in parallel; a few blocks per core keep both busy.
_BLOCK_BYTES = 2 << 20
# The columns outlive their batch (the logs' columns are views of them): from the C library's
# heap they are freed as a summary goes on, while Arrow's default pool keeps what it freed.
_POOL = pa.system_memory_pool()
# Where a log's start, summary and hist records are: the first line and the last few.
_NEAR_END = 8
_PARSE = {
    role: pj.ParseOptions(
        explicit_schema=pa.schema([("v", pa.int64()), ("type", pa.string()),
                                   *((name, pa.float64()) for name in names)]),
        # Fields of other records (start's addresses, hist's buckets) are skipped unconverted.
        unexpected_field_behavior="ignore",
    )
    for role, names in ROLE_COLUMNS.items()
}
_VERSIONS = pa.array(sorted(KNOWN_VERSIONS), pa.int64())
_TYPES = pa.array(sorted(RECORD_TYPES))


def _lines(buf: bytearray, start: int, end: int) -> int:
    """Lines of the log at buf[start:end] (ending in a newline) that Arrow reads one row from
    each, or 0 when it might not.

    Each line must start with `{` (no blank lines, nothing split across lines): then a line
    is one row or a parse error, unless it holds two objects, which the row count reveals.
    """
    if not buf.startswith(b"{", start, end):
        return 0
    newlines = buf.count(b"\n", start, end)
    if buf.count(b"\n{", start, end) != newlines - 1:
        return 0
    if np.frombuffer(buf, np.uint8, end - start, start).max() >= 0x80:
        try:
            buf[start:end].decode("utf-8")  # the reference reader counts an invalid line
        except UnicodeDecodeError:
            return 0
    return newlines


@dataclass(frozen=True)
class _Item:
    index: int  # in read_logs' requests
    path: Path
    start: int  # the log is buf[start:end]
    end: int
    lines: int


class _Batch:
    """Logs of one role read into one buffer, to be parsed together."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.buf = bytearray(BATCH_BYTES + (1 << 20))
        self.size = 0
        self.items: list[_Item] = []

    def fits(self, size: int) -> bool:
        return self.size + size + 1 <= len(self.buf)

    def make_room(self, size: int) -> None:
        """Called with the batch empty: a log larger than the buffer gets a buffer of its own
        size (the reader's export of the old one has ended with its parse)."""
        self.buf = bytearray(size + 1)

    def read(self, index: int, path: Path, file: BinaryIO, size: int) -> bytes | None:
        """Append the log to the batch, or return its text when Arrow must not read it."""
        start = self.size
        got = file.readinto(memoryview(self.buf)[start:start + size])
        rest = file.read()  # a log that grew since it was measured
        end = start + got
        if rest or not got:
            return bytes(self.buf[start:end]) + rest
        if self.buf[end - 1] != ord("\n"):
            self.buf[end] = ord("\n")
            end += 1
        lines = _lines(self.buf, start, end)
        if not lines:
            return bytes(self.buf[start:end])
        self.items.append(_Item(index, path, start, end, lines))
        self.size = end
        return None

    def text(self, item: _Item) -> bytes:
        return bytes(self.buf[item.start:item.end])

    def line(self, item: _Item, row: int) -> bytes:
        """Line `row` of a log, found from the nearer end of its text (row < _NEAR_END or
        row >= item.lines - _NEAR_END)."""
        if row < _NEAR_END:
            start = item.start
            for _ in range(row):
                start = self.buf.index(b"\n", start, item.end) + 1
            return bytes(self.buf[start:self.buf.index(b"\n", start, item.end)])
        end = item.end - 1
        for _ in range(item.lines - 1 - row):
            end = self.buf.rindex(b"\n", item.start, end)
        start = self.buf.rfind(b"\n", item.start, end)
        return bytes(self.buf[item.start if start < 0 else start + 1:end])


def _table(batch: _Batch, items: list[_Item]) -> pa.Table | None:
    view = memoryview(batch.buf)[items[0].start:items[-1].end]
    try:
        table = pj.read_json(pa.BufferReader(pa.py_buffer(view)),
                             read_options=pj.ReadOptions(block_size=_BLOCK_BYTES),
                             parse_options=_PARSE[batch.role], memory_pool=_POOL)
    except pa.ArrowInvalid:
        return None
    return table if table.num_rows == sum(item.lines for item in items) else None


def _others(batch: _Batch, item: _Item, rows: np.ndarray) -> list[Any]:
    """The records on lines `rows` of a log, decoded by the json module."""
    if len(rows) > 2 * _NEAR_END or not all(r < _NEAR_END or r >= item.lines - _NEAR_END
                                            for r in rows):
        lines = batch.text(item).split(b"\n")
        return [json.loads(lines[r]) for r in rows]
    return [json.loads(batch.line(item, int(r))) for r in rows]


def _pick(columns: dict[str, np.ndarray], rows: slice, mine: np.ndarray
          ) -> dict[str, np.ndarray]:
    """One log's `second` rows of the batch's columns.

    The applets write them as one run of lines between the start record and the summary:
    then the log's columns are views of the batch's, not thousands of small copies that would
    leave the heap fragmented once freed.
    """
    at = np.flatnonzero(mine)
    if at.size and at[-1] - at[0] + 1 == at.size:
        rows = slice(rows.start + int(at[0]), rows.start + int(at[-1]) + 1)
        return {name: values[rows] for name, values in columns.items()}
    return {name: values[rows][mine] for name, values in columns.items()}


def _flags(values: pa.ChunkedArray) -> np.ndarray:
    return pc.coalesce(values, False, memory_pool=_POOL).to_numpy()


def _parse(batch: _Batch, items: list[_Item], out: list[AppLog | None]) -> None:
    role = batch.role
    table = _table(batch, items)
    if table is None:
        if len(items) == 1:
            out[items[0].index] = parse_log(items[0].path, role, batch.text(items[0]))
        else:
            # One bad log fails the whole batch: halve it until the bad ones stand alone.
            half = len(items) // 2
            _parse(batch, items[:half], out)
            _parse(batch, items[half:], out)
        return
    known = (_flags(pc.is_in(table["v"], value_set=_VERSIONS, memory_pool=_POOL))
             & _flags(pc.is_in(table["type"], value_set=_TYPES, memory_pool=_POOL)))
    second = _flags(pc.equal(table["type"], "second", memory_pool=_POOL))
    columns = {name: table[name].to_numpy() for name in ROLE_COLUMNS[role]}
    del table
    row = 0
    for item in items:
        rows = slice(row, row + item.lines)
        row += item.lines
        if not known[rows].all():
            # An unknown version must be refused naming the file, a record without one
            # counted: the reference reader does both.
            out[item.index] = parse_log(item.path, role, batch.text(item))
            continue
        mine = second[rows]
        try:
            others = _others(batch, item, np.flatnonzero(~mine))
        except ValueError:  # a line Arrow accepts and the json module does not
            out[item.index] = parse_log(item.path, role, batch.text(item))
            continue
        out[item.index] = interpret(item.path, role,
                                    *valid_seconds(role, _pick(columns, rows, mine)),
                                    others, reader="arrow")


def _flush(batch: _Batch, out: list[AppLog | None]) -> None:
    if batch.items:
        _parse(batch, batch.items, out)
    batch.items = []
    batch.size = 0


def read_logs(requests: Sequence[tuple[Path, str]]) -> list[AppLog]:
    """Read every (log path, role) as records.read_log would, in the order given."""
    out: list[AppLog | None] = [None] * len(requests)
    batches: dict[str, _Batch] = {}
    for index, (path, role) in enumerate(requests):
        if role not in batches:
            batches[role] = _Batch(role)
        batch = batches[role]
        try:
            with path.open("rb") as file:
                size = os.fstat(file.fileno()).st_size
                if not batch.fits(size):
                    _flush(batch, out)
                    if not batch.fits(size):
                        batch.make_room(size)
                text = batch.read(index, path, file, size)
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
        if text is not None:
            out[index] = parse_log(path, role, text)
        if batch.size >= BATCH_BYTES:
            _flush(batch, out)
    for batch in batches.values():
        _flush(batch, out)
    logs = [log for log in out if log is not None]
    assert len(logs) == len(requests)
    return logs
