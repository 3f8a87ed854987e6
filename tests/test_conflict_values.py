"""When two values of a field are the same for the three-way check (pure): a channel's reformatting is no change.

Every conflict and drift the service reports starts from `same`: were it too
strict, each shop that stores "115.0" for "115.00" or re-indents HTML would
raise a conflict on every sync; too loose, a real edit would be missed.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.channels import FieldType
from app.domain.conflicts import same

F = FieldType


@pytest.mark.parametrize(
    ("field_type", "left", "right"),
    [
        (F.DECIMAL, "115.00", "115.0"),
        (F.DECIMAL, "115", "1.15E+2"),
        (F.DECIMAL, " 9.90", 9.9),
        (F.INTEGER, 3, "3"),
        (F.BOOLEAN, True, "true"),
        (F.BOOLEAN, False, "no"),
        (F.HTML, "<p>Chêne</p>\n  <p>massif</p>", "<p>Chêne</p><p>massif</p>"),
        (F.HTML, "un<br/>deux", "un<br>deux"),
        (F.HTML, "un<br />deux", "un<br>deux"),
        (F.STRING_LIST, ["lin", "coton"], ["coton", "lin"]),
        (F.STRING_LIST, "coton, lin", ["lin", "coton"]),
        (F.STRING_LIST, ["lin", "lin"], ["lin"]),
        (F.STRING, " Cafe\u0301  crème ", "Café crème"),
        (F.STRING, "كرسي  بلوط", "كرسي بلوط"),
        (F.STRING, "", None),
        (F.STRING_LIST, [], None),
    ],
)
def test_a_channels_reformatting_is_the_same_value(field_type: FieldType, left: Any, right: Any) -> None:
    assert same(field_type, left, right) and same(field_type, right, left)


@pytest.mark.parametrize(
    ("field_type", "left", "right"),
    [
        (F.DECIMAL, "115.00", "115.01"),
        (F.INTEGER, 3, "4"),
        (F.BOOLEAN, True, False),
        (F.BOOLEAN, "true", "false"),
        (F.HTML, "<p>Chêne</p>", "<p>Hêtre</p>"),
        (F.HTML, "<p>un deux</p>", "<p>un</p><p>deux</p>"),
        (F.STRING_LIST, ["lin"], ["lin", "coton"]),
        (F.STRING, "Café", "Cafe"),
        (F.STRING, "كرسي", "كرسى"),
        (F.STRING, "Chaise", ""),
        (F.DECIMAL, "0", None),
    ],
)
def test_an_edit_is_a_different_value(field_type: FieldType, left: Any, right: Any) -> None:
    assert not same(field_type, left, right) and not same(field_type, right, left)
