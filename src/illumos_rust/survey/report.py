"""``survey report -o DIR``: a static HTML report that opens from disk (no server, no CDN, no JavaScript).

Plots are matplotlib SVG inlined into the page: a few kB each, drawn by the browser's SVG renderer with no
script to load or run, so the page works offline and from ``file://``, and the whole report for a
thousand crates stays far below 5 MB (the benchmark prints the measured weight). An index page carries
the plots and sortable-by-eye tables; each crate and binary gets its own page with its findings and, for
crates, the proposed patch.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import io
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from ..errors import FileError
from .query import gaps_of, with_members
from .store import Item, Store

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
h1,h2{font-weight:600}table{border-collapse:collapse;margin:1em 0;font-size:90%}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.failed{color:#b00}.ok{color:#070}pre{background:#f7f7f7;padding:.8em;overflow:auto}
figure{display:inline-block;margin:0 1em 1em 0}figcaption{font-size:90%;color:#555}
table.findings td{overflow-wrap:anywhere}
"""


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]], cls: str = "") -> str:
    """Cells are trusted HTML (callers escape); headers are escaped here."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table class='{cls}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _matplotlib_home() -> None:
    """matplotlib keeps a font cache under ~/.config/matplotlib; a reader whose home is not writable (a
    service account reporting on a published store) got two lines of warnings on stderr. It then gets a
    private cache directory of its own, as matplotlib itself would, without the warning."""
    if "MPLCONFIGDIR" in os.environ:
        return
    home = os.path.join(os.path.expanduser("~"), ".config", "matplotlib")
    probe = home
    while not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    if not os.access(probe, os.W_OK):
        import atexit
        import shutil
        import tempfile

        private = tempfile.mkdtemp(prefix="illumos-rust-matplotlib-")
        atexit.register(shutil.rmtree, private, True)
        os.environ["MPLCONFIGDIR"] = private


def _svg_bar(
    title: str,
    labels: list[str],
    values: list[float],
    *,
    horizontal: bool = False,
    xlabel: str = "",
    limit: float | None = None,
) -> str:
    """One bar chart as inline SVG (text kept as text, not paths: smaller and searchable). Bars are
    placed by position, not by label (matplotlib draws equal category labels, two crates of one name, as
    one bar), each bar carries its value (a 0 % bar is otherwise invisible), and ``limit`` fixes the
    value axis (0-100 for percentages)."""
    _matplotlib_home()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"
    # labels are crate names from manifests, taken as they are: "a$b$" is a name, not TeX math (a name
    # with "$\\frac$" stopped the report with a mathtext parse error)
    plt.rcParams["text.parse_math"] = False
    height = max(2.5, 0.28 * len(labels) + 1.0) if horizontal else 3.2
    fig, ax = plt.subplots(figsize=(6.4, height))
    try:
        if not labels:
            ax.text(0.5, 0.5, "no data", ha="center", va="center")
            ax.set_axis_off()
        elif horizontal:
            where = range(len(labels))
            bars = ax.barh(where, values[::-1], color="#4c78a8")
            ax.set_yticks(where, labels[::-1])
            ax.bar_label(bars, fmt="%g", padding=2, fontsize=8)
            ax.set_xlim(0, limit if limit is not None else max(max(values) * 1.15, 1))
            ax.set_xlabel(xlabel)
        else:
            where = range(len(labels))
            bars = ax.bar(where, values, color="#4c78a8")
            ax.set_xticks(where, labels)
            ax.bar_label(bars, fmt="%g", padding=2, fontsize=8)
            ax.set_ylim(0, limit if limit is not None else max(max(values) * 1.15, 1))
            ax.set_ylabel(xlabel)
            ax.tick_params(axis="x", labelrotation=30)
        ax.set_title(title)
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg")
    finally:
        plt.close(fig)
    svg = buf.getvalue()
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


_PAGE = re.compile(r"(crate|binary)-[0-9a-f]{20}\.html")


def _page_name(it: Item) -> str:
    """One page per item, named after its path: two paths with the same bytes are two items (two pages
    showing one analysis), which a name from the digest would have folded into one."""
    key = hashlib.sha256(it.path.encode("utf-8", "surrogateescape")).hexdigest()[:20]
    return f"{it.kind}-{key}.html"


def _gap_count(it: Item) -> int:
    return sum(gaps_of(it).values())


def reverse_dependents(crates: list[Item]) -> dict[str, set[str]]:
    """For each crate (by its name-version), every crate in the corpus that depends on it, directly or
    transitively. An edge goes from a ``Cargo.toml`` dependency to the versions of that package in the
    corpus that its requirement admits (Cargo's caret rules): the Debian corpus holds two or three
    versions of 24 packages (mio 0.6 and 0.8, nom, clap, ...), and mio 0.6 must not be credited with the
    users of mio 0.8. Results stored before requirements were kept admit every version."""
    from ..port.workspace import parse_version

    versions: dict[str, list[tuple[tuple[int, int, int], str]]] = defaultdict(list)
    for it in crates:
        name = it.result.get("crate")
        version = parse_version(str(it.result.get("version") or ""))
        if isinstance(name, str) and version is not None:
            versions[name].append((version, it.name))
    direct: dict[str, set[str]] = defaultdict(set)
    for it in crates:
        requires = it.result.get("requires")
        if not isinstance(requires, list):
            requires = [[d, "*"] for d in it.result.get("dependencies", []) if isinstance(d, str)]
        for pair in requires:
            if not (isinstance(pair, list) and len(pair) == 2):
                continue
            dep, req = str(pair[0]), str(pair[1])
            for version, target in versions.get(dep, ()):
                if target != it.name and _admits(version, req):
                    direct[target].add(it.name)
    closure: dict[str, set[str]] = {}
    for name in list(direct):
        seen: set[str] = set()
        stack = [name]
        while stack:  # iterative: a dependency cycle or a deep chain cannot overflow the stack
            for parent in direct.get(stack.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        seen.discard(name)
        closure[name] = seen
    return closure


def _admits(version: tuple[int, int, int], req: str) -> bool:
    from ..port.workspace import satisfies

    try:
        return satisfies(version, req)
    except (AssertionError, ValueError):  # a requirement we cannot read: the edge is kept, as before
        return True


def build(store_path: str, out_dir: str, *, top: int = 20) -> dict[str, Any]:
    """Write the report; returns what was written (pages, bytes)."""
    with Store(store_path, readonly=True) as store:
        items = with_members(store.items())
    crates = [it for it in items if it.kind == "crate"]
    binaries = [it for it in items if it.kind == "binary"]
    try:
        os.makedirs(os.path.join(out_dir, "items"), exist_ok=True)
    except OSError as exc:
        raise FileError.from_os(out_dir, "cannot create the report directory", exc) from None
    written = 0

    def write(rel: str, text: str) -> None:
        nonlocal written
        path = os.path.join(out_dir, rel)
        # a name that is not UTF-8 (held as lone surrogates) is shown with its bytes as \xNN escapes
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        try:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise FileError.from_os(path, "cannot write the report", exc) from None
        written += len(text.encode())

    ok_crates = [c for c in crates if c.status == "ok"]
    readiness = Counter(
        "failed"
        if c.status != "ok"
        else "gaps"
        if _gap_count(c)
        else "knows illumos"
        if c.result.get("knows_illumos")
        else "no gap found"  # port found nothing to do; the crate does not name illumos
        for c in crates
    )
    ready_labels = [k for k in ("knows illumos", "no gap found", "gaps", "failed") if readiness[k]]
    by_rule: Counter[str] = Counter()  # gaps only: deliberate (info) differences are not work to do
    for c in ok_crates:
        by_rule.update(gaps_of(c))
    rdeps = reverse_dependents(ok_crates)
    blocking = sorted(
        ((c, len(rdeps.get(c.name, ()))) for c in ok_crates if _gap_count(c)),
        key=lambda cn: (-cn[1], cn[0].name),
    )
    fp_fp: Counter[str] = Counter()
    fp_judged: Counter[str] = Counter()
    for b in binaries:
        for row in (b.result.get("frame_pointers") or {}).get("by_owner") or []:
            if row.get("kind") != "crate":
                continue
            judged = sum(int(row.get(k, 0)) for k in ("FP", "NO_FP", "RBP_CLOBBER"))
            fp_fp[row["name"]] += int(row.get("FP", 0))
            fp_judged[row["name"]] += judged
    fp_rows = sorted(
        ((n, 100.0 * fp_fp[n] / fp_judged[n], fp_judged[n]) for n in fp_judged if fp_judged[n]),
        key=lambda r: (r[1], -r[2]),
    )[:top]

    figs = [
        _svg_bar(
            "Readiness of the crates", ready_labels, [readiness[k] for k in ready_labels], xlabel="crates"
        ),
        _svg_bar(
            "Gaps by kind",
            [r.split("/", 1)[-1] for r, _ in by_rule.most_common(12)],
            [n for _, n in by_rule.most_common(12)],
            horizontal=True,
            xlabel="gaps (findings port classes gap, probable gap or refusal; raw syscalls)",
        ),
        _svg_bar(
            f"Gaps blocking the most reverse deps (top {top})",
            [c.name for c, _ in blocking[:top]],
            [n for _, n in blocking[:top]],
            horizontal=True,
            xlabel="crates depending on it (transitively)",
        ),
        _svg_bar(
            f"Frame-pointer coverage by crate (lowest {top})",
            [n for n, _, _ in fp_rows],
            [round(p, 1) for _, p, _ in fp_rows],
            horizontal=True,
            xlabel="% of non-leaf functions with a frame pointer",
            limit=100,
        ),
    ]
    captions = ["readiness", "gaps by kind", "blocking reverse dependencies", "frame-pointer coverage"]
    body = [
        "<h1>illumos readiness survey</h1>",
        f"<p>{len(crates)} crates ({sum(c.status != 'ok' for c in crates)} failed), {len(binaries)} binaries "
        f"({sum(b.status != 'ok' for b in binaries)} failed).</p>",
        "<div id=plots>",
        *(
            f"<figure class=plot data-plot='{cap}'>{svg}<figcaption>{cap}</figcaption></figure>"
            for svg, cap in zip(figs, captions, strict=True)
        ),
        "</div>",
    ]
    if crates:
        body.append("<h2>Crates</h2>")
        named = Counter(c.name for c in crates)

        def crate_cell(c: Item) -> str:
            link = f"<a href='items/{_page_name(c)}'>{html.escape(c.name)}</a>"
            if named[c.name] > 1:  # copies of one crate (vendored, two sources): told apart by path
                link += f"<br><small>{html.escape(c.path)}</small>"
            return link

        body.append(
            _table(
                ("crate", "status", "illumos gaps", "findings", "reverse deps", "patch"),
                (
                    (
                        crate_cell(c),
                        _status(c),
                        str(_gap_count(c)),
                        str(len(c.result.get("findings", []))),
                        str(len(rdeps.get(c.name, ()))),
                        "yes" if c.result.get("patch") else "",
                    )
                    for c in sorted(crates, key=lambda c: (c.name, c.path))
                ),
                "crates",
            )
        )
    if binaries:
        body.append("<h2>Binaries</h2>")
        body.append(
            _table(
                ("binary", "status", "frame-pointer coverage", "findings"),
                (
                    (
                        f"<a href='items/{_page_name(b)}'>{html.escape(b.path)}</a>",
                        _status(b),
                        html.escape(str((b.result.get("frame_pointers") or {}).get("coverage_percent", ""))),
                        str(sum(int(n) for n in b.result.get("rules", {}).values())),
                    )
                    for b in binaries
                ),
                "binaries",
            )
        )
    write("index.html", _page("illumos readiness survey", "\n".join(body)))
    pages = {_page_name(it) for it in items}
    for it in items:
        write(os.path.join("items", _page_name(it)), _item_page(it, rdeps))
    # a report written again into the same directory: the pages of items gone since are removed (only
    # pages named the way this module names them; anything else in the directory is not ours)
    for name in os.listdir(os.path.join(out_dir, "items")):
        if _PAGE.fullmatch(name) and name not in pages:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(out_dir, "items", name))
    return {"pages": len(items) + 1, "bytes": written, "index": os.path.join(out_dir, "index.html")}


def _item_page(it: Item, rdeps: dict[str, set[str]]) -> str:
    title = it.name if it.kind == "crate" else os.path.basename(it.path)
    parts = [
        "<p><a href='../index.html'>survey</a></p>",
        f"<h1>{html.escape(title)}</h1>",
        _provenance(it),
    ]
    if it.status != "ok":
        parts.append(f"<p class=failed>analysis failed: {html.escape(it.reason)}</p>")
    res = it.result
    if it.kind == "crate" and it.status == "ok":
        users = sorted(rdeps.get(it.name, ()))
        parts.append(f"<p>{len(users)} crates in the corpus depend on it.</p>")
    counts = res.get("rules", {})
    if counts:
        parts.append(_table(("rule", "count"), ((html.escape(r), str(n)) for r, n in sorted(counts.items()))))
    findings = res.get("findings", [])
    if findings:
        parts.append("<h2>Findings</h2>")
        shown = Counter(str(f.get("rule", "")) for f in findings)
        cut = [(r, shown[r], int(n)) for r, n in sorted(counts.items()) if int(n) > shown[r]]
        if cut:  # the store keeps the first KEEP_PER_RULE findings of each rule (a binary can have 70,000)
            listed = ", ".join(f"{html.escape(r)}: {k:,} of {n:,}" for r, k, n in cut)
            parts.append(f"<p class=cut>Only the first findings of each rule are kept: {listed}.</p>")
        parts.append(
            _table(
                ("severity", "rule", "where", "message", "fix"),
                (
                    (
                        html.escape(f.get("severity", "")),
                        html.escape(f.get("rule", "")),
                        html.escape(_where(f.get("location", {}))),
                        html.escape(f.get("message", "")),
                        html.escape(f.get("fix", "")),
                    )
                    for f in findings
                ),
                "findings",
            )
        )
    if res.get("patch"):
        parts.append(
            "<h2>Proposed patch</h2><p>Apply in the crate's directory with <code>patch -p1</code>.</p>"
        )
        parts.append(f"<pre class=patch>{html.escape(res['patch'])}</pre>")
    return _page(title, "\n".join(parts))


def _provenance(it: Item) -> str:
    """Where the item is and what identifies its content. A file in a package is identified by the
    package's content (it is analysed as part of it): its page says so rather than giving the package's
    digest as the file's own."""
    where = html.escape(it.path)
    tool = html.escape(it.tool)
    if it.kind == "binary" and "!/" in it.path:
        package = html.escape(it.path.split("!/", 1)[0])
        return (
            f"<p>binary <code>{where}</code>, a file of the package <code>{package}</code> (package key "
            f"<code>{html.escape(it.digest)}</code>), tool {tool}</p>"
        )
    digest = html.escape(it.digest)
    kind = html.escape(it.kind)
    took = f"{it.seconds:.2f} s"
    return f"<p>{kind} at <code>{where}</code>, sha256 <code>{digest}</code>, tool {tool}, {took}</p>"


def _status(it: Item) -> str:
    return f"<span class={'ok' if it.status == 'ok' else 'failed'}>{html.escape(it.status)}</span>"


def _where(loc: dict[str, Any]) -> str:
    text = str(loc.get("path", ""))
    if loc.get("line"):
        text += f":{loc['line']}"
    if loc.get("symbol"):  # demangled as audit's text output shows it (a v0 name is one unbreakable word)
        from ..demangle import demangle

        text += f" {demangle(str(loc['symbol']), hash=False)}"
    return text
