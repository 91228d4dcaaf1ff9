"""The six porting patterns of issue 16, each on a synthetic crate written here, asserting the finding,
its class (gap / probable gap / refusal / info) and the exact patch or refusal.

Expected libc facts come from the Debian libc 0.2.139 source (``/usr/share/cargo/registry``): e.g.
``door_call`` is declared in ``src/unix/solarish/solaris.rs`` only, ``accept4`` in ``solarish/mod.rs`` for
both, ``pthread_attr_get_np`` for neither (it reached illumos in libc 0.2.156: libc git tag 0.2.156).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import require_tool
from illumos_rust.cli.main import main as cli_main
from illumos_rust.port import engine
from illumos_rust.port.analysis import Context

DEBIAN = Path("/usr/share/cargo/registry")
MANIFEST = '[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nlibc = "0.2"\n'


def _libc() -> None:
    if not (DEBIAN / "libc-0.2.139" / "src" / "lib.rs").is_file():
        pytest.skip("Debian librust-libc-dev (libc 0.2.139) not installed: the libc check reads its source")


def _crate(root: Path, name: str, files: dict[str, str], manifest: str | None = None) -> Path:
    crate = root / name
    for rel, body in {"Cargo.toml": manifest or MANIFEST.format(name=name), **files}.items():
        p = crate / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(body).lstrip("\n"))
    return crate


class Run:
    def __init__(self, findings: list[dict[str, Any]], diff: str, code: int) -> None:
        self.findings, self.diff, self.code = findings, diff, code

    def at(self, rule: str, path: str, line: int) -> dict[str, Any]:
        hits = [
            f
            for f in self.findings
            if f["rule"] == rule and f["location"]["path"] == path and f["location"].get("line") == line
        ]
        assert len(hits) == 1, (rule, path, line, [(f["rule"], f["location"]) for f in self.findings])
        return hits[0]

    def rules(self) -> set[tuple[str, str, int]]:
        return {(f["rule"], f["location"]["path"], f["location"].get("line")) for f in self.findings}

    def changed_lines(self) -> list[str]:
        return [ln for ln in self.diff.splitlines() if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]


def _port(crate: Path, tmp: Path, *extra: str) -> Run:
    diff = tmp / f"{crate.name}.diff"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli_main(
            ["port", str(crate), "--format", "json", "--patch", str(diff), "--libc-dir", str(DEBIAN), *extra]
        )
    return Run(json.loads(buf.getvalue())["findings"], diff.read_text(), code)


def _applies(crate: Path, run: Run) -> None:
    """The diff applies with patch -p1 inside the crate (paths are relative to it)."""
    require_tool("patch")
    proc = subprocess.run(
        ["patch", "-p1", "--dry-run", "-s"], input=run.diff, text=True, cwd=crate, capture_output=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ---------------------------------------------------------------------------------------------- pattern 1


def test_module_boundary_gates_are_followed_and_refused(tmp_path: Path) -> None:
    """mod_use!(cfg(..), m), #[path] and cfg_if bodies admit module files; a raw syscall or a
    Solaris-only libc item in one (even two modules deep) is a refusal, never a widened gate."""
    _libc()
    crate = _crate(
        tmp_path,
        "modgate",
        {
            "src/lib.rs": """
                macro_rules! mod_use {
                    ($c:meta, $m:ident) => { #[$c] mod $m; #[$c] pub use self::$m::*; };
                }
                mod_use!(cfg(target_os = "solaris"), solaris);
                mod_use!(cfg(target_os = "linux"), linux);

                #[cfg(target_os = "solaris")]
                #[path = "sys/sun.rs"]
                mod sun;

                #[cfg(any(target_os = "linux", target_os = "solaris"))]
                mod safe;

                cfg_if::cfg_if! {
                    if #[cfg(target_os = "solaris")] {
                        mod deep;
                    }
                }

                #[cfg(target_os = "solaris")]
                mod doors;
                """,
            "src/doors.rs": """
                extern "C" {
                    fn door_return(p: *mut u8, s: usize, d: *mut u8, n: u32) -> i32;
                }
                """,
            "src/solaris.rs": """
                pub fn fill(buf: &mut [u8]) -> libc::c_long {
                    unsafe { libc::syscall(libc::SYS_getrandom, buf.as_mut_ptr(), buf.len(), 0) }
                }
                """,
            "src/linux.rs": "pub fn fill(_buf: &mut [u8]) {}\n",
            "src/sys/sun.rs": """
                pub unsafe fn call(d: libc::c_int, a: *mut libc::door_arg_t) -> libc::c_int {
                    libc::door_call(d, a)
                }
                """,
            "src/safe.rs": "pub fn pid() -> libc::pid_t { unsafe { libc::getpid() } }\n",
            "src/deep.rs": "mod inner;\n",
            "src/deep/inner.rs": "pub fn n() -> i64 { unsafe { libc::syscall(libc::SYS_getpid) } }\n",
        },
    )
    run = _port(crate, tmp_path)
    # the macro argument gate: refusal naming the module file and the syscall line
    f = run.at("port/solaris-only", "src/lib.rs", 4)
    assert f["severity"] == "warning" and f["properties"]["patch"] == "refused"
    assert f["properties"]["class"] == "refusal"
    assert "raw syscall at src/solaris.rs:2" in f["fix"]
    assert "module files src/solaris.rs" in f["fix"]
    # #[path] module using a Solaris-only libc item: refused by the libc check
    f = run.at("port/solaris-only", "src/lib.rs", 7)
    assert f["properties"]["patch"] == "refused"
    assert "door_call (src/unix/solarish/solaris.rs)" in f["fix"] and "libc 0.2.139" in f["fix"]
    # two modules deep behind a cfg_if branch
    f = run.at("port/solaris-only", "src/lib.rs", 15)
    assert f["properties"]["patch"] == "refused"
    assert "src/deep/inner.rs:1" in f["fix"]
    # a Solaris-only function the module declares itself (not through libc) is still refused
    f = run.at("port/solaris-only", "src/lib.rs", 20)
    assert f["properties"]["patch"] == "refused" and "door_return (src/unix/solarish/solaris.rs)" in f["fix"]
    # the raw syscalls are reported where they are, as errors (exit 1)
    assert run.at("port/raw-syscall", "src/solaris.rs", 2)["severity"] == "error"
    assert run.at("port/raw-syscall", "src/deep/inner.rs", 1)["severity"] == "error"
    assert run.code == 1
    # the one safe gate is patched, and the report says what was checked behind it, per patch
    f = run.at("port/solaris-only", "src/lib.rs", 11)
    assert f["properties"]["patch"] == "proposed" and f["properties"]["class"] == "gap"
    assert (
        "checked behind the gate: no raw syscall, no Solaris-only libc item (libc 0.2.139), "
        "module files followed: src/safe.rs" in f["fix"]
    )
    assert run.changed_lines() == [
        '-#[cfg(any(target_os = "linux", target_os = "solaris"))]',
        '+#[cfg(any(target_os = "linux", target_os = "solaris", target_os = "illumos"))]',
    ]
    _applies(crate, run)


# ---------------------------------------------------------------------------------------------- pattern 6


def test_finding_points_at_the_target_os_predicate(tmp_path: Path) -> None:
    """A multi-line attribute is reported at the line and column of target_os = "solaris" (counted by
    hand below: line 3, column 5), with the attribute's line span in the properties."""
    _libc()
    crate = _crate(
        tmp_path,
        "multiline",
        {
            "src/lib.rs": """
                #[cfg(any(
                    target_os = "linux",
                    target_os = "solaris",
                ))]
                pub fn pid() -> libc::pid_t {
                    unsafe { libc::getpid() }
                }
                """,
        },
    )
    run = _port(crate, tmp_path)
    f = run.at("port/solaris-only", "src/lib.rs", 3)
    assert f["location"]["column"] == 5
    assert f["properties"]["attribute_lines"] == [1, 4]
    assert f["severity"] == "warning" and f["properties"]["patch"] == "proposed"
    assert run.changed_lines() == ['+    target_os = "illumos",']
    _applies(crate, run)


# ---------------------------------------------------------------------------------------------- pattern 5


def test_libc_aliases_shadowing_and_types(tmp_path: Path) -> None:
    """`use libc::X as Y` is resolved (a use of Y is a use of X), a local fn shadows a glob import, and
    items both targets declare with different types are refused. Facts from libc 0.2.139's source:
    fexecve and door_call are in solarish/solaris.rs only; mincore takes `*const c_void` in solaris.rs
    and `caddr_t` in illumos.rs; shmid_ds has shm_flags in solaris.rs only."""
    _libc()
    crate = _crate(
        tmp_path,
        "aliases",
        {
            "src/lib.rs": "mod alias;\nmod shadow;\nmod types;\nmod fields;\n",
            "src/alias.rs": """
                use libc::fexecve as exec_fd;

                #[cfg(target_os = "solaris")]
                pub unsafe fn run(fd: libc::c_int) -> libc::c_int {
                    exec_fd(fd, std::ptr::null(), std::ptr::null())
                }
                """,
            "src/shadow.rs": """
                use libc::*;

                fn door_call() -> c_int {
                    0
                }

                #[cfg(target_os = "solaris")]
                pub fn ids() -> c_int {
                    door_call() + unsafe { getpid() }
                }
                """,
            "src/types.rs": """
                #[cfg(target_os = "solaris")]
                pub unsafe fn resident(p: *const libc::c_void, v: *mut libc::c_char) -> libc::c_int {
                    libc::mincore(p, 4096, v)
                }
                """,
            "src/fields.rs": """
                #[cfg(target_os = "solaris")]
                pub fn flags(ds: &libc::shmid_ds) -> usize {
                    ds.shm_flags as usize
                }
                """,
        },
    )
    run = _port(crate, tmp_path)
    f = run.at("port/solaris-only", "src/alias.rs", 3)
    assert f["properties"]["patch"] == "refused" and "fexecve (src/unix/solarish/solaris.rs)" in f["fix"]
    f = run.at("port/solaris-only", "src/shadow.rs", 7)
    assert f["properties"]["patch"] == "proposed", f["fix"]
    f = run.at("port/solaris-only", "src/types.rs", 1)
    assert f["properties"]["patch"] == "refused"
    solaris_sig = "`(addr: *const c_void, len: size_t, vec: *mut c_char) -> c_int`"
    assert f"mincore is {solaris_sig} for x86_64-pc-solaris" in f["fix"]
    assert "`(addr: caddr_t, len: size_t, vec: *mut c_char) -> c_int` for x86_64-unknown-illumos" in f["fix"]
    f = run.at("port/solaris-only", "src/fields.rs", 1)
    assert f["properties"]["patch"] == "refused"
    assert "field shmid_ds.shm_flags is `uintptr_t` for x86_64-pc-solaris but absent" in f["fix"]
    assert run.changed_lines() == [
        '-#[cfg(target_os = "solaris")]',
        '+#[cfg(any(target_os = "solaris", target_os = "illumos"))]',
    ]
    assert "+++ b/src/shadow.rs" in run.diff
    _applies(crate, run)


_NEWER_LIBC = {
    "Cargo.toml": '[package]\nname = "libc"\nversion = "0.2.156"\n',
    "src/lib.rs": """
        #![allow(non_camel_case_types)]
        pub type c_int = i32;
        pub type pthread_t = u32;
        pub struct pthread_attr_t {
            pub size: [u8; 56],
        }
        extern "C" {
            pub fn pthread_self() -> pthread_t;
        }
        #[cfg(target_os = "illumos")]
        mod illumos;
        #[cfg(target_os = "illumos")]
        pub use illumos::*;
        #[cfg(target_os = "solaris")]
        mod solaris;
        #[cfg(target_os = "solaris")]
        pub use solaris::*;
        """,
    "src/illumos.rs": """
        extern "C" {
            pub fn pthread_attr_get_np(t: ::pthread_t, a: *mut ::pthread_attr_t) -> ::c_int;
        }
        """,
    "src/solaris.rs": """
        extern "C" {
            pub fn pthread_getattr_np(t: ::pthread_t, a: *mut ::pthread_attr_t) -> ::c_int;
        }
        """,
}

_STACKER_LIKE = {
    "src/lib.rs": """
        cfg_if::cfg_if! {
            if #[cfg(any(target_os = "linux", target_os = "solaris"))] {
                pub unsafe fn attr(a: *mut libc::pthread_attr_t) -> libc::c_int {
                    libc::pthread_getattr_np(libc::pthread_self(), a)
                }
            } else if #[cfg(target_os = "freebsd")] {
                pub unsafe fn attr(a: *mut libc::pthread_attr_t) -> libc::c_int {
                    libc::pthread_attr_get_np(libc::pthread_self(), a)
                }
            } else {
                pub unsafe fn attr(_a: *mut libc::pthread_attr_t) -> libc::c_int {
                    0
                }
            }
        }
        """,
}


def test_libc_version_bump_in_the_same_patch(tmp_path: Path) -> None:
    """stacker's shape (stacker#88): the Solaris branch needs pthread_getattr_np (Solaris-only), the
    FreeBSD sibling needs pthread_attr_get_np, which the crate's libc 0.2.139 does not declare for
    illumos. With a newer libc source at hand (a minimal libc 0.2.156 written here, declaring it for
    illumos only), illumos joins the FreeBSD branch and Cargo.toml's libc requirement is raised."""
    _libc()
    manifest = '[package]\nname = "stk"\nversion = "0.1.0"\n\n[dependencies.libc]\nversion = "0.2.139"\n'
    crate = _crate(tmp_path, "stk", _STACKER_LIKE, manifest)
    # without the newer source: refused, and the table says which libc would have it
    run = _port(crate, tmp_path)
    f = run.at("port/solaris-only", "src/lib.rs", 2)
    assert f["properties"]["patch"] == "refused"
    assert "pthread_attr_get_np reached illumos in libc 0.2.156" in f["fix"]
    assert run.diff == ""
    _crate(tmp_path / "libcs", "libc-0.2.156", _NEWER_LIBC, _NEWER_LIBC["Cargo.toml"])
    run = _port(crate, tmp_path, "--libc-dir", str(tmp_path / "libcs"))
    f = run.at("port/solaris-only", "src/lib.rs", 2)
    assert f["properties"]["patch"] == "alternative"
    assert "raise the libc requirement to 0.2.156" in f["fix"]
    assert run.changed_lines() == [
        '-version = "0.2.139"',
        '+version = "0.2.156"',
        '-    } else if #[cfg(target_os = "freebsd")] {',
        '+    } else if #[cfg(any(target_os = "freebsd", target_os = "illumos"))] {',
    ]
    _applies(crate, run)


# ---------------------------------------------------------------------------------------------- pattern 4


def test_knowing_illumos_does_not_hide_a_site_gap(tmp_path: Path) -> None:
    """The crate names illumos (line 1), yet the Solaris list at line 30 has no illumos case near it: a
    gap with a patch. The cfg_if branch at line 4 has an illumos sibling branch (line 6): deliberate,
    info. The not(solaris) generic code (line 33) that illumos takes is the crate's choice: info."""
    _libc()
    filler = "".join(f"pub const C{i}: i32 = {i};\n" for i in range(18))
    head = textwrap.dedent(
        """\
        #[cfg(target_os = "illumos")]
        pub fn door() {}
        cfg_if::cfg_if! {
            if #[cfg(target_os = "solaris")] {
                pub fn k() -> i32 { 1 }
            } else if #[cfg(target_os = "illumos")] {
                pub fn k() -> i32 { 2 }
            }
        }
        """
    )
    tail = textwrap.dedent(
        """\
        #[cfg(any(target_os = "linux", target_os = "solaris"))]
        pub fn pid() -> libc::pid_t { unsafe { libc::getpid() } }

        #[cfg(not(target_os = "solaris"))]
        pub fn generic() {}
        """
    )
    crate = _crate(tmp_path, "knows", {"src/lib.rs": head + filler + "\n" + "\n" + tail})
    run = _port(crate, tmp_path)
    gap = run.at("port/solaris-only", "src/lib.rs", 30)
    assert gap["severity"] == "warning" and gap["properties"]["crate_knows_illumos"] is True
    assert "no illumos case sits with this site: porting gap" in gap["message"]
    assert gap["properties"]["patch"] == "proposed" and gap["properties"]["class"] == "gap"
    chain = run.at("port/solaris-only", "src/lib.rs", 4)
    assert chain["severity"] == "info" and chain["properties"]["class"] == "info"
    assert "deliberate: the cfg_if branch at line 6 handles illumos" in chain["message"]
    assert run.at("port/illumos-only", "src/lib.rs", 33)["severity"] == "info"
    assert run.changed_lines() == [
        '-#[cfg(any(target_os = "linux", target_os = "solaris"))]',
        '+#[cfg(any(target_os = "linux", target_os = "solaris", target_os = "illumos"))]',
    ]
    _applies(crate, run)


# ---------------------------------------------------------------------------------------------- pattern 2


def test_illumos_joins_the_linux_bsd_branch_of_a_shared_api(tmp_path: Path) -> None:
    """accept4 called through a mio-style `syscall!` wrapper is gated to Linux/FreeBSD, with a
    not(..) fallback using accept + no SOCK_CLOEXEC. illumos has accept4 and SOCK_CLOEXEC (libc 0.2.139
    solarish/mod.rs), so it joins the branch and leaves the fallback: both lists get illumos. memfd_create
    is in the table but not declared for illumos by libc 0.2.139: refused."""
    _libc()
    crate = _crate(
        tmp_path,
        "sharedapi",
        {
            "src/lib.rs": """
                macro_rules! syscall {
                    ($fn: ident ( $($arg: expr),* $(,)* ) ) => {{
                        let res = unsafe { libc::$fn($($arg, )*) };
                        if res == -1 { Err(std::io::Error::last_os_error()) } else { Ok(res) }
                    }};
                }

                #[cfg(any(target_os = "linux", target_os = "freebsd"))]
                pub fn accept(fd: libc::c_int) -> std::io::Result<libc::c_int> {
                    syscall!(accept4(fd, std::ptr::null_mut(), std::ptr::null_mut(), libc::SOCK_CLOEXEC))
                }

                #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
                pub fn accept(fd: libc::c_int) -> std::io::Result<libc::c_int> {
                    syscall!(accept(fd, std::ptr::null_mut(), std::ptr::null_mut()))
                }
                """,
            "src/memfd.rs": """
                #[cfg(target_os = "linux")]
                pub fn anon() -> libc::c_int {
                    unsafe { libc::memfd_create(b"x\\0".as_ptr().cast(), 0) }
                }
                """,
        },
    )
    run = _port(crate, tmp_path)
    f = run.at("port/shared-api", "src/lib.rs", 8)
    assert f["severity"] == "warning" and f["properties"]["class"] == "gap"
    assert f["properties"]["apis"] == ["SOCK_CLOEXEC", "accept4"]
    assert "accept4 (illumos: by 2020-03; libc 0.2.69; Solaris: 11.4)" in f["message"]
    assert f["properties"]["patch"] == "proposed" and f["properties"]["same_list_sites"] == [8, 13]
    assert "checked behind the gate: no raw syscall, no Solaris-only libc item (libc 0.2.139)" in f["fix"]
    m = run.at("port/shared-api", "src/memfd.rs", 1)
    assert m["properties"]["patch"] == "refused" and m["properties"]["class"] == "refusal"
    assert "memfd_create, which libc 0.2.139 does not declare for illumos" in m["fix"]
    assert run.changed_lines() == [
        '-#[cfg(any(target_os = "linux", target_os = "freebsd"))]',
        '+#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "illumos"))]',
        '-#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]',
        '+#[cfg(not(any(target_os = "linux", target_os = "freebsd", target_os = "illumos")))]',
    ]
    _applies(crate, run)


# ---------------------------------------------------------------------------------------------- pattern 3


_BSD2 = 'target_os = "freebsd", target_os = "netbsd")'


def test_unix_lists_naming_neither_os_are_probable_gaps(tmp_path: Path) -> None:
    """An .init_array constructor gated on an ELF platform list (curl-0.4.44 lib.rs:134 has this shape)
    is ELF-generic: confidence high, patched. A list guarding libc items illumos has (sysconf,
    _SC_PAGESIZE): medium, reported without a patch. A list guarding no libc item at all: not reported.
    A compile_error! guard rejecting every platform outside the list: medium, no patch."""
    _libc()
    crate = _crate(
        tmp_path,
        "elflist",
        {
            "src/lib.rs": """
                #[used]
                #[cfg_attr(
                    ELF_LIST,
                    link_section = ".init_array"
                )]
                static INIT: extern "C" fn() = init;
                extern "C" fn init() {}

                #[cfg(UNIX_LIST)]
                pub fn page() -> libc::c_long { unsafe { libc::sysconf(libc::_SC_PAGESIZE) } }

                #[cfg(any(target_os = "linux", target_os = "android", target_os = "dragonfly"))]
                pub fn zero() -> i32 { 0 }
                """.replace("ELF_LIST", 'any(target_os = "linux", target_os = "android", ' + _BSD2).replace(
                "UNIX_LIST",
                'any(target_os = "linux", target_os = "android", target_os = "freebsd", '
                'target_os = "openbsd")',
            ),
            "src/guard.rs": '#[cfg(not(any(target_os = "linux", target_os = "android", '
            + _BSD2
            + '))]\ncompile_error!("unsupported platform");\n',
        },
    )
    run = _port(crate, tmp_path)
    high = run.at("port/probable-gap", "src/lib.rs", 3)
    assert high["properties"]["class"] == "probable gap" and high["properties"]["confidence"] == "high"
    assert high["properties"]["patch"] == "proposed"
    medium = run.at("port/probable-gap", "src/lib.rs", 9)
    assert medium["properties"]["confidence"] == "medium" and medium["properties"]["patch"] == "not proposed"
    assert "(_SC_PAGESIZE, c_long, sysconf)" in medium["fix"]
    assert not [
        f for f in run.findings if f["location"]["path"] == "src/lib.rs" and f["location"]["line"] == 12
    ]
    guard = run.at("port/probable-gap", "src/guard.rs", 1)
    assert guard["properties"]["construct"] == "compile_error! guard"
    assert guard["properties"]["confidence"] == "medium" and guard["properties"]["patch"] == "not proposed"
    assert guard["properties"]["class"] == "probable gap"
    assert run.changed_lines() == [
        '-    any(target_os = "linux", target_os = "android", target_os = "freebsd", target_os = "netbsd"),',
        '+    any(target_os = "linux", target_os = "android", target_os = "freebsd", target_os = "netbsd", '
        'target_os = "illumos"),',
    ]
    _applies(crate, run)


# ---------------------------------------------------------------------------------------------- robustness

_CTX: list[Context] = []
_PIECES = st.sampled_from(
    [
        '#[cfg(target_os = "solaris")]',
        '#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "netbsd"))]',
        '#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]',
        '#[cfg_attr(any(target_os = "linux", target_os = "android", target_os = "openbsd"), ',
        'link_section = ".init_array")]',
        'mod_use!(cfg(target_os = "solaris"), a);',
        '#[path = "a.rs"]',
        '#[path = "../../etc/passwd"]',
        "mod a;",
        "mod b;",
        'include!("a.rs");',
        "fn f() { libc::syscall(143) }",
        "f(",
        "pub use self::a::Waker;",
        "use libc::*;",
        "use libc::{fexecve as x, getpid};",
        "use libc::door_call as y;",
        "libc_bitflags!{ pub struct F: libc::c_int {",
        "IFF_IPMP;",
        "syscall!(accept4(",
        "libc::syscall(libc::SYS_getrandom)",
        "libc::mincore(",
        "x.shm_flags",
        "fn door_call() {}",
        'cfg_if::cfg_if! { if #[cfg(target_os = "solaris")] { mod a; } }',
        "{",
        "}",
        "(",
        ")",
        ";",
        ",",
        "\n",
        '"',
    ]
)


@settings(max_examples=max(1, int(os.environ.get("FUZZ_EXAMPLES", "500")) // 10), deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join), st.lists(_PIECES, max_size=20).map("".join))
def test_fuzz_module_following_and_lists_never_raise(lib: str, module: str) -> None:
    """Token soup in lib.rs and in the module files it may reach (a.rs, a/b.rs): the worker analysis
    and the parent's decisions (no libc source: unchecked) give findings, never an exception."""
    from illumos_rust.port import workspace
    from illumos_rust.port.analysis import analyze_crate

    if not _CTX:
        _CTX.append(engine.make_context())
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "Cargo.toml").write_text('[package]\nname = "f"\nversion = "0.1.0"\n')
        (Path(d) / "src" / "a").mkdir(parents=True)
        (Path(d) / "src" / "lib.rs").write_text(lib)
        (Path(d) / "src" / "a.rs").write_text(module)
        (Path(d) / "src" / "a" / "b.rs").write_text(lib)
        _root, crates = workspace.discover([d])
        res = analyze_crate(crates[0], _CTX[0])
        engine.decide([res], _CTX[0], engine.LibcResolver(_CTX[0], []), lambda p: p)
    for f in res.findings:
        assert f.location.path.startswith(("src/", "Cargo.toml"))


def test_shared_api_declared_by_the_crate_itself(tmp_path: Path) -> None:
    """A crate that declares pipe2 in its own extern block (no libc path at all) is using the shared API
    just the same; libc 0.2.139 declares pipe2 for illumos (solarish/mod.rs), so the branch gains it."""
    _libc()
    crate = _crate(
        tmp_path,
        "ownextern",
        {
            "src/lib.rs": """
                #[cfg(target_os = "android")]
                pub fn pipe_cloexec(fds: &mut [i32; 2]) -> i32 {
                    extern "C" {
                        fn pipe2(fds: *mut i32, flags: i32) -> i32;
                    }
                    unsafe { pipe2(fds.as_mut_ptr(), 0o2000000) }
                }
                """,
        },
    )
    run = _port(crate, tmp_path)
    f = run.at("port/shared-api", "src/lib.rs", 1)
    assert f["properties"]["apis"] == ["pipe2"] and f["properties"]["patch"] == "proposed"
    assert run.changed_lines() == [
        '-#[cfg(target_os = "android")]',
        '+#[cfg(any(target_os = "android", target_os = "illumos"))]',
    ]
    _applies(crate, run)


# ------------------------------------------------------------------------------- review findings (issue 16)


def test_gate_in_front_of_include_follows_the_included_file(tmp_path: Path) -> None:
    """Review (1): `#[cfg(solaris)] include!("inc.rs");` admits inc.rs exactly like `mod`; a raw
    syscall(143, ..) there is a refusal, never "checked behind the gate: no raw syscall". The path is
    relative to the including file (std docs, macro `include`), so src/sys/mod.rs includes src/sys/inc.rs."""
    _libc()
    crate = _crate(
        tmp_path,
        "incgate",
        {
            "src/lib.rs": "mod sys;\n",
            "src/sys/mod.rs": """
                #[cfg(target_os = "solaris")]
                include!("inc.rs");
                """,
            "src/sys/inc.rs": """
                pub fn fill(buf: &mut [u8]) -> libc::c_long {
                    unsafe { libc::syscall(143, buf.as_mut_ptr(), buf.len(), 0) }
                }
                """,
        },
    )
    run = _port(crate, tmp_path)
    f = run.at("port/solaris-only", "src/sys/mod.rs", 1)
    assert f["properties"]["patch"] == "refused" and f["properties"]["class"] == "refusal"
    assert "raw syscall at src/sys/inc.rs:2" in f["fix"]
    assert "no raw syscall" not in f["fix"]
    assert run.at("port/raw-syscall", "src/sys/inc.rs", 2)["severity"] == "error"
    assert run.changed_lines() == []


def test_gate_calling_a_crate_function_with_a_raw_syscall_is_refused(tmp_path: Path) -> None:
    """Review (3): the Solaris-gated `fill` makes no syscall itself but calls `sys::getrandom_raw`, an
    ungated function whose body is `syscall(SYS_GETRANDOM, ..)` (SYS_GETRANDOM = 143); a gated
    `pub use sys::getrandom_raw as fill2;` re-exports it. Both gates are refused naming sys.rs, and the
    syscall in sys.rs gets its own port/raw-syscall finding (once, though two gates reach it)."""
    _libc()
    crate = _crate(
        tmp_path,
        "callgate",
        {
            "src/lib.rs": """
                mod sys;

                #[cfg(target_os = "solaris")]
                pub fn fill(buf: &mut [u8]) -> libc::c_long {
                    sys::getrandom_raw(buf)
                }

                #[cfg(target_os = "solaris")]
                pub use sys::getrandom_raw as fill2;
                """,
            "src/sys.rs": """
                const SYS_GETRANDOM: libc::c_long = 143;
                pub fn getrandom_raw(buf: &mut [u8]) -> libc::c_long {
                    unsafe { libc::syscall(SYS_GETRANDOM, buf.as_mut_ptr(), buf.len(), 0) }
                }
                """,
        },
    )
    run = _port(crate, tmp_path)
    for line in (3, 8):
        f = run.at("port/solaris-only", "src/lib.rs", line)
        assert f["properties"]["patch"] == "refused" and f["properties"]["class"] == "refusal"
        assert "raw syscall at src/sys.rs:3" in f["fix"]
        assert "reached through a call to getrandom_raw" in f["fix"]
    r = run.at("port/raw-syscall", "src/sys.rs", 3)
    assert r["severity"] == "error" and r["properties"]["via_call"] == "getrandom_raw"
    assert run.changed_lines() == []
    assert run.code == 1


def test_an_unrelated_illumos_cfg_nearby_does_not_hide_a_gap(tmp_path: Path) -> None:
    """Review (4): the illumos-only `door` item two lines above a Solaris-only `pid` gates a different
    item, so `pid` is still a gap (warning, patched). An illumos arm of the same `match`, or an illumos
    cfg'd tail block of the same fn body (sys-info-0.9.1 lib.rs:397 has this shape), does make the
    Solaris one deliberate (info, no patch)."""
    _libc()
    crate = _crate(
        tmp_path,
        "near",
        {
            "src/lib.rs": """
                #[cfg(target_os = "illumos")]
                pub fn door() {}
                #[cfg(any(target_os = "linux", target_os = "solaris"))]
                pub fn pid() -> libc::pid_t { unsafe { libc::getpid() } }

                pub fn name(n: u8) -> &'static str {
                    match n {
                        #[cfg(target_os = "solaris")]
                        0 => "sun",
                        #[cfg(target_os = "illumos")]
                        0 => "illumos",
                        _ => "other",
                    }
                }

                pub fn os() -> &'static str {
                    #[cfg(target_os = "solaris")]
                    {
                        "solaris"
                    }
                    #[cfg(target_os = "illumos")]
                    {
                        "illumos"
                    }
                }
                """,
            "src/os/mod.rs": """
                #[cfg(target_os = "linux")] pub use self::linux as target;
                #[cfg(target_os = "solaris")] pub use self::solaris as target;
                #[cfg(target_os = "illumos")] pub use self::illumos as target;
                #[cfg(target_os = "linux")] pub mod linux;
                #[cfg(target_os = "solaris")] pub mod solaris;
                #[cfg(target_os = "illumos")] pub mod illumos;
                """,
        },
    )
    run = _port(crate, tmp_path)
    gap = run.at("port/solaris-only", "src/lib.rs", 3)
    assert gap["severity"] == "warning" and gap["properties"]["class"] == "gap"
    assert "no illumos case sits with this site: porting gap" in gap["message"]
    arm = run.at("port/solaris-only", "src/lib.rs", 8)
    assert arm["severity"] == "info" and "deliberate: the cfg at line 10 handles illumos" in arm["message"]
    tail = run.at("port/solaris-only", "src/lib.rs", 17)
    assert tail["severity"] == "info" and "deliberate: the cfg at line 21 handles illumos" in tail["message"]
    # termios-0.3.3 os/mod.rs: a run of one-line per-OS cfgs is one choice, and `use .. as target`
    # for illumos is the same name as the Solaris one
    for line in (2, 5):
        assert run.at("port/solaris-only", "src/os/mod.rs", line)["severity"] == "info"
    assert run.changed_lines() == [
        '-#[cfg(any(target_os = "linux", target_os = "solaris"))]',
        '+#[cfg(any(target_os = "linux", target_os = "solaris", target_os = "illumos"))]',
    ]
    _applies(crate, run)


def test_one_patch_per_item_name_prefers_the_shared_api_branch(tmp_path: Path) -> None:
    """Review (2): `fn pipe` with pipe2 under cfg(linux) and `fn pipe` with pipe under
    cfg(any(solaris, macos)). Adding illumos to both would define `pipe` twice for illumos (rustc
    E0428), so only the Linux branch (pipe2: libc 0.2.139 solarish/mod.rs declares it for both) is
    patched; the Solaris sibling is info saying illumos takes the linux branch."""
    _libc()
    crate = _crate(
        tmp_path,
        "onepipe",
        {
            "src/lib.rs": """
                #[cfg(target_os = "linux")]
                pub fn pipe(fds: &mut [libc::c_int; 2]) -> libc::c_int {
                    unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }
                }

                #[cfg(any(target_os = "solaris", target_os = "macos"))]
                pub fn pipe(fds: &mut [libc::c_int; 2]) -> libc::c_int {
                    unsafe { libc::pipe(fds.as_mut_ptr()) }
                }
                """,
        },
    )
    run = _port(crate, tmp_path)
    f = run.at("port/shared-api", "src/lib.rs", 1)
    assert f["properties"]["patch"] == "proposed" and f["properties"]["class"] == "gap"
    s = run.at("port/solaris-only", "src/lib.rs", 6)
    assert s["severity"] == "info" and s["properties"]["class"] == "info"
    assert s["properties"]["patch"] == "not proposed"
    assert 'illumos takes the target_os = "linux" branch of `pipe`' in s["fix"]
    assert run.changed_lines() == [
        '-#[cfg(target_os = "linux")]',
        '+#[cfg(any(target_os = "linux", target_os = "illumos"))]',
    ]
    _applies(crate, run)


def test_init_array_cfg_and_errno_table_are_probable_gaps(tmp_path: Path) -> None:
    """Review (5): `#[cfg(ELF list)] #[link_section = ".init_array"] #[used] static` is the same
    ELF-generic evidence as the cfg_attr form: confidence high, patched. An errno-location table with
    arms for __errno_location (glibc), __error (FreeBSD/macOS) and __errno (NetBSD/OpenBSD) and none
    for solaris/illumos (illumos has ___errno, libc solarish/mod.rs): probable gap, high, no patch."""
    _libc()
    elf = (
        '#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd", '
        'target_os = "dragonfly", target_os = "netbsd", target_os = "openbsd"))]\n'
    )
    crate = _crate(
        tmp_path,
        "initerrno",
        {
            "src/lib.rs": elf
            + """#[link_section = ".init_array"]
#[used]
static INIT: extern "C" fn() = init;
extern "C" fn init() {}
""",
            "src/errno.rs": """
                extern "C" {
                    #[cfg(target_os = "linux")]
                    fn __errno_location() -> *mut i32;
                    #[cfg(any(target_os = "macos", target_os = "freebsd"))]
                    fn __error() -> *mut i32;
                    #[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
                    fn __errno() -> *mut i32;
                }
                """,
        },
    )
    run = _port(crate, tmp_path)
    high = run.at("port/probable-gap", "src/lib.rs", 1)
    assert high["properties"]["confidence"] == "high" and high["properties"]["patch"] == "proposed"
    e = run.at("port/probable-gap", "src/errno.rs", 2)
    assert e["properties"]["class"] == "probable gap" and e["properties"]["confidence"] == "high"
    assert e["properties"]["patch"] == "not proposed" and "calling ___errno" in e["fix"]
    assert e["properties"]["same_list_sites"] == [2, 4, 6]
    assert run.changed_lines() == [
        "-" + elf.rstrip("\n"),
        "+" + elf.rstrip("\n")[:-3] + ', target_os = "illumos"))]',
    ]
    _applies(crate, run)


def test_pinned_old_libc_names_the_version_the_shared_api_needs(tmp_path: Path) -> None:
    """Review (6): `libc = "=0.2.60"` and accept4 (first declared for illumos in libc 0.2.69 per
    rust-lang/libc#1705) with no 0.2.60 source anywhere: the refusal names 0.2.69, not just
    "no libc source found"."""
    _libc()
    crate = _crate(
        tmp_path,
        "oldlibc",
        {
            "src/lib.rs": """
                #[cfg(any(target_os = "linux", target_os = "freebsd"))]
                pub fn accept(fd: libc::c_int) -> libc::c_int {
                    unsafe { libc::accept4(fd, std::ptr::null_mut(), std::ptr::null_mut(), 0) }
                }
                """,
        },
        manifest=MANIFEST.format(name="oldlibc").replace('libc = "0.2"', 'libc = "=0.2.60"'),
    )
    run = _port(crate, tmp_path)
    f = run.at("port/shared-api", "src/lib.rs", 1)
    assert f["properties"]["patch"] == "refused"
    assert "accept4 is declared for illumos from libc 0.2.69" in f["fix"]
    assert 'requires libc "=0.2.60"' in f["fix"]
    assert run.changed_lines() == []
