"""Cargo's version requirements (``port.workspace.satisfies``), used by port to pick a crate's libc and by
the survey's reverse dependencies. Expected values are hand computations from the Cargo book's
"Specifying Dependencies" (caret, tilde, wildcard and comparison requirements), written down per case."""

from __future__ import annotations

import pytest

from illumos_rust.port.workspace import satisfies

CASES = [
    # comparison with a partial version: the range of all versions it names
    ("<=0.10", (0, 10, 1), True),  # every 0.10.z
    ("<=0.10", (0, 11, 0), False),
    (">=0.8, <=0.10", (0, 10, 1), True),  # cssparser's phf requirement
    (">1.2", (1, 2, 9), False),  # > 1.2 starts at 1.3.0
    (">1.2", (1, 3, 0), True),
    (">1.2.3", (1, 2, 3), False),
    (">1.2.3", (1, 2, 4), True),
    ("<1.2", (1, 1, 9), True),
    ("<1.2", (1, 2, 0), False),
    (">=1.2", (1, 2, 0), True),
    # wildcards
    ("1.2.*", (1, 2, 7), True),
    ("1.2.*", (1, 3, 0), False),  # not ^1.2
    ("1.*", (1, 9, 0), True),
    ("1.*", (2, 0, 0), False),
    # exact
    ("=1.2", (1, 2, 5), True),
    ("=1.2", (1, 3, 0), False),
    ("=1.2.3", (1, 2, 3), True),
    ("=1.2.3", (1, 2, 4), False),
    # caret (bare) and tilde
    ("0.8", (0, 8, 4), True),
    ("0.8", (0, 9, 0), False),
    ("^0.0.3", (0, 0, 3), True),
    ("^0.0.3", (0, 0, 4), False),
    ("^0.0", (0, 0, 9), True),
    ("^0.0", (0, 1, 0), False),
    ("1", (1, 9, 9), True),
    ("1", (2, 0, 0), False),
    ("~1.2", (1, 2, 9), True),
    ("~1.2", (1, 3, 0), False),
    ("~1", (1, 9, 0), True),
    ("*", (7, 0, 0), True),
]


@pytest.mark.parametrize(("req", "version", "expected"), CASES)
def test_cargo_requirement(req: str, version: tuple[int, int, int], expected: bool) -> None:
    assert satisfies(version, req) is expected
