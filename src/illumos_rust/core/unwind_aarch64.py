"""One unwinding step on aarch64: ``.eh_frame`` CFI first, the AAPCS64 frame-record chain where CFI agrees
or is absent, the link register for a leaf without CFI.

DWARF register numbers (AADWARF64 §4.1): x0–x30 are 0–30 (x29 the frame pointer, x30 the link register),
sp is 31; there is no pc column: the return address column of the CIEs is 30, so the caller's pc is the
value the row gives x30 — or x30 itself when the row has no rule for it (a leaf that never saved LR).
A frame record (AAPCS64 §6.2.3) is two words at x29: the caller's x29, then the return address.

Return addresses may carry a pointer-authentication code in their top bits (``-mbranch-protection``
``pac-ret``); user addresses fit in 48 bits here (Linux's default VA size), so the bits above are dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the Unwinder imports this module; only its type is needed here
    from .unwind import Unwinder

AARCH64_NAMES = (*(f"x{i}" for i in range(31)), "sp", "pc")  # DWARF 0–31, then pc (no DWARF number)
CALLEE_SAVED = tuple(f"x{i}" for i in range(19, 31))  # AAPCS64 §6.1.1: x19–x28, plus fp (x29) and lr (x30)
RA_COLUMN, FP, SP = 30, 29, 31
VA_MASK = (1 << 48) - 1


def strip_pac(addr: int) -> int:
    return addr & VA_MASK


def step_aarch64(
    unwinder: Unwinder, regs: dict[str, int], exact_pc: bool, innermost: bool
) -> tuple[dict[str, int] | None, str, str | None]:
    """The caller's registers, how they were found (``cfi``, ``fp``, ``lr``) and, when none, why."""
    pc = regs["pc"]
    lookup = pc if exact_pc else pc - 1
    obj = unwinder.objects.at(lookup)
    row = obj.cfi_row(lookup) if obj is not None else None
    if row is not None:
        if row.cfa_reg is None:
            return None, "cfi", f"CFA at 0x{pc:x} is a DWARF expression (not evaluated)"
        if row.regs.get(RA_COLUMN) == "u":
            return None, "cfi", "end of stack (return address undefined)"
        nxt = _apply_cfi(unwinder, regs, row.cfa_reg, row.cfa_offset, row.regs)
        if nxt is None:
            return None, "cfi", f"CFI at 0x{pc:x} names registers the core does not hold"
        if row.cfa_reg == FP:
            fp = _fp_step(unwinder, regs)
            if fp is not None and fp["pc"] == nxt["pc"] and fp["sp"] == nxt["sp"]:
                return nxt, "fp", None
        return nxt, "cfi", None
    lr = regs.get("x30")
    if innermost and lr and _code(unwinder, strip_pac(lr)):
        nxt = {k: regs[k] for k in CALLEE_SAVED if k in regs}
        nxt.update(pc=strip_pac(lr), sp=regs["sp"])
        return nxt, "lr", None
    fp = _fp_step(unwinder, regs)
    if fp is not None and fp["pc"] == pc:
        # without CFI a frame whose LR was taken may also own the record at x29 (it saved LR there): the
        # record holding this very pc is that frame's, so its caller is one record further
        fp = _fp_step(unwinder, fp)
    if fp is not None and _code(unwinder, fp["pc"]):
        return fp, "fp", None
    return None, "fp", f"no CFI or frame record found above 0x{regs['sp']:x}"


def _code(unwinder: Unwinder, addr: int) -> bool:
    """``addr`` is in a known object, or in a core segment mapped executable (objects may be missing)."""
    if unwinder.objects.at(addr) is not None:
        return True
    seg = unwinder.mem.segment_at(addr)
    return seg is not None and bool(seg.flags & 1)


def _apply_cfi(
    unwinder: Unwinder, regs: dict[str, int], cfa_reg: int, cfa_off: int, rules: dict[int, str]
) -> dict[str, int] | None:
    base = AARCH64_NAMES[cfa_reg] if 0 <= cfa_reg <= SP else None
    if base is None or base not in regs:
        return None
    cfa = regs[base] + cfa_off
    nxt = {k: regs[k] for k in CALLEE_SAVED if k in regs}
    for reg, rule in rules.items():
        if not 0 <= reg <= RA_COLUMN:
            continue  # sp is the CFA by definition; vector registers are not tracked
        name = AARCH64_NAMES[reg]
        value: int | None
        if rule == "s":
            value = regs.get(name)
        elif rule.startswith("c"):
            value = unwinder.mem.u64(cfa + int(rule[1:]))
        elif rule.startswith("v"):
            value = cfa + int(rule[1:])
        elif rule.startswith("r") and rule[1:].isdigit() and int(rule[1:]) <= SP:
            value = regs.get(AARCH64_NAMES[int(rule[1:])])
        else:
            value = None
        if value is None:
            nxt.pop(name, None)
        else:
            nxt[name] = value
    ra = nxt.get("x30")
    if ra is None:
        return None
    nxt["pc"] = strip_pac(ra)
    nxt["sp"] = cfa
    return nxt


def _fp_step(unwinder: Unwinder, regs: dict[str, int]) -> dict[str, int] | None:
    fp = regs.get("x29")
    if fp is None or fp < regs["sp"] or fp & 7:
        return None
    prev, ra = unwinder.mem.u64(fp), unwinder.mem.u64(fp + 8)
    if prev is None or ra is None:
        return None
    nxt = {k: regs[k] for k in CALLEE_SAVED if k in regs}
    nxt.update(x29=prev, x30=ra, pc=strip_pac(ra), sp=fp + 16)
    return nxt
