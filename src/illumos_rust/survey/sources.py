"""What a survey analyses: crates (registry/vendor directories, one crate, ``.crate`` archives) and binaries
(trees of ELF files), each with the content hash the store keys it by.

The hash is of the *content*, not of names or mtimes: a Debian registry's ``.cargo-checksum.json`` is the
same before and after someone edits a file, and a ``touch`` must not cost a re-analysis. A crate directory's
digest covers the relative path and bytes of every file ``port`` reads (``*.rs`` and ``Cargo.toml``; build
output and VCS metadata excluded, as ``port`` excludes them); a ``.crate`` archive's and a binary's is the
sha256 of the file.
"""

from __future__ import annotations

import array
import hashlib
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import FormatError, UsageError
from ..files import open_regular
from ..port.skipdirs import SKIP_DIRS

_CHUNK = 1 << 20
#: Fewer crates than this: stat them all here (a fork costs ~5 ms, a crate's layout ~0.1 ms).
MIN_SPLIT_ITEMS = 200
#: The part of a split stat (by entries) this process keeps when it also has ``meanwhile`` work (importing
#: port and building its context, ~55 ms): 25-40 % measured best on 1,512 crates and 2 cores, 25-30 ms
#: less wall time than an even split followed by that work.
SHARE_BESIDE_WORK = 30


@dataclass(slots=True)
class Source:
    """One item to analyse: ``kind`` 'crate' or 'binary', where it is, how to hash it ('tree' or 'file'),
    a cheap stat signature (sizes and mtimes: unchanged signature, unchanged digest, no need to read the
    bytes again), its size in bytes (to balance the work), and the content digest once computed. ``error``
    is set when the item could not even be read (it is stored as a failed item)."""

    kind: str
    path: str
    how: str
    signature: str = ""
    size: int = 0
    digest: str = ""
    error: str = ""
    layout: str = ""  # a crate directory's walked directories and input files, see :func:`stat_signature`
    origin: str = ""  # the source given to the run that found it (its real path): see ``store.views``


def _is_port_input(name: str) -> bool:
    """What ``port`` reads of a crate: every ``*.rs`` file (``port.workspace._walk``) and the
    ``Cargo.toml`` manifests (``port.analysis.analyze_crate``)."""
    return name.endswith(".rs") or name == "Cargo.toml"


def _walk(root: str) -> tuple[list[tuple[str, os.DirEntry[str]]], list[tuple[str, os.DirEntry[str]]]]:
    """The directories walked (below ``root``) and the files ``port`` reads, each as (path relative to
    ``root``, entry), sorted by path. The same as ``port.workspace``'s ``os.walk``: the directories it
    skips (build output, VCS metadata, dot-directories) and links to directories are not entered, and
    every other entry with an input's name is a file ``port`` tries to read: a regular file, a link to
    one (read through the link), and also a dangling link, a FIFO or a device, which ``port`` reports as
    not parsed. One ``scandir`` per directory: the entry carries the file type."""
    dirs: list[tuple[str, os.DirEntry[str]]] = []
    files: list[tuple[str, os.DirEntry[str]]] = []
    stack = [("", root)]
    while stack:
        rel, path = stack.pop()
        try:
            it = os.scandir(path)
        except OSError:
            if not rel:  # the crate directory itself: the item fails, with the reason
                raise
            continue  # a subdirectory that cannot be listed: skipped, as port's os.walk skips it
        with it:
            for e in it:
                if e.is_dir():  # following links, as os.walk sorts them
                    if not e.is_symlink() and e.name not in SKIP_DIRS and not e.name.startswith("."):
                        sub = rel + e.name + "/"
                        dirs.append((sub, e))
                        stack.append((sub, e.path))
                elif _is_port_input(e.name):
                    files.append((rel + e.name, e))
    files.sort(key=_first)
    dirs.sort(key=_first)
    return dirs, files


def _inputs(root: str) -> list[tuple[str, os.DirEntry[str]]]:
    return _walk(root)[1]


def _first(t: tuple[str, object]) -> str:
    return t[0]


def _pack(dirs: Sequence[os.stat_result], files: Sequence[os.stat_result]) -> tuple[bytes, int]:
    """The stat numbers a signature covers, packed (mtime, ctime and inode of each directory; size,
    mtime, ctime and inode of each file, in the layout's order; no per-file string), and the files'
    total size. The ctime because an mtime can be put back (``touch -r``, ``cp -p`` or ``rsync -t`` over
    a file of the same size) and a ctime cannot: any write or rename sets it to the present."""
    numbers = array.array("q")
    for st in dirs:
        numbers.append(st.st_mtime_ns)
        numbers.append(st.st_ctime_ns)
        numbers.append(st.st_ino)
    size = 0
    for st in files:
        size += st.st_size
        numbers.append(st.st_size)
        numbers.append(st.st_mtime_ns)
        numbers.append(st.st_ctime_ns)
        numbers.append(st.st_ino)
    return numbers.tobytes(), size


def _finish(src: Source, layout: str, packed: bytes, size: int) -> None:
    """sha256 over the layout (which paths) and the packed stat numbers."""
    h = hashlib.sha256(layout.encode("utf-8", "surrogateescape"))
    h.update(packed)
    src.signature, src.size = h.hexdigest(), size


def stat_listed(path: str, how: str, layout: str) -> tuple[bytes, int] | None:
    """The packed stat numbers of what ``layout`` lists (a crate directory's layout, remembered from the
    last run), or of the file itself for ``how`` 'file'; None when something listed is gone or
    unreadable (the caller then walks the crate again). Plain data in, plain data out, and neither hashing
    nor printing: :func:`stat_listed_many` runs it in a forked child as well.

    The numbers are those of :func:`_pack`, gathered here without keeping the stat results (a tenth of
    the time), and the entries are ``lstat``-ed relative to the crate directory's descriptor: a path walk
    of two or three components instead of the seven or eight of a registry path, another tenth."""
    try:
        if how != "tree":
            return _pack((), (os.stat(path),))
        d_rel, _, f_rel = layout.partition("\0\0")
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            lst, fst = os.lstat, os.stat
            root = os.fstat(fd)
            numbers = [root.st_mtime_ns, root.st_ctime_ns, root.st_ino]
            add = numbers.extend
            for rel in d_rel.split("\0")[1:]:  # "" first: the root
                s = lst(rel, dir_fd=fd)
                add((s.st_mtime_ns, s.st_ctime_ns, s.st_ino))
            size = 0
            if f_rel:
                for rel in f_rel.split("\0"):
                    s = fst(rel, dir_fd=fd)  # through a link, as port reads it (a dangling one: walked)
                    size += s.st_size
                    add((s.st_size, s.st_mtime_ns, s.st_ctime_ns, s.st_ino))
        finally:
            os.close(fd)
    except OSError:  # something listed is gone (or the crate is): the walk finds what is there now
        return None
    return array.array("q", numbers).tobytes(), size


def stat_listed_many(
    items: Sequence[tuple[str, str, str]], meanwhile: Callable[[], None] | None = None
) -> list[tuple[bytes, int] | None]:
    """:func:`stat_listed` for every (path, how, layout). A rerun over a registry stats ~40k paths, which
    is kernel time (~3 us each here) that a second core can share: with two usable cores a forked child
    stats the second part by weight (``forked.map_halves``), while this process stats the first part and
    then runs ``meanwhile`` (the CPU work it needs next: it keeps :data:`SHARE_BESIDE_WORK` % of the
    entries then, else half). Results are identical either way; a child that fails has its part redone
    here. Without a split, ``meanwhile`` does not run: the caller does that work when it needs it.

    (Measured on 1,512 crates, 2 cores: 145 ms serial, 75-90 ms split. A child that stats everything
    while this process does its other work took 130-180 ms: the two compete for the same cores.)"""
    from ..forked import map_halves

    def part(chunk: Sequence[tuple[str, str, str]]) -> list[tuple[bytes, int] | None]:
        return [stat_listed(path, how, layout) for path, how, layout in chunk]

    weights = [layout.count("\0") + 1 for _path, _how, layout in items]  # entries to stat
    share = SHARE_BESIDE_WORK if meanwhile else 52
    return map_halves(
        part, items, min_items=MIN_SPLIT_ITEMS, weights=weights, meanwhile=meanwhile, share=share
    )


def use_listed(src: Source, layout: str, listed: tuple[bytes, int] | None) -> bool:
    """Fill ``signature`` and ``size`` from :func:`stat_listed`'s numbers; False if there were none."""
    if listed is None:
        return False
    _finish(src, layout if src.how == "tree" else src.path, *listed)
    if src.how == "tree":
        src.layout = layout
    return True


def stat_signature(src: Source, layout: str = "") -> None:
    """Fill ``signature`` and ``size`` from ``stat`` alone (no file is read): size, mtime and inode of
    every file the digest covers, and mtime and inode of every directory walked (a file added, removed
    or renamed changes its directory's mtime), so that an unchanged signature means an unchanged digest.

    ``layout`` (a crate directory's, remembered from the last run: :attr:`Source.layout`) lists those
    directories and files: they are stat'ed directly, without listing a directory (half the cost of the
    walk, which a rerun pays for every crate of the corpus). Whatever changed since, the signature
    differs from the remembered one and the caller walks the crate again (``layout=""``)."""
    try:
        if src.how != "tree":
            _finish(src, src.path, *_pack((), (os.stat(src.path),)))
            return
        if layout and use_listed(src, layout, stat_listed(src.path, src.how, layout)):
            return
        d_entries, f_entries = _walk(src.path)
        layout = (
            "\0".join(["", *(rel for rel, _e in d_entries)]) + "\0\0" + "\0".join(r for r, _e in f_entries)
        )
        dirs = [os.lstat(src.path), *(e.stat(follow_symlinks=False) for _rel, e in d_entries)]
        _finish(src, layout, *_pack(dirs, [_file_stat(e) for _rel, e in f_entries]))
        src.layout = layout
    except OSError as exc:
        src.error = str(exc)
        src.signature, src.size = "", 0


def _file_stat(entry: os.DirEntry[str]) -> os.stat_result:
    """A file's stat through a link (what port reads), the link's own when it dangles."""
    try:
        return entry.stat()
    except FileNotFoundError:
        return entry.stat(follow_symlinks=False)


def file_digest(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def tree_digest(root: str) -> str:
    """sha256 over (relative path, size, bytes) of every file ``port`` reads under ``root`` (its ``.rs``
    files and manifests, read through links), in sorted order; a file port cannot read (a FIFO, a
    device: its kind; a dangling link: its target) counts by what it is, without being opened. Only
    those: the analysis depends on nothing else, and the rest (test data, C sources of ``-sys`` crates,
    documentation) is half the bytes of the Debian registry, which every first run would otherwise read
    twice (once to hash, once to analyse)."""
    h = hashlib.sha256()
    for rel, entry in _inputs(root):
        try:
            with open_regular(entry.path) as fh:  # a FIFO is never opened for a read that would block
                data = fh.read()
        except FormatError:  # a FIFO, a device: port cannot parse it, and only its kind counts
            h.update(
                f"{rel}\0special\0{stat.S_IFMT(entry.stat().st_mode)}\0".encode("utf-8", "surrogateescape")
            )
            continue
        except FileNotFoundError:
            if not entry.is_symlink():
                raise
            target = os.readlink(entry.path)  # a dangling link: where it points is all there is
            h.update(f"{rel}\0dangling\0{target}\0".encode("utf-8", "surrogateescape"))
            continue
        except PermissionError:  # port reports the file as not parsed and analyses the rest: so do we
            h.update(f"{rel}\0unreadable\0".encode("utf-8", "surrogateescape"))
            continue
        h.update(f"{rel}\0{len(data)}\0".encode("utf-8", "surrogateescape"))
        h.update(data)
    return h.hexdigest()


def content_digest(src: Source) -> None:
    """Fill ``digest``; an unreadable item gets a digest naming its path (so it is retried next run) and
    the reason in ``error``."""
    try:
        src.digest = tree_digest(src.path) if src.how == "tree" else file_digest(src.path)
        if src.kind == "binary":
            from .packages import is_package, reader_of

            if is_package(src.path):  # read as its name says: the same bytes as .deb and .tgz differ
                src.digest = f"{reader_of(src.path)}:{src.digest}"
    except OSError as exc:
        src.error = str(exc)
    if src.error:
        src.digest = "unreadable:" + hashlib.sha256(src.path.encode("utf-8", "surrogateescape")).hexdigest()


def crate_sources(paths: list[str]) -> list[Source]:
    """A path is a crate (has ``Cargo.toml``), a ``.crate`` archive, or a directory of those (a Debian
    registry, ``cargo vendor`` output, a download cache): its direct children are the items."""
    out: list[Source] = []
    for given in paths:
        if not os.path.exists(given):
            raise UsageError(f"{given}: no such file or directory")
        base = os.path.realpath(given)
        if os.path.isfile(given):
            out.append(Source("crate", base, "file", origin=base))
            continue
        manifest = _manifest(base)
        if manifest is not False:  # a crate, or a directory that cannot be searched: a failed item
            out.append(
                Source(
                    "crate", base, "tree", origin=base, error=manifest if isinstance(manifest, str) else ""
                )
            )
            continue
        # scandir, and realpath only for the links: a registry has thousands of children, and
        # Path.resolve on each was a quarter of a rerun's time
        try:
            with os.scandir(base) as it:
                children = sorted(it, key=_name)
        except OSError as exc:  # a registry that cannot be listed: one failed item, with the reason
            out.append(Source("crate", base, "tree", origin=base, error=str(exc)))
            continue
        real_dirs: dict[str, tuple[str, dict[str, bool]]] = {}
        for child in children:
            link = child.is_symlink()
            full = _resolve_link(child.path, real_dirs) if link else child.path
            # a Cargo.toml that is a file makes it a directory: no second stat of a link's target
            manifest = _manifest(full) if link or child.is_dir() else False
            if manifest is not False:
                out.append(
                    Source(
                        "crate",
                        full,
                        "tree",
                        origin=base,
                        error=manifest if isinstance(manifest, str) else "",
                    )
                )
            elif child.name.endswith(".crate") and child.is_file():
                out.append(Source("crate", full, "file", origin=base))
    return out


def _manifest(directory: str) -> bool | str:
    """True if ``directory`` holds a ``Cargo.toml`` file; False if it does not (or is no directory); the
    reason as text when it cannot be searched (permission denied): the caller records a failed item
    rather than losing the crate from the survey without a word."""
    try:
        return stat.S_ISREG(os.stat(directory + "/Cargo.toml").st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        return str(exc)


def _name(e: os.DirEntry[str]) -> str:
    return e.name


def _resolve_link(link: str, real_dirs: dict[str, tuple[str, dict[str, bool]]]) -> str:
    """``os.path.realpath(link)``, cheaper for a directory of links into one place (``cargo vendor``
    trees, a view of a registry): the link's target directory is resolved and listed once
    (``real_dirs``: its real path, and which of its entries are links, from the listing's file types),
    instead of one ``lstat`` per path component per link. A target with ``.``, ``..`` or ``//`` in it, one
    not in its directory's listing, or one that is itself a link takes the general way."""
    target = os.readlink(link)
    if not target.startswith("/"):
        target = link[: link.rfind("/") + 1] + target
    parent, _, name = target.rpartition("/")
    if not name or not parent or "/." in target or "//" in target:
        return os.path.realpath(link)
    known = real_dirs.get(parent)
    if known is None:
        try:
            with os.scandir(parent) as it:
                links = {e.name: e.is_symlink() for e in it}
        except OSError:
            links = {}
        known = real_dirs[parent] = (os.path.realpath(parent), links)
    real, links = known
    if links.get(name, True):  # a link to a link, or not listed (created since): the general way
        return os.path.realpath(link)
    return real + "/" + name


def binary_sources(paths: list[str]) -> list[Source]:
    """ELF files and binary packages (``packages.SUFFIXES``) named or found in the trees (``audit``'s own
    walk, so both see the same ELF files)."""
    from ..audit import expand  # here: `survey crates` need not pay for importing audit
    from .packages import is_package

    for given in paths:
        try:
            mode = os.stat(given).st_mode
        except OSError as exc:
            raise UsageError(f"{given}: {exc.strerror.lower() if exc.strerror else exc}") from None
        if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):  # a FIFO blocks its reader, /dev/zero never ends
            raise UsageError(f"{given}: not a regular file or a directory; refusing to read it")
    out: list[Source] = []
    seen: set[str] = set()
    for given in paths:  # one walk per source: each item knows which source it was found under
        origin = os.path.realpath(given)
        for f in expand([given], also=is_package):
            path = str(f.resolve())
            if path not in seen:  # named twice (a file inside a tree also given): one item, as expand does
                seen.add(path)
                out.append(Source("binary", path, "file", origin=origin))
    return out


#: The most a ``.crate`` may unpack to, summed over its files: crates.io's own bound on a crate's unpacked
#: size. A 2 MB archive of zeros unpacks to 2 GB; without a bound it fills the worker's temporary directory.
MAX_UNPACKED = 512 << 20


class ArchiveTooLarge(ValueError):
    """An archive whose members add up to more than :data:`MAX_UNPACKED` (a permanent failure: its bytes)."""


def unpack_crate(archive: str, into: str) -> str:
    """Extract a ``.crate`` (a gzipped tar with one top directory) under ``into``; returns the crate root.
    Members that would land outside ``into`` (absolute paths, ``..``, links) or are devices are refused by
    tarfile's ``data`` filter; members past :data:`MAX_UNPACKED` in all raise :class:`ArchiveTooLarge`
    before they are written; a corrupt archive raises ``tarfile.TarError``/``OSError`` for the caller to
    record."""
    import tarfile  # here: only archives need it, and a rerun of directories starts sooner without it

    total = 0

    def bounded(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
        nonlocal total
        kept = tarfile.data_filter(member, dest)
        if kept is not None and kept.isfile():
            total += kept.size
            if total > MAX_UNPACKED:
                raise ArchiveTooLarge(f"unpacks to more than {MAX_UNPACKED >> 20} MiB (at {member.name})")
        return kept

    os.makedirs(into, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(into, filter=bounded)
    tops = [d for d in os.listdir(into) if os.path.isfile(os.path.join(into, d, "Cargo.toml"))]
    if len(tops) != 1:
        raise tarfile.TarError(f"expected one crate directory with a Cargo.toml, found {len(tops)}")
    return os.path.join(into, tops[0])
