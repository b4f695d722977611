"""Go thin_entrypoint's command line, parsed with argparse.

pflag conventions are kept so existing DaemonSet manifests work unchanged: ``--flag=value`` or
``--flag value``; a boolean flag alone means true and takes ``=true``/``=false`` (and pflag's other
spellings: 1/0, t/f, TRUE/FALSE...). ``--force-cni-version`` and ``--skip-tls-verify`` are hidden, as in
Go. ``--service-account-dir`` is ours (Go hard-codes the path), mainly for tests; so is ``--host-python``,
the node's interpreter that runs the installed bundle (Go copies a static binary instead).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import fields

from multus.install.entrypoint import ThinOptions

_TRUE = {"1", "t", "T", "true", "TRUE", "True"}
_FALSE = {"0", "f", "F", "false", "FALSE", "False"}


def parse_bool(text: str) -> bool:
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


_HIDDEN = {"force_cni_version", "skip_tls_verify"}
_HELP = {
    "cni_bin_dir": "CNI binary directory",
    "cni_conf_dir": "CNI config directory",
    "cni_version": "CNI version for multus CNI config (e.g. '0.3.1')",
    "multus_conf_file": "multus CNI config file ('auto' to generate it)",
    "multus_bin_file": "file to install as multus (default: build the self-contained bundle for --host-python)",
    "multus_cni_conf_dir": "multus specific CNI config directory (written as confDir when given)",
    "skip_multus_binary_copy": "skip multus binary file copy",
    "multus_kubeconfig_file_host": "kubeconfig path on the host, written into the config",
    "multus_master_cni_file_name": "master CNI file in multus-autoconfig-dir",
    "namespace_isolation": "namespace isolation",
    "global_namespaces": "global namespaces, comma separated",
    "multus_autoconfig_dir": "where the master CNI config is looked for",
    "multus_log_to_stderr": "log to stderr",
    "multus_log_level": "multus log level (debug/verbose/error/panic)",
    "multus_log_file": "multus log file",
    "override_network_name": "use the master config's network name",
    "cleanup_config_on_exit": "remove the generated or copied config on exit",
    "skip_config_watch": "do not follow changes of the master config",
    "rename_conf_file": "rename the master config to <name>.old",
    "readiness_indicator_file": "readiness indicator file",
    "additional_bin_dir": "adds binDir to the config",
    "service_account_dir": "service account token and ca.crt directory",
    "host_python": "the node's python3 (>= 3.11), written into the installed bundle's #! line",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="multus-thin-entrypoint",
                                     description="Install thin Multus on a node and keep its config current.")
    defaults = ThinOptions()
    for f in fields(ThinOptions):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        help_text = argparse.SUPPRESS if f.name in _HIDDEN else f"{_HELP.get(f.name, '')} (default {default!r})"
        if isinstance(default, bool):
            parser.add_argument(flag, dest=f.name, type=parse_bool, nargs="?", const=True, default=default,
                                metavar="BOOL", help=help_text)
        else:
            parser.add_argument(flag, dest=f.name, default=default, metavar="VALUE", help=help_text)
    return parser


def parse_options(argv: Sequence[str]) -> ThinOptions:
    args = build_parser().parse_args(list(argv))
    return ThinOptions(**{f.name: getattr(args, f.name) for f in fields(ThinOptions)})
