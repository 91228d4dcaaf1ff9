"""``--format json`` written one finding at a time.

The document is the one ``json.dumps({"policy", "reports": [r.to_dict()], "errors"})`` would give, but a
library with 70,000 findings (librustc_driver without frame pointers) would otherwise be held twice more,
as dictionaries and as one 60 MB string: that is what took the audit past 300 MiB of resident memory.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import IO

from ..errors import FormatError
from .model import Report


def write_json(
    out: IO[str],
    policy: str,
    reports: Sequence[Report],
    errors: Sequence[FormatError],
    skipped: Sequence[str] = (),
) -> None:
    encode = json.JSONEncoder(default=str).encode  # one encoder, not one per finding
    out.write("{\n")
    out.write(f'  "policy": {json.dumps(policy)},\n  "reports": [')
    for i, r in enumerate(reports):
        out.write("\n    " if i == 0 else ",\n    ")
        out.write(
            f'{{"path": {json.dumps(r.path)}, "facts": {json.dumps(r.facts, default=str)}, "findings": ['
        )
        for j, f in enumerate(r.findings):
            out.write(("\n      " if j == 0 else ",\n      ") + encode(f.to_dict()))
        out.write(("\n    " if r.findings else "") + "]}")
    out.write(("\n  " if reports else "") + "],\n")
    errs = [{"path": e.path, "offset": e.offset, "what": e.what} for e in errors]
    out.write(f'  "errors": {json.dumps(errs)},\n  "skipped": {json.dumps(list(skipped))}\n}}\n')
