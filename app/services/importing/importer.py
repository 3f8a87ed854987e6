"""Imports: read a file as a stream, check and write it in batches, report per row.

A row is written whole or not at all: each batch is one transaction, and a
bad row is left out of its batch with its reasons. A row is never refused for
a column the catalog has no place for: such columns are named once and skipped.
An import asked to stop ends between two batches, so what it wrote is every row
up to a line and nothing after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.db.engine import Database
from app.db.models import Product, ProductValue
from app.domain.errors import InvalidInput, TenantNotFound, UserErrorItem
from app.repositories.tenants import TenantRepository
from app.services.attributes import AttributeService
from app.services.catalog_setup import CatalogSetupService
from app.services.importing.akeneo import (
    ProductLayout,
    attribute_row,
    check_attribute_header,
    product_draft,
    read_layout,
)
from app.services.importing.inputs import LineRejected, attribute_input, product_input
from app.services.importing.sources import ProgressCallback, Record, UnsupportedFile, file_format, read_csv, read_jsonl
from app.services.products import ProductService

BATCH_SIZE = 500
SAMPLE_SIZE = 100


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    reasons: list[str]


@dataclass(frozen=True, slots=True)
class Repeat:
    """A row whose SKU (or attribute code) an earlier imported row of the file had: it was applied over it."""

    line: int
    key: str
    first_line: int


@dataclass
class ImportReport:
    """What an import did. Only the first rejections and repeats are kept; `on_reject` sees every rejection.

    `imported` and `changed` count products (or attributes), not rows: a SKU on
    two rows is one product, its later row applied over the earlier one, and
    is counted once, the rows after its first counted in `repeated`. The file's
    keys are held for that, about a hundred bytes each.
    """

    imported: int = 0
    changed: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    repeated: int = 0
    repeats: list[Repeat] = field(default_factory=list)
    skipped_columns: dict[str, str] = field(default_factory=dict)
    unread: str | None = None
    """Why the file was not read to its end (an unclosed quote), when it was not: the rows after are not counted."""
    written_through: int = 0
    """The last line of the last batch written: every row up to it was imported or rejected, none after it written."""
    stopped: bool = False
    """Asked to stop before the file's end: nothing after `written_through` was imported."""

    first_lines: dict[str, int] = field(default_factory=dict, repr=False)
    """Key -> the line of the first row that imported it."""
    changed_keys: set[str] = field(default_factory=set, repr=False)

    def reject(self, rejection: Rejection) -> None:
        self.rejected += 1
        if len(self.rejections) < SAMPLE_SIZE:
            self.rejections.append(rejection)

    def count(self, key: str, line: int, changed: bool) -> None:
        """One row written: a new product (or attribute), or one an earlier row wrote, which is not counted again."""
        first_line = self.first_lines.setdefault(key, line)
        if first_line == line:
            self.imported += 1
        else:
            self.repeated += 1
            if len(self.repeats) < SAMPLE_SIZE:
                self.repeats.append(Repeat(line, key, first_line))
        if changed and key not in self.changed_keys:
            self.changed_keys.add(key)
            self.changed += 1


@dataclass(frozen=True, slots=True)
class Pending:
    """A checked-out row waiting for its batch: its line and how to name its values in messages."""

    line: int
    item: Any
    value_names: Sequence[str] = ()


class Importer:
    def __init__(
        self,
        db: Database,
        *,
        on_reject: Callable[[Rejection], None] | None = None,
        progress: ProgressCallback | None = None,
        stop: asyncio.Event | None = None,
    ) -> None:
        """`stop`, once set (by a Ctrl-C), ends the import after the batch being written."""
        self.db = db
        self.on_reject = on_reject
        self.progress = progress
        self.stop = stop

    async def tenant_id(self, tenant_code: str) -> int:
        async with self.db.reader() as session:
            tenant = await TenantRepository(session).by_code(tenant_code)
        if tenant is None:
            raise TenantNotFound(tenant_code)
        return tenant.id

    async def attributes(self, tenant_code: str, path: Path) -> ImportReport:
        """Import attributes from JSON Lines (AttributeInput) or Akeneo's attributes.csv."""
        tenant_id = await self.tenant_id(tenant_code)
        report = ImportReport()
        with path.open("rb") as handle:
            records = self._attribute_records(handle, path)
            rows = _batches(self._attribute_rows(records, report), distinct=lambda pending: pending.item.code)
            for batch in self._until_stopped(rows, report):
                await self._write_attributes(tenant_id, batch, report)
        return report

    async def products(self, tenant_code: str, path: Path) -> ImportReport:
        """Import products from JSON Lines (ProductInput) or Akeneo's products.csv."""
        tenant_id = await self.tenant_id(tenant_code)
        async with self.db.reader() as session:
            spec = await CatalogSetupService(session).spec(tenant_id)
        report = ImportReport()
        with path.open("rb") as handle:
            if file_format(path) == "csv":
                header, records = read_csv(handle, self.progress)
                layout = read_layout(header, spec)
                _refuse_unknown_columns(layout)
                report.skipped_columns = dict(layout.skipped)
                rows = self._csv_products(records, layout, spec, report)
            else:
                rows = self._jsonl_products(read_jsonl(handle, self.progress), report)
            for batch in self._until_stopped(_batches(rows, distinct=lambda pending: pending.item.sku), report):
                await self._write_products(tenant_id, batch, spec, report)
        if report.changed:
            await self.db.refresh_statistics(Product.__tablename__, ProductValue.__tablename__)
        return report

    def _until_stopped(self, batches: Iterator[list[Pending]], report: ImportReport) -> Iterator[list[Pending]]:
        """The batches, until a stop is asked for: the batch being written is finished, the next never started."""
        for batch in batches:
            if self.stop is not None and self.stop.is_set():
                report.stopped = True
                return
            yield batch
            report.written_through = batch[-1].line  # resumed: the caller has written it

    def _attribute_records(self, handle: Any, path: Path) -> Iterator[Record]:
        if file_format(path) == "csv":
            header, records = read_csv(handle, self.progress)
            check_attribute_header(header)
            return (Record(r.line, attribute_row(r.data), None) if r.data else r for r in records)
        return read_jsonl(handle, self.progress)

    def _attribute_rows(self, records: Iterator[Record], report: ImportReport) -> Iterator[Pending]:
        for record in records:
            if record.data is None:
                self._unreadable(report, record)
                continue
            try:
                yield Pending(record.line, attribute_input(record.data))
            except LineRejected as exc:
                self._reject(report, record.line, exc.reasons)

    def _jsonl_products(self, records: Iterator[Record], report: ImportReport) -> Iterator[Pending]:
        for record in records:
            if record.data is None:
                self._unreadable(report, record)
                continue
            try:
                draft = product_input(record.data)
            except LineRejected as exc:
                self._reject(report, record.line, exc.reasons)
                continue
            names = [f"values[{index}]" for index in range(len(draft.values))]
            yield Pending(record.line, draft, names)

    def _csv_products(
        self, records: Iterator[Record], layout: ProductLayout, spec: Any, report: ImportReport
    ) -> Iterator[Pending]:
        for record in records:
            if record.data is None:
                self._unreadable(report, record)
                continue
            draft, columns = product_draft(record.data, layout, spec)
            yield Pending(record.line, draft, columns)

    async def _write_products(self, tenant_id: int, batch: list[Pending], spec: Any, report: ImportReport) -> None:
        async with self.db.transaction() as session:
            outcome = await ProductService(session).upsert(tenant_id, [p.item for p in batch], spec, partial=True)
        for index, pending in enumerate(batch):
            errors = outcome.rejected.get(index)
            if errors is None:
                report.count(pending.item.sku, pending.line, pending.item.sku in outcome.changed_skus)
            else:
                self._reject(report, pending.line, [_describe(error, pending) for error in errors])

    async def _write_attributes(self, tenant_id: int, batch: list[Pending], report: ImportReport) -> None:
        try:
            async with self.db.transaction() as session:
                outcome = await AttributeService(session).upsert(tenant_id, [p.item for p in batch])
        except InvalidInput as exc:
            bad = _indices(exc.errors)
            for index in sorted(bad):
                self._reject(report, batch[index].line, [e.message for e in exc.errors if e.path[1] == index])
            good = [pending for index, pending in enumerate(batch) if index not in bad]
            if good and len(good) < len(batch):
                await self._write_attributes(tenant_id, good, report)
            return
        for pending in batch:
            report.count(pending.item.code, pending.line, pending.item.code in outcome.changed_codes)

    def _unreadable(self, report: ImportReport, record: Record) -> None:
        problem = record.problem or "unreadable"
        if record.rest_unread:
            report.unread = problem
        self._reject(report, record.line, [problem])

    def _reject(self, report: ImportReport, line: int, reasons: list[str]) -> None:
        rejection = Rejection(line, reasons)
        report.reject(rejection)
        if self.on_reject is not None:
            self.on_reject(rejection)


def _refuse_unknown_columns(layout: ProductLayout) -> None:
    if layout.unknown:
        names = ", ".join(layout.unknown[:20])
        raise UnsupportedFile(
            f"columns that match no attribute of the catalog: {names} (import the attributes first; "
            "a localizable or scopable attribute needs its locale and scope in the column name)"
        )


def _batches(rows: Iterator[Pending], distinct: Callable[[Pending], str] | None = None) -> Iterator[list[Pending]]:
    """Batches of rows; a key seen again starts a new batch, so a later row of a SKU (or code) is applied over the
    earlier one rather than refused as given twice in its batch."""
    batch: list[Pending] = []
    keys: set[str] = set()
    for row in rows:
        key = distinct(row) if distinct else None
        if len(batch) >= BATCH_SIZE or (key is not None and key in keys):
            yield batch
            batch, keys = [], set()
        batch.append(row)
        if key is not None:
            keys.add(key)
    if batch:
        yield batch


def _indices(errors: list[UserErrorItem]) -> set[int]:
    return {int(error.path[1]) for error in errors if len(error.path) > 1}


def _describe(error: UserErrorItem, pending: Pending) -> str:
    """'description-de_DE-print: locale de_DE is not enabled ...' rather than a path into a batch."""
    path = list(error.path[2:])
    if len(path) >= 2 and path[0] == "values" and isinstance(path[1], int) and path[1] < len(pending.value_names):
        return f"{pending.value_names[path[1]]}: {error.message} ({error.code.value})"
    where = ".".join(str(part) for part in path) or "row"
    return f"{where}: {error.message} ({error.code.value})"
