"""Test doubles shipped with multus-py, for our own tests and for users' tests of code built on it.

* :mod:`multus.testing.kube_api` stands in for kube-apiserver: an HTTP server that the real
  ``kubernetes`` Python client talks to unchanged.
* :mod:`multus.testing.fake_plugin` is a scripted CNI plugin executable.
* :mod:`multus.testing.recording_executor` wraps a PluginExecutor and records every plugin exec.
* :mod:`multus.testing.thin_plugin` makes one CNI call into the thin plugin in-process.
"""
