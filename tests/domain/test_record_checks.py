"""Helpers for domain consistency checkers: every problem named, nothing raised."""

from t2t.domain.record_checks import check_fields, check_tagged_record, is_cents

FIELDS = {"card": ("source", "id", "last_four"), "cash": ("source", "id")}


def test_check_fields_reports_missing_and_unknown():
    problems = []
    assert not check_fields(problems, "x['1']", {"a": 1, "z": 2}, ("a", "b"), ("c",))
    assert problems == ["x['1']: missing field(s) b", "x['1']: unknown field(s) z"]
    assert check_fields(problems := [], "x", {"a": 1, "c": 2}, ("a",), ("c",)) and problems == []
    assert not check_fields(problems, "x", ["a"], ("a",)) and problems == ["x: not an object"]


def test_check_tagged_record():
    problems = []
    assert check_tagged_record(problems, "m", "cash_1", {"source": "cash", "id": "cash_1"}, FIELDS)
    assert not check_tagged_record(problems, "m", "c", {"source": "gold", "id": "c"}, FIELDS)
    assert not check_tagged_record(problems, "m", "c", {"source": "card", "id": "c"}, FIELDS)
    assert not check_tagged_record(problems, "m", "k", {"source": "cash", "id": "j"}, FIELDS)
    assert problems == [
        "m: source 'gold' unknown",
        "m: missing field(s) last_four",
        "m: id 'j' differs from key",
    ]


def test_is_cents():
    assert is_cents(10) and is_cents(0.1 + 0.2) and is_cents(19.99)
    assert not is_cents(1.005) and not is_cents(True) and not is_cents("1.00")


def test_check_tables():
    from t2t.domain.record_checks import check_tables

    assert check_tables(problems := [], {"a": {}, "b": {}}, ("a", "b")) and problems == []
    assert not check_tables(problems, {"a": {}, "b": [], "c": {}}, ("a", "b"))
    assert problems == ["db: unknown field(s) c", "db: b is not an object"]
    assert not check_tables(problems := [], [], ("a",)) and problems == ["db: not an object"]
