"""Which plotting library for ``survey report``: page weight and render time of the same bar chart.

Each candidate writes one self-contained page (no CDN: the report must open offline from ``file://``):

* matplotlib: the chart as SVG inlined into the HTML (what ``survey report`` does);
* Altair (Vega-Lite): ``chart.save(..., inline=True)``, the Vega/Vega-Lite/vega-embed JS inlined;
* Plotly: ``write_html(include_plotlyjs=True)``, plotly.js inlined.

Measured: the page's bytes, the Python time to build it, and headless Chromium's wall time to load and
render it (``--dump-dom``, so scripts have run), median of BENCH_REPEAT, next to an empty page's time.
A candidate that is not installed is reported as such (pip install altair vl-convert-python plotly).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
LABELS = [f"crate-{i:02d}" for i in range(20)]
VALUES = [float((i * 37) % 23 + 1) for i in range(20)]


def with_matplotlib(path: Path) -> None:
    from illumos_rust.survey.report import _svg_bar

    svg = _svg_bar("gaps", LABELS, VALUES, horizontal=True, xlabel="crates")
    path.write_text(
        f"<!DOCTYPE html><html><head><meta charset=utf-8><title>m</title></head><body>{svg}</body></html>"
    )


def with_altair(path: Path) -> None:
    import altair as alt

    data_cls: Any = alt.Data  # untyped in altair; Any also when altair is absent (mypy then skips it)
    data = data_cls(values=[{"crate": c, "n": v} for c, v in zip(LABELS, VALUES, strict=True)])
    chart = alt.Chart(data).mark_bar().encode(x="n:Q", y="crate:N").properties(title="gaps")
    chart.save(str(path), inline=True)


def with_plotly(path: Path) -> None:
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(x=VALUES, y=LABELS, orientation="h"))
    fig.update_layout(title="gaps")
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)


def chromium_wall(chromium: str, page: Path, profile: Path) -> float:
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}"]
    walls = []
    for _ in range(REPEAT):
        t = time.perf_counter()
        subprocess.run([*cmd, "--dump-dom", page.as_uri()], capture_output=True, check=False, timeout=120)
        walls.append(time.perf_counter() - t)
    return sorted(walls)[len(walls) // 2]


def main() -> int:
    import matplotlib.pyplot  # noqa: F401  (imported once up front: its import is not the chart's cost)

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    work = Path(tempfile.mkdtemp(prefix="bench-plots-"))
    candidates: dict[str, Callable[[Path], None]] = {
        "matplotlib SVG inline": with_matplotlib,
        "Altair/Vega-Lite, JS inlined": with_altair,
        "Plotly, plotly.js inlined": with_plotly,
    }
    try:
        empty = work / "empty.html"
        empty.write_text("<!DOCTYPE html><title>e</title>")
        base = chromium_wall(chromium, empty, work / "p") if chromium else 0.0
        print(f"load {os.getloadavg()[0]:.1f}; chromium on an empty page: {base:.2f} s")
        print("| library | page bytes | build s | chromium load+render s |")
        print("|---|---|---|---|")
        for name, build in candidates.items():
            page = work / f"{name.split()[0].split('/')[0]}.html"
            try:
                t = time.perf_counter()
                build(page)
                built = time.perf_counter() - t
            except ImportError as exc:
                print(f"| {name} | not installed ({exc.name}) | | |")
                continue
            wall = chromium_wall(chromium, page, work / "p") if chromium else float("nan")
            print(f"| {name} | {page.stat().st_size:,} | {built:.2f} | {wall:.2f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
