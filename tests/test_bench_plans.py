"""The benchmarks' own mappings still validate: a benchmark is run by hand, so a rule added to mappings (such as
convertUnit for a measure into a number field) would otherwise only be found the next time someone measures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def bench_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    sys.path.insert(0, str(BENCH))  # the benchmarks import their siblings (catalog_data, databases) by name
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    return module


def test_the_mapping_benchmarks_plan_validates() -> None:
    assert bench_module("mapping_bench").plan().slots


def test_the_conflict_benchmarks_plan_validates() -> None:
    conflict_bench = bench_module("conflict_bench")
    assert conflict_bench.plan(conflict_bench.catalog()).slots


@pytest.mark.parametrize("name", ["import_bench", "sync_bench", "paging_bench", "graphql_bench", "history_bench"])
def test_the_other_benchmarks_import(name: str) -> None:
    assert bench_module(name).__doc__
