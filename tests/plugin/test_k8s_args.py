"""Behaviour of the CNI_ARGS pod-identity readers (multus.plugin.k8s_args).

Checked here:
* thin reader (libcni LoadArgs): empty input, every known key, exact key matching, verbatim values,
  last duplicate wins; ``key=value`` pairs only (``K8S_POD_NAME:x`` is §11.2 #13), Go's messages;
* unknown keys: an error listing them all, unless ``IgnoreUnknown`` is 1/true (any case, any position);
  a bad ``IgnoreUnknown`` or ``IP`` value names the pair; empty ``IP`` means none;
* the delegates' base CNI_ARGS string (§11.1 #11) and the identity types;
* thick daemon reader: trimmed items, every item needs one ``=``, namespace/name required,
  empty values caught by ``require_pod_identity``;
* all malformed input is a K8sArgsError, a CniError with code 4.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest

from multus.cni.errors import CniError, ErrorCode
from multus.plugin.k8s_args import (
    K8sArgs,
    K8sArgsError,
    Namespace,
    PodName,
    PodUID,
    parse_daemon_cni_args,
    parse_daemon_k8s_args,
    parse_k8s_args,
)

KUBELET = (
    "IgnoreUnknown=1;K8S_POD_NAMESPACE=test;K8S_POD_NAME=testpod;"
    "K8S_POD_INFRA_CONTAINER_ID=123456789;K8S_POD_UID=testUID"
)


def thin_error(cni_args: str) -> K8sArgsError:
    with pytest.raises(K8sArgsError) as info:
        parse_k8s_args(cni_args)
    return info.value


def daemon_error(cni_args: str) -> K8sArgsError:
    with pytest.raises(K8sArgsError) as info:
        parse_daemon_k8s_args(cni_args)
    return info.value


# ---------------------------------------------------------------- thin reader


def test_empty_cni_args_give_an_empty_identity() -> None:
    assert parse_k8s_args("") == K8sArgs()


def test_kubelets_cni_args_fill_every_field() -> None:
    args = parse_k8s_args(KUBELET)
    assert (args.pod_namespace, args.pod_name, args.pod_infra_container_id, args.pod_uid) == (
        "test",
        "testpod",
        "123456789",
        "testUID",
    )
    assert args.ignore_unknown and args.has_pod


@pytest.mark.parametrize(
    ("cni_args", "attr", "expected"),
    [
        ("K8S_POD_NAME=p", "pod_name", "p"),
        ("K8S_POD_NAMESPACE=ns", "pod_namespace", "ns"),
        ("K8S_POD_UID=u-1", "pod_uid", "u-1"),
        ("K8S_POD_INFRA_CONTAINER_ID=abc", "pod_infra_container_id", "abc"),
        ("K8S_POD_NAME= spaced ", "pod_name", " spaced "),
        ("K8S_POD_NAME=", "pod_name", ""),
        ("K8S_POD_NAME=a;K8S_POD_NAME=b", "pod_name", "b"),
        ("IP=10.0.0.1", "ip", IPv4Address("10.0.0.1")),
        ("IP=fd00::1", "ip", IPv6Address("fd00::1")),
        ("IP=", "ip", None),
    ],
)
def test_each_known_key_sets_its_field_verbatim(cni_args: str, attr: str, expected: object) -> None:
    assert getattr(parse_k8s_args(cni_args), attr) == expected


@pytest.mark.parametrize("pair", ["K8S_POD_NAME:x", "a=b=c", "", "novalue", "IP=1=2"])
def test_a_pair_without_exactly_one_equals_sign_is_rejected_naming_it(pair: str) -> None:
    err = thin_error(f"K8S_POD_NAMESPACE=test;{pair};K8S_POD_UID=u")
    assert err.msg == f'ARGS: invalid pair "{pair}"'


def test_colons_instead_of_equals_signs_are_rejected() -> None:
    assert thin_error("K8S_POD_NAME:x;K8S_POD_NAMESPACE:y").msg == 'ARGS: invalid pair "K8S_POD_NAME:x"'


def test_a_trailing_semicolon_makes_an_empty_invalid_pair() -> None:
    assert thin_error("K8S_POD_NAME=x;").msg == 'ARGS: invalid pair ""'


def test_unknown_keys_are_an_error_listing_all_of_them_in_gos_format() -> None:
    assert thin_error("FOO=bar;K8S_POD_NAME=x;BAZ=1").msg == 'ARGS: unknown args ["FOO=bar" "BAZ=1"]'


def test_keys_match_exactly_so_a_lowercase_key_is_unknown() -> None:
    assert "k8s_pod_name=x" in thin_error("k8s_pod_name=x").msg


@pytest.mark.parametrize("flag", ["1", "true", "TRUE", "True"])
def test_ignore_unknown_true_accepts_unknown_keys_wherever_it_appears(flag: str) -> None:
    for cni_args in (f"IgnoreUnknown={flag};FOO=bar;K8S_POD_NAME=p", f"FOO=bar;K8S_POD_NAME=p;IgnoreUnknown={flag}"):
        args = parse_k8s_args(cni_args)
        assert args.pod_name == "p" and args.ignore_unknown


@pytest.mark.parametrize("flag", ["0", "false", "FALSE"])
def test_ignore_unknown_false_still_rejects_unknown_keys(flag: str) -> None:
    assert "unknown args" in thin_error(f"IgnoreUnknown={flag};FOO=bar").msg


@pytest.mark.parametrize(
    ("cni_args", "pair"),
    [
        ("IgnoreUnknown=yes", "IgnoreUnknown=yes"),
        ("IgnoreUnknown=", "IgnoreUnknown="),
        ("K8S_POD_NAME=p;IP=10.0.0.256", "IP=10.0.0.256"),
        ("IP=fe80::1%eth0", "IP=fe80::1%eth0"),
        ("IP=10.0.0.0/24", "IP=10.0.0.0/24"),
    ],
)
def test_a_bad_value_is_rejected_naming_the_pair(cni_args: str, pair: str) -> None:
    assert thin_error(cni_args).msg.startswith(f'ARGS: error parsing value of pair "{pair}": ')


def test_a_bad_ip_is_an_error_even_with_ignore_unknown() -> None:
    assert "IP=bogus" in thin_error("IgnoreUnknown=1;IP=bogus").msg


def test_malformed_args_are_cni_errors_with_code_4() -> None:
    err = thin_error("garbage")
    assert isinstance(err, CniError) and err.code == 4 and err.code == ErrorCode.INVALID_ENVIRONMENT_VARIABLES


@pytest.mark.parametrize(("uid", "expected_uid"), [("testUID", "K8S_POD_UID=testUID"), ("", "K8S_POD_UID=")])
def test_delegates_base_cni_args_keep_empty_values(uid: str, expected_uid: str) -> None:
    args = K8sArgs(pod_name=PodName("testpod"), pod_namespace=Namespace("test"), pod_uid=PodUID(uid))
    assert args.to_cni_args() == (
        f"IgnoreUnknown=true;K8S_POD_NAMESPACE=test;K8S_POD_NAME=testpod;K8S_POD_INFRA_CONTAINER_ID=;{expected_uid}"
    )


def test_the_base_string_reads_back_to_the_same_identity() -> None:
    args = parse_k8s_args(KUBELET)
    assert parse_k8s_args(args.to_cni_args()) == args


def test_k8s_args_are_immutable() -> None:
    with pytest.raises(AttributeError):
        parse_k8s_args(KUBELET).pod_name = PodName("other")  # type: ignore[misc]


# ---------------------------------------------------------------- thick daemon reader


def test_the_daemon_trims_keys_and_values() -> None:
    assert parse_daemon_cni_args(" K8S_POD_NAME = p ; X=1") == {"K8S_POD_NAME": "p", "X": "1"}


def test_the_daemon_reads_identity_and_ignores_other_keys() -> None:
    args = parse_daemon_k8s_args("FOO=bar;K8S_POD_NAMESPACE=test;K8S_POD_NAME=my-little-pod;K8S_POD_UID=testUID")
    assert (args.pod_namespace, args.pod_name, args.pod_uid) == ("test", "my-little-pod", "testUID")


def test_the_daemon_leaves_a_missing_uid_empty_for_recovery() -> None:
    assert parse_daemon_k8s_args("K8S_POD_NAMESPACE=test;K8S_POD_NAME=p").pod_uid == ""


@pytest.mark.parametrize(
    ("cni_args", "item"), [("", ""), ("K8S_POD_NAME=p;", ""), ("a=b=c", "a=b=c"), ("K8S_POD_NAME", "K8S_POD_NAME")]
)
def test_the_daemon_rejects_an_item_without_exactly_one_equals_sign(cni_args: str, item: str) -> None:
    assert daemon_error(cni_args).msg == f"invalid CNI_ARG '{item}'"


@pytest.mark.parametrize(
    ("cni_args", "missing"),
    [
        ("K8S_POD_NAME=p", "K8S_POD_NAMESPACE"),
        ("K8S_POD_NAMESPACE=ns", "K8S_POD_NAME"),
        ("FOO=bar", "K8S_POD_NAMESPACE"),
    ],
)
def test_the_daemon_requires_namespace_then_name(cni_args: str, missing: str) -> None:
    assert daemon_error(cni_args).msg == f"missing {missing}"


def test_empty_identity_values_fail_the_pod_identity_requirement_with_gos_text() -> None:
    args = parse_daemon_k8s_args("K8S_POD_NAMESPACE=;K8S_POD_NAME=p")
    with pytest.raises(K8sArgsError) as info:
        args.require_pod_identity()
    assert info.value.msg == "required CNI variable missing. pod name: p; pod namespace: "


def test_a_complete_identity_meets_the_requirement() -> None:
    parse_daemon_k8s_args("K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p").require_pod_identity()
