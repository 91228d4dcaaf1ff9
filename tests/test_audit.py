"""``audit`` on real inputs: the illumos/Solaris fixtures and programs rustc and gcc build here.

Expected values come from outside our code: readelf/objdump output, the fixtures' README (what their
builder verified), the syscall table in ../shared/notes, and hand reasoning written next to each assert.
"""

from __future__ import annotations

import itertools
import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

from conftest import REPO, build_rust, require_tool, shared_path
from illumos_rust.audit import audit, frame_pointers, profile
from illumos_rust.audit.context import Context, crate_of
from illumos_rust.audit.model import Report
from illumos_rust.audit.syscall_table import ILLUMOS
from illumos_rust.elf.eh_frame import eh_frame
from illumos_rust.elf.reader import ElfFile

DATA = REPO / "tests" / "data" / "audit"


def rules(report: Report) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in report.findings:
        out.setdefault(f.rule, []).append(f.message)
    return out


def fixture(*parts: str) -> Path:
    return shared_path("fixtures", "illumos-rust", "bin", *parts)


@cache
def readelf_fp(path: str) -> dict[int, tuple[bool, bool]]:
    """pc_begin -> (some row is a frame record: CFA rbp+16 with rbp at c-16, rbp saved in some row), from
    readelf's CFA table (psABI: after push rbp; mov rbp, rsp the CFA is rbp+16 and rbp sits at CFA-16)."""
    out = subprocess.run(
        ["readelf", "--debug-dump=frames-interp", "-W", path], capture_output=True, text=True, check=True
    ).stdout
    result: dict[int, tuple[bool, bool]] = {}
    current: int | None = None
    rbp_col: int | None = None
    for line in out.splitlines():
        m = re.search(r"FDE cie=\S+ pc=([0-9a-f]+)\.\.", line)
        if m:
            current, rbp_col = int(m.group(1), 16), None
            result[current] = (False, False)
            continue
        if current is None:
            continue
        cols = line.split()
        if cols and cols[0] == "LOC":
            rbp_col = cols.index("rbp") if "rbp" in cols else None
            continue
        if len(cols) >= 2 and re.fullmatch(r"[0-9a-f]{8,16}", cols[0]):
            fp, saved = result[current]
            rbp_rule = cols[rbp_col] if rbp_col is not None and rbp_col < len(cols) else ""
            fp = fp or (cols[1] == "rbp+16" and rbp_rule == "c-16")
            saved = saved or rbp_rule.startswith("c")
            result[current] = (fp, saved)
    return result


def classes(path: Path) -> dict[str, str]:
    with ElfFile(path) as elf:
        got, _ = frame_pointers.classify(Context(elf, profile("platform")))
    return {fn.name: cls for fn, cls, _ in got}


def agree_with_readelf(path: Path) -> int:
    """Every function with an FDE: FP exactly when readelf shows a frame-record row (CFA rbp+16, rbp at
    c-16); RBP_CLOBBER only when readelf shows rbp saved without one. Returns how many were compared."""
    require_tool("readelf")
    table = readelf_fp(str(path))
    compared = 0
    with ElfFile(path) as elf:
        got, _ = frame_pointers.classify(Context(elf, profile("platform")))
    for fn, cls, _ in got:
        if fn.addr not in table or cls in ("FRAGMENT", "EXEMPT"):
            continue
        fp, saved = table[fn.addr]
        assert (cls == "FP") == fp, (fn.name, cls, fp)
        if cls == "RBP_CLOBBER":
            assert saved and not fp, fn.name
        compared += 1
    return compared


# -- fixtures built by rustc for x86_64-unknown-illumos / x86_64-pc-solaris --------------------------------


def test_illumos_hello_is_clean() -> None:
    path = fixture("illumos", "hello")
    report = audit(path)
    got = rules(report)
    # README: 92-94 % start with push %rbp; mov %rsp,%rbp, the rest are shrink-wrapped; an auditor must not
    # flag them. The illumos target is frame-pointer: always, so nothing is missing.
    for rule in ("fp-missing", "fp-rbp-clobber", "stack-probes", "target-not-illumos", "dep-needed-order"):
        assert rule not in got, got.get(rule)
    assert report.facts["frame_pointers"]["coverage_percent"] == 100.0
    assert report.facts["target"]["os"] == "illumos"
    assert report.facts["target"]["rustc"] == "1.96.0"  # README: Debian rustc-web 1.96.0
    needed = re.findall(
        r"Shared library: \[(.*?)\]",
        subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout,
    )
    assert report.facts["dependencies"]["needed"] == needed == ["libumem.so.1", "libgcc_s.so.1", "libc.so.1"]
    assert report.facts["thread_locals"]["model"] == "pthread keys"  # README: no PT_TLS, pthread keys
    assert report.facts["panic"]["strategy"] == "unwind"
    assert report.facts["syscalls"]["confirmed"] == []  # README: no syscall instruction anywhere
    assert report.worst is not None and report.worst.name == "INFO"


def test_illumos_hello_agrees_with_readelf() -> None:
    assert agree_with_readelf(fixture("illumos", "hello")) > 500


def test_solaris_target_has_no_frame_pointers_and_probes() -> None:
    path = fixture("solaris", "hello")
    report = audit(path)
    got = rules(report)
    # README: Solaris build: 0 % of functions set up %rbp; inline stack probes.
    assert report.facts["frame_pointers"]["totals"].get("FP", 0) == 0
    assert "fp-missing" in got and "fp-rbp-clobber" in got
    assert report.facts["target"]["os"] == "solaris"
    require_tool("objdump")
    dis = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", str(path)], capture_output=True, text=True, check=True
    ).stdout
    probing: set[str] = set()
    func = ""
    lines = dis.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if m:
            func = m.group(1)
        elif "sub    $0x1000,%rsp" in line and i + 1 < len(lines) and "movq   $0x0,(%rsp)" in lines[i + 1]:
            probing.add(func)
    assert report.facts["stack_probes"]["inline_probe_functions"] == len(probing) > 0
    assert agree_with_readelf(path) > 500


@pytest.mark.parametrize(
    ("name", "strategy"), [("panicky", "unwind"), ("panicky-abort", "abort"), ("hello-abort", "abort")]
)
def test_panic_strategy_of_fixtures(name: str, strategy: str) -> None:
    # README: the abort profile has no _Unwind_RaiseException/_Unwind_Resume imports.
    assert audit(fixture("illumos", name)).facts["panic"]["strategy"] == strategy


def test_rust_dylib_and_cdylib_fixtures() -> None:
    dylib = audit(fixture("illumos", "librdylib.so"))
    assert "rust-abi-dylib" in rules(dylib)
    cdylib_path = fixture("illumos", "libcexport.so")
    cdylib = audit(cdylib_path)
    assert "rust-abi-dylib" not in rules(cdylib)
    # README: rustc writes no export mapfile for illumos, so ~1490 std symbols are exported: a warning.
    nm = subprocess.run(
        ["nm", "-D", "--defined-only", str(cdylib_path)], capture_output=True, text=True, check=True
    ).stdout
    mangled = {
        ln.split()[-1]
        for ln in nm.splitlines()
        if ln.split()[-2] in "TtWwDdBbRrVv" and re.match(r"_R[0-9A-Z_]|_ZN.*17h[0-9a-f]{16}E", ln.split()[-1])
    }
    assert cdylib.facts["rust_abi"]["rust_exports"] == len(mangled)
    assert 1400 < len(mangled) < 1600
    assert "rust-abi-exports" in rules(cdylib)


def test_stripped_fixture_loses_symtab() -> None:
    report = audit(fixture("illumos", "hello-stripped"))
    assert "debug-stripped" in rules(report)
    assert report.facts["post_mortem"]["symtab"] == 0


def test_net_fixture_needed_order() -> None:
    report = audit(fixture("illumos", "net"))
    needed = report.facts["dependencies"]["needed"]
    # README: libsocket.so.1 first and libm.so.2 before libc in `net`; libc last.
    assert needed[0] == "libsocket.so.1" and needed[-1] == "libc.so.1" and "libm.so.2" in needed
    assert "dep-needed-order" not in rules(report) and "dep-libc-not-last" not in rules(report)


def test_threads_fixture_nofp_is_identical() -> None:
    # README: threads-nofp is byte-identical to threads (the illumos target cannot lower frame-pointer).
    a = audit(fixture("illumos", "threads"))
    b = audit(fixture("illumos", "threads-nofp"))
    assert a.facts["frame_pointers"]["totals"] == b.facts["frame_pointers"]["totals"]
    assert a.facts["frame_pointers"]["coverage_percent"] == 100.0


# -- real Solaris/illumos binaries not built by rustc -------------------------------------------------------


def test_esbuild_go_binary_has_no_real_syscalls() -> None:
    report = audit(shared_path("fixtures", "elf", "esbuild-sunos-x64", "esbuild"))
    sc = report.facts["syscalls"]
    # elf/README: 0 real syscall instructions; a naive byte search for 0f 05 finds 6 false positives.
    assert sc["confirmed"] == []
    assert sc["dismissed_byte_hits"] >= 6
    assert report.facts["thread_locals"]["pt_tls"] is True  # README: PT_TLS of 8 bytes
    assert report.facts["dependencies"]["needed"] == ["libsendfile.so", "libsocket.so", "libc.so"]
    assert report.facts["target"]["rust"] is False


@pytest.mark.parametrize(
    "name",
    [
        "exe_solaris64_cc.elf",
        "exe_solaris32_cc.elf",
        "exe_solaris64_cc.sparc.elf",
        "exe_solaris32_cc.sparc.elf",
    ],
)
def test_solaris_c_fixtures(name: str) -> None:
    report = audit(shared_path("fixtures", "elf", name))
    assert report.facts["target"]["os"] == "solarish"  # Sun C + Solaris ld: README
    assert report.facts["dependencies"]["needed"] == ["libc.so.1"]  # README: DT_NEEDED is libc.so.1
    assert "target-not-illumos" not in rules(report)


# -- programs built here -----------------------------------------------------------------------------------


def _src(name: str) -> str:
    return (DATA / name).read_text()


def test_force_frame_pointers_yes_vs_default() -> None:
    with_fp = build_rust(_src("fp.rs"), "fp", "-O", "-C", "force-frame-pointers=yes")
    without = build_rust(_src("fp.rs"), "fp", "-O")
    a, b = classes(with_fp), classes(without)
    # With FP mode "all" even the trivial leaf sets up rbp (elf-tooling.md §2); without it, the non-leaf
    # with a 512-byte buffer has a frame but no frame pointer, and the leaf has no frame at all.
    assert a["audit_leaf_add"] == "FP" and a["audit_nonleaf"] == "FP"
    assert b["audit_leaf_add"] == "LEAF"
    assert b["audit_nonleaf"] in ("NO_FP", "RBP_CLOBBER")
    ra, rb = audit(with_fp), audit(without)
    assert ra.facts["frame_pointers"]["coverage_percent"] == 100.0  # std is built with FPs (§2)
    assert rb.facts["frame_pointers"]["coverage_percent"] < 100.0
    assert agree_with_readelf(with_fp) > 300 and agree_with_readelf(without) > 300


def test_panic_abort_build() -> None:
    abort = build_rust(_src("fp.rs"), "fp", "-O", "-C", "panic=abort")
    unwind = build_rust(_src("fp.rs"), "fp", "-O")
    assert audit(abort).facts["panic"]["strategy"] == "abort"
    assert audit(unwind).facts["panic"]["strategy"] == "unwind"


def test_raw_syscall_with_solaris_getrandom_number() -> None:
    pytest.importorskip("iced_x86")
    path = build_rust(_src("rawsys.rs"), "rawsys", "-O")
    report = audit(path)
    require_tool("objdump")
    dis = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", str(path)], capture_output=True, text=True, check=True
    ).stdout
    body = dis.split("<solaris_getrandom>:", 1)[1].split("\n\n", 1)[0]
    syscall_addr = int(re.search(r"^\s*([0-9a-f]+):\s+syscall", body, re.M).group(1), 16)  # type: ignore[union-attr]
    assert "mov    $0x8f,%eax" in body  # 0x8f = 143, the Solaris getrandom
    hits = [f for f in report.findings if f.rule == "syscall-solaris-number"]
    assert [(f.location.address, f.properties["number"]) for f in hits] == [(syscall_addr, 143)]
    assert "solaris_getrandom" in (hits[0].location.symbol or "")
    # the table says 126 is getrandom on illumos; the message must point there
    assert ILLUMOS[126][0] == "getrandom" and "126" in hits[0].message
    # libc syscall() with the constant 318 (edi), from our own function
    indirect = [
        f
        for f in report.findings
        if f.rule == "syscall-libc-indirect" and "libc_indirect_getrandom" in (f.location.symbol or "")
    ]
    assert [f.properties["number"] for f in indirect] == [318]


def test_gcc_object_without_frame_pointers_is_attributed() -> None:
    gcc = require_tool("gcc")
    obj_dir = REPO / ".cache" / "rustc-builds"
    obj_dir.mkdir(parents=True, exist_ok=True)
    obj = obj_dir / "audit-cobj.o"
    subprocess.run([gcc, "-O2", "-c", str(DATA / "cobj.c"), "-o", str(obj)], check=True)
    path = build_rust(
        _src("withc.rs"),
        "withc",
        "-O",
        "-C",
        f"link-arg={obj}",
        env={"AUDIT_COBJ": (DATA / "cobj.c").read_text()},
    )
    report = audit(path)
    rows = {(r["kind"], r["name"]): r for r in report.facts["frame_pointers"]["by_owner"]}
    c = rows[("object", "cobj.c")]
    # gcc -O2 on x86-64 omits the frame pointer: none of the object's 3 functions keeps one.
    assert c.get("FP", 0) == 0 and c.get("NO_FP", 0) + c.get("RBP_CLOBBER", 0) + c.get("LEAF", 0) == 3
    offenders = [f for f in report.findings if f.properties.get("owner") == "cobj.c"]
    assert offenders and all(f.severity.name == "WARNING" for f in offenders)
    assert agree_with_readelf(path) > 300


def test_dylib_and_cdylib_built_here() -> None:
    dylib = build_rust(_src("rdylib.rs"), "rdylib", "-O", crate_type="dylib")
    cdylib = build_rust(_src("cexport.rs"), "cexport", "-O", crate_type="cdylib")
    rd = audit(dylib)
    assert "rust-abi-dylib" in rules(rd)
    # Linux rustc passes a version script: the cdylib exports only its C functions (nm is the oracle).
    nm = subprocess.run(
        ["nm", "-D", "--defined-only", str(cdylib)], capture_output=True, text=True, check=True
    ).stdout
    exported = sorted(ln.split()[-1] for ln in nm.splitlines() if ln.split()[-2] in "T")
    assert exported == ["cexport_add", "cexport_len"]
    rc = audit(cdylib)
    assert "rust-abi-dylib" not in rules(rc) and "rust-abi-exports" not in rules(rc)


def test_linux_target_is_named() -> None:
    path = build_rust(_src("fp.rs"), "fp", "-O")
    report = audit(path)
    assert report.facts["target"]["os"] == "linux"
    assert "target-not-illumos" in rules(report)


# -- pure units -------------------------------------------------------------------------------------------


def test_syscall_table_matches_shared_notes() -> None:
    tsv = shared_path("notes", "illumos-syscalls.tsv").read_text().splitlines()
    rows = {int(c[0]): c[1] for c in (ln.split("\t") for ln in tsv if ln and ln[0].isdigit())}
    assert {n: v[0] for n, v in ILLUMOS.items()} == rows


@pytest.mark.parametrize(
    ("symbol", "crate"),
    [
        ("_ZN3std2io5stdio6_print17h0123456789abcdefE", "std"),
        ("_ZN4core3ptr13drop_in_place17h0123456789abcdefE", "core"),
        ("_RNvNtCs1234_5alloc3vec3foo", "alloc"),
        ("_RNvCsjnE5cKOu0cS_3std4main", "std"),
        ("_ZN54_$LT$std..io..error..Error$u20$as$u20$core..fmt..Debug$GT$3fmt17h0123456789abcdefE", "std"),
        ("main", None),
    ],
)
def test_crate_of(symbol: str, crate: str | None) -> None:
    assert crate_of(symbol) == crate


def test_without_decoder_cfi_only_and_unverified(monkeypatch: pytest.MonkeyPatch) -> None:
    """No iced-x86 (illumos hosts have no wheel): FP verdicts are unchanged (CFI decides them exactly),
    and the raw syscall is still reported, as an unverified candidate."""
    from illumos_rust.audit import disasm

    path = build_rust(_src("rawsys.rs"), "rawsys", "-O")
    fp_build = build_rust(_src("fp.rs"), "fp", "-O", "-C", "force-frame-pointers=yes")
    with_decoder = classes(fp_build)
    monkeypatch.setattr(disasm, "AVAILABLE", False)
    monkeypatch.setattr(disasm, "_iced", None)
    without = classes(fp_build)
    # Functions without an FDE (crtstuff's __do_global_dtors_aux: its push rbp follows a test) need the
    # decoder; where CFI exists it decides alone.
    with ElfFile(fp_build) as elf:
        eh = eh_frame(elf)
        assert eh is not None
        cfi = {fn.name for fn in Context(elf, profile("platform")).functions if eh.fde_for(fn.addr)}
    assert {n for n, c in without.items() if c == "FP" and n in cfi} == {
        n for n, c in with_decoder.items() if c == "FP" and n in cfi
    }
    report = audit(path)
    assert report.facts["frame_pointers"]["method"] == "cfi"
    got = rules(report)
    assert "syscall-solaris-number" not in got
    assert any("solaris_getrandom" in m for m in got["syscall-unverified"])


@pytest.mark.parametrize("variant", ["fp", "nofp"])
def test_functions_without_fdes_endbr64_and_shrink_wrapping(variant: str) -> None:
    """No .eh_frame at all (-fno-asynchronous-unwind-tables): the verdict comes from the instructions."""
    pytest.importorskip("iced_x86")
    gcc = require_tool("gcc")
    require_tool("objdump")
    out_dir = REPO / ".cache" / "rustc-builds"
    out_dir.mkdir(parents=True, exist_ok=True)
    flags = (
        ["-fno-omit-frame-pointer", "-fcf-protection=full"] if variant == "fp" else ["-fomit-frame-pointer"]
    )
    obj, lib = out_dir / f"audit-nofde-{variant}.o", out_dir / f"libaudit-nofde-{variant}.so"
    common = ["-O2", "-fPIC", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables"]
    subprocess.run([gcc, *common, *flags, "-c", str(DATA / "nofde.c"), "-o", str(obj)], check=True)
    subprocess.run(
        [gcc, "-shared", "-o", str(lib), str(obj), "-Wl,--unresolved-symbols=ignore-all"], check=True
    )
    frames = subprocess.run(
        ["readelf", "--debug-dump=frames", str(lib)], capture_output=True, text=True
    ).stdout
    dis = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", str(lib)], capture_output=True, text=True, check=True
    ).stdout

    def body(name: str) -> list[str]:
        text = dis.split(f"<{name}>:", 1)[1].split("\n\n", 1)[0]
        return [ln.split("\t", 1)[1].strip() for ln in text.strip().splitlines() if "\t" in ln]

    got = classes(lib)
    assert "audit_nofde_calls" in got and "FDE" not in frames  # readelf: no FDE in the whole object
    if variant == "fp":
        calls, early = body("audit_nofde_calls"), body("audit_nofde_early")
        assert calls[0] == "endbr64" and early[0] == "endbr64"  # -fcf-protection
        assert not early[1].startswith("push")  # shrink-wrapped: the fast path comes first
        assert got["audit_nofde_calls"] == got["audit_nofde_early"] == "FP"
    else:
        # gcc uses rbp as a general register (objdump: written after other pushes, not as a frame base)
        assert any(ln.startswith("mov    %rsp,%rbp") or ",%rbp" in ln for ln in body("audit_nofde_calls"))
        assert got["audit_nofde_calls"] == got["audit_nofde_early"] == "RBP_CLOBBER"
    assert got["audit_nofde_leaf"] == "LEAF"  # three instructions and a ret: no call


@pytest.mark.parametrize(
    ("name", "dwarf", "ctf"),
    [
        ("objfunc.o", False, True),
        ("ctfconv_t.o", True, True),
        ("gnu_ctf.o", False, False),
        ("rustbin", True, False),
    ],
)
def test_post_mortem_sections(name: str, dwarf: bool, ctf: bool) -> None:
    """ctf/README: objfunc.o carries .SUNW_ctf without debug info, ctfconv_t.o both, gnu_ctf.o GNU CTF
    in ``.ctf`` (not illumos CTF), rustbin DWARF only."""
    report = audit(shared_path("fixtures", "ctf", name))
    pm = report.facts["post_mortem"]
    assert (pm["dwarf"], pm["ctf"]) == (dwarf, ctf)
    lacks = next(f.evidence for f in report.findings if f.rule == "debug-info")
    assert ("no .SUNW_ctf" in lacks) is not ctf
    if name.endswith(".o"):
        assert "skipped" in report.facts["frame_pointers"]  # relocatable: addresses not relocated yet
        assert report.facts["target"]["os"] != "solarish"  # built on Debian; .SUNW_ctf is no Solaris mark


def test_crate_attribution_agrees_with_rustfilt() -> None:
    """The crate read from the mangled form equals the first path component rustfilt prints, for every
    Rust function of the illumos hello fixture that is not an impl block (``<T as Trait>``)."""
    rustfilt = require_tool("rustfilt")
    with ElfFile(fixture("illumos", "hello")) as elf:
        names = [n for n in elf.symtab.names if n.startswith(("_R", "_ZN"))]
    shown = subprocess.run(
        [rustfilt], input="\n".join(names) + "\n", capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert len(shown) == len(names) > 500
    compared = 0
    for name, text in zip(names, shown, strict=True):
        if text.startswith("<") or text == name:
            continue
        assert crate_of(name) == text.split("::", 1)[0], (name, text)
        compared += 1
    assert compared > 300


@pytest.mark.parametrize(
    ("name", "bp", "sp"), [("exe_solaris64_cc.elf", "%rbp", "%rsp"), ("exe_solaris32_cc.elf", "%ebp", "%esp")]
)
def test_sun_c_functions_against_objdump(name: str, bp: str, sp: str) -> None:
    """Sun C output (ELF64 with .eh_frame, ELF32 without): main and __fsr judged like objdump shows them."""
    pytest.importorskip("iced_x86")
    require_tool("objdump")
    path = shared_path("fixtures", "elf", name)
    dis = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", str(path)], capture_output=True, text=True, check=True
    ).stdout
    syms = subprocess.run(["readelf", "-Ws", str(path)], capture_output=True, text=True, check=True).stdout
    got = classes(path)
    for fn in ("main", "__fsr"):
        # the symbol's extent per readelf (objdump runs on to the next symbol, past __fsr's 268 bytes)
        value, size = next(
            (int(c[1], 16), int(c[2]))
            for c in (ln.split() for ln in syms.splitlines())
            if len(c) == 8 and c[7] == fn
        )
        body = dis.split(f"<{fn}>:", 1)[1].split("\n\n", 1)[0]
        insns = [
            ln.split("\t", 1)[1].strip()
            for ln in body.strip().splitlines()
            if "\t" in ln and int(ln.split(":", 1)[0], 16) < value + size
        ]
        fp = any(a == f"push   {bp}" and b == f"mov    {sp},{bp}" for a, b in itertools.pairwise(insns))
        calls = any(i.startswith("call") for i in insns)
        assert got[fn] == ("FP" if fp else "NO_FP" if calls else "LEAF"), (fn, got[fn], insns[:4])


@pytest.mark.parametrize(
    ("profile_name", "entry", "verdict"),
    [
        (
            "platform",
            "/opt/local/gcc13/x86_64-sun-solaris2.11/lib/amd64",
            "under /opt/local",
        ),  # tritonadm note
        ("platform", "$ORIGIN/../lib", None),
        ("platform", "${ORIGIN}/lib", None),
        ("platform", "/usr/gcc/10/lib/amd64", None),  # the platform's own gcc runtime
        ("platform", "/usr/lib/64", None),
        ("platform", "/usr/lib64", "not under an allowed prefix"),  # component-wise, not string prefix
        ("platform", "/usr/local/lib", "not under an allowed prefix"),
        ("platform", "lib", "relative path"),
        ("platform", "", "empty entry"),
        ("pkgsrc", "/opt/local/lib", None),
        ("pkgsrc", "/opt/localx/lib", "not under an allowed prefix"),
    ],
)
def test_search_path_policy(profile_name: str, entry: str, verdict: str | None) -> None:
    got = profile(profile_name).path_verdict(entry)
    assert (got is None) if verdict is None else (got is not None and got.startswith(verdict)), got


def test_stripped_binary_is_judged_from_its_fdes() -> None:
    """Without .symtab every FDE stands for a function: the stripped hello keeps the unstripped verdicts."""
    require_tool("readelf")
    stripped = fixture("illumos", "hello-stripped")
    rbp_fdes = sum(1 for fp, _ in readelf_fp(str(stripped)).values() if fp)
    report = audit(stripped)
    assert report.facts["frame_pointers"]["totals"]["FP"] == rbp_fdes
    assert rbp_fdes == audit(fixture("illumos", "hello")).facts["frame_pointers"]["totals"]["FP"]


@pytest.mark.parametrize("variant", ["fp", "nofp"])
def test_aarch64_frame_pointers(variant: str) -> None:
    """aarch64: the CFA moves to x29+16 after ``stp x29, x30; mov x29, sp`` (illumos-target.md §5)."""
    clang = require_tool("clang")
    require_tool("readelf")
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True, text=True).stdout.strip()
    lld = next(Path(sysroot).glob("lib/rustlib/*/bin/rust-lld"), None)
    if lld is None:
        pytest.skip("rust-lld not in the rustc sysroot")
    out_dir = REPO / ".cache" / "rustc-builds"
    out_dir.mkdir(parents=True, exist_ok=True)
    obj, lib = out_dir / f"audit-a64-{variant}.o", out_dir / f"libaudit-a64-{variant}.so"
    flags = (
        ["-fno-omit-frame-pointer", "-mno-omit-leaf-frame-pointer"]
        if variant == "fp"
        else ["-fomit-frame-pointer"]
    )
    subprocess.run(
        [
            clang,
            "-target",
            "aarch64-linux-gnu",
            "-O2",
            "-fPIC",
            *flags,
            "-c",
            str(DATA / "a64.c"),
            "-o",
            str(obj),
        ],
        check=True,
    )
    subprocess.run(
        [str(lld), "-flavor", "gnu", "-shared", str(obj), "-o", str(lib), "--unresolved-symbols=ignore-all"],
        check=True,
    )
    frames = subprocess.run(
        ["readelf", "-W", "--debug-dump=frames-interp", str(lib)], capture_output=True, text=True, check=True
    ).stdout
    x29_cfa = len(re.findall(r"^[0-9a-f]{16} x29\+16", frames, re.M))
    got = classes(lib)
    if variant == "fp":
        assert x29_cfa == 2
        assert got == {"a64_leaf": "FP", "a64_nonleaf": "FP"}
    else:
        assert x29_cfa == 0
        assert got == {"a64_leaf": "LEAF", "a64_nonleaf": "NO_FP"}  # the non-leaf calls ext()
