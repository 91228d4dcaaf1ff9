"""Target specs as rustc prints them, and with rustc's omitted defaults filled in.

Built-in specs come from one ``rustc -Z unstable-options --print all-target-specs-json`` call (all ~300 at
once, ~40 ms) and are cached with the cfg sets. A custom spec file is handed to rustc itself
(``--print target-spec-json --target FILE``) so that it is parsed and validated by the compiler that will
use it; what we compare is rustc's normalised reading of the file, not our guess at it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import FormatError, UsageError
from . import rustc
from .cfgset import _first_error, check_target, is_spec_path
from .defaults import effective
from .rustc import Toolchain


@dataclass(frozen=True)
class TargetSpec:
    """One target: what rustc printed (``raw``) and every field with defaults filled in (``fields``)."""

    name: str
    raw: dict[str, Any]
    fields: dict[str, Any]
    defaulted: frozenset[str]
    path: str | None = None

    @classmethod
    def from_raw(cls, name: str, raw: dict[str, Any], path: str | None = None) -> TargetSpec:
        fields, defaulted = effective(raw)
        return cls(name, raw, fields, defaulted, path)

    def get(self, key: str) -> Any:
        return self.fields.get(key)

    def link_args(self, key: str) -> list[str]:
        """All arguments of a ``*-link-args`` map for the spec's own linker flavour (e.g. ``unix-cc``)."""
        table = self.fields.get(key) or {}
        if not isinstance(table, dict):
            return []
        flavour = self.fields.get("linker-flavor")
        args = table.get(flavour, [])
        return [str(a) for a in args] if isinstance(args, list) else []


def all_raw_specs(*, toolchain: Toolchain | None = None) -> dict[str, dict[str, Any]]:
    """Every built-in spec exactly as rustc prints it, from the cache or one rustc call."""
    tc = toolchain or rustc.toolchain()
    cached = rustc.load_cache(tc, "specs").get("specs")
    # every entry a JSON object, or the whole section is a miss: a damaged entry (bit rot, a hand edit)
    # would otherwise surface as an internal error in whichever command reads that target
    if isinstance(cached, dict) and cached and all(isinstance(v, dict) for v in cached.values()):
        return cached
    proc = rustc.run(
        [*tc.command, "-Z", "unstable-options", "--print", "all-target-specs-json"], bootstrap=True
    )
    if proc.returncode != 0:
        raise UsageError(f"rustc --print all-target-specs-json failed: {_first_error(proc.stderr)}")
    try:
        specs = json.loads(proc.stdout)
    except ValueError as exc:
        raise FormatError("<rustc --print all-target-specs-json>", None, f"not JSON: {exc}") from None
    if not isinstance(specs, dict):
        raise FormatError("<rustc --print all-target-specs-json>", None, "expected a JSON object")
    rustc.update_cache(tc, specs=specs)
    return specs


def read_spec_file(path: str) -> dict[str, Any]:
    """Parse a spec file ourselves first, so that a plain JSON error names the file, line and column."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise FormatError(path, exc.start, "not UTF-8 text, so not a JSON target spec") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise FormatError(path, None, "JSON nested too deeply to be a target spec") from None
    except json.JSONDecodeError as exc:
        raise FormatError(
            path, exc.pos, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(data, dict):
        raise FormatError(path, None, "a target spec must be a JSON object")
    return data


def rustc_reading(path: str, *, toolchain: Toolchain | None = None) -> dict[str, Any]:
    """What rustc makes of a custom spec file (normalised, defaults omitted), or why it refuses it."""
    tc = toolchain or rustc.toolchain()
    read_spec_file(path)
    proc = rustc.run(
        [*tc.command, "-Z", "unstable-options", "--print", "target-spec-json", "--target", path],
        bootstrap=True,
    )
    if proc.returncode != 0:
        message = _first_error(proc.stderr).removeprefix("error: ")
        raise FormatError(path, None, f"rustc rejects this target spec: {_shorten(message)}")
    try:
        data = json.loads(proc.stdout)
    except ValueError as exc:
        raise FormatError(path, None, f"rustc printed no JSON spec: {exc}") from None
    if not isinstance(data, dict):
        raise FormatError(path, None, "rustc printed a non-object spec")
    return data


def _shorten(message: str, limit: int = 300) -> str:
    """rustc's unknown-field error lists all ~130 fields; keep the line readable."""
    if "expected one of" in message:
        head, _, tail = message.partition("expected one of")
        where = tail.rsplit(" at line ", 1)
        message = (
            head + "(see `illumos-rust target fields`)" + (f" at line {where[1]}" if len(where) == 2 else "")
        )
    return message if len(message) <= limit else message[: limit - 1] + "…"


def load_spec(target: str, *, toolchain: Toolchain | None = None) -> TargetSpec:
    """A built-in target by name, or a custom spec by path (``*.json``)."""
    tc = toolchain or rustc.toolchain()
    if is_spec_path(target):
        check_target(target, toolchain=tc)
        return TargetSpec.from_raw(Path(target).stem, rustc_reading(target, toolchain=tc), path=target)
    specs = all_raw_specs(toolchain=tc)
    if target not in specs:
        check_target(target, toolchain=tc)  # raises with suggestions when the name is unknown
        raise UsageError(f"{target}: rustc printed no spec for this target")
    return TargetSpec.from_raw(target, json.loads(json.dumps(specs[target])))  # a copy of the cached dict


def known_fields(*, toolchain: Toolchain | None = None) -> list[str]:
    """Every field name rustc accepts in a spec, read from rustc's own "unknown field" error.

    Asking rustc (rather than keeping a list) keeps ``generate --set`` honest for every rustc version;
    the answer is cached with the rest. Falls back to the names in our defaults table plus the
    required fields if rustc's message ever changes shape.
    """
    tc = toolchain or rustc.toolchain()
    cached = rustc.load_cache(tc).get("fields")
    if isinstance(cached, list) and cached:
        return [str(f) for f in cached]
    import tempfile

    from .defaults import DEFAULTS, REQUIRED

    specs = all_raw_specs(toolchain=tc)
    base = specs.get(tc.host) or next(iter(specs.values()))  # any valid spec will do as the carrier
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe-fields.json"
        probe.write_text(json.dumps({**base, "illumos-rust-no-such-field": 0}))
        proc = rustc.run(
            [*tc.command, "-Z", "unstable-options", "--print", "cfg", "--target", str(probe)], bootstrap=True
        )
    _, _, tail = proc.stderr.partition("expected one of")
    names = [part.strip().strip("`") for part in tail.split(" at line ")[0].split(",")]
    names = [n for n in names if n and all(c.isalnum() or c == "-" for c in n)]
    if not names:
        return sorted({*DEFAULTS, *REQUIRED})
    rustc.update_cache(tc, fields=names)
    return names
