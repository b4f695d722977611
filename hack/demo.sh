#!/usr/bin/env bash
# The main job on an embedded local default: installs what it needs (hack/setup.sh), then runs a simulated
# SR-IOV node in thick mode (multus-daemon, multus-shim, the API server and kubelet doubles, a pod with a
# cluster, a macvlan and a "VF" interface), shows it and removes everything. Run as root.
#   hack/demo.sh                 the thick-mode node
#   hack/demo.sh --thin          the thin multus plugin, exec'ed as a container runtime does
#   hack/demo.sh --runtime-only  the CNI runtime alone (bridge, tuning, portmap)
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
hack/setup.sh
exec .venv/bin/python hack/demo.py "$@"
