"""Putting Multus on a node: the commands, the kubeconfig, and the thin plugin's entrypoint.

    atomic       write/copy an executable atomically (works while the old file runs)
    bundle       the thin plugin for the host: one zipapp that the node's python3 runs as multus/passthru
    bundle_main  the bundle's ``__main__.py`` (version check, dispatch on the command's name)
    binaries     copy_binary, install, ``multus-install``
    kubeconfig   generate_kubeconfig from the service account, rewritten when the token/CA changes
    thin_config  the thin plugin's 00-multus.conf(list), in Go's layout
    entrypoint   ThinEntrypoint, ``multus-thin-entrypoint``
    cli          the entrypoint's Go-compatible flags
"""
