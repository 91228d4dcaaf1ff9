"""An object's ``.SUNW_ctf`` as an illumos core carries it: counts for the report, signatures for frames.

With coreadm content ``ctf`` (illumos ``core(5)``) the core's section headers hold, per mapped object, its
``.SUNW_ctf`` with ``sh_addr`` = the object's load base and ``sh_link`` = that object's ``.symtab`` in the
core. The CTF function section follows the ``STT_FUNC`` symbols of that table in index order (illumos
``common/ctf/ctf_open.c`` ``init_symtab``; ``ctf/symbols.py``), so a frame whose symbol has an entry gets its
C signature even when the object file itself is missing. The CTF is read with the project's CTF reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ctf import Container, FunctionInfo, read_container, type_name
from ..ctf.symbols import associate
from ..elf import constants as C
from ..elf.core_model import SymbolSection
from ..elf.reader import ElfFile
from ..errors import FormatError, IllumosRustError


@dataclass
class ObjectCtf:
    """What the core's CTF says about one object: how many types and typed functions, and the signatures
    by symbol name."""

    types: int
    functions: int  # function-section entries that carry a signature
    signatures: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        return {"types": self.types, "functions": self.functions}


def signature(c: Container, name: str, info: FunctionInfo) -> str:
    """``ret name(args)`` in C spelling; ``void`` for no arguments and ``...`` for varargs, as ctfdump."""
    args = [type_name(c, a) for a in info.args]
    if info.varargs:
        args.append("...")
    return f"{type_name(c, info.return_type)} {name}({', '.join(args) or 'void'})"


def read_core_ctf(core: ElfFile, section: SymbolSection) -> ObjectCtf:
    """Decode the ``.SUNW_ctf`` at ``section`` of the core; FormatError (naming the core) if unusable."""
    where = f"{core.path}: {section.name} of the object at 0x{section.base:x}"
    try:
        sections = core.sections
        ctf = sections[section.index]
        core.check_range(ctf.sh_offset, ctf.sh_size, section.name)
        symbols: list[object] = []
        strtab = None
        link = section.symtab_index
        if 0 < link < len(sections) and sections[link].sh_type in (C.SHT_SYMTAB, C.SHT_DYNSYM):
            symtab = sections[link]
            symbols = list(core.symbols(symtab))
            if 0 < symtab.sh_link < len(sections):
                strtab = core.section_bytes(sections[symtab.sh_link])
        elif link:
            raise FormatError(where, None, f"sh_link {link} is not a symbol table")
        container = read_container(core.section_bytes(ctf), where, elf_strtab=strtab)
        _objects, functions = associate(container, symbols)  # type: ignore[arg-type]
        out = ObjectCtf(len(container.types), sum(1 for f in container.functions if f is not None))
        for _index, name, info in functions:
            if info is not None:
                out.signatures.setdefault(name, signature(container, name, info))
        return out
    except FormatError:
        raise
    except (IllumosRustError, ValueError, IndexError, RecursionError) as exc:
        raise FormatError(where, None, f"unusable CTF ({exc})") from exc
