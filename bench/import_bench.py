"""Benchmark `pimsync import products`: throughput, cost over a bare JSON parse, and peak memory at two sizes.

Run from the repository root:

    .venv/bin/python bench/import_bench.py [--products 100000] [--small 10000] [--database-url [URL]] [--keep]
    .venv/bin/python bench/import_bench.py --products 2000     # a quick smoke run (small size: a tenth)

Each size gets a fresh var dir (and with --database-url a throwaway PostgreSQL
database); migrations, tenant, catalog set-up and attributes go through the
CLI, then the product import alone is timed as a child process. Its peak RSS
and CPU time come from `os.wait4`, which reports exactly that child:
RUSAGE_CHILDREN keeps one maximum over every child ever reaped, so the second
import would inherit the first one's peak.

Every CLI run first pays the interpreter's and the app's start-up, in time and
memory; a `--help` run of the same command measures it, so the table also shows
the rate and the memory of the import itself, over and above that start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from resource import struct_rusage

from catalog_data import CURRENCIES, LOCALES, SCOPES, write_attributes, write_products
from databases import throwaway_postgres
from sqlalchemy import make_url

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
TENANT = "bench"
MIB = 1024 * 1024
POLL_SECONDS = 0.01
SETUP_TIMEOUT = 300.0
# The CLI's summary: "Imported 10,000 products (...)." then "Rejected 0."
SUMMARY = re.compile(r"Imported ([\d,]+) products.*?Rejected ([\d,]+)", re.DOTALL)


class BenchFailed(RuntimeError):
    """A step did not do what the benchmark needs; the message carries the step's output."""


@dataclass(frozen=True, slots=True)
class Options:
    products: int
    small: int
    admin_url: str | None
    keep: bool
    seed: int
    timeout: float
    pimsync: Path


@dataclass(frozen=True, slots=True)
class ChildRun:
    """One reaped child: wall time, its own peak RSS and CPU time, exit code and merged output."""

    seconds: float
    peak_rss: int
    cpu_seconds: float
    returncode: int
    output: str


@dataclass(frozen=True, slots=True)
class SizeResult:
    products: int
    file_bytes: int
    parse_seconds: float
    run: ChildRun

    @property
    def rate(self) -> float:
        return self.products / self.run.seconds

    def net_rate(self, startup: ChildRun) -> float:
        """Products per second of the import itself, the CLI's start-up taken out."""
        return self.products / max(self.run.seconds - startup.seconds, 1e-9)

    def net_rss(self, startup: ChildRun) -> int:
        """Peak RSS above what the CLI holds once started: the import's own working set."""
        return max(self.run.peak_rss - startup.peak_rss, 0)

    @property
    def over_parse(self) -> float:
        return self.run.seconds / self.parse_seconds


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--products", type=int, default=100_000, help="the large size (default 100000)")
    parser.add_argument(
        "--small", type=int, default=None, help="the small size (default 10000, or a tenth of a smaller --products)"
    )
    parser.add_argument(
        "--database-url",
        nargs="?",
        const=DEFAULT_ADMIN_URL,
        default=None,
        metavar="ADMIN_URL",
        help=f"benchmark on PostgreSQL: a throwaway database per size is made via this admin URL "
        f"(no value: {DEFAULT_ADMIN_URL}); default is SQLite in the var dir",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs (and databases) for inspection")
    parser.add_argument("--seed", type=int, default=20260131, help="seed of the generated catalog")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds after which an import is killed")
    parser.add_argument("--pimsync", type=Path, default=Path(sys.executable).with_name("pimsync"))
    args = parser.parse_args(argv)
    if args.small is None:
        args.small = min(10_000, max(1, args.products // 10))
    if not 0 < args.small < args.products:
        parser.error("need 0 < --small < --products")
    return Options(args.products, args.small, args.database_url, args.keep, args.seed, args.timeout, args.pimsync)


def run_child(command: Sequence[str], env: dict[str, str], log: Path, timeout: float) -> ChildRun:
    """Run `command` to completion (killed past `timeout`), output to `log`, measured by wait4."""
    with log.open("w+", encoding="utf-8") as sink:
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT)
        usage = _reap(process, start + timeout)
        seconds = time.perf_counter() - start
        sink.seek(0)
        output = sink.read()
    if usage is None:
        raise BenchFailed(f"{' '.join(command)} still running after {timeout:.0f} s: killed\n{_tail(output)}")
    cpu = usage.ru_utime + usage.ru_stime
    return ChildRun(seconds, usage.ru_maxrss * 1024, cpu, process.returncode, output)


def _reap(process: subprocess.Popen[bytes], deadline: float) -> struct_rusage | None:
    """The child's own rusage (ru_maxrss in KiB on Linux), or None once it was killed at the deadline."""
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return usage
        if time.perf_counter() > deadline:
            process.kill()
            _, status, _ = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            return None
        time.sleep(POLL_SECONDS)


def _tail(output: str, lines: int = 25) -> str:
    return "\n".join(output.rstrip().splitlines()[-lines:])


def parse_seconds(path: Path) -> float:
    """Seconds to read and json-parse every line in this process: the floor any importer pays."""
    start = time.perf_counter()
    with path.open("rb") as handle:
        for line in handle:
            json.loads(line)
    return time.perf_counter() - start


def child_env(var_dir: Path, database_url: str | None) -> dict[str, str]:
    """The caller's environment, but this run's var dir and database; a wide plain console for the summary."""
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "PIMSYNC_VAR_DIR"}}
    env.update(PIMSYNC_VAR_DIR=str(var_dir), COLUMNS="200", NO_COLOR="1", TERM="dumb")
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return env


def prepare(options: Options, env: dict[str, str], work: Path, attributes: Path) -> None:
    """Migrate, create the tenant, enable locales, scopes and currencies, import the attributes."""
    steps = [
        ["migrate"],
        ["tokens", "create", "--tenant", TENANT, "--scopes", "all"],
        ["catalog", "locales", "--tenant", TENANT, ",".join(LOCALES)],
        ["catalog", "scopes", "--tenant", TENANT, ",".join(SCOPES)],
        ["catalog", "currencies", "--tenant", TENANT, ",".join(CURRENCIES)],
        ["import", "attributes", str(attributes), "--tenant", TENANT],
    ]
    for number, step in enumerate(steps, start=1):
        run = run_child([str(options.pimsync), *step], env, work / f"setup-{number}-{step[0]}.log", SETUP_TIMEOUT)
        if run.returncode != 0:
            raise BenchFailed(f"pimsync {' '.join(step)} exited {run.returncode}:\n{_tail(run.output)}")


def check_counts(run: ChildRun, expected: int) -> None:
    """The import must say it imported every product and rejected none, or its figures mean nothing."""
    match = SUMMARY.search(run.output)
    if match is None:
        raise BenchFailed(f"no import summary in the output (exit {run.returncode}):\n{_tail(run.output)}")
    imported, rejected = (int(group.replace(",", "")) for group in match.groups())
    if run.returncode != 0 or imported != expected or rejected != 0:
        found = f"imported {imported:,}, rejected {rejected:,}, exit {run.returncode}"
        raise BenchFailed(f"expected {expected:,} imported and 0 rejected, got {found}:\n{_tail(run.output)}")


@contextmanager
def work_dir(size: int, keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"pimsync-bench-{size}-"))
    try:
        yield path
    finally:
        if keep:
            _say(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


@contextmanager
def throwaway_database(admin_url: str | None, size: int, keep: bool) -> Iterator[str | None]:
    """A fresh PostgreSQL database's URL for one size, dropped afterwards; None means the var dir's SQLite."""
    if admin_url is None:
        yield None
        return
    with throwaway_postgres(admin_url, f"pimsync_bench_{os.getpid()}_{size}", keep=keep, say=_say) as url:
        yield url


def measure_size(options: Options, size: int) -> SizeResult:
    with work_dir(size, options.keep) as work, throwaway_database(options.admin_url, size, options.keep) as url:
        attributes, products = work / "attributes.jsonl", work / "products.jsonl"
        write_attributes(attributes)
        started = time.perf_counter()
        file_bytes = write_products(products, size, seed=options.seed)
        _say(f"{size:>9,}: generated {file_bytes / MIB:,.1f} MiB in {time.perf_counter() - started:.1f} s")
        parse = parse_seconds(products)
        (work / "var").mkdir()
        env = child_env(work / "var", url)
        prepare(options, env, work, attributes)
        _say(f"{size:>9,}: set up; importing products")
        command = [str(options.pimsync), "import", "products", str(products), "--tenant", TENANT]
        run = run_child(command, env, work / "import-products.log", options.timeout)
        check_counts(run, size)
        _say(f"{size:>9,}: imported in {run.seconds:,.1f} s")
        return SizeResult(size, file_bytes, parse, run)


def startup_run(options: Options) -> ChildRun:
    """What every CLI run pays before reading a line (interpreter and app imports), in time and memory."""
    with tempfile.TemporaryDirectory(prefix="pimsync-bench-") as work:
        command = [str(options.pimsync), "import", "products", "--help"]
        run = run_child(command, child_env(Path(work), None), Path(work) / "help.log", SETUP_TIMEOUT)
    if run.returncode != 0:
        raise BenchFailed(f"pimsync import products --help exited {run.returncode}:\n{_tail(run.output)}")
    return run


def describe_setting(options: Options) -> str:
    database = "SQLite (file in the var dir)"
    if options.admin_url is not None:
        url = make_url(options.admin_url)
        database = f"PostgreSQL at {url.host}:{url.port or 5432} (throwaway database per size)"
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"database: {database}\npython {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {load}, seed {options.seed}"
    )


def table(results: Sequence[SizeResult], startup: ChildRun) -> str:
    header = (
        "products",
        "file MiB",
        "parse s",
        "import s",
        "products/s",
        "net products/s",
        "import/parse",
        "peak RSS MiB",
        "net RSS MiB",
        "CPU s",
    )
    rows = [header] + [
        (
            f"{r.products:,}",
            f"{r.file_bytes / MIB:,.1f}",
            f"{r.parse_seconds:.2f}",
            f"{r.run.seconds:.2f}",
            f"{r.rate:,.0f}",
            f"{r.net_rate(startup):,.0f}",
            f"{r.over_parse:.1f}x",
            f"{r.run.peak_rss / MIB:.1f}",
            f"{r.net_rss(startup) / MIB:.1f}",
            f"{r.run.cpu_seconds:.2f}",
        )
        for r in results
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    small, large = results[0], results[-1]
    memory = large.run.peak_rss / small.run.peak_rss
    net_memory = large.net_rss(startup) / max(small.net_rss(startup), 1)
    sizes = f"{large.products:,} / {small.products:,} products"
    lines += [
        "",
        f"peak RSS ratio {sizes}: {memory:.2f}  (memory must not grow with the file: ~1.0)",
        f"net RSS ratio  {sizes}: {net_memory:.2f}  (the same, start-up memory taken out)",
        f"CLI start-up (pimsync import products --help): {startup.seconds:.2f} s, {startup.peak_rss / MIB:.1f} MiB;"
        " included in 'import s', 'products/s' and 'peak RSS', taken out of the 'net' columns",
        "parse s: read and json.loads every line in one Python process, the floor any importer pays;"
        " import/parse: import s over parse s",
    ]
    return "\n".join(lines)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    if not options.pimsync.exists():
        _say(f"no pimsync executable at {options.pimsync} (use --pimsync PATH)")
        return 2
    print(describe_setting(options), flush=True)
    try:
        startup = startup_run(options)
        results = [measure_size(options, size) for size in (options.small, options.products)]
    except BenchFailed as exc:
        _say(f"benchmark failed: {exc}")
        return 1
    print(table(results, startup))
    return 0


if __name__ == "__main__":
    sys.exit(main())
