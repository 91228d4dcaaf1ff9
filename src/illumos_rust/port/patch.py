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
import signal
import stat
import tempfile
import tomllib
from typing import Any

from ..errors import FileError, UnsafeEditError
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


def pending_checksum(path: str, text: str, pending: dict[str, dict[str, Any]]) -> str | None:
    """``update_vendor_checksum`` for an all-or-nothing ``--apply``: the new checksum table goes into
    ``pending`` (one entry per ``.cargo-checksum.json``, read once however many of its files change) and is
    written with the sources by ``write_all``. Returns the checksum file, or None outside a vendored crate."""
    d = os.path.dirname(os.path.abspath(path))
    while not _is_file(os.path.join(d, "Cargo.toml")):
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent
    checksum = os.path.join(d, ".cargo-checksum.json")
    if checksum not in pending:
        if not _is_file(checksum):
            return None
        try:
            with open(checksum, encoding="utf-8") as fh:
                pending[checksum] = json.load(fh)
        except (OSError, ValueError) as exc:
            raise UnsafeEditError(checksum, f"cannot read the vendor checksums: {exc}") from None
    files = pending[checksum].get("files")
    rel = os.path.relpath(os.path.abspath(path), d).replace(os.sep, "/")
    if not isinstance(files, dict) or rel not in files:
        return None
    files[rel] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return checksum


def _is_file(path: str) -> bool:
    """``os.path.isfile`` that tells "not there" from "cannot tell": an I/O error must not make a vendored
    crate look unvendored (its checksums would silently go stale)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        raise FileError.from_os(path, "cannot read", exc) from None


_HELD_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def write_all(contents: list[tuple[str, str]]) -> None:
    """Replace every file with its new text, all or none (``port --apply`` on a tree).

    Each text is written to a temporary file beside its original and verified by re-reading; only when
    all are ready are they renamed over the originals, each original first hard-linked to a rollback name
    so a failure part-way (or SIGTERM) puts back the ones already renamed. Any ``OSError`` becomes a
    ``FileError`` naming the file and the step.
    """
    staged: list[tuple[str, str]] = []
    done: list[tuple[str, str | None]] = []
    try:
        for path, text in contents:
            staged.append((path, _stage_text(path, text)))
        for path, tmp in staged:
            rollback: str | None = None
            with contextlib.suppress(OSError):
                os.link(path, tmp + ".orig")
                rollback = tmp + ".orig"
            try:
                os.replace(tmp, path)
            except OSError as exc:
                if rollback:
                    with contextlib.suppress(OSError):
                        os.unlink(rollback)
                raise FileError.from_os(path, "cannot rename the patched copy over it", exc) from None
            done.append((path, rollback))
    except BaseException:
        for path, rollback in reversed(done):
            if rollback:
                with contextlib.suppress(OSError):
                    os.replace(rollback, path)
        for _path, tmp in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    for _path, rollback in done:
        if rollback:
            with contextlib.suppress(OSError):
                os.unlink(rollback)


def _stage_text(path: str, text: str) -> str:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise FileError.from_os(path, "cannot read", exc) from None
    directory = os.path.dirname(path) or "."
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_SIGNALS)  # no signal between create and cleanup
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".illumos-rust-port-{os.getpid()}-{os.path.basename(path)}-", suffix=".tmp", dir=directory
        )
    except OSError as exc:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        raise FileError.from_os(path, f"cannot create a temporary copy in {directory}", exc) from None
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        data = text.encode("utf-8")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            with open(tmp, "rb") as fh:
                if fh.read() != data:
                    raise UnsafeEditError(path, "re-reading the temporary file gave different contents")
            os.chmod(tmp, st.st_mode & 0o7777)
            with contextlib.suppress(PermissionError):
                os.chown(tmp, st.st_uid, st.st_gid)
        except OSError as exc:
            raise FileError.from_os(path, f"cannot write the temporary copy {tmp}", exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp
