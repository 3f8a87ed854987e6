"""The worker's heap settings: start-up objects out of the collector's reach, collections as often as ever.

Checked in a process of its own that has imported what a worker imports: the test process's heap, grown by the
whole suite by the time this runs, made each of its full collections take seconds, and it is not a worker's.
"""

from __future__ import annotations

import json
import subprocess
import sys

SETTLE = """
import gc, json
import workers.settings  # what a worker has imported when its start-up hook settles the heap
from app.runtime import settle_heap

threshold = gc.get_threshold()
gc.collect()
before = len(gc.get_objects(generation=2))
settle_heap()
after = len(gc.get_objects(generation=2))
print(json.dumps({"before": before, "after": after, "frozen": gc.get_freeze_count(),
                  "threshold_kept": gc.get_threshold() == threshold}))
"""


def test_a_settled_heap_leaves_start_up_objects_out_of_full_collections() -> None:
    ran = subprocess.run([sys.executable, "-c", SETTLE], capture_output=True, text=True, timeout=60, check=False)
    assert ran.returncode == 0, ran.stderr
    heap = json.loads(ran.stdout)
    before, after = heap["before"], heap["after"]
    assert before > 10_000 and after < before // 100, (before, after)
    assert heap["frozen"] > before // 2
    assert heap["threshold_kept"], "cyclic garbage (httpx responses and their bodies) must not wait longer"
