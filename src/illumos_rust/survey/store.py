"""The survey's result store: one SQLite file, one row per analysed item and tool version.

Why SQLite: it is embedded (no server next to the Dask cluster), a crash mid-run leaves every committed row
intact, and WAL mode lets ``survey query``/``survey report`` read while a run writes. Only the Dask *client*
writes (the workers return plain dicts), so there is exactly one writer per run; a second concurrent run
waits on SQLite's lock (``busy_timeout``) instead of corrupting the file.

Key: ``(kind, digest, tool)`` where ``digest`` is the content hash of the item (a crate's files, a binary's
bytes) and ``tool`` the illumos-rust version: an unchanged item is never analysed twice by the same tool,
and a new tool version re-analyses everything.

What a corpus looks like *now* is the view its last run left (table ``views``): for each source a run was
given (a registry directory, a crate, a tree of binaries), every path found under it, with the digest of
its content then. ``items`` answers from the views, so a crate reverted to content analysed long ago shows
that old analysis, a crate removed from its registry is gone from queries and reports, and two paths with
the same bytes (a vendored copy, ten identical corrupt archives) are two items sharing one analysis. Runs
over other sources (two registries, two concurrent runs) keep their own views.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..errors import FileError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    kind     TEXT NOT NULL,          -- 'crate' or 'binary'
    digest   TEXT NOT NULL,          -- sha256 of the content (see sources.py)
    tool     TEXT NOT NULL,          -- illumos-rust version that produced the row
    name     TEXT NOT NULL,          -- crate name-version, or the binary's path
    path     TEXT NOT NULL,          -- where it was found in this run
    status   TEXT NOT NULL,          -- 'ok' or 'failed'
    reason   TEXT NOT NULL DEFAULT '',
    seconds  REAL NOT NULL DEFAULT 0,
    result   TEXT NOT NULL DEFAULT '{}',  -- JSON: findings, facts, patch, dependencies
    updated  REAL NOT NULL,
    PRIMARY KEY (kind, digest, tool)
);
CREATE INDEX IF NOT EXISTS items_by_path ON items (kind, path);
-- per kind and source given to a run, the last run's [[path, digest], ...] as JSON (the module docstring)
CREATE TABLE IF NOT EXISTS views (
    kind     TEXT NOT NULL,
    origin   TEXT NOT NULL,
    tool     TEXT NOT NULL,
    finished REAL NOT NULL,
    items    TEXT NOT NULL,
    PRIMARY KEY (kind, origin)
);
-- stat signature -> content digest: a rerun reads only the files whose sizes/mtimes changed
CREATE TABLE IF NOT EXISTS fingerprints (
    path      TEXT PRIMARY KEY,
    signature TEXT NOT NULL,
    digest    TEXT NOT NULL,
    layout    TEXT NOT NULL DEFAULT ''  -- a crate's directories and input files (sources.stat_signature)
);
"""


@dataclass(slots=True)
class Item:
    """One stored analysis."""

    kind: str
    digest: str
    tool: str
    name: str
    path: str
    status: str
    reason: str
    seconds: float
    result: dict[str, Any]


def _open_readonly(path: str) -> sqlite3.Connection:
    """Open for reading only, without creating the file. A WAL store in a directory the reader cannot
    write, with no ``-shm`` beside it, cannot be opened read-only the usual way (SQLite must create the
    shared-memory file): it is then opened ``immutable``, which is exact when no run writes it meanwhile."""
    if not os.path.exists(path):
        raise FileError(path, "no survey store here (`survey crates` or `survey binaries` writes one)")
    if os.path.isdir(path):
        raise FileError(path, "is a directory, not a survey store")
    uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
    db = sqlite3.connect(uri, uri=True, timeout=60.0, isolation_level=None)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        db.close()
        db = sqlite3.connect(uri + "&immutable=1", uri=True, timeout=60.0, isolation_level=None)
    return db


def _check_format(path: str, db: sqlite3.Connection) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > FORMAT:
        raise FileError(
            path,
            f"survey store of format {version}, written by a newer illumos-rust (this one reads {FORMAT})",
        )


#: The store's format (``PRAGMA user_version``). 1: items, views, fingerprints with layouts. A store of a
#: newer format is refused before anything is read or written; 0 is a store from before the format was
#: recorded (same tables, migrated on open).
FORMAT = 1


class Store:
    """A thin typed layer over the ``items`` table.

    ``readonly`` is for ``query`` and ``report``: the file must exist (a mistyped ``--store`` is an error,
    not an empty corpus) and is never written, so a store published in a directory the reader cannot write
    is still readable. An older store that needs migrating is migrated in a private in-memory copy."""

    def __init__(self, path: str, readonly: bool = False) -> None:
        self.path = path
        if not path:
            raise FileError("--store", "an empty path (SQLite would keep the results in a throw-away file)")
        try:
            if readonly:
                self.db = _open_readonly(path)
            else:
                if os.path.isdir(path):
                    raise FileError(path, "is a directory, not a survey store")
                self.db = sqlite3.connect(path, timeout=60.0, isolation_level=None)
            _check_format(path, self.db)
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if tables and not tables & {"items", "views", "fingerprints"}:
                # another application's database, given by mistake: never converted (WAL, our tables)
                shown = ", ".join(sorted(tables)[:5])
                raise FileError(path, f"an SQLite database that is not a survey store (its tables: {shown})")
            if "items" in tables:
                columns = {r[1] for r in self.db.execute("PRAGMA table_info(items)")}
                if not {"kind", "digest", "tool", "path", "status", "result"} <= columns:
                    # a table of that name, but not ours: refused before anything is written (WAL included)
                    raise FileError(
                        path, "an SQLite database that is not a survey store (its items table differs)"
                    )
            if readonly and self._needs_migration():
                memory = sqlite3.connect(":memory:", isolation_level=None)
                self.db.backup(memory)
                self.db.close()
                self.db = memory
            if not readonly:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
            if not readonly or self._needs_migration():
                self._migrate()
        except sqlite3.DatabaseError as exc:
            text = str(exc)
            if "readonly" in text or "read-only" in text:
                raise FileError(path, f"survey store is not writable ({text})") from None
            raise FileError(path, f"not a usable survey store ({text})") from None

    def _needs_migration(self) -> bool:
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"items", "views", "fingerprints"} <= tables:
            return True
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(fingerprints)")}
        return "layout" not in columns

    def _migrate(self) -> None:
        had_views = self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='views'"
        ).fetchone()
        self.db.executescript(_SCHEMA)
        if had_views is None:
            self._views_from_rows()
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(fingerprints)")}
        if "layout" not in columns:  # a store written before layouts were remembered
            self.db.execute("ALTER TABLE fingerprints ADD COLUMN layout TEXT NOT NULL DEFAULT ''")
        if self.db.execute("PRAGMA user_version").fetchone()[0] != FORMAT:
            self.db.execute(f"PRAGMA user_version={FORMAT}")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def known(self, kind: str, tool: str) -> set[str]:
        """Digests this tool version need not analyse again: those analysed successfully, and those that
        failed because of their bytes (:data:`PERMANENT`: a corrupt archive, a malformed ELF). Any other
        failure is tried again on every run: it may have come from the environment (no rustc, a full disk,
        memory, a killed worker, a bug met by chance) rather than from the bytes."""
        permanent = " OR ".join("reason LIKE ?" for _ in PERMANENT)
        rows = self.db.execute(
            f"SELECT digest FROM items WHERE kind=? AND tool=? AND (status='ok' OR {permanent})",
            (kind, tool, *(f"{p}%" for p in PERMANENT)),
        )
        known = {r[0] for r in rows}
        # a package whose ELF file failed for another reason than its bytes is tried again too
        for digest, members in self._package_members(kind, tool):
            if any(
                m.get("status") != "ok" and not str(m.get("reason", "")).startswith(PERMANENT)
                for m in members
            ):
                known.discard(digest)
        return known

    def _package_members(self, kind: str, tool: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """(digest, members) of the packages analysed by this tool (``survey binaries`` over packages)."""
        rows = self.db.execute(
            "SELECT digest, result FROM items WHERE kind=? AND tool=? AND status='ok' AND result LIKE ?",
            (kind, tool, '%"package":true%'),
        )
        for digest, text in rows:
            try:
                members = json.loads(text).get("members", [])
            except (ValueError, AttributeError):
                continue
            if isinstance(members, list):
                yield digest, [m for m in members if isinstance(m, dict)]

    def failed(self, kind: str, tool: str) -> set[str]:
        """Digests whose analysis by this tool failed, or found a failed ELF file in a package."""
        rows = self.db.execute(
            "SELECT digest FROM items WHERE kind=? AND tool=? AND status!='ok'", (kind, tool)
        )
        out = {r[0] for r in rows}
        out |= {
            d
            for d, members in self._package_members(kind, tool)
            if any(m.get("status") != "ok" for m in members)
        }
        return out

    def has_any(self, kind: str, tool: str) -> bool:
        """Whether this tool version stored anything of ``kind`` yet (ok or failed): under ``tool`` itself,
        or under ``tool+KEY`` (a crate analysis keyed by the rustc and libc sources it saw)."""
        row = self.db.execute(
            "SELECT 1 FROM items WHERE kind=? AND (tool=? OR substr(tool, 1, ?)=?) LIMIT 1",
            (kind, tool, len(tool) + 1, tool + "+"),
        ).fetchone()
        return row is not None

    def stored(self, kind: str, tool: str) -> set[str]:
        """Digests with a row for this tool version, failed ones included."""
        rows = self.db.execute("SELECT digest FROM items WHERE kind=? AND tool=?", (kind, tool))
        return {r[0] for r in rows}

    def fingerprints(self) -> dict[str, tuple[str, str, str]]:
        """path -> (stat signature, digest, layout) from earlier runs."""
        rows = self.db.execute("SELECT path, signature, digest, layout FROM fingerprints")
        return {_text(r[0]): (r[1], r[2], _text(r[3])) for r in rows}

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one commit (a chunk's results, a run's relocations): one WAL append instead
        of one per row. An interrupted run keeps every committed group; nesting joins the outer one."""
        if self.db.in_transaction:
            yield
            return
        self.db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def remember(self, rows: list[tuple[str, str, str, str]]) -> None:
        """Store (path, signature, digest, layout) rows in one transaction."""
        if rows:
            with self.transaction():
                self.db.executemany(
                    "INSERT OR REPLACE INTO fingerprints (path, signature, digest, layout) VALUES (?,?,?,?)",
                    [(_db(p), sig, digest, _db(layout)) for p, sig, digest, layout in rows],
                )

    def put(self, item: Item) -> None:
        """Insert or replace one row (in the caller's transaction, else in its own)."""
        self.db.execute(
            "INSERT OR REPLACE INTO items VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                item.kind,
                item.digest,
                item.tool,
                _db(item.name),
                _db(item.path),
                item.status,
                _db(item.reason),
                item.seconds,
                json.dumps(item.result, separators=(",", ":"), default=str),
                time.time(),
            ),
        )

    def relocate(self, kind: str, tool: str, moves: list[tuple[str, str]]) -> None:
        """Unchanged items ``(digest, path)``, maybe found at a new path: remember where they are now (a
        row already there is not rewritten)."""
        self.db.executemany(
            "UPDATE items SET path=? WHERE kind=? AND digest=? AND tool=? AND path<>?",
            [(_db(path), kind, digest, tool, _db(path)) for digest, path in moves],
        )

    def record_view(
        self, kind: str, origin: str, tool: str, found: list[tuple[str, str]], as_of: float | None = None
    ) -> None:
        """Keep ``found`` (path, digest) as what the source ``origin`` held at ``as_of`` (when the run
        began stat'ing it): :meth:`items`. A view as of an earlier time than the stored one is dropped, so
        that of two concurrent runs the one that saw the files later wins, not the one that ends later.
        JSON: a path may hold any byte but NUL and ``/``, a tab or a newline included."""
        self.db.execute(
            "INSERT INTO views VALUES (?,?,?,?,?) ON CONFLICT (kind, origin) DO UPDATE SET"
            " tool=excluded.tool, finished=excluded.finished, items=excluded.items"
            " WHERE excluded.finished >= views.finished",
            (kind, _db(origin), tool, time.time() if as_of is None else as_of, json.dumps(found)),
        )

    def items(self, kind: str | None = None, tool: str | None = None) -> Iterator[Item]:
        """The items of the views (:meth:`record_view`), by path: each path with the analysis of the
        content it had at the last run over its source (a binary's name is its path). Views are applied
        oldest first, and each replaces what older views said about the paths under its source (its own
        old list, a crate inside a registry surveyed on its own): a path reaches the answer only through the
        newest run that covered it. ``tool``: only views of that tool version."""
        for k in [kind] if kind else self._kinds():
            sql = "SELECT origin, tool, items FROM views WHERE kind=?" + (" AND tool=?" if tool else "")
            views = list(self.db.execute(sql + " ORDER BY finished", (k, tool) if tool else (k,)))
            if not views:
                yield from self._newest_rows(k, tool)
                continue
            current: dict[str, tuple[str, str]] = {}  # path -> (tool, digest)
            for origin_value, view_tool, text in views:
                origin = _text(origin_value)
                entries = _view_entries(text)
                under = origin.rstrip("/") + "/"
                for path in [p for p in current if p == origin or p.startswith(under)]:
                    del current[path]
                for entry in entries if isinstance(entries, list) else []:
                    if isinstance(entry, list) and len(entry) == 2:
                        current[str(entry[0])] = (str(view_tool), str(entry[1]))
            rows: dict[tuple[str, str], tuple[Any, ...]] = {}
            columns = "kind,digest,tool,name,path,status,reason,seconds,result"
            for t in {t for t, _d in current.values()}:
                found = self.db.execute(f"SELECT {columns} FROM items WHERE kind=? AND tool=?", (k, t))
                rows.update(((t, r[1]), r) for r in found)
            for path in sorted(current):
                row = rows.get(current[path])
                if row is not None:
                    yield _item(row, path=path, name=path if k == "binary" else "")

    def _views_from_rows(self) -> None:
        """A store written before views were kept: its newest row per path becomes one view per kind and
        tool version, named after no directory (so only a newer run that lists a path, or whose source
        holds it, replaces it), and what the store answered before is what it answers now."""
        with self.transaction():
            for kind in self._kinds():
                by_tool: dict[str, list[tuple[str, str]]] = {}
                for it in self._newest_rows(kind, None):
                    by_tool.setdefault(it.tool, []).append((it.path, it.digest))
                for tool, found in by_tool.items():
                    self.record_view(kind, f"(surveyed before views were kept, {tool})", tool, found)

    def _kinds(self) -> list[str]:
        return sorted(
            {
                str(r[0])
                for r in self.db.execute("SELECT kind FROM views UNION SELECT DISTINCT kind FROM items")
            }
        )

    def _newest_rows(self, kind: str, tool: str | None) -> Iterator[Item]:
        """Stored items, newest row per path (an older version of a file that changed is history)."""
        sql = "SELECT kind,digest,tool,name,path,status,reason,seconds,result FROM items WHERE kind=?"
        args = [kind]
        if tool:
            sql += " AND tool=?"
            args.append(tool)
        sql += " ORDER BY path, updated DESC"
        seen: set[str] = set()
        for row in self.db.execute(sql, args):
            path = _text(row[4])
            if path in seen:
                continue
            seen.add(path)
            yield _item(row, path=path, name=_text(row[3]))

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM items").fetchone()[0])


def _item(row: tuple[Any, ...], *, path: str, name: str) -> Item:
    """An item from a row; ``name`` "" for a crate seen through a view: from its own analysis (name and
    version), or from its own path when it has none (a failed one), never from another path with the same
    bytes, which is what the shared row's name may be."""
    result = json.loads(row[8])
    if not name:
        res = result.get("result", result) if isinstance(result, dict) else {}
        if isinstance(res, dict) and res.get("crate"):
            name = f"{res['crate']}-{res.get('version', '')}".rstrip("-")
        else:
            base = os.path.basename(path)
            name = base[: -len(".crate")] if base.endswith(".crate") else base
    return Item(
        str(row[0]),
        str(row[1]),
        str(row[2]),
        name,
        path,
        str(row[5]),
        _text(row[6]),
        float(row[7]),
        result,
    )


#: The starts of failure reasons that come from an item's bytes, which a retry would only repeat (the
#: reason is "ExceptionName: message", see ``tasks``): not tried again until the bytes change.
PERMANENT = (
    "FormatError",  # a malformed ELF file (audit)
    "ReadError",  # tarfile: not a gzip/tar stream (a corrupt .crate)
    "CompressionError",
    "HeaderError",
    "EOFError",  # a truncated gzip stream
    "BadGzipFile",
    "TarError",  # a .crate without exactly one crate directory
    # tarfile's ``data`` filter refusing a member: it would land outside the directory, or is a device
    "OutsideDestinationError",
    "AbsoluteLinkError",
    "AbsolutePathError",
    "LinkOutsideDestinationError",
    "SpecialFileError",
    "FilterError",
    "ArchiveTooLarge",  # sources.MAX_UNPACKED
    "BadPackage",  # packages.py: not the archive its name says
    "LZMAError",  # a corrupt xz stream (.deb data.tar.xz, .txz)
    "BadZipFile",
    "no Rust sources",
)


def _view_entries(text: object) -> list[Any]:
    """A view's [[path, digest], ...]; also the "path<TAB>digest" lines of the first views (kept by this
    tool for an hour of one day, before names with a tab or a newline showed the format wrong); nothing
    from a damaged one."""
    if isinstance(text, str):
        try:
            entries = json.loads(text)
        except ValueError:
            return [line.split("\t", 1) for line in text.split("\n") if "\t" in line]
        return entries if isinstance(entries, list) else []
    if isinstance(text, bytes):
        return _view_entries(text.decode("utf-8", "surrogateescape"))
    return []


def _db(text: str) -> str | bytes:
    """Text for SQLite: itself when it is valid UTF-8; else (a path with bytes that are not UTF-8, held
    as lone surrogates the way ``os.fsdecode`` does) those exact bytes as a BLOB, which :func:`_text`
    turns back into the same ``str``. SQLite's TEXT refuses lone surrogates, and one such file name
    stopped the whole survey."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")
    return text


def _text(value: object) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else str(value)
