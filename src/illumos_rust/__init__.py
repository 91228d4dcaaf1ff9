"""illumos-rust: make Rust a first-class language on illumos and SmartOS.

The package is layered (see DESIGN.md): foundations (``elf``, ``demangle``, ``findings``, ``errors``)
know nothing of the CLI; capabilities (``audit``, ``edit``, ``port``, ``target``) return dataclasses;
``cli`` renders.
"""

__version__ = "0.1.0"
