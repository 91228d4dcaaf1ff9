"""``probes gen``: a dependency-free Rust module from a D provider file, like the header ``dtrace -h`` writes.

One module per provider, one macro per probe. The macro takes a closure that returns the arguments and
calls it only when the probe is enabled, so argument work costs nothing while nobody traces. The backend is
picked by ``cfg`` in the user's build (shared/notes/observability.md §1.3-§1.6):

* illumos / Solaris / FreeBSD (x86-64): an is-enabled site (``xor rax, rax``: fasttrap makes it return 1)
  and a probe site (``nop``), each with a record in ``set_dtrace_probes`` laid out byte for byte like the
  usdt crate's (notes §1.4), and ``register_probes()``, which builds DOF (notes §2) from those records and
  hands it to ``/dev/dtrace/helper`` (``DTRACEHIOC_ADDDOF``), or says clearly that DTrace is absent.
* Linux (x86-64, aarch64): SystemTap v3 ``.note.stapsdt`` notes with a semaphore in ``.probes`` (notes
  §1.5, §3), which gdb, perf, bpftrace and SystemTap understand; ``register_probes()`` does nothing.
* anything else: the macros type-check their closure and do nothing.

Section retention: ``--gc-sections`` (rust-lld, GNU ld) drops unreferenced allocated sections, records
included, so outside illumos the record section carries ``R`` (SHF_GNU_RETAIN); on illumos it is kept by
the ``__start_``/``__stop_`` references of ``register_probes()``, as in the usdt crate.
"""

from __future__ import annotations

import os

from ..sdt.dof import ATTR_ENTITIES, encode_attr
from .dparse import CType, Probe, Provider, ProviderFile

# The cfg cases. ``illumos_rust_probes_standard`` forces the illumos backend on Linux, so the record
# layout and the DOF builder can be run and checked on a machine without DTrace.
STANDARD = (
    'all(target_arch = "x86_64", any(target_os = "illumos", target_os = "solaris", '
    'target_os = "freebsd", illumos_rust_probes_standard))'
)
STANDARD_SUN = f'all({STANDARD}, any(target_os = "illumos", target_os = "solaris"))'
STANDARD_RETAIN = f'all({STANDARD}, not(any(target_os = "illumos", target_os = "solaris")))'
STAP_X86 = 'all(target_arch = "x86_64", target_os = "linux", not(illumos_rust_probes_standard))'
STAP_ARM = 'all(target_arch = "aarch64", target_os = "linux")'
NOOP = f"not(any({STANDARD}, {STAP_X86}, {STAP_ARM}))"

X86_REGS = ("rdi", "rsi", "rdx", "rcx", "r8", "r9")  # SysV AMD64 psABI integer argument registers
ARM_REGS = ("x0", "x1", "x2", "x3", "x4", "x5")  # AAPCS64

RECORD_VERSION = 1  # usdt-impl record.rs PROBE_REC_VERSION
FLAG_IS_ENABLED = 1


def _lit(text: str) -> str:
    """A Rust string literal (the asm template lines contain quotes)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _asm_lines(lines: list[str], indent: str) -> str:
    return "".join(f"{indent}{_lit(line)},\n" for line in lines)


def record_asm(
    provider: Provider, probe_name: str, types: list[str], site_flags: int, flags: str
) -> list[str]:
    """The usdt-compatible record for the site labelled ``990`` (usdt-impl no-linker.rs, record.rs)."""
    return [
        f'.pushsection set_dtrace_probes, "{flags}", "progbits"',
        ".balign 8",
        "991:",
        ".4byte 992f - 991b",  # length of the whole record
        f".byte {RECORD_VERSION}",
        f".byte {len(types)}",
        f".2byte {site_flags}",  # 1: is-enabled site
        ".8byte 990b",  # absolute address of the site
        f'.asciz "{provider.name}"',
        f'.asciz "{probe_name}"',
        *(f'.asciz "{t}"' for t in types),
        ".balign 8",
        "992:",
        ".popsection",
    ]


def stapsdt_asm(provider: Provider, probe: Probe, argspec: str) -> list[str]:
    """A SystemTap v3 note for the ``nop`` labelled ``990``, its semaphore and ``_.stapsdt.base``
    (``sys/sdt.h`` _SDT_ASM_BODY: note type 3, name "stapsdt", pc/base/semaphore then three strings)."""
    sema = semaphore_name(provider, probe)
    return [
        f".ifndef {sema}",
        '.pushsection .probes, "aw", "progbits"',
        f".weak {sema}",
        f".hidden {sema}",
        ".balign 2",
        f"{sema}:",
        ".zero 2",
        f".type {sema}, %object",
        f".size {sema}, 2",
        ".popsection",
        ".endif",
        '.pushsection .note.stapsdt, "", "note"',
        ".balign 4",
        ".4byte 992f - 991f, 994f - 993f, 3",
        "991:",
        '.asciz "stapsdt"',
        "992:",
        ".balign 4",
        "993:",
        ".8byte 990b",
        ".8byte _.stapsdt.base",
        f".8byte {sema}",
        f'.asciz "{provider.name}"',
        f'.asciz "{probe.dtrace_name}"',
        f'.asciz "{argspec}"',
        "994:",
        ".balign 4",
        ".popsection",
        ".ifndef _.stapsdt.base",
        '.pushsection .stapsdt.base, "aGR", "progbits", .stapsdt.base, comdat',
        ".weak _.stapsdt.base",
        ".hidden _.stapsdt.base",
        "_.stapsdt.base:",
        ".space 1",
        ".size _.stapsdt.base, 1",
        ".popsection",
        ".endif",
    ]


def semaphore_name(provider: Provider, probe: Probe) -> str:
    return f"__usdt_sema_{provider.name}_{probe.name}"


def argspec(args: tuple[CType, ...], regs: tuple[str, ...], prefix: str, *, char_signed: bool) -> str:
    """SystemTap argument specs: ``[-]SIZE@REG`` (sign for signed integers; pointers and strings are 8)."""
    out = []
    for ctype, reg in zip(args, regs, strict=False):
        signed = ctype.signed if ctype.spelling != "char" else char_signed
        size = ctype.size if ctype.kind == "int" else 8
        out.append(f"{'-' if signed and ctype.kind == 'int' else ''}{size}@{prefix}{reg}")
    return " ".join(out)


def _unpack(probe: Probe, indent: str) -> list[str]:
    """Call the closure and convert each value to the u64 a register carries, typed by the declaration."""
    n = len(probe.args)
    lines = ["let __args = ($args)();"]
    for i, ctype in enumerate(probe.args):
        field = "__args" if n == 1 else f"__args.{i}"
        if ctype.is_string:
            lines += [
                f"let __v{i} = {field};",
                f"let __s{i}: &str = ::core::convert::AsRef::<str>::as_ref(&__v{i});",
                f"let mut __b{i} = ::std::vec::Vec::<u8>::with_capacity(__s{i}.len() + 1);",
                f"__b{i}.extend_from_slice(__s{i}.as_bytes());",
                f"__b{i}.push(0);",
                f"let __r{i} = __b{i}.as_ptr() as usize as u64;",
            ]
        elif ctype.kind == "ptr":
            lines += [f"let __v{i}: {ctype.rust} = {field};", f"let __r{i} = __v{i} as usize as u64;"]
        else:
            lines += [f"let __v{i}: {ctype.rust} = {field};", f"let __r{i} = __v{i} as u64;"]
    if n == 0:
        lines.append("let () = __args;")
    return [indent + line for line in lines]


def _operands(probe: Probe, regs: tuple[str, ...]) -> str:
    return "".join(f'in("{reg}") __r{i}, ' for i, reg in enumerate(regs[: len(probe.args)]))


def _probe_body(provider: Provider, probe: Probe) -> list[str]:
    i4, i5, i6 = " " * 16, " " * 20, " " * 24
    types = [a.spelling for a in probe.args]
    out: list[str] = [" " * 12 + "{"]
    # Linux: SystemTap notes gated by the semaphore tracers increment.
    for cfg, regs, prefix, char_signed in ((STAP_X86, X86_REGS, "%", True), (STAP_ARM, ARM_REGS, "", False)):
        spec = argspec(probe.args, regs, prefix, char_signed=char_signed)
        out += [
            f"{i4}#[cfg({cfg})]",
            f"{i4}{{",
            f'{i5}unsafe extern "C" {{',
            f"{i6}static {semaphore_name(provider, probe)}: u16;",
            f"{i5}}}",
            f"{i5}// SAFETY: the semaphore is a u16 defined by the asm below; tracers change it.",
            f"{i5}let __on = unsafe {{ ::core::ptr::read_volatile(::core::ptr::addr_of!("
            f"{semaphore_name(provider, probe)})) }} != 0;",
            f"{i5}if __on {{",
            *_unpack(probe, i6),
            f"{i6}// SAFETY: a nop; the note records where it is and which registers hold the arguments.",
            f"{i6}#[allow(named_asm_labels)]",
            f"{i6}unsafe {{",
            f"{i6}    ::core::arch::asm!(",
            f'{i6}        "990: nop",',
            _asm_lines(stapsdt_asm(provider, probe, spec), i6 + "        ").rstrip("\n"),
            f"{i6}        {_operands(probe, regs)}options(readonly, nostack, preserves_flags)",
            f"{i6}    );",
            f"{i6}}}",
            f"{i5}}}",
            f"{i4}}}",
        ]
    # illumos/FreeBSD: is-enabled site + probe site, each with a usdt record.
    for cfg, flags in ((STANDARD_SUN, "aw"), (STANDARD_RETAIN, "awR")):
        en = record_asm(provider, probe.dtrace_name, [], FLAG_IS_ENABLED, flags)
        site = record_asm(provider, probe.dtrace_name, types, 0, flags)
        out += [
            f"{i4}#[cfg({cfg})]",
            f"{i4}{{",
            f"{i5}let __on: u64;",
            f"{i5}// SAFETY: clears rax; fasttrap makes this site set rax to 1 while the probe is enabled.",
            f"{i5}unsafe {{",
            f"{i5}    ::core::arch::asm!(",
            f'{i5}        "990: xor rax, rax",',
            _asm_lines(en, i5 + "        ").rstrip("\n"),
            f'{i5}        out("rax") __on, options(nomem, nostack)',
            f"{i5}    );",
            f"{i5}}}",
            f"{i5}if __on != 0 {{",
            *_unpack(probe, i6),
            f"{i6}// SAFETY: a nop that fasttrap replaces while the probe is enabled.",
            f"{i6}unsafe {{",
            f"{i6}    ::core::arch::asm!(",
            f'{i6}        "990: nop",',
            _asm_lines(site, i6 + "        ").rstrip("\n"),
            f"{i6}        {_operands(probe, X86_REGS)}options(readonly, nostack, preserves_flags)",
            f"{i6}    );",
            f"{i6}}}",
            f"{i5}}}",
            f"{i4}}}",
        ]
    out += [
        f"{i4}#[cfg({NOOP})]",
        f"{i4}{{",
        f"{i5}if false {{",
        *_unpack(probe, i6),
        f"{i6}let _ = ({''.join(f'__r{i}, ' for i in range(len(probe.args)))});",
        f"{i5}}}",
        f"{i4}}}",
        " " * 12 + "}",
    ]
    return out


# Shown by rustc next to the E0432 an edition-2015 crate gets (the module cannot work there: macros are
# re-exported by path and `::core` is named, both edition 2018 features).
EDITION_NOTE = "// needs Rust edition 2018 or later (set `edition` in Cargo.toml; 2015 is not supported)"


def _probe_macro(provider: Provider, probe: Probe) -> list[str]:
    sig = ", ".join(
        f"{name + ': ' if name else ''}{t.declared}"
        for t, name in zip(probe.args, probe.arg_names, strict=True)
    )
    ret = ", ".join(t.rust if not t.is_string else "impl AsRef<str>" for t in probe.args)
    if len(probe.args) != 1:
        ret = f"({ret})"
    doc = [
        f"    /// `{provider.name}:::{probe.dtrace_name}` — D: `probe {probe.name}({sig});`",
        "    ///",
        f"    /// `{provider.name}::{probe.name}!(|| {ret})`: the closure runs only while enabled.",
    ]
    body = _probe_body(provider, probe)
    lines = [
        *doc,
        "    #[allow(unused_macros, unused_unsafe, clippy::all)]",
        f"    macro_rules! {probe.name} {{",
    ]
    if not probe.args:
        lines += ["        () => {", *[line.replace("($args)()", "()") for line in body], "        };"]
    lines += [
        "        ($args:expr) => {",
        *body,
        "        };",
        "    }",
        # Re-exporting a macro_rules by path needs edition 2018's uniform paths; in 2015 this line fails
        # (E0432), and rustc prints it with this comment, which says why.
        f"    pub(crate) use {probe.name}; {EDITION_NOTE}",
        "",
    ]
    return lines


REGISTER = r"""
/// Hands every not-yet-registered probe record of this program to DTrace (illumos/FreeBSD), once.
///
/// Call it early in `main` (libraries: re-export it). Elsewhere it does nothing. On illumos it builds DOF
/// from the `set_dtrace_probes` records and issues `DTRACEHIOC_ADDDOF` on `/dev/dtrace/helper`; an error
/// says why (most often: no DTrace device in this zone or OS), and the probes then stay invisible.
pub fn register_probes() -> ::std::io::Result<()> {
    __registration::register()
}

#[cfg(__STANDARD__)]
#[doc(hidden)]
pub mod __registration {
    use ::std::ffi::CStr;
    use ::std::io;
    use ::std::os::raw::{c_char, c_int, c_ulong, c_void};
    use ::std::sync::atomic::{AtomicU8, Ordering};
    use ::std::vec::Vec;
    use ::std::string::String;

    // An empty piece of the record section, so __start_/__stop_ exist even with no probe in the program.
    #[cfg(__STANDARD_SUN__)]
    ::core::arch::global_asm!(".pushsection set_dtrace_probes, \"aw\", \"progbits\"", ".popsection");
    #[cfg(__STANDARD_RETAIN__)]
    ::core::arch::global_asm!(".pushsection set_dtrace_probes, \"awR\", \"progbits\"", ".popsection");

    unsafe extern "C" {
        #[link_name = "__start_set_dtrace_probes"]
        static RECORDS_START: u8;
        #[link_name = "__stop_set_dtrace_probes"]
        static RECORDS_STOP: u8;
        fn dladdr(addr: *const c_void, info: *mut DlInfo) -> c_int;
        fn open(path: *const c_char, flags: c_int, ...) -> c_int;
        fn ioctl(fd: c_int, request: c_ulong, ...) -> c_int;
        fn close(fd: c_int) -> c_int;
    }

    #[repr(C)]
    struct DlInfo {
        dli_fname: *const c_char,
        dli_fbase: *mut c_void,
        dli_sname: *const c_char,
        dli_saddr: *mut c_void,
    }

    /// illumos `dof_helper_t` (sys/dtrace.h); FreeBSD appends `dofhp_pid` and `dofhp_gen`.
    #[repr(C)]
    struct DofHelper {
        dofhp_mod: [u8; 64],
        dofhp_addr: u64,
        dofhp_dof: u64,
        #[cfg(target_os = "freebsd")]
        dofhp_pid: i32,
        #[cfg(target_os = "freebsd")]
        dofhp_gen: c_int,
    }

    #[cfg(not(target_os = "freebsd"))]
    const DTRACEHIOC_ADDDOF: c_ulong = 0x6474_6803; // ('d' << 24) | ('t' << 16) | ('h' << 8) | 3
    #[cfg(target_os = "freebsd")]
    const DTRACEHIOC_ADDDOF: c_ulong = 0xc058_7a03; // _IOWR('z', 3, dof_helper_t)
    const O_RDWR: c_int = 2;
    /// `DOF_ATTR(name, data, class)` per entity, from the provider file's `#pragma D attributes`.
    const PROVIDER_ATTRIBUTES: &[(&str, [u32; 5])] = &[__ATTRS__];

    pub struct Site {
        pub version: *const AtomicU8,
        pub addr: u64,
        pub enabled: bool,
        pub provider: String,
        pub probe: String,
        pub types: Vec<String>,
    }

    /// SAFETY: `p..end` must be readable.
    unsafe fn cstr_at(p: *const u8, end: *const u8) -> Option<(String, *const u8)> {
        let mut q = p;
        while q < end {
            // SAFETY: q is inside p..end.
            unsafe {
                if *q == 0 {
                    let s = ::core::slice::from_raw_parts(p, q as usize - p as usize);
                    return Some((String::from_utf8_lossy(s).into_owned(), q.add(1)));
                }
                q = q.add(1);
            }
        }
        None
    }

    /// The records (usdt-impl record.rs layout) not yet registered: version byte <= 1.
    pub fn sites() -> Vec<Site> {
        let mut out = Vec::new();
        // SAFETY: the linker delimits the section with these symbols; records are length-prefixed.
        unsafe {
            let mut p = ::core::ptr::addr_of!(RECORDS_START) as *const u8;
            let end = ::core::ptr::addr_of!(RECORDS_STOP) as *const u8;
            while (p as usize) + 16 <= end as usize {
                let len = (p as *const u32).read_unaligned() as usize;
                if len == 0 {
                    p = p.add(8);
                    continue;
                }
                if len < 16 || p as usize + len > end as usize {
                    break;
                }
                let rec_end = p.add(len);
                let version = p.add(4) as *const AtomicU8;
                let nargs = *p.add(5) as usize;
                let flags = (p.add(6) as *const u16).read_unaligned();
                let addr = (p.add(8) as *const u64).read_unaligned();
                if (*version).load(Ordering::SeqCst) <= 1 {
                    if let Some((provider, q)) = cstr_at(p.add(16), rec_end) {
                        if let Some((probe, mut q)) = cstr_at(q, rec_end) {
                            let mut types = Vec::new();
                            for _ in 0..nargs {
                                match cstr_at(q, rec_end) {
                                    Some((t, next)) => {
                                        types.push(t);
                                        q = next;
                                    }
                                    None => break,
                                }
                            }
                            let enabled = flags & 1 != 0;
                            out.push(Site { version, addr, enabled, provider, probe, types });
                        }
                    }
                }
                p = rec_end;
            }
        }
        out
    }

    struct DofProbe {
        provider: String,
        name: String,
        function: String,
        unnamed: bool,
        base: u64,
        types: Vec<String>,
        offsets: Vec<u32>,
        enoffsets: Vec<u32>,
    }

    fn symbol_of(addr: u64) -> (String, u64, String) {
        let mut info = DlInfo {
            dli_fname: ::core::ptr::null(),
            dli_fbase: ::core::ptr::null_mut(),
            dli_sname: ::core::ptr::null(),
            dli_saddr: ::core::ptr::null_mut(),
        };
        // SAFETY: dladdr fills `info` with pointers into the run-time linker's tables.
        let found = unsafe { dladdr(addr as usize as *const c_void, &mut info) } != 0;
        let module = if found && !info.dli_fname.is_null() {
            let path = unsafe { CStr::from_ptr(info.dli_fname) }.to_string_lossy().into_owned();
            path.rsplit('/').next().unwrap_or("").to_string()
        } else {
            String::new()
        };
        if found && !info.dli_sname.is_null() {
            let name = unsafe { CStr::from_ptr(info.dli_sname) }.to_string_lossy().into_owned();
            return (name, info.dli_saddr as usize as u64, module);
        }
        (String::new(), 0, module)
    }

    /// Groups sites into DOF probes, one per (provider, probe, function), addresses relative to the
    /// function's start (or the lowest site when no symbol covers it), as `dtrace -G` lays them out.
    fn group(sites: &[Site]) -> (Vec<DofProbe>, String) {
        let mut probes: Vec<DofProbe> = Vec::new();
        let mut module = String::new();
        let mut order: Vec<&Site> = sites.iter().collect();
        order.sort_by_key(|s| s.addr);
        for s in order {
            let (func, base, m) = symbol_of(s.addr);
            if module.is_empty() {
                module = m;
            }
            // No symbol covers the site: one probe for all such sites, named after its lowest site.
            let unnamed = func.is_empty();
            let found = probes.iter().position(|p| {
                p.provider == s.provider
                    && p.name == s.probe
                    && p.unnamed == unnamed
                    && (unnamed || p.function == func)
            });
            let i = match found {
                Some(i) => i,
                None => {
                    let (function, base) =
                        if unnamed { (::std::format!("0x{:x}", s.addr), s.addr) } else { (func, base) };
                    probes.push(DofProbe {
                        provider: s.provider.clone(),
                        name: s.probe.clone(),
                        function,
                        unnamed,
                        base,
                        types: Vec::new(),
                        offsets: Vec::new(),
                        enoffsets: Vec::new(),
                    });
                    probes.len() - 1
                }
            };
            let p = &mut probes[i];
            let off = (s.addr - p.base) as u32;
            if s.enabled {
                p.enoffsets.push(off);
            } else {
                p.offsets.push(off);
                p.types = s.types.clone();
            }
        }
        (probes, module)
    }

    fn put32(v: &mut Vec<u8>, x: u32) {
        v.extend_from_slice(&x.to_le_bytes());
    }

    fn put64(v: &mut Vec<u8>, x: u64) {
        v.extend_from_slice(&x.to_le_bytes());
    }

    /// DOF v2 (illumos sys/dtrace.h): STRTAB, PRARGS, PROFFS, PRENOFFS, one PROBES per provider, then
    /// one PROVIDER per provider; the same layout as `illumos-rust probes dof encode`.
    fn dof(probes: &[DofProbe]) -> Vec<u8> {
        let mut strtab: Vec<u8> = ::std::vec![0];
        let mut interned: Vec<(String, u32)> = Vec::new();
        let mut intern = |strtab: &mut Vec<u8>, s: &str| -> u32 {
            if let Some((_, i)) = interned.iter().find(|(k, _)| k == s) {
                return *i;
            }
            let i = strtab.len() as u32;
            strtab.extend_from_slice(s.as_bytes());
            strtab.push(0);
            interned.push((s.to_string(), i));
            i
        };
        let mut providers: Vec<&str> = Vec::new();
        for p in probes {
            if !providers.contains(&p.provider.as_str()) {
                providers.push(&p.provider);
            }
        }
        let (mut prargs, mut proffs, mut prenoffs) = (Vec::new(), Vec::new(), Vec::new());
        let mut probe_secs: Vec<Vec<u8>> = Vec::new();
        let mut provider_names = Vec::new();
        for prov in &providers {
            provider_names.push(intern(&mut strtab, prov));
            let mut sec = Vec::new();
            for p in probes.iter().filter(|p| p.provider == *prov) {
                let func = intern(&mut strtab, &p.function);
                let name = intern(&mut strtab, &p.name);
                let argv = if p.types.is_empty() { 0 } else { strtab.len() as u32 };
                for t in &p.types {
                    strtab.extend_from_slice(t.as_bytes());
                    strtab.push(0);
                }
                put64(&mut sec, p.base);
                put32(&mut sec, func);
                put32(&mut sec, name);
                put32(&mut sec, argv); // dofpr_nargv
                put32(&mut sec, argv); // dofpr_xargv: no translators
                put32(&mut sec, prargs.len() as u32); // dofpr_argidx
                put32(&mut sec, (proffs.len() / 4) as u32); // dofpr_offidx
                sec.push(p.types.len() as u8); // dofpr_nargc
                sec.push(p.types.len() as u8); // dofpr_xargc
                sec.extend_from_slice(&(p.offsets.len() as u16).to_le_bytes());
                put32(&mut sec, (prenoffs.len() / 4) as u32); // dofpr_enoffidx
                sec.extend_from_slice(&(p.enoffsets.len() as u16).to_le_bytes());
                sec.extend_from_slice(&[0u8; 6]);
                for i in 0..p.types.len() {
                    prargs.push(i as u8);
                }
                for o in &p.offsets {
                    put32(&mut proffs, *o);
                }
                for o in &p.enoffsets {
                    put32(&mut prenoffs, *o);
                }
            }
            probe_secs.push(sec);
        }
        if prargs.is_empty() {
            prargs.push(0);
        }
        let mut sections: Vec<(u32, u32, u32, Vec<u8>)> = ::std::vec![
            (8, 1, 0, strtab),
            (17, 1, 1, prargs),
            (18, 4, 4, proffs),
            (26, 4, 4, prenoffs),
        ];
        for sec in probe_secs {
            sections.push((16, 8, 48, sec));
        }
        for (i, name) in provider_names.iter().enumerate() {
            let mut sec = Vec::new();
            // provider, module, function, name, args stability (#pragma D attributes), 0 when not declared
            let attrs = PROVIDER_ATTRIBUTES
                .iter()
                .find(|(p, _)| *p == providers[i])
                .map(|(_, a)| *a)
                .unwrap_or([0; 5]);
            let [a0, a1, a2, a3, a4] = attrs;
            for x in [0u32, (4 + i) as u32, 1, 2, *name, a0, a1, a2, a3, a4, 3] {
                put32(&mut sec, x);
            }
            sections.push((15, 4, 0, sec));
        }
        let mut offset = 64 + 32 * sections.len();
        let mut headers = Vec::new();
        let mut body: Vec<u8> = Vec::new();
        for (kind, align, entsize, data) in &sections {
            let pad = (*align as usize - offset % *align as usize) % *align as usize;
            body.extend(::core::iter::repeat(0u8).take(pad));
            offset += pad;
            put32(&mut headers, *kind);
            put32(&mut headers, *align);
            put32(&mut headers, 1); // DOF_SECF_LOAD
            put32(&mut headers, *entsize);
            put64(&mut headers, offset as u64);
            put64(&mut headers, data.len() as u64);
            body.extend_from_slice(data);
            offset += data.len();
        }
        let mut out = Vec::with_capacity(offset);
        out.extend_from_slice(&[0x7f, b'D', b'O', b'F', 2, 1, 2, 2, 8, 8, 0, 0, 0, 0, 0, 0]);
        put32(&mut out, 0); // dofh_flags
        put32(&mut out, 64); // dofh_hdrsize
        put32(&mut out, 32); // dofh_secsize
        put32(&mut out, sections.len() as u32);
        put64(&mut out, 64); // dofh_secoff
        put64(&mut out, offset as u64); // dofh_loadsz
        put64(&mut out, offset as u64); // dofh_filesz
        put64(&mut out, 0);
        out.extend_from_slice(&headers);
        out.extend_from_slice(&body);
        out
    }

    /// The DOF `register_probes()` would hand to the kernel now, and the module name it would give.
    pub fn dof_image() -> (Vec<u8>, String) {
        let (probes, module) = group(&sites());
        (dof(&probes), module)
    }

    pub fn register() -> io::Result<()> {
        let sites = sites();
        if sites.is_empty() {
            return Ok(());
        }
        let (probes, module) = group(&sites);
        let image = dof(&probes);
        let mut helper = DofHelper {
            dofhp_mod: [0; 64],
            dofhp_addr: image.as_ptr() as usize as u64,
            dofhp_dof: image.as_ptr() as usize as u64,
            #[cfg(target_os = "freebsd")]
            dofhp_pid: ::std::process::id() as i32,
            #[cfg(target_os = "freebsd")]
            dofhp_gen: 0,
        };
        let n = module.len().min(63);
        helper.dofhp_mod[..n].copy_from_slice(&module.as_bytes()[..n]);
        let mut fd = -1;
        for dev in [&b"/dev/dtrace/helper\0"[..], &b"/devices/pseudo/dtrace@0:helper\0"[..]] {
            // SAFETY: a NUL-terminated path.
            fd = unsafe { open(dev.as_ptr() as *const c_char, O_RDWR) };
            if fd >= 0 {
                break;
            }
        }
        if fd < 0 {
            let err = io::Error::last_os_error();
            return Err(io::Error::new(
                err.kind(),
                ::std::format!(
                    "cannot open /dev/dtrace/helper ({err}): DTrace is not available here, so the {} \
                     probe site(s) stay unregistered",
                    sites.len()
                ),
            ));
        }
        // SAFETY: the helper struct and the DOF it points at outlive the call.
        let rc = unsafe { ioctl(fd, DTRACEHIOC_ADDDOF, &mut helper as *mut DofHelper) };
        let err = io::Error::last_os_error();
        unsafe { close(fd) };
        if rc < 0 {
            return Err(io::Error::new(
                err.kind(),
                ::std::format!("DTRACEHIOC_ADDDOF on /dev/dtrace/helper failed: {err}"),
            ));
        }
        for s in &sites {
            // SAFETY: the version byte of a record in the writable record section.
            unsafe { (*s.version).store(0xff, Ordering::SeqCst) };
        }
        Ok(())
    }
}

#[cfg(not(__STANDARD__))]
#[doc(hidden)]
pub mod __registration {
    pub fn register() -> ::std::io::Result<()> {
        Ok(())
    }
}
"""


def generate(pf: ProviderFile, source_name: str) -> str:
    """The Rust module for a parsed provider file."""
    names = ", ".join(p.name for p in pf.providers) or "(none)"
    head = [
        f"// @generated by `illumos-rust probes gen {os.path.basename(source_name)}`: do not edit.",
        f"// DTrace / USDT probes for provider(s): {names}.",
        "//",
        "// Include it with `mod probes;` (no dependencies), then:",
        "//     probes::register_probes()?;                 // once, early in main (illumos/FreeBSD)",
        "//     probes::<provider>::<probe>!(|| (a, b));    // the closure runs only while enabled",
        "// Backends by cfg: illumos/Solaris/FreeBSD x86-64: usdt-compatible records in set_dtrace_probes",
        "// registered as DOF; Linux x86-64/aarch64: SystemTap v3 .note.stapsdt; elsewhere: no-op.",
        "// Needs rustc >= 1.82, edition 2018/2021/2024: edition 2015 cannot re-export macros by path,",
        "// so there each `pub(crate) use <probe>;` below fails with E0432.",
    ]
    for pragma in pf.pragmas:
        head.append(f"// {pragma}")
    head += ["#![allow(dead_code, unexpected_cfgs, unused_macros, unused_imports, clippy::all)]", ""]
    body: list[str] = []
    for prov in pf.providers:
        body += [f"/// Provider `{prov.name}`.", f"pub mod {prov.name} {{"]
        for probe in prov.probes:
            body += _probe_macro(prov, probe)
        body += ["}", ""]
    attrs = []
    for prov in pf.providers:
        if prov.attributes:
            values = [encode_attr(prov.attributes[e]) if e in prov.attributes else 0 for e in ATTR_ENTITIES]
            attrs.append(f'("{prov.name}", [{", ".join(f"0x{v:x}" for v in values)}])')
    register = (
        REGISTER.replace("__ATTRS__", ", ".join(attrs))
        .replace("__STANDARD_SUN__", STANDARD_SUN)
        .replace("__STANDARD_RETAIN__", STANDARD_RETAIN)
        .replace("__STANDARD__", STANDARD)
    )
    return "\n".join(head + body) + register
