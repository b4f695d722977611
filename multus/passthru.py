"""``passthru``: a CNI plugin that does nothing, so a chain can start without one.

Multus's auxiliary CNI chain (``auxiliaryCNIChainName``) runs meta plugins such as tuning on the pod's
interfaces; a conflist needs a first plugin that produces a result, and this is it. ADD prints an empty
result; DEL, CHECK, GC and STATUS succeed. It speaks 0.3.0 to 1.1.0, like Go Multus's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from multus.cni.skel import CmdArgs, PluginFuncs, plugin_main_and_exit
from multus.cni.version import PluginInfo

if TYPE_CHECKING:
    from multus.cni.types import Result

SUPPORTED = ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")


def _add(args: CmdArgs) -> Result:
    from multus.cni.types import parse_result

    return parse_result({"cniVersion": args.cni_version, "interfaces": [], "ips": [], "routes": [], "dns": {}})


def _nothing(args: CmdArgs) -> None:
    return None


def main() -> None:
    plugin_main_and_exit(PluginFuncs(add=_add, delete=_nothing, check=_nothing, gc=_nothing, status=_nothing),
                         PluginInfo("1.1.0", SUPPORTED), "passthru: the first link of an auxiliary CNI chain")


if __name__ == "__main__":
    main()
