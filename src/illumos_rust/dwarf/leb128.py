"""LEB128 decoding (DWARF 5 section 7.6) over a buffer indexed at absolute positions.

Callers pass the end of the window they are allowed to read; a number that runs past it, or that is longer
than any DWARF producer writes, is reported by returning ``-1`` as the new position, so the hot loops can
test one integer instead of catching exceptions.
"""

from __future__ import annotations

import mmap

Buf = mmap.mmap | bytes | bytearray

# 10 bytes hold any 64-bit value; a few producers pad to 16. Longer runs are hostile input.
MAX_LEB_BYTES = 20


def uleb(buf: Buf, pos: int, end: int) -> tuple[int, int]:
    """``(value, next position)``; next position ``-1`` when the number is truncated or overlong."""
    result = shift = 0
    limit = min(end, pos + MAX_LEB_BYTES)
    while pos < limit:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
    return 0, -1


def sleb(buf: Buf, pos: int, end: int) -> tuple[int, int]:
    """Signed LEB128: ``(value, next position)``; next position ``-1`` when truncated or overlong."""
    result = shift = 0
    limit = min(end, pos + MAX_LEB_BYTES)
    while pos < limit:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            if byte & 0x40:
                result -= 1 << shift
            return result, pos
    return 0, -1
