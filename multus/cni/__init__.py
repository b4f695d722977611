"""The CNI runtime: run CNI plugins the way libcni does, and be run by a runtime the way skel does.

Nothing here knows about Kubernetes or Multus; the meta-plugin is built on top of it.

Where things live:
    errors      the CNI error object and the exception tree every layer raises
    version     spec versions, comparison, VERSION answers
    types/      results per spec family and the conversion table between them
    args        CNI_ARGS parsing and formatting
    netconf     network configs (.conf) and lists (.conflist): parsing, validation, conf-dir loading
    invoke      finding and executing plugin binaries (the PluginExecutor seam)
    cache       libcni's on-disk result cache (cniCacheV1)
    runtime     ADD/CHECK/DEL/GC/STATUS over a network list: what a container runtime calls
    skel        the plugin side: environment + stdin -> verb -> stdout/exit code
    tool        a cnitool-compatible command line (python -m multus.cni)
"""
