#!/usr/bin/env bash
# The main job on an embedded local default: installs what it needs (hack/setup.sh), then attaches a
# throw-away network namespace through the CNI runtime with real plugins and cleans up. Run as root.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
hack/setup.sh
exec .venv/bin/python hack/demo.py "$@"
