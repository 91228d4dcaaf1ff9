"""Shared pieces of the probe tests: a provider file, a program using it, readelf's view of notes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from illumos_rust.probes.dparse import parse_provider_text
from illumos_rust.probes.gen import generate

PROVIDER = """\
/* The end-to-end test provider: ints, negative ints, a string, unsigned extremes, no arguments. */
#pragma D attributes Evolving/Evolving/Common provider foo provider
#pragma D attributes Private/Private/Unknown provider foo function
#pragma D attributes Evolving/Evolving/ISA provider foo args
typedef unsigned long long big_t;
provider foo {
    probe bar(int n, char *label);
    probe neg(long a, short b, signed char c);
    probe big(big_t a, int32_t b, uint32_t c);
    probe tick__tock();
};
"""

PROGRAM = """\
mod probes {
@MODULE@
}
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
static BAR: AtomicUsize = AtomicUsize::new(0);
static NEG: AtomicUsize = AtomicUsize::new(0);

#[no_mangle]
#[inline(never)]
pub fn probe_work(n: i32, label: &str) {
    probes::foo::bar!(|| { BAR.fetch_add(1, SeqCst); (n, label) });
    probes::foo::neg!(|| { NEG.fetch_add(1, SeqCst); (-7i64 * n as i64, -2i16, -1i8) });
    probes::foo::big!(|| (u64::MAX - 1, i32::MIN, u32::MAX));
    probes::foo::tick__tock!();
}

fn main() {
    let registered = probes::register_probes();
    let label = String::from("hello probe");
    probe_work(std::hint::black_box(3), &label);
    println!("bar={} neg={}", BAR.load(SeqCst), NEG.load(SeqCst));
    @EXTRA@
    match registered {
        Ok(()) => println!("registered"),
        Err(e) => println!("register_probes: {e}"),
    }
}
"""

DOF_DUMP = """
    let (image, module) = probes::__registration::dof_image();
    let hex: String = image.iter().map(|b| format!("{b:02x}")).collect();
    println!("module={module}");
    println!("dof={hex}");
"""


def module_source() -> str:
    return generate(parse_provider_text(PROVIDER, "foo.d"), "foo.d")


def program_source(extra: str = "") -> str:
    return PROGRAM.replace("@MODULE@", module_source()).replace("@EXTRA@", extra)


def readelf_notes(path: Path) -> list[dict[str, str]]:
    """The stapsdt notes as ``readelf -n`` prints them."""
    out = subprocess.run(["readelf", "-n", str(path)], capture_output=True, text=True, check=True).stdout
    notes = []
    for m in re.finditer(
        r"Provider: (\S+)\n\s+Name: (\S+)\n\s+Location: (0x[0-9a-f]+), Base: (0x[0-9a-f]+), "
        r"Semaphore: (0x[0-9a-f]+)\n\s+Arguments: ?(.*)",
        out,
    ):
        notes.append(
            {
                "provider": m.group(1),
                "name": m.group(2),
                "location": m.group(3),
                "base": m.group(4),
                "semaphore": m.group(5),
                "args": m.group(6).strip(),
            }
        )
    return notes
