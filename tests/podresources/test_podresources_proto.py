"""The interface definitions, the generated modules and the package surface.

Checked here:
* the committed modules under podresources/_proto are what hack/gen_proto.py generates now from
  podresources/proto (regenerated into a temporary directory and compared file by file);
* the generated grpc modules import their pb2 module by full package path (no sys.path tricks), and the
  installed protobuf and grpcio accept the generated code's version checks (the imports succeed);
* the wire contract: packages ``v1``/``v1alpha1`` (part of the method paths), every v1 message, field 1
  of DynamicResource reserved, ``ClaimResource.share_id`` a proto3 optional (presence tracked);
* ``podresources.__all__`` is exactly the public API, and importing the package or the client does not
  import grpc or protobuf.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import podresources

TOP = Path(__file__).resolve().parents[2]
GENERATED = TOP / "podresources" / "_proto"


def test_the_committed_generated_modules_are_up_to_date(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(TOP / "hack" / "gen_proto.py"), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(GENERATED) for p in GENERATED.rglob("*")
                       if p.is_file() and "__pycache__" not in p.parts)
    assert fresh == committed
    stale = [str(rel) for rel in fresh if (tmp_path / rel).read_bytes() != (GENERATED / rel).read_bytes()]
    assert stale == [], f"stale generated files (run .venv/bin/python hack/gen_proto.py): {stale}"


def test_generated_grpc_modules_import_their_messages_by_package_path() -> None:
    for version in ("v1", "v1alpha1"):
        text = (GENERATED / version / "api_pb2_grpc.py").read_text()
        assert f"from podresources._proto.{version} import api_pb2 as" in text
        module = importlib.import_module(f"podresources._proto.{version}.api_pb2_grpc")
        assert hasattr(module, "PodResourcesListerStub")


def test_the_wire_contract_matches_the_kubelet() -> None:
    from google.protobuf import descriptor_pb2  # type: ignore[import-untyped]

    from podresources._proto.v1 import api_pb2 as v1
    from podresources._proto.v1alpha1 import api_pb2 as v1alpha1

    service = v1.DESCRIPTOR.services_by_name["PodResourcesLister"]
    assert service.full_name == "v1.PodResourcesLister"
    assert [m.name for m in service.methods] == ["List", "GetAllocatableResources", "Get"]
    assert v1alpha1.DESCRIPTOR.services_by_name["PodResourcesLister"].full_name == "v1alpha1.PodResourcesLister"
    assert set(v1.DESCRIPTOR.message_types_by_name) == {
        "AllocatableResourcesRequest", "AllocatableResourcesResponse", "ListPodResourcesRequest",
        "ListPodResourcesResponse", "PodResources", "ContainerResources", "ContainerMemory", "ContainerDevices",
        "TopologyInfo", "NUMANode", "DynamicResource", "ClaimResource", "CDIDevice", "GetPodResourcesRequest",
        "GetPodResourcesResponse"}
    assert "class_name" not in v1.DynamicResource.DESCRIPTOR.fields_by_name
    assert set(v1.DynamicResource.DESCRIPTOR.fields_by_number) == {2, 3, 4}
    dynamic = descriptor_pb2.DescriptorProto()
    v1.DynamicResource.DESCRIPTOR.CopyToProto(dynamic)
    assert [(r.start, r.end) for r in dynamic.reserved_range] == [(1, 2)], "field 1 (class_name) must be reserved"
    assert v1.NUMANode.DESCRIPTOR.fields_by_name["ID"].number == 1
    claim = v1.ClaimResource(driver_name="d")
    assert not claim.HasField("share_id")
    claim.share_id = ""
    assert claim.HasField("share_id"), "share_id must be a proto3 optional"
    assert v1.ClaimResource.DESCRIPTOR.fields_by_name["share_id"].number == 5


def test_all_lists_the_public_api() -> None:
    assert podresources.__all__ == [
        "Allocatable", "CheckpointEntry", "CheckpointError", "ClaimResource", "ContainerDevices", "ContainerMemory",
        "ContainerResources", "DynamicResource", "KubeletError", "KubeletTimeoutError", "KubeletUnavailableError",
        "MethodNotSupportedError", "PodResources", "PodResourcesClient", "PodResourcesError", "RateLimitedError",
        "ResponseTooLargeError", "default_checkpoint_path", "default_socket_path", "pod_devices_from_checkpoint",
        "read_checkpoint"]
    for name in podresources.__all__:
        assert getattr(podresources, name) is not None
    errors = [getattr(podresources, n) for n in podresources.__all__ if n.endswith("Error")]
    assert all(issubclass(e, podresources.PodResourcesError) for e in errors)


def test_importing_the_client_or_the_cli_loads_neither_grpc_nor_protobuf() -> None:
    for module in ("podresources", "podresources.client", "podresources.cli"):
        code = (f"import sys, json, {module}; "
                "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('grpc', 'google'))))")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
        assert json.loads(done.stdout) == [], module
