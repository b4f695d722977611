"""CHECK: ask the static delegates' plugins whether the attachment is still as ADD left it.

As in Go Multus, only ``delegates`` from the config are checked: with ``clusterNetwork`` set, or with
networks from the pod's annotations, CHECK is a successful no-op (their configs live in the API).
"""

from __future__ import annotations

from multus.plugin.context import CallContext
from multus.plugin.execute import delegate_check
from multus.plugin.resolve import static_delegates


def cmd_check(ctx: CallContext) -> None:
    if ctx.conf.cluster_network:
        return
    for index, delegate in enumerate(static_delegates(ctx.conf)):
        delegate_check(ctx, delegate, index)
