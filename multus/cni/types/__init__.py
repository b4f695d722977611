"""CNI results: one model per spec family, decoding of plugin output, conversion between versions.

Families (one wire shape each):
    v020  0.1.0, 0.2.0          ip4 / ip6 objects, no interfaces
    v040  0.3.0, 0.3.1, 0.4.0   interfaces, ips with a "version" label, top-level routes
    v100  1.0.0, 1.1.0          like v040 without "version"; 1.1.0's optional extra fields included

Every model has ``.cni_version``, ``.to_dict()`` (the wire JSON object, shaped as Go libcni prints it)
and ``.to_json()``. Models are frozen: convert instead of editing.

Stdlib only, and light even among the stdlib (plain slotted classes in ``common``, a small decoder in
``fields``): this package is imported on the per-call path of CNI plugin binaries, a fresh process per
call, where pydantic's import and first-model build (~90 ms) alone exceeded the whole call's budget, and
even ``dataclasses`` cost ~6 ms to import plus ~0.3 ms per frozen class (see ``common``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TypeAlias

from multus.cni.errors import CniError, ErrorCode
from multus.cni.types import v100
from multus.cni.types.convert import convert_result, to_current
from multus.cni.types.fields import DecodeError, family_of
from multus.cni.version import IMPLICIT_VERSION

if TYPE_CHECKING:
    from multus.cni.types import v020, v040

__all__ = ["Result", "convert_result", "family_of", "parse_result", "to_current", "v020", "v040", "v100"]

# The 0.x families (v020, v040) are imported on first use, not here: a call whose plugins and config
# speak 1.x (nearly all of them) never needs their five model classes, and every module a plugin process
# loads is paid for on each call (~0.3 ms for the two since the models are plain classes; ~2 ms when they
# were frozen dataclasses). ``cnitypes.v020``, ``Result`` and ``from multus.cni.types import v040`` work
# as before (module ``__getattr__`` below).
if TYPE_CHECKING:
    Result: TypeAlias = v020.Result | v040.Result | v100.Result
else:
    def __getattr__(name: str) -> Any:
        if name in ("v020", "v040"):
            import importlib

            return importlib.import_module(f"{__name__}.{name}")
        if name == "Result":  # the union at runtime, for code that inspects it rather than annotates with it
            from multus.cni.types import v020, v040

            return v020.Result | v040.Result | v100.Result
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _model(family: str) -> type[Result]:
    """The model class of a family ("020", "040", "100"), importing a 0.x family on first use."""
    if family == "100":
        return v100.Result
    if family == "040":
        from multus.cni.types import v040

        return v040.Result
    from multus.cni.types import v020

    return v020.Result


def _decoding_error(msg: str, details: str = "") -> CniError:
    return CniError(msg, details, ErrorCode.DECODING_FAILURE)


def _load_object(data: bytes | str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(data, dict):
        return data
    try:
        loaded = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise _decoding_error("decoding plugin result: invalid JSON", str(exc)) from exc
    if not isinstance(loaded, dict):
        raise _decoding_error("decoding plugin result: not a JSON object", f"got {type(loaded).__name__}")
    return loaded


def parse_result(data: bytes | str | dict[str, Any], default_version: str = "") -> Result:
    """Decode a plugin's result; its own ``cniVersion`` picks the model.

    A result without ``cniVersion`` takes ``default_version`` (the config's version: plugins must echo
    it, some do not, and libcni falls back the same way), and 0.1.0 when that is empty too.
    Raises CniError (code 6) for anything malformed and VersionError for a version we do not know.
    """
    obj = _load_object(data)
    version = obj.get("cniVersion")
    if version is not None and not isinstance(version, str):
        raise _decoding_error("decoding plugin result: cniVersion must be a string", f"got {version!r}")
    version = version or default_version or IMPLICIT_VERSION
    model = _model(family_of(version))
    try:
        # Copy rather than edit the caller's dict when filling in the version.
        return model.from_dict({**obj, "cniVersion": version})
    except DecodeError as exc:
        # Details list every problem as "path: problem", e.g. "ips.0.address: invalid CIDR address ...".
        msg = f"decoding plugin result (cniVersion {version}): invalid fields"
        raise _decoding_error(msg, "; ".join(exc.problems)) from exc
