"""Static probes for Rust: D provider files, generated probe modules, and listing the probes in an ELF file.

``dparse`` reads provider files, ``gen`` writes the Rust module, ``dof`` encodes and decodes DOF, and
``listing`` finds usdt records, DOF sections and SystemTap notes in a binary (shared/notes/observability.md).
"""
