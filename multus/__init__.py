"""multus-py: the Kubernetes meta CNI plugin, in Python.

Packages:
    multus.cni  the CNI runtime (a libcni equivalent) and the plugin-side entry helper (skel).
"""

__version__ = "0.1.0"
