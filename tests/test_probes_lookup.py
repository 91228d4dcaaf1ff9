"""``FunctionLookup`` (both its column scan and its sorted index) against pyelftools' symbol table."""

from __future__ import annotations

from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from conftest import build_rust, require_tool
from illumos_rust.elf import ElfFile
from illumos_rust.elf.function_lookup import FunctionLookup


def functions(path: Path) -> list[tuple[int, int]]:
    with open(path, "rb") as fh:
        symtab = ELFFile(fh).get_section_by_name(".symtab")
        assert isinstance(symtab, SymbolTableSection)
        return sorted(
            {
                (s["st_value"], s["st_size"])
                for s in symtab.iter_symbols()
                if s["st_info"]["type"] == "STT_FUNC" and s["st_size"] and s["st_shndx"] != "SHN_UNDEF"
            }
        )


def test_quick_scan_and_index_agree_with_pyelftools() -> None:
    require_tool("rustc")
    exe = build_rust(
        'fn main() { println!("{:?}", std::env::args().collect::<Vec<_>>()); }', "lookup_probe", "-O"
    )
    funcs = functions(exe)
    assert len(funcs) > 100
    sample = funcs[:: max(1, len(funcs) // 20)]
    with ElfFile(exe) as elf:
        quick = FunctionLookup(elf)
        indexed = FunctionLookup(elf)
        indexed.QUICK_LOOKUPS = 0  # force the sorted index
        for start, size in sample:
            for addr in (start, start + size // 2, start + size - 1):
                a, b = quick.lookup(addr), indexed.lookup(addr)
                assert a is not None and b is not None
                assert a[1] == b[1]
                assert a[1] <= addr < a[1] + max(sz for st, sz in funcs if st == a[1])
        assert quick.lookup(0) is None and indexed.lookup(0) is None
