"""The Multus meta-plugin: where a CNI call enters and how it fans out to the delegates.

A runtime calls Multus like any CNI plugin (ADD, DEL, CHECK, STATUS, GC, VERSION); Multus reads its
own top-level config, works out the pod's networks (static delegates, the cluster network, the
pod's annotations) and runs each delegate plugin in turn, returning the master delegate's result.

Where things live:
    config      the top-level Multus NetConf: Go's key names, defaults and validation
    k8s_args    the K8S_* pod identity carried in CNI_ARGS
    selection   the pod's network-selection annotations (text and JSON forms)
"""
