"""The main job on an embedded local default: attach a network namespace through the CNI runtime.

What it does, all inside namespaces it creates and removes:
  1. makes a "node" namespace (standing in for the host) and a "pod" namespace;
  2. writes a conflist of real plugins (bridge + host-local, tuning, portmap) to a temp conf dir;
  3. ADDs the pod through multus.cni.runtime, with plugins running in the node namespace, and prints
     the result, the cached entry and the addresses and routes found inside the pod namespace;
  4. DELs, and shows that the interface, the lease and the cache entry are gone.

Run as root: ``hack/demo.sh`` (it installs what it needs first).
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from multus import netns
from multus.cni.errors import CniError
from multus.cni.invoke import SubprocessExecutor
from multus.cni.netconf import load_conflist
from multus.cni.runtime import CNIRuntime, RuntimeConf

NETWORK = "demo-net"


def conflist(ipam_dir: Path) -> dict[str, object]:
    return {
        "cniVersion": "1.0.0",
        "name": NETWORK,
        "plugins": [
            {"type": "bridge", "bridge": "demo0", "isGateway": True, "ipMasq": False,
             "ipam": {"type": "host-local", "dataDir": str(ipam_dir), "subnet": "10.88.0.0/24",
                      "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "tuning", "mtu": 1400, "sysctl": {"net.ipv4.conf.eth0.arp_filter": "1"}},
            {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
        ],
    }


def show(title: str, body: object) -> None:
    print(f"\n== {title}")
    print(body if isinstance(body, str) else json.dumps(body, indent=2))


def describe_pod(pod_ns: str) -> dict[str, object]:
    if not netns.link_exists(pod_ns, "eth0"):
        return {"links": netns.link_names(pod_ns)}
    info = netns.link_info(pod_ns, "eth0")
    return {
        "links": netns.link_names(pod_ns),
        "eth0": {"mac": info.mac, "mtu": info.mtu, "addresses": netns.addresses(pod_ns, "eth0")},
        "routes": [f"{r.dst} via {r.gw or 'link'} dev {r.ifname}" for r in netns.routes(pod_ns)],
    }


def port_forwards(node_ns: str) -> list[str]:
    """The DNAT rules portmap wrote in the node namespace for the runtimeConfig it was given."""
    rules = subprocess.run(["nsenter", f"--net={node_ns}", "--", "iptables", "-t", "nat", "-S"],
                           capture_output=True, text=True, check=False).stdout
    return [line for line in rules.splitlines() if "--dport" in line and "DNAT" in line]


def run(work: Path, node_ns: str, pod_ns: str, plugin_dirs: list[str]) -> None:
    conf_dir, ipam_dir, cache_dir = work / "net.d", work / "ipam", work / "cache"
    conf_dir.mkdir()
    (conf_dir / "10-demo.conflist").write_text(json.dumps(conflist(ipam_dir), indent=2))
    net = load_conflist(conf_dir, NETWORK)
    runtime = CNIRuntime(plugin_dirs, cache_dir=str(cache_dir), executor=SubprocessExecutor.in_netns(node_ns))
    rt = RuntimeConf(container_id="demo-" + secrets.token_hex(4), netns=pod_ns, if_name="eth0",
                     args=(("IgnoreUnknown", "true"), ("K8S_POD_NAMESPACE", "default"), ("K8S_POD_NAME", "demo")),
                     capability_args={"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]})

    show(f"network {NETWORK}: {' -> '.join(p.type for p in net.plugins)} (cniVersion {net.cni_version})",
         f"node namespace {node_ns}\npod namespace  {pod_ns}")
    result = runtime.add_network_list(net, rt)
    show("ADD result", result.to_dict())
    show("inside the pod namespace after ADD", describe_pod(pod_ns))
    show("port forwards portmap set up in the node namespace", port_forwards(node_ns))
    entry = runtime.get_cached_attachment(NETWORK, rt)
    show("result cache entry (libcni format)",
         f"{runtime._cache(rt).path(NETWORK, rt.container_id, rt.if_name)} "
         f"kind=cniCacheV1 netns={entry.netns if entry else None}")
    runtime.del_network_list(net, rt)
    leases = sorted(p.name for p in (ipam_dir / NETWORK).iterdir() if not p.name.startswith(("last_", "lock")))
    show("after DEL", {"pod": describe_pod(pod_ns), "leases left": leases,
                       "cache entry left": runtime.get_cached_attachment(NETWORK, rt) is not None})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cni-path", default="/usr/lib/cni", help="plugin directories, ':'-separated")
    options = parser.parse_args()
    suffix = secrets.token_hex(3)
    created: list[str] = []
    try:
        node_ns = netns.create_netns(f"multus-demo-node-{suffix}")
        created.append(node_ns)
        pod_ns = netns.create_netns(f"multus-demo-pod-{suffix}")
        created.append(pod_ns)
        with tempfile.TemporaryDirectory(prefix="multus-demo-") as work:
            run(Path(work), node_ns, pod_ns, options.cni_path.split(":"))
    except CniError as exc:
        print(f"demo failed: {exc}\n{exc.to_json()}", file=sys.stderr)
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
