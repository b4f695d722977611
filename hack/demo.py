"""The main job on an embedded local default: a pod gets three interfaces through the thin Multus plugin.

What it does, all inside namespaces and a temp dir it creates and removes:
  1. starts the Kubernetes API server double on 127.0.0.1 (no real cluster runs here) and writes a
     kubeconfig for it; adds two NetworkAttachmentDefinitions (macvlan, bridge) and a pod whose
     ``k8s.v1.cni.cncf.io/networks`` annotation asks for both;
  2. makes a "node" namespace (standing in for the host, with a veth as the macvlan master) and a
     "pod" namespace;
  3. runs the ``multus`` command exactly as a container runtime would (CNI env, config on stdin), with
     a bridge conflist as the cluster network, and prints the result, the pod's interfaces and
     addresses, the network-status annotation and the events Multus wrote;
  4. DELs, and shows that interfaces, leases and caches are gone.

``--runtime-only`` instead attaches one namespace through the CNI runtime alone (bridge + host-local,
tuning, portmap), as the first version of this demo did.
Run as root: ``hack/demo.sh`` (it installs what it needs first).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from multus import netns
from multus.cni.errors import CniError
from multus.nsenter import run_in_netns
from multus.testing.kube_api import KubeApiServer

MULTUS = Path(sys.executable).parent / "multus"


def show(title: str, body: object) -> None:
    print(f"\n== {title}")
    print(body if isinstance(body, str) else json.dumps(body, indent=2))


def describe_pod(pod_ns: str) -> dict[str, object]:
    links = [name for name in netns.link_names(pod_ns) if name != "lo"]
    described: dict[str, object] = {}
    for name in links:
        info = netns.link_info(pod_ns, name)
        described[name] = f"{info.kind or 'link'} {info.mac} mtu {info.mtu} {' '.join(netns.addresses(pod_ns, name))}"
    described["routes"] = [f"{r.dst} via {r.gw or 'link'} dev {r.ifname}" for r in netns.routes(pod_ns)]
    return described


def host_local(ipam: Path, subnet: str) -> dict[str, Any]:
    return {"type": "host-local", "subnet": subnet, "dataDir": str(ipam)}


def call_multus(command: str, conf: dict[str, Any], node_ns: str, pod_ns: str, plugins: str,
                container_id: str, uid: str) -> dict[str, Any] | None:
    """Exec the ``multus`` command as a runtime does, inside the node's namespace."""
    env = dict(os.environ, CNI_COMMAND=command, CNI_CONTAINERID=container_id, CNI_NETNS=pod_ns, CNI_IFNAME="eth0",
               CNI_PATH=plugins, CNI_ARGS=f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=demo;"
                                          f"K8S_POD_INFRA_CONTAINER_ID={container_id};K8S_POD_UID={uid}")
    done = subprocess.run(["nsenter", f"--net={node_ns}", "--", str(MULTUS)], input=json.dumps(conf).encode(),
                          capture_output=True, env=env, timeout=120, check=False)
    output = json.loads(done.stdout) if done.stdout.strip() else None
    if done.returncode != 0:
        raise CniError(f"multus {command} failed (exit {done.returncode})", json.dumps(output))
    return output


def meta_plugin_demo(work: Path, node_ns: str, pod_ns: str, plugins: str) -> None:
    conf_dir, ipam = work / "net.d", work / "ipam"
    conf_dir.mkdir()
    (conf_dir / "10-cluster.conflist").write_text(json.dumps({
        "cniVersion": "1.0.0", "name": "cluster",
        "plugins": [{"type": "bridge", "bridge": "cni0", "isGateway": True,
                     "ipam": dict(host_local(ipam, "10.10.0.0/24"), routes=[{"dst": "0.0.0.0/0"}])}]}))
    with netns.ns_ipr(node_ns) as ipr:
        ipr.link("add", ifname="uplink0", kind="veth", peer="uplink0-peer")
        for name in ("lo", "uplink0", "uplink0-peer"):
            ipr.link("set", index=ipr.link_lookup(ifname=name)[0], state="up")
    # The API double listens on 127.0.0.1 *of the node namespace*, where multus runs, as a real node's
    # multus reaches its API server; its listening socket is made from a thread inside that namespace.
    api = KubeApiServer()
    run_in_netns(node_ns, api.start)
    try:
        api.write_kubeconfig(work / "kubeconfig")
        api.add_nad("default", "macvlan-conf", {"cniVersion": "1.0.0", "type": "macvlan", "master": "uplink0",
                                                "mode": "bridge", "ipam": host_local(ipam, "10.20.0.0/24")})
        api.add_nad("default", "storage-net", {"cniVersion": "1.0.0", "type": "bridge", "bridge": "br-storage",
                                               "ipam": host_local(ipam, "10.30.0.0/24")})
        uid = api.add_pod("default", "demo", annotations={
            "k8s.v1.cni.cncf.io/networks": '[{"name": "macvlan-conf"}, {"name": "storage-net", "interface": "stor0"}]'
        })["metadata"]["uid"]
        conf = {"cniVersion": "1.0.0", "name": "multus-cni-network", "type": "multus",
                "kubeconfig": str(work / "kubeconfig"), "cniDir": str(work / "multus"), "binDir": plugins,
                "confDir": str(conf_dir), "clusterNetwork": str(conf_dir / "10-cluster.conflist")}
        container_id = "demo-" + secrets.token_hex(4)
        show("multus config (stdin of the multus command)", conf)
        show("pod annotation k8s.v1.cni.cncf.io/networks",
             api.get_pod("default", "demo")["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"])

        result = call_multus("ADD", conf, node_ns, pod_ns, plugins, container_id, uid)
        show("ADD result (the cluster network's, as the runtime sees it)", result or {})
        show("inside the pod namespace", describe_pod(pod_ns))
        annotations = api.get_pod("default", "demo")["metadata"]["annotations"]
        show("pod annotation k8s.v1.cni.cncf.io/network-status", annotations["k8s.v1.cni.cncf.io/network-status"])
        show("events", [f"{e['type']} {e['reason']}: {e['message']}" for e in api.events("default")])

        call_multus("DEL", conf, node_ns, pod_ns, plugins, container_id, uid)
        leases = sorted(str(p.relative_to(ipam)) for p in ipam.rglob("*")
                        if p.is_file() and not p.name.startswith(("last_reserved_ip", "lock")))
        show("after DEL", {"pod": describe_pod(pod_ns), "leases left": leases,
                           "scratch cache left": (work / "multus" / container_id).exists()})
    finally:
        api.stop()


def runtime_demo(work: Path, node_ns: str, pod_ns: str, plugins: str) -> None:
    from multus.cni.invoke import SubprocessExecutor
    from multus.cni.netconf import NetworkConfigList
    from multus.cni.runtime import CNIRuntime, RuntimeConf

    ipam = work / "ipam"
    net = NetworkConfigList.from_object({"cniVersion": "1.0.0", "name": "demo-net", "plugins": [
        {"type": "bridge", "bridge": "demo0", "isGateway": True,
         "ipam": dict(host_local(ipam, "10.88.0.0/24"), routes=[{"dst": "0.0.0.0/0"}])},
        {"type": "tuning", "mtu": 1400},
        {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True}]})
    runtime = CNIRuntime(plugins.split(":"), cache_dir=str(work / "cache"),
                         executor=SubprocessExecutor.in_netns(node_ns))
    rt = RuntimeConf(container_id="demo-" + secrets.token_hex(4), netns=pod_ns, if_name="eth0",
                     capability_args={"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]})
    show("ADD result", runtime.add_network_list(net, rt).to_dict())
    show("inside the pod namespace", describe_pod(pod_ns))
    runtime.del_network_list(net, rt)
    show("after DEL", describe_pod(pod_ns))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cni-path", default="/usr/lib/cni", help="plugin directories, ':'-separated")
    parser.add_argument("--runtime-only", action="store_true", help="show the CNI runtime alone")
    options = parser.parse_args()
    suffix = secrets.token_hex(3)
    created: list[str] = []
    try:
        node_ns = netns.create_netns(f"multus-demo-node-{suffix}")
        created.append(node_ns)
        pod_ns = netns.create_netns(f"multus-demo-pod-{suffix}")
        created.append(pod_ns)
        with tempfile.TemporaryDirectory(prefix="multus-demo-") as work:
            demo = runtime_demo if options.runtime_only else meta_plugin_demo
            demo(Path(work), node_ns, pod_ns, options.cni_path)
    except CniError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    except PermissionError as exc:
        print(f"demo failed: {exc} (run it as root)", file=sys.stderr)
        return 1
    finally:
        for path in reversed(created):
            netns.remove_netns(path)
    print("\nnamespaces removed; done.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
