"""The JSON codec: the same text and hashes as before orjson, and nothing refused that json accepted."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

import pytest

from app import json_codec
from app.domain.sync import part_hash

PART = {"title": "كرسي بلوط", "description": "<p>Chêne massif</p>", "price": Decimal("107.50"), "tags": ["a", None]}


def _old_part_hash(fields: dict[str, Any]) -> str:
    """part_hash as it was computed with the standard library: stored hashes must keep matching."""

    def canonical(value: Any) -> Any:
        return format(value, "f") if isinstance(value, Decimal) else value

    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=canonical)
    return hashlib.sha256(text.encode()).hexdigest()


def test_part_hashes_are_unchanged_so_an_upgrade_resends_nothing() -> None:
    assert part_hash(PART) == _old_part_hash(PART)
    assert part_hash({"b": 1, "a": 2.5, "c": True}) == _old_part_hash({"a": 2.5, "c": True, "b": 1})


def test_what_orjson_refuses_falls_back_to_the_standard_library() -> None:
    big = {"gtin": 2**70, 3: "numeric key"}
    assert json.loads(json_codec.dumps(big)) == {"gtin": 2**70, "3": "numeric key"}
    assert json_codec.canonical({"b": 2**70, "a": 1}) == b'{"a":1,"b":1180591620717411303424}'
    with pytest.raises(TypeError):
        json_codec.dumps({"when": object()})


def test_loads_refuses_what_is_not_json_text() -> None:
    assert json_codec.loads(b'{"title":"\\u0643"}') == {"title": "ك"}
    with pytest.raises(ValueError):
        json_codec.loads("NaN")
    with pytest.raises(TypeError):
        json_codec.loads(5)  # type: ignore[arg-type]  # SQLite's JSON type relies on this TypeError
