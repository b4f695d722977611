"""Behaviour of the stdlib Go-JSON decoding layer (multus.plugin.gojson).

Checked here, on small local structs:
* keys: exact or case-insensitive match, last spelling wins, a type error in any spelling is an
  error (Go keeps the first one), unknown keys skipped by ``decode_struct`` and returned by
  ``decode_fields``, ``null`` and absent keys leave the default (never a shared mutable object);
* strict types: strings, booleans, integers (no bool, no ``5.0``, 64-bit range), objects, arrays,
  maps; error texts name the key path (``outer.items[1].n``) and the JSON type received;
* a table's value checks run only once every type is right;
* the Go text helpers: JSON type names, strict JSON with Go's wording, Go-style marshalling;
* the config and selection models are frozen, and none shares a mutable default.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import pytest

from multus.plugin.config import MultusNetConf, load_netconf
from multus.plugin.config_options import Bandwidth, LogOptions, PortMapping, RuntimeConfig
from multus.plugin.delegate import Delegate
from multus.plugin.gojson import (
    GO_INT_MAX,
    GO_INT_MIN,
    JsonField,
    JsonStruct,
    JsonTypeError,
    decode_fields,
    decode_json,
    decode_struct,
    go_json_type,
    go_marshal,
    list_of,
    map_of,
    read_bool,
    read_int,
    read_object,
    read_str,
    struct_of,
    tuple_of,
)
from multus.plugin.selection import NetworkSelection, parse_network_selections


class Inner(NamedTuple):
    n: int = 0


INNER = JsonStruct(Inner, (JsonField("n", "n", read_int),))

_NO_CAPS: Mapping[str, bool] = MappingProxyType({})


class Outer(NamedTuple):
    conf_dir: str = "/default"
    flag: bool = True
    number: int | None = None
    items: tuple[Inner, ...] = ()
    names: tuple[str, ...] = ()
    caps: Mapping[str, bool] = _NO_CAPS
    blob: dict[str, Any] | None = None
    inner: Inner | None = None
    seq: list[str] | None = None


OUTER = JsonStruct(Outer, (
    JsonField("conf_dir", "confDir", read_str),
    JsonField("flag", "flag", read_bool),
    JsonField("number", "count", read_int),
    JsonField("items", "items", tuple_of(struct_of(INNER))),
    JsonField("names", "names", tuple_of(read_str)),
    JsonField("caps", "caps", map_of(read_bool)),
    JsonField("blob", "blob", read_object),
    JsonField("inner", "inner", struct_of(INNER)),
    JsonField("seq", "seq", list_of(read_str)),
))


class Checked(NamedTuple):
    name: str = ""
    size: int = 0


def _check(checked: Checked) -> Checked:
    if checked.name == "bad":
        raise ValueError("name: bad name")
    return checked


CHECKED = JsonStruct(Checked, (JsonField("name", "name", read_str), JsonField("size", "size", read_int)), check=_check)


def type_error(data: Any) -> JsonTypeError:
    with pytest.raises(JsonTypeError) as info:
        decode_struct(OUTER, data)
    return info.value


# ---------------------------------------------------------------- keys


def test_an_empty_object_gives_every_default() -> None:
    assert decode_struct(OUTER, {}) == Outer()
    assert (Outer().conf_dir, Outer().flag, Outer().number, Outer().items) == ("/default", True, None, ())


@pytest.mark.parametrize("key", ["confDir", "confdir", "CONFDIR", "ConfDir"])
def test_keys_match_their_field_case_insensitively(key: str) -> None:
    assert decode_struct(OUTER, {key: "/x"}).conf_dir == "/x"


def test_the_attribute_name_is_not_a_json_key_when_the_go_name_differs() -> None:
    assert decode_struct(OUTER, {"conf_dir": "/x"}).conf_dir == "/default"


def test_when_two_spellings_are_given_the_last_one_wins() -> None:
    assert decode_struct(OUTER, {"ConfDir": "/a", "confDir": "/b"}).conf_dir == "/b"
    assert decode_struct(OUTER, {"confDir": "/a", "CONFDIR": "/b"}).conf_dir == "/b"


def test_a_null_leaves_the_default_and_does_not_undo_an_earlier_spelling() -> None:
    assert decode_struct(OUTER, {"confDir": None, "flag": None, "items": None}) == Outer()
    assert decode_struct(OUTER, {"confDir": "/a", "ConfDir": None}).conf_dir == "/a"


def test_a_wrong_type_in_an_earlier_spelling_is_still_an_error_as_in_go() -> None:
    # Go's decoder keeps the first type error and returns it after filling the rest.
    assert type_error({"ConfDir": 1, "confDir": "/b"}).path == "confDir"


def test_unknown_keys_are_skipped_by_decode_struct_and_returned_by_decode_fields() -> None:
    data = {"confDir": "/x", "Extra": [1], "other": None}
    assert decode_struct(OUTER, data) == Outer(conf_dir="/x")
    assert decode_fields(OUTER, data) == ({"conf_dir": "/x"}, {"Extra": [1], "other": None})


def test_decoded_containers_are_fresh_per_instance() -> None:
    data = {"seq": ["a"], "caps": {"x": True}}
    first, second = decode_struct(OUTER, data), decode_struct(OUTER, data)
    assert first.seq is not None and second.seq is not None
    first.seq.append("b")
    assert second.seq == ["a"] and data["seq"] == ["a"]
    assert first.caps is not second.caps


@pytest.mark.parametrize(
    "cls", [MultusNetConf, PortMapping, Bandwidth, LogOptions, RuntimeConfig, NetworkSelection, Delegate])
def test_no_struct_shares_a_mutable_default(cls: Any) -> None:
    for attr, value in cls._field_defaults.items():
        assert isinstance(value, (str, bytes, int, type(None), tuple, MappingProxyType)), attr
        assert not isinstance(value, tuple) or all(isinstance(item, str) for item in value), attr


# ---------------------------------------------------------------- types


@pytest.mark.parametrize(
    ("data", "path", "got"),
    [
        ({"confDir": 1}, "confDir", "number"),
        ({"confDir": True}, "confDir", "bool"),
        ({"flag": 1}, "flag", "number"),
        ({"flag": "true"}, "flag", "string"),
        ({"count": True}, "count", "bool"),
        ({"count": 5.0}, "count", "number"),
        ({"count": 1.5}, "count", "number"),
        ({"count": "5"}, "count", "string"),
        ({"items": {"n": 1}}, "items", "object"),
        ({"items": [{"n": 1}, {"n": "2"}]}, "items[1].n", "string"),
        ({"items": [None]}, "items[0]", "null"),
        ({"names": "a"}, "names", "string"),
        ({"names": ["a", 2]}, "names[1]", "number"),
        ({"caps": []}, "caps", "array"),
        ({"caps": {"ips": "yes"}}, "caps.ips", "string"),
        ({"blob": [1]}, "blob", "array"),
        ({"inner": 3}, "inner", "number"),
        ({"inner": {"N": []}}, "inner.n", "array"),
    ],
)
def test_a_wrong_type_names_the_key_path_and_the_type_received(data: dict[str, Any], path: str, got: str) -> None:
    err = type_error(data)
    assert err.path == path
    assert str(err).startswith(f"{path}: must be ") and str(err).endswith(f"(got {got})")


def test_a_type_error_is_a_value_error() -> None:
    assert issubclass(JsonTypeError, ValueError)


def test_a_non_object_struct_is_an_error_without_a_path_at_the_top() -> None:
    assert str(type_error([1])) == "must be an object (got array)"


@pytest.mark.parametrize("value", [GO_INT_MIN, -1, 0, GO_INT_MAX])
def test_integers_within_go_int64_are_accepted(value: int) -> None:
    assert decode_struct(OUTER, {"count": value}).number == value


@pytest.mark.parametrize("value", [GO_INT_MIN - 1, GO_INT_MAX + 1, 10**30])
def test_integers_beyond_go_int64_are_rejected(value: int) -> None:
    err = type_error({"items": [{"n": value}]})
    assert err.path == "items[0].n" and "int64" in str(err)


def test_decoded_values_have_their_declared_shapes() -> None:
    out = decode_struct(OUTER, {"items": [{"n": 1}], "names": ["a"], "caps": {"x": False}, "inner": {},
                                "seq": ["b"]})
    assert out.items == (Inner(1),) and out.names == ("a",) and out.caps == {"x": False} and out.inner == Inner()
    assert out.seq == ["b"]


def test_an_object_field_is_a_shallow_copy_of_the_input() -> None:
    blob = {"a": {"b": 1}}
    out = decode_struct(OUTER, {"blob": blob})
    assert out.blob == blob and out.blob is not blob


def test_value_checks_run_only_after_every_type_is_right() -> None:
    with pytest.raises(JsonTypeError):
        decode_struct(CHECKED, {"name": "bad", "size": "1"})
    with pytest.raises(ValueError, match="name: bad name"):
        decode_struct(CHECKED, {"name": "bad", "size": 1})


# ---------------------------------------------------------------- Go text helpers


@pytest.mark.parametrize(
    ("value", "name"),
    [(None, "null"), (True, "bool"), (1, "number"), (1.5, "number"), ("x", "string"), ([], "array"),
     ((), "array"), ({}, "object")],
)
def test_go_json_type_names(value: Any, name: str) -> None:
    assert go_json_type(value) == name


@pytest.mark.parametrize("doc", ["NaN", "[Infinity]", '{"a": -Infinity}'])
def test_decode_json_rejects_what_go_rejects(doc: str) -> None:
    with pytest.raises(ValueError, match="looking for beginning of value"):
        decode_json(doc)


def test_go_marshal_writes_tuples_as_arrays_and_whole_floats_as_integers() -> None:
    assert go_marshal({"b": (1.0, 2.5), "a": [{"x": 3.0}]}) == b'{"a":[{"x":3}],"b":[1,2.5]}'


# ---------------------------------------------------------------- the models built on it


def test_the_config_models_are_frozen() -> None:
    conf = load_netconf(b'{"delegates": [{"type": "x"}], "logOptions": {}, "runtimeConfig": {"bandwidth": {}}}')
    assert conf.log_options is not None and conf.runtime_config is not None
    for obj, attr in ((conf, "conf_dir"), (conf.log_options, "max_age"), (conf.runtime_config, "mac"),
                      (conf.runtime_config.bandwidth, "ingress_rate")):
        with pytest.raises(AttributeError):
            setattr(obj, attr, None)


def test_a_network_selection_is_frozen_and_holds_tuples() -> None:
    (sel,) = parse_network_selections('[{"name": "n", "ips": ["10.0.0.1"], "portMappings": [{"hostPort": 1}]}]', "ns")
    assert isinstance(sel.ips, tuple) and isinstance(sel.port_mappings, tuple)
    with pytest.raises(AttributeError):
        sel.name = "other"  # type: ignore[misc]
