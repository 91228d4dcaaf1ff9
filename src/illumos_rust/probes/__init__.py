"""Static probes for Rust: D provider files, generated probe modules, and listing the probes in an ELF file.

``dparse`` reads provider files and ``gen`` writes the Rust module; the binary formats (DOF encoder and
decoder, the lister of usdt records, DOF sections and SystemTap notes) are the ``sdt`` foundation, which
``audit`` shares (shared/notes/observability.md).
"""
