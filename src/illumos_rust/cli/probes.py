"""``illumos-rust probes``: DTrace/USDT static probes for Rust (gen, list, dof encode|decode).

``gen`` turns a D provider file into a dependency-free Rust module (the Rust ``dtrace -h``), ``list`` shows
every probe an ELF file carries, ``dof`` writes and reads the DOF that registration hands to the kernel.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any

from ..demangle import try_demangle
from ..elf import ElfFile
from ..errors import FormatError
from ..probes.dparse import ProviderSyntaxError, parse_provider_file
from ..probes.gen import generate
from ..sdt import dof as D
from ..sdt.listing import dof_sections, list_probes, to_dof_providers, usdt_probes
from .common import add_format, print_json

ELF_MAG = b"\x7fELF"  # e_ident[EI_MAG0..3], System V gABI

EPILOG = """\
examples:
  illumos-rust probes gen src/myapp.d -o src/probes.rs   # then: mod probes; probes::myapp::open!(|| 42);
  illumos-rust probes list target/release/myapp            # usdt records, DOF, SystemTap notes
  illumos-rust probes list --format json a.out libfoo.so
  illumos-rust probes dof encode target/release/myapp -o myapp.dof   # what register_probes() would register
  illumos-rust probes dof decode myapp.dof
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "probes",
        help="DTrace static probes for Rust: generate from a D provider file, list, encode/decode DOF",
        description=(
            "Static probes for Rust. 'gen' reads a D provider file (what dtrace -h accepts: C integer\n"
            "types, pointers, typedefs, pragmas) and writes a Rust module with one macro per probe\n"
            "(illumos/FreeBSD: usdt-compatible records + register_probes(); Linux: SystemTap notes)."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="probes_command", metavar="ACTION")
    gen = sub.add_parser("gen", help="write the Rust probe module for a D provider file")
    gen.add_argument("provider_file", metavar="PROVIDER.d")
    gen.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    gen.set_defaults(func=run_gen)
    lst = sub.add_parser("list", help="list the static probes in ELF files")
    lst.add_argument("files", nargs="+", metavar="FILE")
    add_format(lst)
    lst.set_defaults(func=run_list)
    dof = sub.add_parser("dof", help="encode the DOF of a binary's usdt records, or decode DOF")
    dsub = dof.add_subparsers(dest="dof_command", metavar="encode|decode")
    enc = dsub.add_parser("encode", help="DOF that register_probes() would hand to the kernel, built offline")
    enc.add_argument("file", metavar="ELF")
    enc.add_argument("-o", "--output", metavar="FILE", required=True, help="where to write the DOF")
    enc.add_argument(
        "--provider-file",
        metavar="PROVIDER.d",
        action="append",
        default=[],
        help="take the providers' #pragma D attributes from this file, as the generated module does",
    )
    enc.set_defaults(func=run_encode)
    dec = dsub.add_parser("decode", help="print the providers, probes, arguments and offsets of DOF")
    dec.add_argument("file", metavar="FILE", help="a DOF file, or an ELF file with DOF sections")
    add_format(dec)
    dec.set_defaults(func=run_decode)
    parser.set_defaults(func=lambda args: _usage(parser))
    dof.set_defaults(func=lambda args: _usage(dof))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _write_atomic(path: str, data: bytes) -> None:
    """Write via a temporary file and rename, so an error leaves nothing half-written; a device or pipe
    (``/dev/stdout``) is written directly, never replaced."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        if os.path.exists(path) and not os.path.isfile(path):
            with open(path, "wb") as fh:
                fh.write(data)
            return
        fd, tmp = tempfile.mkstemp(prefix=".probes-", dir=directory)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        raise FormatError(path, None, f"cannot write: {exc.strerror or exc}") from None


def run_gen(args: argparse.Namespace) -> int:
    try:
        pf = parse_provider_file(args.provider_file)
    except ProviderSyntaxError as exc:
        print(f"illumos-rust: {exc}\n{exc.caret()}", file=sys.stderr)
        return 2
    code = generate(pf, args.provider_file)
    if args.output:
        _write_atomic(args.output, code.encode())
    else:
        sys.stdout.write(code)
    return 0


def _hexes(values: list[int]) -> str:
    return ",".join(f"0x{v:x}" for v in values) or "-"


def run_list(args: argparse.Namespace) -> int:
    results = []
    for path in args.files:
        with ElfFile(path) as elf:
            results.append((path, list_probes(elf)))
    if args.format == "json":
        print_json([{"file": path, "probes": [p.to_json() for p in probes]} for path, probes in results])
        return 0
    out = sys.stdout
    for path, probes in results:
        out.write(f"{path}: {len(probes)} probe{'s' if len(probes) != 1 else ''}\n")
        for p in probes:
            out.write(f"  {p.source:<8} {p.provider}:{p.name}  in {p.function_demangled or '?'}\n")
            out.write(f"           sites {_hexes(p.sites)}")
            if p.enabled_sites or p.source != "stapsdt":
                out.write(f"  is-enabled {_hexes(p.enabled_sites)}")
            if p.semaphore:
                out.write(f"  semaphore 0x{p.semaphore:x}")
            out.write(f"\n           args ({', '.join(p.arg_types)})\n")
    return 0


def run_encode(args: argparse.Namespace) -> int:
    with ElfFile(args.file) as elf:
        probes = usdt_probes(elf)
    if not probes:
        raise FormatError(args.file, None, "no usdt probe records (set_dtrace_probes) to encode")
    attributes: dict[str, dict[str, str]] = {}
    for path in args.provider_file:
        try:
            pf = parse_provider_file(path)
        except ProviderSyntaxError as exc:
            print(f"illumos-rust: {exc}\n{exc.caret()}", file=sys.stderr)
            return 2
        attributes.update({p.name: p.attributes for p in pf.providers})
    image = D.encode(to_dof_providers(probes, attributes))
    _write_atomic(args.output, image)
    n = sum(len(p.sites) + len(p.enabled_sites) for p in probes)
    print(f"{args.output}: {len(image)} bytes of DOF, {len(probes)} probes, {n} sites", file=sys.stderr)
    return 0


def _images(path: str) -> list[tuple[str, D.DofImage]]:
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise FormatError(path, None, f"cannot read: {exc.strerror or exc}") from None
    if magic == D.DOF_MAG:
        with open(path, "rb") as fh:
            return [("", D.decode(fh.read(), path))]
    if magic != ELF_MAG:
        # Either format is accepted here, so name both rather than ElfFile's "not an ELF file".
        got = f"bad magic {magic.hex(' ')}" if magic else "empty file"
        raise FormatError(path, 0, f"neither DOF nor ELF ({got}; expected 7f 'D' 'O' 'F' or 7f 'E' 'L' 'F')")
    with ElfFile(path) as elf:
        found = [(sec.name, image) for sec, image in dof_sections(elf)]
    if not found:
        raise FormatError(path, None, "neither a DOF file nor an ELF file with a DOF section")
    return found


def _image_json(section: str, image: D.DofImage) -> dict[str, Any]:
    return {
        "section": section,
        "version": image.version,
        "model": {1: "ILP32", 2: "LP64"}.get(image.model, image.model),
        "encoding": {1: "LSB", 2: "MSB"}.get(image.encoding, image.encoding),
        "relocatable": image.relocatable,
        "sections": [{"type": t, "offset": o, "size": s} for t, o, s in image.sections],
        "providers": [
            {
                "name": prov.name,
                "attributes": prov.attributes,
                "probes": [
                    {
                        "name": p.name,
                        "function": p.function,
                        "function_demangled": try_demangle(p.function, hash=False) or p.function,
                        "address": p.address,
                        "arguments": p.arg_types,
                        "translated_arguments": p.xarg_types,
                        "argument_map": p.argmap,
                        "offsets": p.offsets,
                        "is_enabled_offsets": p.enabled_offsets,
                    }
                    for p in prov.probes
                ],
            }
            for prov in image.providers
        ],
    }


def run_decode(args: argparse.Namespace) -> int:
    images = _images(args.file)
    if args.format == "json":
        print_json([_image_json(sec, image) for sec, image in images])
        return 0
    out = sys.stdout
    for sec, image in images:
        where = f" (section {sec})" if sec else ""
        model = {1: "ILP32", 2: "LP64"}.get(image.model, str(image.model))
        enc = {1: "little-endian", 2: "big-endian"}.get(image.encoding, str(image.encoding))
        out.write(
            f"{args.file}{where}: DOF version {image.version}, {model}, {enc}, {len(image.sections)} sections"
        )
        out.write(", relocatable\n" if image.relocatable else "\n")
        for prov in image.providers:
            attrs = "  " + " ".join(f"{k}={v}" for k, v in prov.attributes.items()) if prov.attributes else ""
            out.write(f"provider {prov.name}: {len(prov.probes)} probes{attrs}\n")
            for p in prov.probes:
                demangled = try_demangle(p.function, hash=False)
                func = f"{p.function} [{demangled}]" if demangled else p.function
                out.write(f"  probe {p.name}  function {func}  address 0x{p.address:x}\n")
                out.write(f"    args ({', '.join(p.arg_types)})")
                if p.xarg_types is not None:
                    out.write(f"  translated ({', '.join(p.xarg_types)})")
                out.write(
                    f"\n    offsets {_hexes(p.offsets)}  is-enabled offsets {_hexes(p.enabled_offsets)}\n"
                )
    return 0
