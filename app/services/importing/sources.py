"""Reading import files as a stream of (line number, record), counting bytes for a progress bar.

Nothing here holds more than one record: memory stays flat whatever the file size.
"""

from __future__ import annotations

import codecs
import csv
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from app.domain.storable import lone_surrogate_refused
from app.domain.values import MAX_TEXT_LENGTH

CSV_SUFFIXES = {".csv"}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
MAX_INT_DIGITS = 4300
"""Python's default limit on the digits of an int read from text: far more than any value keeps."""


class UnsupportedFile(ValueError):
    """The file is not JSON Lines or CSV, not UTF-8 text, or its header cannot be read."""


@dataclass(frozen=True, slots=True)
class Record:
    line: int
    data: dict[str, Any] | None
    """The parsed record; None when the line could not be parsed (see `problem`)."""
    problem: str | None = None
    rest_unread: bool = False
    """The reader could not go on past this record: the rest of the file was not imported."""


ProgressCallback = Callable[[int], None]


def require_utf8(handle: BinaryIO) -> None:
    """Refuse a file that is not UTF-8 text before a single row is read for import, then rewind it.

    A file saved in another encoding (a spreadsheet's Latin-1 or Windows-1252)
    fails on every accented line, not on one row, so it is refused whole,
    naming its first such line, rather than imported up to it. The pass reads
    line by line (decoding runs in C), so memory stays flat.
    """
    for number, raw in enumerate(handle, start=1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnsupportedFile(
                f"line {number} is not UTF-8 text (byte 0x{raw[exc.start]:02x}): save the file as UTF-8"
            ) from None
    handle.seek(0)


def _lines(handle: BinaryIO, progress: ProgressCallback | None, *, every_bom: bool = False) -> Iterator[str]:
    """The file's lines as text, without the byte-order mark that opens it.

    Further down, a CSV line may be the rest of a quoted multi-line cell that
    goes on with U+FEFF as text (Akeneo's Icecat descriptions hold one): it is
    kept. A JSON Lines line's mark (`every_bom`) is outside any JSON string, as
    in files joined with cat, and is dropped.
    """
    for number, raw in enumerate(handle):
        if progress is not None:
            progress(len(raw))
        bom = raw.startswith(codecs.BOM_UTF8) and (number == 0 or every_bom)
        yield raw.decode("utf-8-sig" if bom else "utf-8")


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    raise UnsupportedFile(f"{path.name}: expected a .jsonl (JSON Lines) or .csv (Akeneo flat export) file")


def read_jsonl(handle: BinaryIO, progress: ProgressCallback | None = None) -> Iterator[Record]:
    require_utf8(handle)
    _refuse_json_document(handle)
    for number, line in enumerate(_lines(handle, progress, every_bom=True), start=1):
        if not line.strip():
            continue
        try:
            data = _parse(line)
        except UnreadableJson as exc:
            yield Record(number, None, str(exc))
            continue
        if not isinstance(data, dict):
            yield Record(number, None, "expected a JSON object on each line")
            continue
        refused = lone_surrogate_refused(line, data)
        yield Record(number, data) if refused is None else Record(number, None, refused)


def _exact_float(text: str) -> float | Decimal:
    """A float when it reads back as written; otherwise the exact Decimal, for the value's check to judge."""
    number = float(text)
    exact = Decimal(text)
    return number if Decimal(repr(number)) == exact else exact


class UnreadableJson(ValueError):
    """A line that is not JSON, or that Python cannot read as JSON (nested too deep)."""


def _parse(line: str) -> Any:
    """The line's JSON; its numbers read exactly (_exact_float, _whole) for the values' checks to judge."""
    try:
        return json.loads(line, parse_float=_exact_float, parse_int=_whole)
    except json.JSONDecodeError as exc:
        raise UnreadableJson(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise UnreadableJson(f"the line's JSON is nested more than {sys.getrecursionlimit():,} levels deep") from None


def _whole(text: str) -> int | Decimal:
    """An int, or the Decimal for the value's check to refuse when it has more digits than Python reads as an int
    (sys.get_int_max_str_digits): its ValueError stopped the whole import."""
    return int(text) if len(text.lstrip("-")) <= MAX_INT_DIGITS else Decimal(text)


def _refuse_json_document(handle: BinaryIO) -> None:
    """A pretty-printed JSON document or an array fails on every line: refuse it once, then rewind.

    The first two non-blank lines are looked at: JSON Lines whose first line
    alone is broken still has a whole object on its second line.
    """
    lines = (raw.decode("utf-8-sig").strip() for raw in handle)
    non_blank = (line for line in lines if line)
    first, second = next(non_blank, ""), next(non_blank, "")
    handle.seek(0)
    if first.startswith("[") or (first.startswith("{") and not _is_object(first) and not _is_object(second)):
        raise UnsupportedFile("the file is a JSON document, not JSON Lines (one object per line)")


def _is_object(line: str) -> bool:
    try:
        return isinstance(_parse(line), dict)
    except UnreadableJson:
        return False


def read_csv(handle: BinaryIO, progress: ProgressCallback | None = None) -> tuple[list[str], Iterator[Record]]:
    """The header, and the rows as {column: cell}; `;` separated, quoted multi-line cells allowed.

    Line numbers are those of the row's first physical line, as an editor shows them.
    """
    require_utf8(handle)
    # Python's default (131,072 characters) is below what a value may hold. The limit is the process's, so it is
    # set, not just raised: a cell over what a value holds is refused as such (`_malformed`), whatever else in the
    # process set it to before.
    csv.field_size_limit(MAX_TEXT_LENGTH)
    reader = csv.reader(_lines(handle, progress), delimiter=";", quotechar='"', strict=True)
    try:
        header = [column.strip() for column in next(reader)]
    except StopIteration as exc:
        raise UnsupportedFile("the CSV file is empty") from exc
    except csv.Error as exc:
        raise UnsupportedFile(f"the CSV header cannot be read: {exc}") from exc
    _check_header(header)
    return header, _csv_rows(reader, header)


def _check_header(header: list[str]) -> None:
    if len(header) == 1 and ("," in header[0] or "\t" in header[0]):
        raise UnsupportedFile(
            "the file must be ;-separated (Akeneo CSV): its header is one column with , or tabs in it"
        )
    seen: set[str] = set()
    for column in header:
        if column in seen and column:  # (columns with no name, a trailing `;`, are the reader's to skip)
            raise UnsupportedFile(f"the header names column '{column}' twice: keep one, or rename the other")
        seen.add(column)


def _csv_rows(reader: Any, header: list[str]) -> Iterator[Record]:
    start = 2
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield _malformed(exc, start, reader.line_num)
            start = reader.line_num + 1
            continue
        if cells and any(cell.strip() for cell in cells):
            if len(cells) != len(header):
                yield Record(start, None, _cell_count(len(header), len(cells), start, reader.line_num))
            else:
                yield Record(start, dict(zip(header, cells, strict=True)))
        start = reader.line_num + 1


def _malformed(exc: csv.Error, start: int, end: int) -> Record:
    """What a csv error means for the user: which lines were lost, and why."""
    message = str(exc)
    if message.startswith("field larger than field limit"):
        limit = f"a cell is over {MAX_TEXT_LENGTH:,} characters, the most a value holds"
        return Record(start, None, limit + _open_quote_hint(start, end))
    if message == "unexpected end of data":
        lost = f": the {end - start:,} lines after it went into its cell and were not imported" if end > start else ""
        return Record(start, None, f"a quote opened on line {start} is never closed{lost}", rest_unread=True)
    return Record(start, None, f"malformed CSV: {message}" + _open_quote_hint(start, end))


def _cell_count(expected: int, found: int, start: int, end: int) -> str:
    return f"expected {expected} cells, found {found}" + _open_quote_hint(start, end)


def _open_quote_hint(start: int, end: int) -> str:
    """A row that ran over several lines and then failed most often has a quote left open on its first line."""
    if end <= start:
        return ""
    return f" (lines {start} to {end} were read as this one row: is a quote on line {start} left open?)"
