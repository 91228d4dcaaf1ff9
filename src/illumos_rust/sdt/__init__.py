"""Static-probe formats in binaries (a foundation): DOF (illumos ``sys/dtrace.h``), usdt-crate records in
``set_dtrace_probes`` and SystemTap ``.note.stapsdt`` notes, with the lister that finds all three.

Kept out of the ``probes`` capability (the D parser and the Rust generator) so that ``audit`` can report the
probes a binary carries with the same reader: capabilities do not import each other.
"""
