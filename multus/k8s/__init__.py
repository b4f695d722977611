"""The only place in multus-py that talks to the Kubernetes API.

The thin plugin is a fresh process per CNI call on every pod's start path, and it needs just four
calls (GET a pod, GET a NetworkAttachmentDefinition, PATCH the pod's status, POST an Event).
Importing the ``kubernetes`` client alone costs ~220 ms per process, so these modules are a small
client on the standard library (sockets, ``json``; ``ssl`` for an https server; ``http.client`` only
for the daemon's watch streams); PyYAML is imported lazily, and only when a kubeconfig is actually YAML.

Modules:
    errors  KubeAPIError and its subclasses (one per HTTP failure class), KubeconfigError, and
            the mapping of an HTTP response to the right class
    access  ClusterAccess (server, TLS, credentials) from a kubeconfig or the in-cluster service
            account, and Go Multus's rule for choosing between them (resolve_access)
    client  KubeClient: the four calls plus a generic request, with keep-alive, retries and
            backoff
    http    the HTTP/1.1 request/response exchange the client's calls go through

This package deliberately imports nothing: ``import multus.k8s.client`` loads only what it uses.
"""
