"""Every manifest under ``deployments/`` is well-formed and valid Kubernetes.

Checked here:
- each ``.yml`` parses (no duplicate keys, no empty files) and every object has apiVersion, kind, name;
- every built-in object validates against Kubernetes's own schemas (kubernetes-validate, strict: an
  unknown or misspelt field fails), at ``KUBERNETES_VERSION``;
- NetworkAttachmentDefinitions, which kubernetes-validate has no schema for, validate against the
  openAPIV3Schema of ``deployments/crd.yml`` made strict the way the API server prunes (unknown fields
  fail except below ``x-kubernetes-preserve-unknown-fields``), their metadata against ObjectMeta;
- the CRD is the Network Plumbing WG's: group, names, short name, scope, one served and stored v1,
  ``spec.config`` a string;
- namespaced objects of the DaemonSet manifests are in kube-system and no Namespace is created;
- both validators reject a broken object, so a pass means something.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml  # type: ignore[import-untyped]
from deployments_support import (
    CRD,
    DEPLOYMENTS,
    EXAMPLES,
    KUBERNETES_VERSION,
    NAMESPACE,
    THICK,
    THIN,
    Obj,
    find,
    load,
    manifest_files,
)

NAD_KIND = "NetworkAttachmentDefinition"
NAD_API = "k8s.cni.cncf.io/v1"
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Namespace"}


def _objects() -> list[Any]:
    """One parameter per object; a file that does not parse becomes one failing parameter, not a
    collection error that would hide every other test of this module."""
    params = []
    for path in manifest_files():
        where = path.relative_to(DEPLOYMENTS)
        try:
            objects = load(path)
        except yaml.YAMLError as exc:
            params.append(pytest.param({"unparsable": f"{where}: {exc}"}, id=f"{where}:unparsable"))
            continue
        params.extend(pytest.param(obj, id=f"{where}:{obj.get('kind')}/{obj.get('metadata', {}).get('name')}")
                      for obj in objects if isinstance(obj, dict))
    return params


def _brief(error: jsonschema.ValidationError) -> str:
    """The failing path and message, without the (huge) schema kubernetes-validate would print."""
    where = "/".join(str(p) for p in error.absolute_path) or "<root>"
    return f"{where}: {error.message}"


def k8s_validate(obj: Obj) -> str:
    try:
        version: str = kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        return version
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {_brief(exc)}")


def strict_schema(schema: Any) -> Any:
    """The CRD schema with ``additionalProperties: false`` wherever the API server would prune."""
    if isinstance(schema, list):
        return [strict_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict_schema(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if (schema.get("type") == "object" and "properties" in schema and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


def nad_schema() -> Obj:
    versions = find(CRD, "CustomResourceDefinition")["spec"]["versions"]
    schema: Obj = strict_schema(next(v for v in versions if v["name"] == "v1")["schema"]["openAPIV3Schema"])
    return schema


def validate_nad(obj: Obj) -> None:
    try:
        jsonschema.Draft7Validator(nad_schema()).validate(obj)
    except jsonschema.ValidationError as exc:
        pytest.fail(f"{obj['metadata']['name']}: {_brief(exc)}")
    # ObjectMeta is the API server's, whatever the CRD says: check it as part of a built-in kind.
    k8s_validate({"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj["metadata"]})


def test_every_manifest_parses_into_named_kubernetes_objects() -> None:
    files = manifest_files()
    assert {THICK, THIN, CRD} <= set(files)
    assert any(p.parent == EXAMPLES for p in files)
    for path in files:
        objects = load(path)
        assert objects, f"{path.name} holds no object"
        for obj in objects:
            assert isinstance(obj, dict), f"{path.name}: a document is not a mapping"
            assert obj.get("apiVersion") and obj.get("kind"), f"{path.name}: an object without apiVersion/kind"
            assert obj.get("metadata", {}).get("name"), f"{path.name}: a {obj['kind']} without a name"


def test_the_manifest_loader_refuses_duplicate_keys(tmp_path: Path) -> None:
    bad = tmp_path / "dup.yml"
    bad.write_text("kind: ConfigMap\nmetadata: {name: a}\nmetadata: {name: b}\n")
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key 'metadata'"):
        load(bad)


@pytest.mark.parametrize("obj", _objects())
def test_each_object_is_valid_for_kubernetes(obj: Obj) -> None:
    assert "unparsable" not in obj, obj.get("unparsable")
    if obj["kind"] == NAD_KIND:
        assert obj["apiVersion"] == NAD_API
        validate_nad(obj)
    else:
        assert k8s_validate(obj) == KUBERNETES_VERSION.rsplit(".", 1)[0]


def test_strict_validation_rejects_a_misspelt_daemonset_field() -> None:
    ds = copy.deepcopy(find(THICK, "DaemonSet"))
    ds["spec"]["template"]["spec"]["containers"][0]["volumeMount"] = []
    with pytest.raises(kubernetes_validate.ValidationError, match="volumeMount"):
        kubernetes_validate.validate(ds, KUBERNETES_VERSION, strict=True)


def test_kubernetes_validate_has_no_schema_for_nads_so_the_crd_schema_is_used() -> None:
    nad = load(EXAMPLES / "macvlan-nad.yml")[0]
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(nad, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("breakage", ["config-not-a-string", "unknown-top-level-field"])
def test_the_crd_schema_rejects_a_broken_nad(breakage: str) -> None:
    nad = copy.deepcopy(load(EXAMPLES / "macvlan-nad.yml")[0])
    if breakage == "config-not-a-string":
        nad["spec"]["config"] = {"type": "macvlan"}
    else:
        nad["sepc"] = {}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(nad_schema()).validate(nad)


def test_the_crd_schema_keeps_unknown_spec_fields_of_other_implementations() -> None:
    nad = copy.deepcopy(load(EXAMPLES / "macvlan-nad.yml")[0])
    nad["spec"]["somethingElse"] = {"kept": True}
    jsonschema.Draft7Validator(nad_schema()).validate(nad)


def test_the_crd_defines_network_attachment_definitions_as_the_npwg_spec_does() -> None:
    crd = find(CRD, "CustomResourceDefinition")
    spec = crd["spec"]
    assert crd["metadata"]["name"] == f"{spec['names']['plural']}.{spec['group']}"
    assert spec["group"] == "k8s.cni.cncf.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {"plural": "network-attachment-definitions",
                             "singular": "network-attachment-definition",
                             "kind": NAD_KIND, "shortNames": ["net-attach-def"]}
    [version] = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1", True, True)
    nad_spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert nad_spec["type"] == "object"
    assert nad_spec["properties"]["config"]["type"] == "string"
    assert "required" not in nad_spec, "an empty spec is valid: Multus then reads a file from its confDir"


@pytest.mark.parametrize("path", [THICK, THIN], ids=lambda p: p.name)
def test_daemonset_manifests_put_everything_in_kube_system_without_a_namespace_object(path: Path) -> None:
    for obj in load(path):
        assert obj["kind"] != "Namespace"
        if obj["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in obj["metadata"], f"{obj['kind']} is cluster-scoped"
        else:
            assert obj["metadata"].get("namespace") == NAMESPACE, f"{obj['kind']}/{obj['metadata']['name']}"
