"""Many applet logs at once through Arrow's JSON reader, into the columns records.py defines.

Decoding a million `second` records into Python dicts and picking their fields one by one is
most of the time a summary takes; Arrow's reader parses JSON lines straight into typed columns
in C++, on every core. The logs of one role are read into one buffer and parsed by one reader
call per BATCH_BYTES (a call costs about a millisecond, and a sweep holds thousands of logs).
Arrow parses one batch in a worker thread while this thread reads the next batch and
interprets the one before: the Python part of the work no longer leaves a core idle.

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
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
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
_NEWLINE, _BRACE = ord("\n"), ord("{")


@dataclass(frozen=True)
class _Item:
    index: int  # in read_logs' requests
    path: Path
    start: int  # the log is buf[start:end], ending in a newline
    end: int
    lines: int = 0


@dataclass(frozen=True)
class _Chunk:
    """Logs of one role, one after the other in `buf`, parsed by one reader call."""

    role: str
    buf: bytearray
    items: list[_Item]

    def text(self, item: _Item) -> bytes:
        return bytes(self.buf[item.start:item.end])

    def line(self, item: _Item, row: int) -> bytes:
        """Line `row` of a log, found from the nearer end of its text (row < _NEAR_END or
        row >= item.lines - _NEAR_END)."""
        buf = self.buf
        if row < _NEAR_END:
            start = item.start
            for _ in range(row):
                start = buf.index(b"\n", start, item.end) + 1
            return bytes(buf[start:buf.index(b"\n", start, item.end)])
        end = item.end - 1
        for _ in range(item.lines - 1 - row):
            end = buf.rindex(b"\n", item.start, end)
        start = buf.rfind(b"\n", item.start, end)
        return bytes(buf[item.start if start < 0 else start + 1:end])


def _lines(chunk: _Chunk, scratch: np.ndarray) -> tuple[list[_Chunk], list[_Item]]:
    """The logs of a batch that Arrow reads one row per line from, with their line counts
    (in runs of adjacent logs), and those it might not read so.

    Each line must start with `{` (no blank lines, nothing split across lines): then a line
    is one row or a parse error, unless it holds two objects, which the row count reveals.
    The text must be ASCII or valid UTF-8 (the reference reader counts an invalid line).
    Checked on the whole batch at once, by numpy into `scratch` (two rows at least as long as
    the text): fresh memory costs a page fault per page.
    """
    items = chunk.items
    text = np.frombuffer(chunk.buf, np.uint8, items[-1].end)
    newline, flags = scratch[0, :len(text)], scratch[1, :len(text) - 1]
    np.equal(text, _NEWLINE, out=newline)
    # Every log ends in a newline: its lines are its newlines.
    counts = [int(np.count_nonzero(newline[item.start:item.end])) for item in items]
    log_starts = np.array([item.start for item in items])
    bad = np.zeros(len(items), bool)
    bad[0] = text[0] != _BRACE
    # A newline followed by anything but `{` (the last one ends the batch).
    np.logical_and(newline[:-1], np.not_equal(text[1:], _BRACE, out=flags), out=flags)
    if flags.any():
        bad[np.searchsorted(log_starts, np.flatnonzero(flags) + 1, "right") - 1] = True
    if np.greater_equal(text, 0x80, out=newline).any():
        for i in np.unique(np.searchsorted(log_starts, np.flatnonzero(newline),
                                           "right") - 1):
            try:
                chunk.text(items[i]).decode("utf-8")
            except UnicodeDecodeError:
                bad[i] = True
    runs: list[_Chunk] = []
    others: list[_Item] = []
    run: list[_Item] = []
    for item, lines, refused in zip(items, counts, bad.tolist(), strict=True):
        if refused:
            others.append(item)
            if run:
                runs.append(_Chunk(chunk.role, chunk.buf, run))
                run = []
        else:
            run.append(_Item(item.index, item.path, item.start, item.end, lines))
    if run:
        runs.append(_Chunk(chunk.role, chunk.buf, run))
    return runs, others


class _Batch:
    """Logs of one role read into one buffer, to be parsed together."""

    def __init__(self, role: str, buffers: list[bytearray]) -> None:
        self.role = role
        self.buffers = buffers  # free buffers of _buffer_bytes(), shared by the batches
        self.buf = bytearray()
        self.size = 0
        self.items: list[_Item] = []

    def fits(self, size: int) -> bool:
        if not self.buf:
            self.buf = self.buffers.pop() if self.buffers else bytearray(_buffer_bytes())
        return self.size + size + 1 <= len(self.buf)

    def take(self) -> _Chunk:
        """The logs read so far; the batch goes on in a new buffer, since the reader may
        still be parsing this one."""
        chunk = _Chunk(self.role, self.buf, self.items)
        self.buf = bytearray()
        self.items = []
        self.size = 0
        return chunk

    def make_room(self, size: int) -> None:
        """Called with the batch empty: a log larger than the buffer gets a buffer of its own
        size."""
        self.buf = bytearray(size + 1)

    def read(self, index: int, path: Path, file: BinaryIO, size: int) -> bytes | None:
        """Append the log to the batch, or return its text when Arrow must not read it."""
        start = self.size
        got = file.readinto(memoryview(self.buf)[start:start + size])
        rest = file.read()  # a log that grew since it was measured
        end = start + got
        if rest or not got:
            return bytes(self.buf[start:end]) + rest
        if self.buf[end - 1] != _NEWLINE:
            self.buf[end] = _NEWLINE
            end += 1
        self.items.append(_Item(index, path, start, end))
        self.size = end
        return None


def _buffer_bytes() -> int:
    return BATCH_BYTES + (1 << 20)


@dataclass
class _Parsed:
    """What Arrow read from a chunk, as numpy columns and flags per row."""

    columns: dict[str, np.ndarray]
    known: np.ndarray  # a record of a known version and type
    second: np.ndarray  # a `second` record


def _table(chunk: _Chunk) -> pa.Table | None:
    items = chunk.items
    view = memoryview(chunk.buf)[items[0].start:items[-1].end]
    try:
        table = pj.read_json(pa.BufferReader(pa.py_buffer(view)),
                             read_options=pj.ReadOptions(block_size=_BLOCK_BYTES),
                             parse_options=_PARSE[chunk.role], memory_pool=_POOL)
    except pa.ArrowInvalid:
        return None
    return table if table.num_rows == sum(item.lines for item in items) else None


def _flags(values: pa.ChunkedArray) -> np.ndarray:
    return pc.coalesce(values, False, memory_pool=_POOL).to_numpy()


def _read(chunk: _Chunk) -> _Parsed | None:
    """Arrow's columns of a chunk, or None when it refuses the chunk (run in a worker
    thread: Arrow leaves the interpreter free meanwhile)."""
    table = _table(chunk)
    if table is None:
        return None
    known = (_flags(pc.is_in(table["v"], value_set=_VERSIONS, memory_pool=_POOL))
             & _flags(pc.is_in(table["type"], value_set=_TYPES, memory_pool=_POOL)))
    second = _flags(pc.equal(table["type"], "second", memory_pool=_POOL))
    return _Parsed({name: table[name].to_numpy() for name in ROLE_COLUMNS[chunk.role]},
                   known, second)


def _text_lines(chunk: _Chunk, item: _Item, rows: list[int]) -> list[bytes]:
    """Lines `rows` of a log."""
    if len(rows) > 2 * _NEAR_END or not all(r < _NEAR_END or r >= item.lines - _NEAR_END
                                            for r in rows):
        lines = chunk.text(item).split(b"\n")
        return [lines[r] for r in rows]
    return [chunk.line(item, r) for r in rows]


def _decode(lines: list[bytes]) -> list[Any] | None:
    """The records on `lines`, each a JSON object Arrow read as one row, decoded by one
    call of the json module; None when it refuses one of them."""
    try:
        records = json.loads(b"[" + b",".join(lines) + b"]")
    except ValueError:
        return None
    return records if len(records) == len(lines) else None


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


def _parse(chunk: _Chunk, parsed: _Parsed | None, out: list[AppLog | None]) -> None:
    role = chunk.role
    items = chunk.items
    if parsed is None:
        if len(items) == 1:
            out[items[0].index] = parse_log(items[0].path, role, chunk.text(items[0]))
        else:
            # One bad log fails the whole chunk: halve it until the bad ones stand alone.
            for half in (items[:len(items) // 2], items[len(items) // 2:]):
                part = _Chunk(role, chunk.buf, half)
                _parse(part, _read(part), out)
        return
    # Row offsets of the logs; the rows that are not `second` records, and unknown ones.
    bounds = np.cumsum([0, *(item.lines for item in items)])
    other_rows = np.flatnonzero(~parsed.second)
    cuts = np.searchsorted(other_rows, bounds).tolist()
    unknown = np.zeros(len(items), bool)
    unknown[np.searchsorted(bounds, np.flatnonzero(~parsed.known), "right") - 1] = True
    todo: list[tuple[_Item, int, list[int]]] = []
    for i, item in enumerate(items):
        if unknown[i]:
            # An unknown version must be refused naming the file, a record without one
            # counted: the reference reader does both.
            out[item.index] = parse_log(item.path, role, chunk.text(item))
            continue
        start = int(bounds[i])
        todo.append((item, start, (other_rows[cuts[i]:cuts[i + 1]] - start).tolist()))
    # The few other records (start, summary, hist) of every log, decoded together.
    texts = [_text_lines(chunk, item, rows) for item, _start, rows in todo]
    decoded = _decode([line for lines in texts for line in lines])
    at = 0
    for (item, start, rows), lines in zip(todo, texts, strict=True):
        others = decoded[at:at + len(rows)] if decoded is not None else _decode(lines)
        at += len(rows)
        if others is None:  # a line Arrow accepts and the json module does not
            out[item.index] = parse_log(item.path, role, chunk.text(item))
            continue
        span = slice(start, start + item.lines)
        out[item.index] = interpret(
            item.path, role,
            *valid_seconds(role, _pick(parsed.columns, span, parsed.second[span])),
            others, reader="arrow")


class _Reader:
    """Batches handed to Arrow in a worker thread while the next ones are read, and
    interpreted in the order they were read."""

    def __init__(self, worker: ThreadPoolExecutor, out: list[AppLog | None]) -> None:
        self.worker = worker
        self.out = out
        self.pending: deque[tuple[_Chunk, Future[_Parsed | None]]] = deque()
        # Buffers are used again once interpreted: fresh memory costs a page fault per page.
        self.buffers: list[bytearray] = []
        self.scratch = np.empty((2, _buffer_bytes()), bool)

    def flush(self, batch: _Batch) -> None:
        if not batch.items:
            return
        chunk = batch.take()
        if self.scratch.shape[1] < chunk.items[-1].end:
            self.scratch = np.empty((2, chunk.items[-1].end), bool)
        runs, others = _lines(chunk, self.scratch)
        for item in others:
            self.out[item.index] = parse_log(item.path, chunk.role, chunk.text(item))
        for run in runs:
            self.pending.append((run, self.worker.submit(_read, run)))
        if not runs:
            self.recycle(chunk.buf)
        # One chunk parsing while this thread reads and interprets: both cores busy.
        while len(self.pending) > 1:
            self.finish()

    def finish(self) -> None:
        chunk, future = self.pending.popleft()
        _parse(chunk, future.result(), self.out)
        if all(other.buf is not chunk.buf for other, _ in self.pending):
            self.recycle(chunk.buf)

    def recycle(self, buf: bytearray) -> None:
        if len(buf) == _buffer_bytes():
            self.buffers.append(buf)


def read_logs(requests: Iterable[tuple[Path, str]]) -> list[AppLog]:
    """Read every (log path, role) as records.read_log would, in the order given."""
    out: list[AppLog | None] = []
    batches: dict[str, _Batch] = {}
    with ThreadPoolExecutor(max_workers=1) as worker:
        reader = _Reader(worker, out)
        for index, (path, role) in enumerate(requests):
            out.append(None)
            if role not in batches:
                batches[role] = _Batch(role, reader.buffers)
            batch = batches[role]
            try:
                with path.open("rb") as file:
                    size = os.fstat(file.fileno()).st_size
                    if not batch.fits(size):
                        reader.flush(batch)
                        if not batch.fits(size):
                            batch.make_room(size)
                    text = batch.read(index, path, file, size)
            except OSError as exc:
                raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
            if text is not None:
                out[index] = parse_log(path, role, text)
            if batch.size >= BATCH_BYTES:
                reader.flush(batch)
        for batch in batches.values():
            reader.flush(batch)
        while reader.pending:
            reader.finish()
    logs = [log for log in out if log is not None]
    assert len(logs) == len(out)
    return logs
