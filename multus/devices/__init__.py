"""Devices for a pod's networks: resourceName NADs -> device IDs -> device-info (the SR-IOV path).

    allocator.py   the pod's resource map, built once per ADD from the kubelet, handed out in delegate order
    source.py      where device IDs come from: the kubelet's PodResources API (lazily, grpc is heavy)
    deviceinfo.py  device-info files around a delegate: DP -> CNI copy, reading for network-status, cleanup
    hints.py       what to tell the operator when a network names a resource the pod holds no device of

The kubelet client lives in the top-level ``podresources`` package and the device-info spec library in
``devinfo``; this package is the only part of ``multus`` that uses them.
"""

# Where device plugins and CNI plugins keep device-info files (the NPWG spec's directory). Here rather than
# in deviceinfo.py so a call's context can name it without loading the device-info code.
DEFAULT_DEVINFO_DIR = "/var/run/k8s.cni.cncf.io/devinfo"
