"""Parser for D provider files: what ``dtrace -h`` accepts, not just the usdt crate's subset.

A provider file declares ``provider NAME { probe NAME(TYPE, ...); ... };`` items. The usdt crate's grammar
(``dtrace-parser/src/dtrace.pest``) accepts only ``intN_t``/``uintN_t``/``char*`` and refuses ``int``,
``unsigned long`` or ``uint8_t *`` with a space, so the seed's own ``probe bar(int, char *)`` fails there.
Here every C integer spelling, the usual system typedefs, pointers to them, ``typedef``s made in the file,
parameter names, comments and ``#pragma D`` lines are accepted (shared/notes/observability.md §1.2).

Types are resolved for LP64 (x86-64/aarch64, the targets the generated code supports). Errors name the
line and column and carry the source line for a compiler-style caret display.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import FormatError
from ..rust_keywords import KEYWORDS

# usdt's limits (usdt-impl common.rs / dtrace-parser lib.rs): six argument registers on x86-64
# (rdi rsi rdx rcx r8 r9) and aarch64 (x0-x5); the probe names it refuses; the name lengths its
# registration keeps (a provider gets the pid appended in a 64-byte field, probes are capped at 63).
MAX_ARGS = 6
RESERVED_PROBE_NAMES = frozenset({"probe", "start"})
MAX_PROVIDER_NAME = 57
MAX_PROBE_NAME = 63

# Names the generated Rust module uses as module and macro names: Rust keywords cannot be either.
RUST_KEYWORDS = KEYWORDS


@dataclass(frozen=True)
class CType:
    """One argument type, resolved to what a register carries on LP64.

    ``spelling`` is the canonical C spelling written into records and DOF (a file's own typedefs are
    resolved, since the kernel does not know them); ``declared`` is what the file wrote.
    """

    spelling: str
    declared: str
    kind: str  # "int", "ptr" (a raw pointer) or "string" (char * / const char *: a NUL-terminated copy)
    size: int  # bytes of the value (8 for any pointer)
    signed: bool
    rust: str  # the Rust type the probe macro's closure must produce

    @property
    def is_string(self) -> bool:
        return self.kind == "string"


@dataclass(frozen=True)
class Probe:
    name: str  # as written in the file (``stop__now``)
    args: tuple[CType, ...]
    arg_names: tuple[str | None, ...]
    line: int
    column: int

    @property
    def dtrace_name(self) -> str:
        """The name DTrace shows: ``__`` becomes ``-`` (illumos ``dt_link.c`` strhyphenate; usdt does too)."""
        return self.name.replace("__", "-")


@dataclass(frozen=True)
class Provider:
    name: str
    probes: tuple[Probe, ...]
    line: int
    column: int
    # ``#pragma D attributes N/D/C provider PROV ENTITY`` values: entity -> "Evolving/Evolving/Common".
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderFile:
    providers: tuple[Provider, ...]
    pragmas: tuple[str, ...]  # every #pragma line, verbatim, in order
    typedefs: dict[str, CType]


class ProviderSyntaxError(FormatError):
    """A provider file error at a line and column, shown like a compiler's (``str()`` is one line)."""

    def __init__(self, path: str, line: int, column: int, what: str, source_line: str, offset: int) -> None:
        self.line = line
        self.column = column
        self.source_line = source_line
        super().__init__(path, offset, what)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: error: {self.what}"

    def caret(self) -> str:
        """The offending source line and a caret under the column, for the lines after ``str()``."""
        shown = self.source_line.expandtabs(1)
        return f"  {shown}\n  {' ' * (self.column - 1)}^"


# -- the C integer types --------------------------------------------------------------------------------
# (size, signed, rust) for LP64; plain char is signed on x86-64 (c_char follows the target in Rust).
_BASE_WORDS: dict[tuple[str, ...], tuple[str, int, bool, str]] = {}


def _base(spelling: str, size: int, signed: bool, rust: str, *spellings: str) -> None:
    for sp in (spelling, *spellings):
        _BASE_WORDS[tuple(sorted(sp.split()))] = (spelling, size, signed, rust)


_base("char", 1, True, "::core::ffi::c_char")
_base("signed char", 1, True, "i8")
_base("unsigned char", 1, False, "u8")
_base("short", 2, True, "i16", "short int", "signed short", "signed short int")
_base("unsigned short", 2, False, "u16", "unsigned short int")
_base("int", 4, True, "i32", "signed", "signed int")
_base("unsigned", 4, False, "u32", "unsigned int")
_base("long", 8, True, "i64", "long int", "signed long", "signed long int")
_base("unsigned long", 8, False, "u64", "unsigned long int")
_base("long long", 8, True, "i64", "long long int", "signed long long", "signed long long int")
_base("unsigned long long", 8, False, "u64", "unsigned long long int")

_INT_WORDS = frozenset({"char", "short", "int", "long", "signed", "unsigned"})

# System typedefs a provider file may use without declaring them (illumos sys/int_types.h, sys/types.h).
_SYSTEM_TYPEDEFS: dict[str, tuple[int, bool, str]] = {
    "int8_t": (1, True, "i8"),
    "int16_t": (2, True, "i16"),
    "int32_t": (4, True, "i32"),
    "int64_t": (8, True, "i64"),
    "uint8_t": (1, False, "u8"),
    "uint16_t": (2, False, "u16"),
    "uint32_t": (4, False, "u32"),
    "uint64_t": (8, False, "u64"),
    "intptr_t": (8, True, "isize"),
    "uintptr_t": (8, False, "usize"),
    "size_t": (8, False, "usize"),
    "ssize_t": (8, True, "isize"),
    "ptrdiff_t": (8, True, "isize"),
    "off_t": (8, True, "i64"),
    "hrtime_t": (8, True, "i64"),
    "pid_t": (4, True, "i32"),
    "id_t": (4, True, "i32"),
    "zoneid_t": (4, True, "i32"),
    "uid_t": (4, False, "u32"),
    "gid_t": (4, False, "u32"),
    "uchar_t": (1, False, "u8"),
    "ushort_t": (2, False, "u16"),
    "uint_t": (4, False, "u32"),
    "ulong_t": (8, False, "u64"),
    "u_longlong_t": (8, False, "u64"),
    "longlong_t": (8, True, "i64"),
}

_UNSUPPORTED = {
    "float": "floating-point arguments are not passed in integer registers; use an integer type",
    "double": "floating-point arguments are not passed in integer registers; use an integer type",
    "string": "D's 'string' is not a C type in a provider file; use 'char *'",
    "struct": "struct arguments are not supported; pass a pointer as 'uintptr_t' or 'void *'",
    "union": "union arguments are not supported; pass a pointer as 'uintptr_t' or 'void *'",
    "enum": "enum arguments are not supported; use an integer type",
}

_TOKEN = re.compile(
    r"(?P<ws>[ \t\r\f\v]+)|(?P<nl>\n)|(?P<comment>/\*.*?\*/|//[^\n]*)|(?P<open_comment>/\*)"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|(?P<number>[0-9]+)|(?P<punct>[{}();,*:\[\]])|(?P<other>.)",
    re.S,
)


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    offset: int


class _Parser:
    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path
        self.toks: list[_Tok] = []
        self.pragmas: list[str] = []
        self.pragma_offsets: list[int] = []
        self._lex()
        self.i = 0
        self.typedefs: dict[str, CType] = {}

    # -- positions and errors ---------------------------------------------------------------------------
    def error(self, offset: int, what: str) -> ProviderSyntaxError:
        line = self.text.count("\n", 0, offset) + 1
        start = self.text.rfind("\n", 0, offset) + 1
        end = self.text.find("\n", offset)
        source = self.text[start : end if end >= 0 else len(self.text)]
        return ProviderSyntaxError(self.path, line, offset - start + 1, what, source, offset)

    def _lex(self) -> None:
        at_line_start = True
        pos = 0
        n = len(self.text)
        while pos < n:
            if at_line_start:
                m = re.compile(r"[ \t]*#").match(self.text, pos)
                if m:
                    end = self.text.find("\n", pos)
                    end = n if end < 0 else end
                    line = self.text[pos:end].strip()
                    if re.match(r"#\s*pragma\b", line):
                        self.pragmas.append(line)
                        self.pragma_offsets.append(pos)
                    elif re.fullmatch(r"#\s*(line\s+)?\d+.*", line) or line == "#":
                        pass  # cpp line markers, as in a preprocessed file
                    else:
                        raise self.error(
                            m.end() - 1,
                            "preprocessor directive other than #pragma: run the file through cpp first "
                            "(as 'dtrace -C' does)",
                        )
                    pos = end
                    continue
            m = _TOKEN.match(self.text, pos)
            assert m is not None  # the pattern's last alternative matches any character
            kind = m.lastgroup or "other"
            if kind == "open_comment":
                raise self.error(pos, "unterminated comment")
            if kind == "other":
                raise self.error(pos, f"unexpected character {m.group()!r}")
            if kind == "nl":
                at_line_start = True
            elif kind not in ("ws", "comment"):
                at_line_start = False
                self.toks.append(_Tok(kind, m.group(), pos))
            elif kind == "comment" and "\n" in m.group():
                at_line_start = False
            pos = m.end()
        self.toks.append(_Tok("eof", "", n))

    # -- token helpers ----------------------------------------------------------------------------------
    def peek(self, k: int = 0) -> _Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> _Tok:
        tok = self.peek()
        self.i = min(self.i + 1, len(self.toks) - 1)
        return tok

    def expect(self, text: str, context: str) -> _Tok:
        tok = self.next()
        if tok.text != text or tok.kind == "eof":
            found = "end of file" if tok.kind == "eof" else repr(tok.text)
            raise self.error(tok.offset, f"expected '{text}' {context}, found {found}")
        return tok

    def ident(self, context: str) -> _Tok:
        tok = self.next()
        if tok.kind != "ident":
            found = "end of file" if tok.kind == "eof" else repr(tok.text)
            raise self.error(tok.offset, f"expected {context}, found {found}")
        return tok

    # -- grammar ----------------------------------------------------------------------------------------
    def parse(self) -> ProviderFile:
        providers: list[Provider] = []
        seen: dict[str, int] = {}
        while self.peek().kind != "eof":
            tok = self.peek()
            if tok.text == "provider":
                prov = self.provider()
                if prov.name in seen:
                    raise self.error(tok.offset, f"provider '{prov.name}' is declared twice")
                seen[prov.name] = tok.offset
                providers.append(prov)
            elif tok.text == "typedef":
                self.typedef()
            elif tok.text == ";":
                self.next()
            else:
                raise self.error(tok.offset, f"expected 'provider' or 'typedef', found {tok.text!r}")
        attrs = self._attributes({p.name for p in providers})
        providers = [Provider(p.name, p.probes, p.line, p.column, attrs.get(p.name, {})) for p in providers]
        return ProviderFile(tuple(providers), tuple(self.pragmas), dict(self.typedefs))

    def _attributes(self, names: set[str]) -> dict[str, dict[str, str]]:
        """``#pragma D attributes N/D/C provider PROV ENTITY`` (illumos dt_pragma.c) for these providers."""
        out: dict[str, dict[str, str]] = {}
        for line, offset in zip(self.pragmas, self.pragma_offsets, strict=True):
            words = line.lstrip("#").split()
            if len(words) >= 4 and words[:3] == ["pragma", "D", "attributes"]:
                if len(words) != 7 or words[4] != "provider":
                    continue  # attributes of other things (one probe, translators): kept verbatim
                attr, prov, entity = words[3], words[5], words[6]
                if prov not in names:
                    continue
                if entity not in ("provider", "module", "function", "name", "args"):
                    raise self.error(offset, f"unknown attribute entity '{entity}' in #pragma D attributes")
                parts = attr.split("/")
                if len(parts) != 3 or parts[0] not in STABILITY or parts[1] not in STABILITY:
                    raise self.error(offset, f"bad attribute '{attr}': expected name/data/class")
                if parts[2] not in DEPCLASS:
                    raise self.error(offset, f"bad dependency class '{parts[2]}' in '{attr}'")
                out.setdefault(prov, {})[entity] = attr
        return out

    def provider(self) -> Provider:
        start = self.expect("provider", "")
        name_tok = self.ident("a provider name")
        name = name_tok.text
        self._check_name(name_tok, "provider")
        if len(name) > MAX_PROVIDER_NAME:
            raise self.error(
                name_tok.offset,
                f"provider name '{name}' is {len(name)} bytes; at most {MAX_PROVIDER_NAME} fit "
                "(DTrace appends the pid within 64 bytes)",
            )
        self.expect("{", "after the provider name")
        probes: list[Probe] = []
        names: set[str] = set()
        while self.peek().text != "}":
            tok = self.peek()
            if tok.kind == "eof":
                raise self.error(tok.offset, f"provider '{name}' is not closed with '}}'")
            probe = self.probe()
            if probe.name in names:
                raise self.error(tok.offset, f"probe '{probe.name}' is declared twice in provider '{name}'")
            names.add(probe.name)
            probes.append(probe)
        self.expect("}", "")
        self.expect(";", "after the provider's closing brace")
        line, col = self._line_col(start.offset)
        return Provider(name, tuple(probes), line, col)

    def _line_col(self, offset: int) -> tuple[int, int]:
        line = self.text.count("\n", 0, offset) + 1
        return line, offset - (self.text.rfind("\n", 0, offset) + 1) + 1

    def _check_name(self, tok: _Tok, what: str) -> None:
        if tok.text in RUST_KEYWORDS:
            raise self.error(
                tok.offset, f"{what} name '{tok.text}' is a Rust keyword and cannot name the generated item"
            )

    def probe(self) -> Probe:
        self.expect("probe", "(each declaration in a provider is 'probe NAME(ARGS);')")
        name_tok = self.ident("a probe name")
        name = name_tok.text
        if name in RESERVED_PROBE_NAMES:
            raise self.error(name_tok.offset, f"probe name '{name}' is reserved (the usdt crate refuses it)")
        self._check_name(name_tok, "probe")
        if len(name.replace("__", "-")) > MAX_PROBE_NAME:
            raise self.error(name_tok.offset, f"probe name '{name}' is longer than {MAX_PROBE_NAME} bytes")
        self.expect("(", "after the probe name")
        args: list[CType] = []
        arg_names: list[str | None] = []
        if self.peek().text == "void" and self.peek(1).text == ")":
            self.next()
        elif self.peek().text != ")":
            while True:
                arg_tok = self.peek()
                ctype, pname = self.declaration(allow_name=True)
                if len(args) == MAX_ARGS:
                    raise self.error(
                        arg_tok.offset,
                        f"probe '{name}' has more than {MAX_ARGS} arguments; at most {MAX_ARGS} fit the "
                        "argument registers on x86-64 and aarch64",
                    )
                if ctype.kind == "void":
                    raise self.error(arg_tok.offset, "an argument cannot be 'void' (did you mean 'void *'?)")
                args.append(ctype)
                arg_names.append(pname)
                if self.peek().text == ",":
                    self.next()
                    continue
                break
        self.expect(")", "after the probe arguments")
        if self.peek().text == ":":
            raise self.error(
                self.peek().offset, "argument translators (': (types)' after the arguments) are not supported"
            )
        self.expect(";", "after the probe declaration")
        line, col = self._line_col(name_tok.offset)
        return Probe(name, tuple(args), tuple(arg_names), line, col)

    def typedef(self) -> None:
        self.expect("typedef", "")
        ctype, name = self.declaration(allow_name=True)
        if name is None:
            tok = self.peek()
            raise self.error(tok.offset, "expected the new type's name in typedef")
        if ctype.kind == "void":
            raise self.error(self.peek().offset, "typedef of 'void' cannot be an argument type")
        self.typedefs[name] = CType(ctype.spelling, name, ctype.kind, ctype.size, ctype.signed, ctype.rust)
        self.expect(";", "after the typedef")

    def declaration(self, *, allow_name: bool) -> tuple[CType, str | None]:
        """``[const|volatile]* BASE [const]* ('*' [const]*)* [NAME]``."""
        start = self.peek()
        words: list[str] = []
        named: str | None = None  # a typedef name (system or the file's)
        first_word = None
        while True:
            tok = self.peek()
            if tok.kind != "ident":
                break
            if tok.text in ("const", "volatile"):
                self.next()
                continue
            if tok.text in _UNSUPPORTED:
                raise self.error(tok.offset, _UNSUPPORTED[tok.text])
            if tok.text in _INT_WORDS and named is None:
                if first_word is None:
                    first_word = tok
                words.append(tok.text)
                self.next()
                continue
            if not words and named is None and (tok.text in self.typedefs or tok.text in _SYSTEM_TYPEDEFS):
                named = tok.text
                self.next()
                continue
            if not words and named is None and tok.text == "void":
                named = "void"
                self.next()
                continue
            break
        if not words and named is None:
            tok = self.peek()
            if tok.kind == "ident":
                raise self.error(tok.offset, f"unknown type '{tok.text}' (declare it with typedef first)")
            found = "end of file" if tok.kind == "eof" else repr(tok.text)
            raise self.error(tok.offset, f"expected a type, found {found}")
        stars = 0
        while self.peek().text in ("*", "const", "volatile"):
            if self.next().text == "*":
                stars += 1
        name: str | None = None
        if allow_name and self.peek().kind == "ident":
            name = self.next().text
        if self.peek().text == "[":
            raise self.error(self.peek().offset, "array arguments are not supported; pass a pointer")
        base = self._base(words, named, start)
        return _pointer(base, stars), name

    def _base(self, words: list[str], named: str | None, start: _Tok) -> CType:
        if named == "void":
            return CType("void", "void", "void", 0, False, "::core::ffi::c_void")
        if named is not None:
            if named in self.typedefs:
                return self.typedefs[named]
            size, signed, rust = _SYSTEM_TYPEDEFS[named]
            return CType(named, named, "int", size, signed, rust)
        key = tuple(sorted(words))
        found = _BASE_WORDS.get(key)
        if found is None:
            raise self.error(start.offset, f"'{' '.join(words)}' is not a C integer type")
        spelling, size, signed, rust = found
        return CType(spelling, " ".join(words), "int", size, signed, rust)


def _pointer(base: CType, stars: int) -> CType:
    if stars == 0:
        return base
    if base.kind == "string":  # a typedef of char *: one level is already there
        base = CType("char", "char", "int", 1, True, "::core::ffi::c_char")
        stars += 1
    if stars == 1 and base.spelling == "char":
        return CType("char *", base.declared + " *", "string", 8, False, "&str")
    stars_text = " " + "*" * stars
    return CType(
        base.spelling + stars_text, base.declared + stars_text, "ptr", 8, False, "*const " * stars + base.rust
    )


# Stability and dependency classes (illumos sys/dtrace.h DTRACE_STABILITY_*, DTRACE_CLASS_*), in order.
STABILITY = (
    "Internal",
    "Private",
    "Obsolete",
    "External",
    "Unstable",
    "Evolving",
    "Stable",
    "Standard",
)
DEPCLASS = ("Unknown", "CPU", "Platform", "Group", "ISA", "Common")


def parse_provider_text(text: str, path: str = "<input>") -> ProviderFile:
    """Parse a provider file's text; raises ``ProviderSyntaxError`` with line and column."""
    return _Parser(text, path).parse()


def parse_provider_file(path: str) -> ProviderFile:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise FormatError(path, None, f"cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(path, exc.start, "provider file is not UTF-8 text") from None
    return parse_provider_text(text, path)
