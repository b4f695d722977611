"""CNI_ARGS parsing, formatting and lookup (multus.cni.args).

Checked here:
- parsing keeps order and duplicates, splits on the first "=" only, accepts empty values, and treats
  "" as no arguments;
- an item without "=" or with an empty key is a code-4 CniError (also a ValueError) naming the item;
- formatting is the inverse of parsing and rejects pairs that would not parse back unchanged;
- lookup returns the first occurrence of a key, or None.
"""

from __future__ import annotations

import pytest

from multus.cni.args import CniArgsError, format_cni_args, lookup, parse_cni_args
from multus.cni.errors import CniError, ErrorCode


def test_parsing_keeps_pairs_in_the_order_given() -> None:
    assert parse_cni_args("K8S_POD_NAME=web;IgnoreUnknown=1;K8S_POD_NAMESPACE=prod") == [
        ("K8S_POD_NAME", "web"),
        ("IgnoreUnknown", "1"),
        ("K8S_POD_NAMESPACE", "prod"),
    ]


def test_parsing_keeps_duplicate_keys() -> None:
    assert parse_cni_args("A=1;B=2;A=3") == [("A", "1"), ("B", "2"), ("A", "3")]


def test_parsing_splits_each_item_on_its_first_equals_sign_only() -> None:
    assert parse_cni_args("MAC=aa:bb;EXPR=a=b=c") == [("MAC", "aa:bb"), ("EXPR", "a=b=c")]


def test_parsing_accepts_an_empty_value() -> None:
    assert parse_cni_args("EMPTY=;X=1") == [("EMPTY", ""), ("X", "1")]


def test_parsing_an_empty_string_gives_no_pairs() -> None:
    assert parse_cni_args("") == []


@pytest.mark.parametrize("text, bad_item", [
    ("A=1;novalue;B=2", "novalue"),
    ("=value", "=value"),
    ("A=1;;B=2", ""),
    ("A=1;", ""),
])
def test_parsing_a_malformed_item_is_an_invalid_environment_error_naming_it(text: str, bad_item: str) -> None:
    with pytest.raises(CniError) as info:
        parse_cni_args(text)
    assert info.value.code == ErrorCode.INVALID_ENVIRONMENT_VARIABLES
    assert repr(bad_item) in info.value.msg


def test_a_parse_error_is_also_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_cni_args("broken")
    assert issubclass(CniArgsError, CniError)


def test_formatting_joins_pairs_as_key_equals_value_separated_by_semicolons() -> None:
    assert format_cni_args([("A", "1"), ("B", ""), ("A", "x=y")]) == "A=1;B=;A=x=y"


def test_formatting_no_pairs_gives_an_empty_string() -> None:
    assert format_cni_args([]) == ""


@pytest.mark.parametrize("text", ["K8S_POD_NAME=web;IgnoreUnknown=true", "A=1;A=2;B=c=d;E="])
def test_formatting_what_was_parsed_gives_back_the_same_string(text: str) -> None:
    assert format_cni_args(parse_cni_args(text)) == text


@pytest.mark.parametrize("pair", [("A;B", "1"), ("A=B", "1"), ("A", "1;2"), ("", "1")])
def test_formatting_a_pair_that_would_not_parse_back_is_rejected_naming_it(pair: tuple[str, str]) -> None:
    with pytest.raises(CniError) as info:
        format_cni_args([("OK", "1"), pair])
    assert isinstance(info.value, ValueError)
    assert info.value.code == ErrorCode.INVALID_ENVIRONMENT_VARIABLES
    assert repr(pair) in info.value.msg


def test_lookup_returns_the_first_occurrence_of_a_key() -> None:
    pairs = parse_cni_args("K8S_POD_NAME=real;X=1;K8S_POD_NAME=spoofed")
    assert lookup(pairs, "K8S_POD_NAME") == "real"


def test_lookup_of_an_absent_key_is_none_and_of_an_empty_value_is_empty() -> None:
    pairs = parse_cni_args("EMPTY=")
    assert lookup(pairs, "MISSING") is None
    assert lookup(pairs, "EMPTY") == ""


def test_lookup_is_case_sensitive() -> None:
    assert lookup([("IgnoreUnknown", "1")], "ignoreunknown") is None
