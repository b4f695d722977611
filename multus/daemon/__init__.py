"""The thick-plugin daemon: the long-lived process that serves CNI requests on a unix socket.

The shim (``multus-shim``, ours or Go's) forwards each CNI call to ``<socketDir>/multus.sock``; the
daemon runs the same verbs as the thin plugin, with one Kubernetes client for all calls.

    config.py      daemon-config.json: Go's keys and defaults; the per-request config override
    wire.py        request and response shapes on the socket (Go-compatible, plus our result-version header)
    handlers.py    /cni and /delegate, the probes, routing and the request counter
    clients.py     the shared Kubernetes client (one per kubeconfig, or a given KubeAPI such as kube_cache)
    server.py      the unix socket: threads, the connection bound (back-pressure), graceful shutdown
    connection.py  one connection's HTTP/1.1 exchange (keep-alive, timeouts, body limits)
    metrics.py     Prometheus metrics on metricsPort; delegate timing around the CNI runtime
    events.py      Kubernetes Events POSTed on a background thread, off the requests' path
    service.py     Daemon: the parts assembled, started in Go's order, stopped gracefully with hooks
    main.py        the ``multus-daemon`` command: flags, startup checks, signals, exit codes
    kube_cache.py  informer-backed pod and NAD reads (a KubeAPI)
    autoconfig.py  generating 00-multus.conf from the primary CNI config (auto mode)

Heavy imports (prometheus_client) are fine here: the daemon starts once and runs for days.
"""
