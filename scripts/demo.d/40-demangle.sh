# demangle: a stream filter over readelf output of the program built above (legacy and v0 names).
section "demangle: readelf -Ws output through the filter (legacy names of the program, v0 names of std)"
readelf -Ws "$OUT/hello" > "$OUT/hello.syms"
{ grep -E 'hello4main|lang_start' "$OUT/hello.syms" || true; grep -m2 ' _RNvNtNtCs' "$OUT/hello.syms" || true; } \
  | $IR demangle
