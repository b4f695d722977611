"""Putting Multus on a node: the commands, the kubeconfig, and the thin plugin's entrypoint.

    binaries     copy_binary (atomic, works while the old file runs), install, ``multus-install``
    kubeconfig   generate_kubeconfig from the service account, rewritten when the token/CA changes
    thin_config  the thin plugin's 00-multus.conf(list), in Go's layout
    entrypoint   ThinEntrypoint, ``multus-thin-entrypoint``
    cli          the entrypoint's Go-compatible flags
"""
