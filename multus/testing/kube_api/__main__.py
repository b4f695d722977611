"""Run the kube-apiserver double as a process, for demos and manual poking.

    python -m multus.testing.kube_api --kubeconfig /tmp/kubeconfig [--port 6443] [--token T]

Serves until interrupted (SIGINT/SIGTERM); prints its URL once ready.
"""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType

from .server import KubeApiServer


def main(argv: list[str] | None = None) -> int:
    """Start the double, write the kubeconfig, and serve until a signal arrives."""
    parser = argparse.ArgumentParser(prog="python -m multus.testing.kube_api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: an ephemeral one)")
    parser.add_argument("--kubeconfig", help="write a kubeconfig pointing at the server here")
    parser.add_argument("--token", help="require this bearer token")
    parser.add_argument("--certfile", help="serve HTTPS with this certificate (needs --keyfile)")
    parser.add_argument("--keyfile", help="private key for --certfile")
    args = parser.parse_args(argv)
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with KubeApiServer(args.host, args.port, token=args.token, certfile=args.certfile,
                       keyfile=args.keyfile) as server:
        if args.kubeconfig:
            server.write_kubeconfig(args.kubeconfig)
        print(server.url, flush=True)
        done.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
