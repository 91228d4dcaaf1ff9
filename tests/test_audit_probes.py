"""audit reports the static probes a binary carries and flags usdt records nothing registers (issue 15).

Programs built here with rustc from the generated module of ``probes_helpers.PROVIDER``; the expected probe
names are read off that provider text by hand (``foo``: bar, neg, big, tick__tock -> tick-tock), and the
Linux build's notes are also checked against ``readelf -n``."""

from __future__ import annotations

import platform

import pytest

from conftest import build_rust, require_tool
from illumos_rust.audit import audit
from probes_helpers import program_source, readelf_notes

EXPECTED = ["foo:bar", "foo:big", "foo:neg", "foo:tick-tock"]  # from PROVIDER, by hand
FORCE = ("--cfg", "illumos_rust_probes_standard", "-O")
x86_only = pytest.mark.skipif(platform.machine() != "x86_64", reason="the standard backend's asm is x86-64")


def _probe_findings(path: object) -> tuple[dict[str, object], list[str]]:
    report = audit(str(path))
    return report.facts["probes"], [f.rule for f in report.findings if f.rule.startswith("probes-")]


@x86_only
def test_registered_usdt_probes_are_information_only() -> None:
    require_tool("rustc")
    exe = build_rust(program_source(), "audit_probes_registered", *FORCE)
    facts, rules = _probe_findings(exe)
    assert facts["count"] == 4 and facts["sources"] == ["usdt"] and facts["registered"] is True
    assert sorted({f"{p['provider']}:{p['probe']}" for p in facts["probes"]}) == EXPECTED  # type: ignore[attr-defined]
    assert rules == ["probes-present"]


@x86_only
def test_usdt_records_without_registration_are_a_warning() -> None:
    require_tool("rustc")
    source = program_source().replace(
        "let registered = probes::register_probes();",
        'let registered: Result<(), String> = Err("off".into());',
    )
    assert "register_probes()" not in source.split("fn main()")[1]
    exe = build_rust(source, "audit_probes_unregistered", *FORCE)
    facts, rules = _probe_findings(exe)
    assert facts["count"] == 4 and facts["registered"] is False
    assert sorted(rules) == ["probes-present", "probes-unregistered"]


def test_systemtap_notes_are_listed_like_readelf() -> None:
    require_tool("rustc")
    exe = build_rust(program_source(), "audit_probes_stapsdt", "-O")
    facts, rules = _probe_findings(exe)
    oracle = sorted({f"{n['provider']}:{n['name'].replace('__', '-')}" for n in readelf_notes(exe)})
    assert oracle == EXPECTED
    assert facts["sources"] == ["stapsdt"] and rules == ["probes-present"]
    assert sorted({f"{p['provider']}:{p['probe']}" for p in facts["probes"]}) == EXPECTED  # type: ignore[attr-defined]


def test_a_binary_without_probes_has_no_probe_finding() -> None:
    require_tool("rustc")
    exe = build_rust('fn main() { println!("hi"); }', "audit_probes_none")
    facts, rules = _probe_findings(exe)
    assert facts == {"count": 0} and rules == []
