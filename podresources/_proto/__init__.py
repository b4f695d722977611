"""Generated protobuf and gRPC modules of the kubelet PodResources API (see hack/gen_proto.py).

Nothing outside podresources/ should import these: podresources.client converts them to dataclasses.
"""
