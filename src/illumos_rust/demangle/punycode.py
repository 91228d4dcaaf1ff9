"""RFC 3492 punycode decoding with rustc-demangle's limits.

v0 symbols carry non-ASCII identifiers as ``u<len>[_]<ascii>_<deltas>``. The decoder mirrors what
rustc-demangle does, not what a general punycode library does: the deltas use base 36 with digits ``a-z0-9``
only (no uppercase), every step uses checked 64-bit arithmetic, and the result must fit rustc-demangle's fixed
128-character buffer. Anything else makes the caller print ``punycode{…}`` instead, so a bad identifier never
raises.
"""

from __future__ import annotations

from typing import Final

_BASE: Final = 36
_T_MIN: Final = 1
_T_MAX: Final = 26
_SKEW: Final = 38
_INITIAL_BIAS: Final = 72
_INITIAL_N: Final = 0x80
#: rustc-demangle decodes into a stack buffer of this many chars; longer identifiers fall back to
#: ``punycode{…}``.
SMALL_PUNYCODE_LEN: Final = 128
_U64: Final = (1 << 64) - 1

_DIGIT: Final[dict[str, int]] = {
    **{chr(ord("a") + k): k for k in range(26)},
    **{chr(ord("0") + k): 26 + k for k in range(10)},
}


def decode(ascii_part: str, deltas: str) -> str | None:
    """Decode ``deltas`` applied to ``ascii_part``; ``None`` where rustc-demangle's decoder would give up.

    ``None`` covers: empty deltas, a digit outside ``a-z0-9``, a truncated variable-length integer, u64
    overflow,
    a code point that is not a Unicode scalar value, and a result longer than 128 characters.
    """
    if not deltas or len(ascii_part) > SMALL_PUNYCODE_LEN:
        return None
    out = list(ascii_part)
    length = len(out)
    bias = _INITIAL_BIAS
    damp = 700
    i = 0
    n = _INITIAL_N
    pos = 0
    end = len(deltas)
    while True:
        delta = 0
        w = 1
        k = 0
        while True:
            k += _BASE
            t = k - bias
            if t < _T_MIN:
                t = _T_MIN
            elif t > _T_MAX:
                t = _T_MAX
            if pos >= end:
                return None
            d = _DIGIT.get(deltas[pos])
            pos += 1
            if d is None:
                return None
            delta += d * w
            if delta > _U64:
                return None
            if d < t:
                break
            w *= _BASE - t
            if w > _U64:
                return None
        length += 1
        i += delta
        if i > _U64:
            return None
        n += i // length
        if n > _U64:
            return None
        i %= length
        if n > 0x10FFFF or 0xD800 <= n <= 0xDFFF:
            return None
        if length > SMALL_PUNYCODE_LEN:
            return None
        out.insert(i, chr(n))
        i += 1
        if pos >= end:
            return "".join(out)
        delta //= damp
        damp = 2
        delta += delta // length
        k = 0
        while delta > ((_BASE - _T_MIN) * _T_MAX) // 2:
            delta //= _BASE - _T_MIN
            k += _BASE
        bias = k + ((_BASE - _T_MIN + 1) * delta) // (delta + _SKEW)
