"""The catalogue's pure rules: phone normalisation, colours, the reorder rule, field values."""

from __future__ import annotations

import pytest

from services.inbox.domain import catalogue_rules as rules
from services.kit.errors import DomainError
from services.kit.validation import Checker


def problems(run: object) -> list[tuple[str, str]]:
    check = Checker()
    assert callable(run)
    run(check)
    return [(p.field, p.code) for p in check.problems]


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("5511987654321", "5511987654321"),
        ("+55 (11) 98765-4321", "5511987654321"),
        ("0055 11 98765.4321", "5511987654321"),
        ("  642559314232682282 ", "642559314232682282"),
    ],
)
def test_phones_are_stored_as_digits(raw: str, stored: str) -> None:
    check = Checker()
    assert rules.normalise_phone(check, "contact_phone", raw) == stored
    check.done()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "required"),
        ("  + ", "required"),
        ("55 11 abc", "phone"),
        ("１２３４５６７８９", "phone"),  # full-width digits are not ASCII digits
        ("1234567", "phone"),
        ("1" * 21, "phone"),
        ("+55+11987654321", "phone"),
    ],
)
def test_bad_phones_name_the_field(raw: str, code: str) -> None:
    found = problems(lambda check: rules.normalise_phone(check, "contact_phone", raw))
    assert found == [("contact_phone", code)]


def test_colours() -> None:
    check = Checker()
    assert rules.color(check, "color", "#1F9D55") == "#1f9d55"
    assert rules.color(check, "color", None) is None
    assert rules.color(check, "color", "  ") is None
    check.done()
    for bad in ("red", "#12345", "#1234567", "1f9d55", "#gggggg"):
        assert problems(lambda check, bad=bad: rules.color(check, "color", bad)) == [
            ("color", "color")
        ]


def test_optional_text_clears_on_blank() -> None:
    check = Checker()
    assert rules.optional_text(check, "notes", None, max_len=10) is None
    assert rules.optional_text(check, "notes", "   ", max_len=10) is None
    assert rules.optional_text(check, "notes", " hi ", max_len=10) == "hi"
    check.done()
    assert problems(lambda c: rules.optional_text(c, "notes", "x" * 11, max_len=10)) == [
        ("notes", "too_long")
    ]


def test_reorder_moves_only_the_ids_sent_into_their_own_slots() -> None:
    current = [1, 2, 3, 4, 5]
    assert rules.reordered(current, [5, 4, 3, 2, 1]) == [5, 4, 3, 2, 1]
    # A partial drag: 4 and 2 swap the slots they hold; 1, 3 and 5 stay where they were.
    assert rules.reordered(current, [4, 2]) == [1, 4, 3, 2, 5]
    # Ids in the order they already have: nothing moves.
    assert rules.reordered(current, [2, 4]) == current
    # A single id has only its own slot.
    assert rules.reordered(current, [3]) == current


def test_reorder_drops_foreign_ids_and_repeats() -> None:
    current = [10, 20, 30]
    assert rules.reordered(current, [99, 30, 30, 10, -1]) == [30, 20, 10]
    assert rules.reordered(current, [99, 98]) == current
    assert rules.reordered([], [1, 2]) == []


def test_reorder_keeps_every_id_once() -> None:
    current = list(range(1, 31))
    result = rules.reordered(current, [30, 1, 15, 15, 7])
    assert sorted(result) == current
    assert [i for i in result if i in {30, 1, 15, 7}] == [30, 1, 15, 7]
    untouched = [i for i in current if i not in {30, 1, 15, 7}]
    assert [i for i in result if i not in {30, 1, 15, 7}] == untouched
    assert all(result[i - 1] == i for i in untouched)


def test_field_values_normalise_text_and_clear_on_empty() -> None:
    check = Checker()
    asked = rules.field_values(check, {"3": " Gold ", "4": "", "5": None, "6": "   "})
    check.done()
    assert asked == {3: "Gold", 4: None, 5: None, 6: None}


def test_field_values_skip_keys_that_are_not_ids() -> None:
    check = Checker()
    assert rules.field_values(check, {"abc": "x", "0": "x", "-2": "x", "1e3": "x", "7": "ok"}) == {
        7: "ok"
    }
    check.done()


def test_field_values_refuse_non_text() -> None:
    check = Checker()
    rules.field_values(
        check, {"3": 12.0, "4": True, "5": ["a"], "6": "x" * 1001, "7": "a\x00b", "a\x00": "x"}
    )
    assert [(p.field, p.code) for p in check.problems] == [
        ("values.3", "string"),
        ("values.4", "string"),
        ("values.5", "string"),
        ("values.6", "too_long"),
        ("values.7", "string"),
    ]
    with pytest.raises(DomainError) as raised:
        check.done()
    assert raised.value.http_status == 422


def test_field_values_bound_the_batch() -> None:
    check = Checker()
    assert rules.field_values(check, {str(i): "x" for i in range(1, 202)}) == {}
    assert [(p.field, p.code) for p in check.problems] == [("values", "too_many")]


def test_sector_agents_must_all_be_members() -> None:
    from services.inbox.domain.sectors import require_members

    assert require_members([7, 3, 7], {3, 7, 9}) == [3, 7]
    assert require_members([], set()) == []
    with pytest.raises(DomainError) as raised:
        require_members([3, 8, 7, 0], {3, 7})
    assert raised.value.http_status == 422
    assert [f.field for f in raised.value.fields] == ["user_ids.1", "user_ids.3"]
