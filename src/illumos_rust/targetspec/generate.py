"""``target generate``: a custom target JSON derived from a built-in one, proven loadable by rustc.

The file is only written after rustc has (1) accepted it for ``--print cfg`` and (2) read back every
``--set`` value unchanged through ``--print target-spec-json``; a key rustc silently normalises or a
combination it rejects (``is-like-solaris`` without ``os=illumos``...) is reported and nothing is
written. The final write is a temp file plus rename, so an existing spec is never left half-written.
"""

from __future__ import annotations

import difflib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import FormatError, UsageError
from . import rustc
from .cfgset import CfgSet, bootstrap_cfg, cfg_set
from .diff import canonical
from .spec import TargetSpec, known_fields, load_spec, rustc_reading


@dataclass(frozen=True)
class Generated:
    path: Path
    spec: dict[str, Any]
    base_cfg: CfgSet
    cfg: CfgSet

    @property
    def cfg_added(self) -> list[str]:
        return CfgSet("", self.cfg.atoms - self.base_cfg.atoms).lines()

    @property
    def cfg_removed(self) -> list[str]:
        return CfgSet("", self.base_cfg.atoms - self.cfg.atoms).lines()


def parse_assignment(text: str) -> tuple[str, Any]:
    """``KEY=VALUE``; VALUE is JSON when it parses as JSON (``false``, ``64``, ``{"kind":"none"}``),
    otherwise a plain string (``os=illumos``), so the common cases need no shell quoting of quotes."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"--set {text!r}: expected KEY=VALUE")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value
    except RecursionError:  # json's C decoder recurses per nesting level
        raise UsageError(f"--set {key}: the JSON value is nested too deeply") from None


def _check_keys(keys: list[str], fields: list[str]) -> None:
    for key in keys:
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UsageError(f"{key}: not a target-spec field rustc knows{hint}")


def build(base: TargetSpec, sets: list[tuple[str, Any]], unsets: list[str]) -> dict[str, Any]:
    """The new spec: rustc's printed base spec with keys set or removed (removed = back to default)."""
    spec = json.loads(json.dumps(base.raw))
    for key in unsets:
        spec.pop(key, None)
    for key, value in sets:
        spec[key] = value
    return dict(sorted(spec.items()))


def generate(
    base_name: str,
    sets: list[tuple[str, Any]],
    unsets: list[str],
    output: Path,
    *,
    toolchain: rustc.Toolchain | None = None,
    force: bool = False,
) -> Generated:
    tc = toolchain or rustc.toolchain()
    if not output.name.endswith(".json"):
        raise UsageError(f"{output}: a custom target file must end in .json (rustc names the target by it)")
    if output.exists() and not force:
        raise UsageError(f"{output}: exists (use --force to replace it)")
    if not output.parent.is_dir():
        # Only the file is created: a typo in -o must not leave a new directory tree behind.
        raise UsageError(f"{output}: directory {output.parent} does not exist (nothing written)")
    base = load_spec(base_name, toolchain=tc)
    _check_keys([k for k, _ in sets] + unsets, known_fields(toolchain=tc))
    spec = build(base, sets, unsets)
    text = json.dumps(spec, indent=2) + "\n"
    with tempfile.TemporaryDirectory(prefix="illumos-rust-gen-") as tmp:
        trial = Path(tmp) / output.name
        trial.write_text(text)
        try:
            cfg_set(str(trial), toolchain=tc)  # the acceptance test: rustc --print cfg --target FILE
            new_cfg = bootstrap_cfg(str(trial), toolchain=tc)
            reading = rustc_reading(str(trial), toolchain=tc)
        except (UsageError, FormatError) as exc:
            message = str(exc).replace(str(trial), str(output))
            raise UsageError(f"{message} (nothing written)") from None
    for key, value in sets:
        seen = TargetSpec.from_raw(output.stem, reading).get(key)
        if canonical(seen) != canonical(value):
            raise UsageError(
                f"{output}: rustc reads {key} back as {canonical(seen)}, not {canonical(value)}"
                " (nothing written)"
            )
    base_cfg = bootstrap_cfg(base_name, toolchain=tc)  # same mode as the custom spec's, for a fair delta
    rustc.write_atomic(output, text)
    return Generated(output, spec, base_cfg, CfgSet(output.stem, new_cfg.atoms))
