"""Open CSV / JSON-lines / Parquet files through DuckDB's own readers, with errors a user can act on.

DuckDB does the reading (`monoscope.core.store.staging`); when it fails, a small pure-Python
pass over the file finds the exact line and reason (bad UTF-8 byte, unterminated quote, wrong
field count, malformed JSON), since that only runs on the error path it costs nothing on good
files.
"""

from __future__ import annotations

import bz2
import csv
import difflib
import gzip
import io
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, cast

from monoscope.core.errors import ImportFailed
from monoscope.core.store import staging
from monoscope.core.store.staging import ErrorTranslator, LineStats, Stage, TableSource

FORMATS = ("csv", "jsonl", "parquet")
ENCODINGS = ("utf-8", "latin-1", "utf-16")
# DuckDB's read_csv silently drops a FINAL line longer than max_line_size (2 MB by default).
# A pre-pass over the bytes measures the longest line, the store raises the reader's limit to
# fit it, and the row count is cross-checked afterwards.
MAX_COLUMNS = 10_000  # a header wider than this is a wrong delimiter or no header at all
MAX_HEADER_BYTES = 1 << 20


def scan_lines(path: Path) -> LineStats:
    """Count lines and find the longest, at disk speed (newline positions found by numpy in
    4 MB chunks; no per-line Python objects)."""
    import numpy as np

    lines = longest = 0
    carry = 0  # bytes of the line still open at the end of the previous chunk
    with open_binary(path) as fh:
        while chunk := fh.read(1 << 22):
            ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)
            if not len(ends):
                carry += len(chunk)
                continue
            longest = max(longest, carry + int(ends[0]))
            if len(ends) > 1:
                longest = max(longest, int(np.diff(ends).max()) - 1)
            lines += len(ends)
            carry = len(chunk) - int(ends[-1]) - 1
    if carry:
        lines += 1
        longest = max(longest, carry)
    return LineStats(lines, longest)


def detect_format(path: Path, fmt: str | None) -> str:
    """csv | jsonl | parquet, from --format or the file name (``.gz`` allowed)."""
    if fmt:
        fmt = fmt.lower()
        if fmt in ("json", "ndjson"):
            fmt = "jsonl"
        if fmt not in FORMATS:
            raise ImportFailed(f"Unknown format {fmt!r}: use one of {', '.join(FORMATS)}.")
        return fmt
    name = path.name.lower().removesuffix(".gz")
    for suffixes, found in (((".csv", ".tsv"), "csv"), ((".jsonl", ".json", ".ndjson"), "jsonl"),
                            ((".parquet", ".pq"), "parquet")):
        if name.endswith(suffixes):
            return found
    raise ImportFailed(
        f"Cannot tell the format of {path.name} from its name: add --format csv, jsonl or parquet."
    )


def open_binary(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed if it is .gz or .bz2."""
    name = path.name.lower()
    if name.endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    if name.endswith(".bz2"):
        return cast(IO[bytes], bz2.open(path, "rb"))
    return path.open("rb")


def check_file(path: Path) -> None:
    """Exists, is a file, and holds more than whitespace."""
    if not path.exists():
        raise ImportFailed(f"{path} does not exist: check the path.")
    if not path.is_file():
        raise ImportFailed(f"{path} is not a file.")
    try:
        with open_binary(path) as fh:
            head = fh.read(4096)
            while head and not head.strip():
                head = fh.read(4096)
    except (OSError, EOFError) as exc:
        raise ImportFailed(f"Cannot read {path}: {exc}. Is the file complete?") from None
    if not head.strip():
        raise ImportFailed(f"{path} is empty: there is nothing to import.")


def _delimiter(path: Path) -> str:
    return "\t" if path.name.lower().removesuffix(".gz").endswith(".tsv") else ","


@contextmanager
def _csv_fields_unlimited() -> Iterator[None]:
    """The csv module's 128 KB field limit would misdiagnose any long valid text."""
    old = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)
    try:
        yield
    finally:
        csv.field_size_limit(old)


class _HeaderTooLong(Exception):
    pass


def _bounded_lines(text: IO[str], limit: int) -> Iterator[str]:
    """Lines of a text stream, raising _HeaderTooLong once more than ``limit`` chars were read."""
    total = 0
    while True:
        line = text.readline(limit + 1 - total)
        if not line:
            return
        total += len(line)
        if total > limit:
            raise _HeaderTooLong
        yield line


def csv_header(path: Path, encoding: str, delimiter: str) -> list[str]:
    """Column names from the first record; see `read_csv_header`."""
    return read_csv_header(path, encoding, delimiter)[0]


def read_csv_header(path: Path, encoding: str, delimiter: str) -> tuple[list[str], list[int]]:
    """(column names, positions of unnamed columns) from the first record.

    A UTF-8 byte-order mark, as Excel writes, is dropped. Reads at most 1 MB, so a file without line breaks or a giant header fails at once. An empty
    name (the index column pandas writes, ``,film,review``) becomes ``column<i>``, 0-based, as
    DuckDB names unnamed columns.
    """
    enc = "utf-8-sig" if encoding == "utf-8" else encoding
    with open_binary(path) as raw, _csv_fields_unlimited():
        text = io.TextIOWrapper(raw, encoding=enc, errors="replace", newline="")
        try:
            row = next(csv.reader(_bounded_lines(text, MAX_HEADER_BYTES), delimiter=delimiter), [])
        except _HeaderTooLong:
            raise ImportFailed(
                f"{path}: the first line (the header) is longer than {MAX_HEADER_BYTES // (1 << 20)} MB. "
                "The first line should name the columns; check that the file has a header and "
                "line breaks, and that it is a CSV/TSV file."
            ) from None
        except csv.Error as err:
            raise ImportFailed(f"{path}, line 1: the header cannot be read ({err}).") from None
    if len(row) > MAX_COLUMNS:
        raise ImportFailed(
            f"{path}: the header has {len(row):,} columns; Monoscope reads at most {MAX_COLUMNS:,}. "
            f"Check the delimiter ({'tab' if delimiter == chr(9) else repr(delimiter)}, from the "
            "file name: .tsv means tab) and that the first line is a header."
        )
    cols = [c.strip() for c in row]
    if not any(cols):
        raise ImportFailed(f"{path}: the first line should be a header naming the columns.")
    taken = set(cols)
    unnamed = [i for i, c in enumerate(cols) if not c]
    for i in unnamed:
        name = f"column{i}"
        while name in taken:
            name += "_"
        cols[i] = name
        taken.add(name)
    return cols, unnamed


def open_table(stage: Stage, path: Path, fmt: str, encoding: str = "utf-8") -> TableSource:
    """The file as a DuckDB table function with its column types; raises ImportFailed."""
    on_error = read_errors(path, fmt, encoding)
    if fmt == "csv":
        if encoding not in ENCODINGS:
            raise ImportFailed(f"Unsupported encoding {encoding!r}: use one of {', '.join(ENCODINGS)}.")
        delim = _delimiter(path)
        cols, unnamed = read_csv_header(path, encoding, delim)
        dupes = sorted(c for c, n in Counter(cols).items() if n > 1)
        if dupes:
            raise ImportFailed(f"{path}: the header repeats the column(s) {', '.join(dupes)}; rename them.")
        notes = [f"header column {i + 1} has no name (a pandas index column?): read as "
                 f"{cols[i]!r}, imported only if mapped" for i in unnamed]
        return staging.open_csv(path, cols, delimiter=delim, encoding=encoding,
                                stats=scan_lines(path), on_error=on_error, notes=notes)
    if fmt == "jsonl":
        src = staging.open_json_lines(stage, path, on_error)
        if list(src.types) == ["json"]:
            raise ImportFailed(f"{path}: the lines are not JSON objects with named fields.")
        return src
    return staging.open_parquet(stage, path, on_error)


def require_columns(path: Path, found: dict[str, str], wanted: dict[str, str | None]) -> None:
    """Every mapped column exists; else list the columns found and the closest name."""
    for role, col in wanted.items():
        if col is None or col in found:
            continue
        close = difflib.get_close_matches(col, list(found), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ImportFailed(
            f"{path} has no column {col!r} (mapped to {role}).{hint} Columns found: "
            f"{', '.join(found)}. Fix the mapping, e.g. --map {role}=<one of those>."
        )


_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")


def read_errors(path: Path, fmt: str, encoding: str = "utf-8") -> ErrorTranslator:
    """How the store words DuckDB's errors reading this file (see `translate_error`)."""
    return lambda text: translate_error(text, path, fmt, encoding)


def translate_error(text: str, path: Path, fmt: str, encoding: str = "utf-8") -> ImportFailed:
    """DuckDB's message about a file it cannot read, as an ImportFailed naming the line and
    what to do."""
    if fmt == "jsonl":
        found = diagnose_jsonl(path)
        if found:
            return ImportFailed(found)
    if fmt == "csv":
        found = diagnose_csv(path, encoding)
        if found:
            return ImportFailed(found)
        m = _CSV_LINE.search(text)
        if m:
            return ImportFailed(f"{path}, line {m.group(1)}: {_csv_reason(text)}")
    if fmt == "parquet":
        return ImportFailed(f"{path} is not a readable Parquet file ({_first_line(text)}).")
    return ImportFailed(f"Cannot read {path}: {_first_line(text)}")


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line.removeprefix("Invalid Input Error: ")
    return text


def _csv_reason(text: str) -> str:
    if "Invalid unicode" in text:
        return ("a byte that is not UTF-8. Re-encode the file as UTF-8 (iconv -f latin1 -t utf-8) "
                "or import it with --encoding latin-1.")
    if "unterminated quote" in text:
        return "a quoted field is never closed (unterminated quote). Close the quote or drop the row."
    m = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if m:
        return (f"the row has {m.group(2)} fields but the header has {m.group(1)}: a delimiter "
                "inside an unquoted text, or a truncated row. Quote the field or fix the row.")
    return _first_line(text)


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with open_binary(path) as fh:
        yield from enumerate(fh, start=1)


def diagnose_jsonl(path: Path) -> str | None:
    """First line that is not UTF-8 or not a JSON object, described; None if all are fine."""
    for no, raw in _lines(path):
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            return (f"{path}, line {no}: byte 0x{raw[err.start]:02x} at column {err.start + 1} is "
                    "not UTF-8. Re-encode the file as UTF-8 (iconv -f latin1 -t utf-8 in > out).")
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            return (f"{path}, line {no}: not valid JSON ({err.msg} at column {err.colno}); "
                    "each line must be one complete JSON object. Fix or remove the line.")
        if not isinstance(obj, dict):
            return f"{path}, line {no}: a JSON {type(obj).__name__}, expected an object {{...}}."
    return None


def diagnose_csv(path: Path, encoding: str) -> str | None:
    """Python's csv module re-reads the file to name the first bad line exactly."""
    with _csv_fields_unlimited():
        return _diagnose_csv(path, encoding)


def _diagnose_csv(path: Path, encoding: str) -> str | None:
    delim = _delimiter(path)
    if encoding == "utf-8":
        for no, raw in _lines(path):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as err:
                return (f"{path}, line {no}: byte 0x{raw[err.start]:02x} is not UTF-8. Re-encode "
                        "the file as UTF-8 (iconv -f latin1 -t utf-8) or import it with "
                        "--encoding latin-1.")
    with open_binary(path) as raw_fh:
        text = io.TextIOWrapper(raw_fh, encoding=encoding, errors="replace", newline="")
        reader = csv.reader(text, delimiter=delim, strict=True)
        width = None
        start = 1
        try:
            for row in reader:
                if width is None:
                    width = len(row)
                elif row and len(row) != width:
                    return (f"{path}, line {start}: the row has {len(row)} fields but the header "
                            f"has {width}: a delimiter inside an unquoted text, or a truncated "
                            "row. Quote the field or fix the row.")
                start = reader.line_num + 1
        except csv.Error as err:
            return (f"{path}, line {start}: {err}; most likely a quoted field is never closed "
                    "(unterminated quote). Close the quote or drop the row.")
    return None


def row_describer(path: Path, fmt: str, encoding: str = "utf-8") -> Callable[[int], str]:
    """Maps a 1-based data row number to 'line N' (CSV, JSON lines) or 'row N' (Parquet)."""
    def describe(row_no: int) -> str:
        if fmt == "parquet":
            return f"row {row_no}"
        if fmt == "jsonl":
            seen = 0
            for no, raw in _lines(path):
                if raw.strip():
                    seen += 1
                    if seen == row_no:
                        return f"line {no}"
            return f"row {row_no}"
        with open_binary(path) as raw_fh, _csv_fields_unlimited():
            text = io.TextIOWrapper(raw_fh, encoding=encoding, errors="replace", newline="")
            reader = csv.reader(text, delimiter=_delimiter(path))
            start = 1
            for i, _row in enumerate(reader):
                if i == row_no:
                    return f"line {start}"
                start = reader.line_num + 1
        return f"row {row_no}"
    return describe


def check_csv_rows(path: Path, encoding: str, rows_read: int, stats: LineStats | None = None) -> None:
    """Cross-check DuckDB's row count against the file, so no row can vanish unnoticed.

    Fast path: the file's line count (from the byte pre-pass) equals rows + header. When texts
    span lines or the file has blank lines, the csv module counts the records exactly.
    """
    lines = (stats or scan_lines(path)).lines
    if rows_read == lines - 1:
        return
    with open_binary(path) as raw_fh, _csv_fields_unlimited():
        enc = "utf-8-sig" if encoding == "utf-8" else encoding
        text = io.TextIOWrapper(raw_fh, encoding=enc, errors="replace", newline="")
        records = sum(1 for row in csv.reader(text, delimiter=_delimiter(path)) if row) - 1
    if records != rows_read:
        raise ImportFailed(
            f"{path}: DuckDB read {rows_read:,} rows but the file holds {records:,} records, so "
            f"{abs(records - rows_read):,} would be lost; nothing was imported. Check the file's "
            "last lines (a line break or quote may be missing) or convert it to Parquet."
        )
