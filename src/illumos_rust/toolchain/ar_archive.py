"""Members of an ``ar`` archive (an ``.rlib``), read over mmap without running ar(1).

Format (System V / GNU ar, as binutils' ``include/aout/ar.h`` defines it): the magic ``!<arch>\\n``, then per
member a 60-byte header (name[16] date[12] uid[6] gid[6] mode[8] size[10] fmag ``\\x60\\n``) and the body,
padded to an even offset. GNU long names live in the ``//`` member and are referenced as ``/<offset>``; ``/``
is the symbol table. rustc writes rlibs in this GNU form.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from pathlib import Path

from ..errors import FileError, FormatError

MAGIC = b"!<arch>\n"
HEADER = struct.Struct("16s12s6s6s8s10s2s")
FMAG = b"`\n"


def members(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, body) of each regular member; the symbol and long-name tables are consumed, not returned."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise FileError.from_os(str(path), "cannot open", exc) from None
    with fh:
        size = path.stat().st_size
        if size < len(MAGIC):
            raise FormatError(str(path), 0, "too short for an ar archive")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            if mm[: len(MAGIC)] != MAGIC:
                raise FormatError(str(path), 0, "not an ar archive (no !<arch> magic)")
            long_names = b""
            off = len(MAGIC)
            while off < size:
                if off + HEADER.size > size:
                    raise FormatError(str(path), off, "truncated member header")
                raw_name, _, _, _, _, raw_size, fmag = HEADER.unpack_from(mm, off)
                if fmag != FMAG:
                    raise FormatError(str(path), off, "bad member header terminator")
                try:
                    body_size = int(raw_size.strip() or b"0")
                except ValueError:
                    raise FormatError(str(path), off, f"member size {raw_size!r} is not a number") from None
                start = off + HEADER.size
                if body_size < 0 or start + body_size > size:
                    raise FormatError(str(path), off, f"member of {body_size} bytes runs past the end")
                name = raw_name.rstrip(b" ")
                body = bytes(mm[start : start + body_size])
                off = start + body_size + (body_size & 1)
                if name in (b"/", b"/SYM64/"):
                    continue
                if name == b"//":
                    long_names = body
                    continue
                if name.startswith(b"/") and name[1:].isdigit():
                    at = int(name[1:])
                    end = long_names.find(b"/\n", at)
                    if at >= len(long_names) or end < 0:
                        raise FormatError(str(path), off, f"long name /{at} outside the name table")
                    name = long_names[at:end]
                elif name.endswith(b"/"):
                    name = name[:-1]
                yield name.decode("utf-8", "replace"), body
