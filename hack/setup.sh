#!/usr/bin/env bash
# Install everything multus-py needs on a fresh Debian 12 machine, idempotently:
# Debian's CNI plugins and iproute2, a venv in .venv with the package and its test dependencies.
# Run as root (apt-get); a second run changes nothing.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

need_apt=()
[ -x /usr/lib/cni/bridge ] || need_apt+=(containernetworking-plugins)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
command -v nsenter >/dev/null 2>&1 || need_apt+=(util-linux)
command -v iptables >/dev/null 2>&1 || need_apt+=(iptables)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
ldconfig -p 2>/dev/null | grep -q 'libudev\.so\.1' || need_apt+=(libudev1)
python_bin=${PYTHON:-python3}
if ! "$python_bin" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    need_apt+=(python3 python3-venv)
fi
if ! "$python_bin" -c 'import venv, ensurepip' 2>/dev/null; then
    need_apt+=(python3-venv)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: apt-get install ${need_apt[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv" >&2
    "$python_bin" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
    echo "setup: installing multus-py and test dependencies into .venv" >&2
    log=$(mktemp)
    if ! { .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip install -e '.[test]'; } \
            >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "setup: pip install failed" >&2
        exit 1
    fi
    rm -f "$log"
    rm -f .venv/.installed-*
    touch "$stamp"
fi
