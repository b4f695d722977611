#!/usr/bin/env bash
# The test suite: installs what it needs (hack/setup.sh), then runs every test.
# Real-plugin tests need root and network namespaces; CI runs as root, so they run there.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
hack/setup.sh
exec .venv/bin/python -m pytest "$@"
