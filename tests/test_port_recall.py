"""The de-porting experiment (issue 16) and the recall fixes it led to.

* :mod:`illumos_rust.port.deport` against hand-computed rewrites (the Reference's ``any()``/``all()``
  semantics, worked out in the tables below);
* three Debian crates whose humans added illumos (sys-info 0.9.1, mio 0.8.4, termios 0.3.3): the
  de-ported copy no longer names illumos in a cfg (checked with a plain regex), ``port`` finds the
  removed sites, and where it patches, the patched predicate is the humans' own (read from the
  untouched registry source, evaluated for both targets) or it refuses with the exact reason;
* one synthetic crate per fix, asserting finding, class and exact patch or refusal.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import require_tool
from illumos_rust.port import engine
from illumos_rust.port.analysis import evaluators
from illumos_rust.port.cfgexpr import assignments, parse, to_str, unknown_atoms
from illumos_rust.port.deport import deport_crate, deport_text, remove_os
from test_port_patterns import DEBIAN, _crate, _libc, _port

ILLUMOS_CFG = re.compile(r'target_os\s*=\s*"illumos"')


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ('any(target_os = "solaris", target_os = "illumos")', 'target_os = "solaris"'),
        ('not(any(target_os = "solaris", target_os = "illumos"))', 'not(target_os = "solaris")'),
        ('all(unix, not(target_os = "illumos"))', "unix"),
        (
            'any(target_os = "linux", target_os = "illumos", target_os = "android")',
            'any(target_os = "linux", target_os = "android")',
        ),
        ('all(feature = "x", target_os = "illumos")', "false"),  # illumos-only: the item goes
        ('not(target_os = "illumos")', "true"),  # the cfg goes, the item stays
        ('any(target_os = "illumos", all())', "true"),
    ],
)
def test_remove_os_by_hand(before: str, after: str) -> None:
    assert to_str(remove_os(parse(before))) == after


def test_deport_text_exact(tmp_path: Path) -> None:
    """Every kind of site, and what the copy must look like (written out by hand)."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "illumos.rs").write_text("pub fn x() {}\n")
    text = (
        '#[cfg(any(target_os = "solaris", target_os = "illumos"))]\n'
        "fn a() {}\n"
        '#[cfg(target_os = "illumos")]\n'
        "mod illumos;\n"
        '#[cfg(not(target_os = "illumos"))]\n'
        "fn gen() {}\n"
        "cfg_if::cfg_if! {\n"
        '    if #[cfg(target_os = "illumos")] { fn z() {} }\n'
        '    else if #[cfg(any(target_os = "linux", target_os = "illumos"))] { fn b() {} }\n'
        "    else { fn c() {} }\n"
        "}\n"
        'fn f() -> bool { cfg!(target_os = "illumos") }\n'
    )
    out = deport_text(str(src / "lib.rs"), text)
    assert out.text == (
        '#[cfg(target_os = "solaris")]\n'
        "fn a() {}\n"
        "fn gen() {}\n"
        "cfg_if::cfg_if! {\n"
        '    if #[cfg(target_os = "linux")] { fn b() {} }\n'
        "    else { fn c() {} }\n"
        "}\n"
        "fn f() -> bool { cfg!(any()) }\n"
    )
    assert [(s.action, s.shape, s.line) for s in out.sites] == [
        ("rewrite", "solaris list", 1),
        ("drop-item", "illumos-only", 3),
        ("drop-cfg", "exclusion dropped", 3),
        ("drop-branch", "illumos-only", 5),
        ("rewrite", "other-OS list", 5),
        ("rewrite", "illumos-only", 8),
    ]
    assert out.sites[1].module and out.removed_files == [str(src / "illumos.rs")]


def _same_for_both(a: str, b: str) -> bool:
    """Do predicates ``a`` and ``b`` agree on both targets for every assignment of the other atoms?"""
    ea, eb = parse(a), parse(b)
    for ev in evaluators(engine.make_context()):
        unknowns = list(dict.fromkeys(unknown_atoms(ea, ev.determined) + unknown_atoms(eb, ev.determined)))
        if any(ev.eval(ea, s) != ev.eval(eb, s) for s in assignments(unknowns)):
            return False
    return True


def _deported(tmp: Path, name: str) -> Path:
    _libc()
    if not (DEBIAN / name).is_dir():
        pytest.skip(f"Debian crate source {name} not installed (make corpus)")
    dst = tmp / name
    deport_crate(str(DEBIAN / name), str(dst))
    for rs in dst.rglob("*.rs"):  # doc comments (termios's doctest) are not cfgs
        code = "\n".join(
            ln for ln in rs.read_text(errors="replace").splitlines() if not ln.lstrip().startswith("//")
        )
        assert not ILLUMOS_CFG.search(code), rs
    return dst


def _cfg_at(text: str, line: int) -> str:
    """The predicate of the ``#[cfg(..)]`` on 1-based ``line`` (single-line attributes only)."""
    m = re.search(r"#\[cfg\((.*)\)\]", text.splitlines()[line - 1])
    assert m, text.splitlines()[line - 1]
    return m.group(1)


def test_sys_info_twin_pair_patched_like_the_humans(tmp_path: Path) -> None:
    """sys-info's ``cpu_num``: `#[cfg(any(solaris, illumos, freebsd, ..))] {..}` and its
    `#[cfg(all(not(any(solaris, illumos, ..)), any(unix, windows)))] {..}` twin (lib.rs 535/544). Before
    the twin rule the copy's exclusion was info, so the patch gave illumos both tail blocks."""
    crate = _deported(tmp_path, "sys-info-0.9.1")
    run = _port(crate, tmp_path)
    original = (DEBIAN / "sys-info-0.9.1" / "lib.rs").read_text()
    copy = (crate / "lib.rs").read_text()
    pos = copy.index("pub fn cpu_num()")
    first = copy.count("\n", 0, copy.index("#[cfg(", pos)) + 1
    second = copy.count("\n", 0, copy.index("#[cfg(", copy.index("#[cfg(", pos) + 1)) + 1
    a = run.at("port/solaris-only", "lib.rs", first)
    b = run.at("port/illumos-only", "lib.rs", second)
    assert (a["properties"]["class"], b["properties"]["class"]) == ("gap", "gap")
    assert f"its Solaris twin at line {first} is a porting gap" in b["message"]
    _patched(crate, run.diff)
    patched = (crate / "lib.rs").read_text()
    # the humans' predicates of the same two blocks (registry source, untouched)
    opos = original.index("pub fn cpu_num()")
    o1 = original.count("\n", 0, original.index("#[cfg(", opos)) + 1
    o2 = original.count("\n", 0, original.index("#[cfg(", original.index("#[cfg(", opos) + 1)) + 1
    assert _same_for_both(_cfg_at(patched, first), _cfg_at(original, o1))
    assert _same_for_both(_cfg_at(patched, second), _cfg_at(original, o2))


def _patched(crate: Path, diff: str) -> None:
    """Apply ``diff`` in ``crate`` with the real ``patch -p1`` (what a user runs)."""
    require_tool("patch")
    subprocess.run(["patch", "-p1", "-s"], input=diff, text=True, cwd=crate, check=True)


def test_mio_waker_two_lists_refused(tmp_path: Path) -> None:
    """De-ported mio 0.8.4 waker.rs: the eventfd `Waker` (Linux list) and the pipe2 `Waker` (BSD list)
    both use APIs illumos has. The humans picked the pipe one; patching both lists (what port did before)
    defines `Waker` twice. Both are now refusals naming the clash."""
    crate = _deported(tmp_path, "mio-0.8.4")
    run = _port(crate, tmp_path)
    want = (
        "no automatic patch: the OS lists at lines 1, 101 would each give illumos `Waker` (both use APIs "
        "illumos has); adding it to both defines `Waker` twice: choose one implementation by hand"
    )
    for line in (1, 101):
        f = run.at("port/shared-api", "src/sys/unix/waker.rs", line)
        assert (f["properties"]["class"], f["fix"]) == ("refusal", want)
    assert "waker.rs" not in run.diff


def test_termios_solaris_module_table(tmp_path: Path) -> None:
    """termios 0.3.3 `os/mod.rs`: the humans gave illumos its own module; the copy has only the Solaris
    rows, which port finds (lines 10 and 19 of the copy, as in the original: the illumos rows
    came after them) and points at the Solaris module instead."""
    crate = _deported(tmp_path, "termios-0.3.3")
    run = _port(crate, tmp_path)
    for line in (10, 19):
        assert run.at("port/solaris-only", "src/os/mod.rs", line)["properties"]["class"] == "gap"
    assert '+#[cfg(any(target_os = "solaris", target_os = "illumos"))] pub mod solaris;' in run.diff


# ----------------------------------------------------------------------------- synthetic, one per fix


def test_twin_exclusion_in_crate_that_knows_illumos(tmp_path: Path) -> None:
    _libc()
    crate = _crate(
        tmp_path,
        "twin",
        {
            "src/lib.rs": """
            #[cfg(target_os = "illumos")]
            pub fn elsewhere() {}

            pub fn ncpu() -> i64 {
                #[cfg(any(target_os = "solaris", target_os = "freebsd"))]
                {
                    unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) as i64 }
                }
                #[cfg(not(any(target_os = "solaris", target_os = "freebsd")))]
                {
                    1
                }
            }
            """
        },
    )
    run = _port(crate, tmp_path)
    a = run.at("port/solaris-only", "src/lib.rs", 5)
    b = run.at("port/illumos-only", "src/lib.rs", 9)
    assert (a["severity"], a["properties"]["class"]) == ("warning", "gap")
    assert (b["severity"], b["properties"]["class"]) == ("warning", "gap")
    assert run.changed_lines() == [
        '-    #[cfg(any(target_os = "solaris", target_os = "freebsd"))]',
        '+    #[cfg(any(target_os = "solaris", target_os = "illumos", target_os = "freebsd"))]',
        '-    #[cfg(not(any(target_os = "solaris", target_os = "freebsd")))]',
        '+    #[cfg(not(any(target_os = "solaris", target_os = "illumos", target_os = "freebsd")))]',
    ]


def test_two_os_lists_defining_one_item_are_refused(tmp_path: Path) -> None:
    _libc()
    crate = _crate(
        tmp_path,
        "waker",
        {
            "src/lib.rs": """
            #[cfg(target_os = "linux")]
            pub fn make() -> i32 {
                unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) }
            }

            #[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
            pub fn make() -> i32 {
                let mut fds = [0; 2];
                unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }
            }
            """
        },
    )
    run = _port(crate, tmp_path)
    want = (
        "no automatic patch: the OS lists at lines 1, 6 would each give illumos `make` (both use APIs "
        "illumos has); adding it to both defines `make` twice: choose one implementation by hand"
    )
    for line in (1, 6):
        f = run.at("port/shared-api", "src/lib.rs", line)
        assert (f["properties"]["class"], f["fix"]) == ("refusal", want)
    assert run.diff == ""


def test_raw_syscall_followed_through_calls_and_use_alias(tmp_path: Path) -> None:
    """Two call levels and a `use .. as ..` rename between the gate and the raw syscall: one level (the
    old check) saw only `outer`, which makes no syscall itself, and let the patch through."""
    _libc()
    crate = _crate(
        tmp_path,
        "chain",
        {
            "src/lib.rs": """
            mod raw;
            use raw::fill_raw as fill_bytes;

            fn middle(buf: &mut [u8]) -> isize {
                fill_bytes(buf)
            }

            fn outer(buf: &mut [u8]) -> isize {
                middle(buf)
            }

            #[cfg(target_os = "solaris")]
            pub fn random(buf: &mut [u8]) -> isize {
                outer(buf)
            }
            """,
            "src/raw.rs": """
            pub fn fill_raw(buf: &mut [u8]) -> isize {
                unsafe { libc::syscall(libc::SYS_getrandom, buf.as_mut_ptr(), buf.len(), 0) as isize }
            }
            """,
        },
    )
    run = _port(crate, tmp_path)
    chain = "outer -> middle -> fill_bytes (use .. fill_raw as fill_bytes) -> fill_raw"
    gap = run.at("port/solaris-only", "src/lib.rs", 12)
    assert gap["properties"]["class"] == "refusal"
    assert gap["fix"] == (
        "no automatic patch: the gate admits code that makes a raw syscall at src/raw.rs:2 `unsafe { "
        "libc::syscall(libc::SYS_getrandom, buf.as_mut_ptr(), buf.len(), 0) as isize }` (reached through a "
        f"call to {chain}); illumos syscall numbers are not a stable ABI: port that code to the libc wrapper "
        "by hand"
    )
    raw = run.at("port/raw-syscall", "src/raw.rs", 2)
    assert raw["message"].startswith(f'raw syscall in {chain}, which code under cfg(target_os = "solaris")')
    assert run.diff == "" and run.code == 1


def test_elf_section_run_gets_illumos_once(tmp_path: Path) -> None:
    """ctor's shape: one `#[cfg_attr(target_os = "x", link_section = ".init_array")]` per OS. illumos
    joins one line of the run; adding it to every line (what port did) repeats the attribute."""
    _libc()
    crate = _crate(
        tmp_path,
        "ctorlike",
        {
            "src/lib.rs": """
            #[used]
            #[cfg_attr(target_os = "linux", link_section = ".init_array")]
            #[cfg_attr(target_os = "freebsd", link_section = ".init_array")]
            #[cfg_attr(target_os = "netbsd", link_section = ".init_array")]
            static INIT: extern "C" fn() = init;
            extern "C" fn init() {}
            """
        },
    )
    run = _port(crate, tmp_path)
    f = run.at("port/probable-gap", "src/lib.rs", 2)
    assert (f["properties"]["class"], f["properties"]["confidence"]) == ("probable gap", "high")
    assert run.changed_lines() == [
        '-#[cfg_attr(target_os = "linux", link_section = ".init_array")]',
        '+#[cfg_attr(any(target_os = "linux", target_os = "illumos"), link_section = ".init_array")]',
    ]


def test_shared_api_in_gated_module_file(tmp_path: Path) -> None:
    """De-ported mio's selector: `#[cfg(any(android, linux, redox))] mod epoll;` and the `use` of it.
    The epoll calls are in `epoll.rs`, not next to the cfg; the gate admits that file, so its APIs are
    the evidence. Both sites of the list move together (illumos has epoll_* since 2018, libc 0.2.37)."""
    _libc()
    crate = _crate(
        tmp_path,
        "selector",
        {
            "src/lib.rs": """
            #[cfg(any(target_os = "android", target_os = "linux", target_os = "redox"))]
            mod epoll;

            #[cfg(any(target_os = "android", target_os = "linux", target_os = "redox"))]
            pub use self::epoll::Selector;
            """,
            "src/epoll.rs": """
            pub struct Selector(i32);
            impl Selector {
                pub fn new() -> Selector {
                    Selector(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })
                }
            }
            """,
        },
    )
    run = _port(crate, tmp_path)
    f = run.at("port/shared-api", "src/lib.rs", 1)
    assert f["properties"]["class"] == "gap"
    assert f["properties"]["apis"] == [
        "epoll_create1"
    ]  # the table row (shared_apis.tsv); EPOLL_CLOEXEC has none
    assert f["fix"].endswith("module files followed: src/epoll.rs")
    old = '#[cfg(any(target_os = "android", target_os = "linux", target_os = "redox"))]'
    new = (
        '#[cfg(any(target_os = "android", target_os = "linux", target_os = "redox", target_os = "illumos"))]'
    )
    assert run.changed_lines() == [f"-{old}", f"+{new}", f"-{old}", f"+{new}"]


def test_call_index_skips_syscalls_neither_target_compiles(tmp_path: Path) -> None:
    """rustix's shape: an android-only `preadv64` fallback makes a raw syscall, and the Solaris gate calls
    a `preadv64` too (by name the index cannot tell them apart). Neither Solaris nor illumos compiles
    the android one, so it is not evidence; a Solaris-only syscall function (rand#637) still is."""
    _libc()
    crate = _crate(
        tmp_path,
        "pv",
        {
            "src/lib.rs": """
            #[cfg(target_os = "android")]
            mod pv {
                pub unsafe fn preadv64(fd: i32) -> i64 {
                    libc::syscall(libc::SYS_preadv, fd)
                }
            }

            #[cfg(target_os = "solaris")]
            unsafe fn raw_random() -> i64 {
                libc::syscall(libc::SYS_getrandom, 0)
            }

            #[cfg(target_os = "solaris")]
            pub fn read(fd: i32) -> i32 {
                preadv64(fd)
            }

            #[cfg(target_os = "solaris")]
            pub fn random() -> i64 {
                unsafe { raw_random() }
            }

            fn preadv64(fd: i32) -> i32 {
                fd
            }
            """
        },
    )
    run = _port(crate, tmp_path)
    assert run.at("port/solaris-only", "src/lib.rs", 13)["properties"]["class"] == "gap"
    assert run.at("port/solaris-only", "src/lib.rs", 18)["properties"]["class"] == "refusal"
    assert run.at("port/solaris-only", "src/lib.rs", 8)["properties"]["class"] == "refusal"
    assert run.changed_lines() == [
        '-#[cfg(target_os = "solaris")]',
        '+#[cfg(any(target_os = "solaris", target_os = "illumos"))]',
    ]


_PIECES = st.sampled_from(
    [
        '#[cfg(target_os = "illumos")]',
        '#[cfg(any(target_os = "solaris", target_os = "illumos"))]',
        '#[cfg(not(target_os = "illumos"))]',
        'cfg_if::cfg_if! { if #[cfg(target_os = "illumos")] {',
        "} else {",
        "fn f() {}",
        "mod m;",
        'cfg!(target_os = "illumos")',
        "{",
        "}",
        "(",
        '"',
        "/*",
        "\n",
        ";",
    ]
)


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "100")), deadline=None)
@given(st.lists(_PIECES, max_size=30))
def test_deport_text_fuzz_never_raises_and_removes_illumos(pieces: list[str]) -> None:
    """Any text: no exception; and whatever the scanner saw as an illumos cfg is gone from the copy."""
    text = " ".join(pieces)
    out = deport_text("/nonexistent/src/lib.rs", text)
    if out.sites:
        again = deport_text("/nonexistent/src/lib.rs", out.text)
        assert not again.sites, (text, out.text)


def test_shared_api_as_bare_libc_bitflags_entry(tmp_path: Path) -> None:
    """De-ported nix `SockFlag`: `#[cfg(any(android, freebsd, linux))] SOCK_NONBLOCK;` inside
    `libc_bitflags!` names `libc::SOCK_NONBLOCK` (the macro expands the bare entry to it), which illumos
    has since libc 0.2.66 (shared_apis.tsv). The humans put illumos in that list."""
    _libc()
    crate = _crate(
        tmp_path,
        "flags",
        {
            "src/lib.rs": """
            libc_bitflags! {
                pub struct SockFlag: c_int {
                    #[cfg(any(target_os = "android", target_os = "freebsd", target_os = "linux"))]
                    SOCK_NONBLOCK;
                }
            }
            """
        },
    )
    run = _port(crate, tmp_path)
    f = run.at("port/shared-api", "src/lib.rs", 3)
    assert (f["properties"]["class"], f["properties"]["apis"]) == ("gap", ["SOCK_NONBLOCK"])
    old = '        #[cfg(any(target_os = "android", target_os = "freebsd", target_os = "linux"))]'
    new = old.replace('"freebsd", ', '"freebsd", target_os = "illumos", ')
    assert new.count("illumos") == 1
    assert run.changed_lines() == [f"-{old}", f"+{new}"]


def test_bitflags_entry_missing_for_illumos_blocks_the_group(tmp_path: Path) -> None:
    """The same list also gates `MSG_CMSG_CLOEXEC;`, which libc 0.2.139 does not declare for illumos
    (`grep MSG_CMSG_CLOEXEC src/unix/solarish/` finds nothing): moving the list together would not
    compile, so the group is refused and says which item is missing."""
    _libc()
    crate = _crate(
        tmp_path,
        "flags2",
        {
            "src/lib.rs": """
            libc_bitflags! {
                pub struct SockFlag: c_int {
                    #[cfg(any(target_os = "android", target_os = "freebsd", target_os = "linux"))]
                    SOCK_NONBLOCK;
                }
            }
            libc_bitflags! {
                pub struct MsgFlags: c_int {
                    #[cfg(any(target_os = "android", target_os = "freebsd", target_os = "linux"))]
                    MSG_CMSG_CLOEXEC;
                }
            }
            """
        },
    )
    run = _port(crate, tmp_path)
    f = run.at("port/shared-api", "src/lib.rs", 3)
    assert f["properties"]["class"] == "refusal"
    assert "MSG_CMSG_CLOEXEC" in f["fix"]
    assert run.diff == ""
