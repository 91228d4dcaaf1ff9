"""Unified diffs from accepted edits, and writing them back as a transaction.

Every patched file is re-lexed and its cfg sites re-parsed before a diff is offered: a patch that would
leave a file unparsable is dropped with the reason instead (``UnsafeEditError`` for ``--apply``).
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
import re
import tempfile
import tomllib

from ..errors import UnsafeEditError
from . import scanner
from .analysis import Edit, apply_edits


def patched_text(path: str, text: str, edits: list[Edit]) -> str:
    """The new text, verified: it lexes, and every cfg site still parses (or parsed no better before)."""
    new = apply_edits(text, edits)
    if path.endswith(".toml"):
        try:
            tomllib.loads(new)
        except tomllib.TOMLDecodeError as exc:
            raise UnsafeEditError(path, f"patched manifest is not valid TOML: {exc}") from None
        return new
    before = scanner.scan_rust(path, text)
    after = scanner.scan_rust(path, new)
    if after.error and not before.error:
        raise UnsafeEditError(path, f"patched file no longer lexes: {after.error}")
    broken = sum(1 for s in after.sites if s.error) - sum(1 for s in before.sites if s.error)
    if broken > 0 or len(after.sites) != len(before.sites):
        raise UnsafeEditError(path, "patched file has cfg sites that no longer parse")
    return new


_LIBC_REQ = (
    # libc = "0.2.139"  /  libc = { version = "0.2", features = [..] }
    re.compile(r'^[ \t]*libc[ \t]*=[ \t]*(?:\{[^}\n]*?\bversion[ \t]*=[ \t]*)?"(?P<v>[^"\n]*)"', re.M),
    # [dependencies.libc] / [target."cfg(..)".dependencies.libc] ... version = "0.2.139" (cargo package form)
    re.compile(
        r'^\[[^\]\n]*dependencies\.libc\][^\[]*?^[ \t]*version[ \t]*=[ \t]*"(?P<v>[^"\n]*)"', re.M | re.S
    ),
)


def libc_bump(path: str, text: str, version: str) -> list[Edit] | None:
    """Edits raising every libc requirement in a Cargo.toml to ``version`` (caret), or None when the
    manifest spells its libc dependency some other way (then no bump, and so no patch, is proposed)."""
    edits = [
        Edit(path, m.start("v"), m.end("v"), version)
        for rx in _LIBC_REQ
        for m in rx.finditer(text)
        if m.group("v") != version
    ]
    if not edits:
        return None
    new = apply_edits(text, edits)
    try:
        data = tomllib.loads(new)
    except tomllib.TOMLDecodeError:
        return None
    return edits if "libc" in str(data) else None


def unified_diff(rel: str, old: str, new: str) -> str:
    """``git diff``-style hunk text for ``patch -p1`` (``a/rel`` → ``b/rel``), including the
    "No newline at end of file" marker that difflib leaves out."""
    out: list[str] = []
    for line in difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{rel}", f"b/{rel}", n=3
    ):
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)


def write_atomically(path: str, text: str) -> None:
    """Temporary file in the same directory, verified by re-reading, renamed over the original with the
    original's mode: a crash leaves either the old or the new file, never half of one."""
    st = os.stat(path)
    fd, tmp = tempfile.mkstemp(prefix=".illumos-rust-", dir=os.path.dirname(path) or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        with open(tmp, encoding="utf-8", newline="") as fh:
            if fh.read() != text:
                raise UnsafeEditError(path, "re-reading the temporary file gave different contents")
        os.chmod(tmp, st.st_mode & 0o7777)
        with contextlib.suppress(PermissionError):
            os.chown(tmp, st.st_uid, st.st_gid)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def update_vendor_checksum(path: str, text: str) -> str | None:
    """Keep ``cargo vendor``'s ``.cargo-checksum.json`` in step with an edited file.

    Cargo refuses a vendored crate whose files no longer match the recorded sha256 ("the listed checksum
    of ... has changed"), so an in-place port of ``vendor/`` would otherwise break the build it is meant
    to fix. Returns the checksum file updated, or None when the file is not in a vendored crate.
    """
    d = os.path.dirname(os.path.abspath(path))
    while True:
        manifest = os.path.join(d, "Cargo.toml")
        checksum = os.path.join(d, ".cargo-checksum.json")
        if os.path.isfile(manifest):
            break
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent
    if not os.path.isfile(checksum):
        return None
    with open(checksum, encoding="utf-8") as fh:
        data = json.load(fh)
    files = data.get("files")
    rel = os.path.relpath(os.path.abspath(path), d).replace(os.sep, "/")
    if not isinstance(files, dict) or rel not in files:
        return None
    files[rel] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    write_atomically(checksum, json.dumps(data, separators=(",", ":")))
    return checksum
