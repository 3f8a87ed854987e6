"""Reading import files as a stream of (line number, record), counting bytes for a progress bar.

Nothing here holds more than one record: memory stays flat whatever the file size.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

CSV_SUFFIXES = {".csv"}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}


class UnsupportedFile(ValueError):
    """The file is not JSON Lines or CSV, not UTF-8 text, or its header cannot be read."""


@dataclass(frozen=True, slots=True)
class Record:
    line: int
    data: dict[str, Any] | None
    """The parsed record; None when the line could not be parsed (see `problem`)."""
    problem: str | None = None


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


def _lines(handle: BinaryIO, progress: ProgressCallback | None) -> Iterator[str]:
    for raw in handle:
        if progress is not None:
            progress(len(raw))
        yield raw.decode("utf-8-sig") if raw.startswith(b"\xef\xbb\xbf") else raw.decode("utf-8")


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    raise UnsupportedFile(f"{path.name}: expected a .jsonl (JSON Lines) or .csv (Akeneo flat export) file")


def read_jsonl(handle: BinaryIO, progress: ProgressCallback | None = None) -> Iterator[Record]:
    require_utf8(handle)
    for number, line in enumerate(_lines(handle, progress), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Record(number, None, f"invalid JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(data, dict):
            yield Record(number, None, "expected a JSON object on each line")
            continue
        yield Record(number, data)


def read_csv(handle: BinaryIO, progress: ProgressCallback | None = None) -> tuple[list[str], Iterator[Record]]:
    """The header, and the rows as {column: cell}; `;` separated, quoted multi-line cells allowed.

    Line numbers are those of the row's first physical line, as an editor shows them.
    """
    require_utf8(handle)
    reader = csv.reader(_lines(handle, progress), delimiter=";", quotechar='"', strict=True)
    try:
        header = [column.strip() for column in next(reader)]
    except StopIteration as exc:
        raise UnsupportedFile("the CSV file is empty") from exc
    except csv.Error as exc:
        raise UnsupportedFile(f"the CSV header cannot be read: {exc}") from exc
    return header, _csv_rows(reader, header)


def _csv_rows(reader: Any, header: list[str]) -> Iterator[Record]:
    start = 2
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Record(start, None, f"malformed CSV: {exc}")
            start = reader.line_num + 1
            continue
        if cells and any(cell.strip() for cell in cells):
            if len(cells) != len(header):
                yield Record(start, None, f"expected {len(header)} cells, found {len(cells)}")
            else:
                yield Record(start, dict(zip(header, cells, strict=True)))
        start = reader.line_num + 1
