# ctf: DWARF -> CTF for a Rust program built here with -g, then the types mdb ::print would see.
cat > "$OUT/shapes.rs" <<'RS'
#[derive(Debug)]
pub enum Shape { Circle { r: f64 }, Rect { w: u32, h: u32 }, Empty }
pub struct Canvas<'a> { pub name: &'a str, pub shapes: Vec<Shape>, pub scale: Option<u16> }
#[inline(never)]
pub fn area(c: &Canvas) -> f64 {
    c.shapes.iter().map(|s| match s { Shape::Circle { r } => 3.14 * r * r, Shape::Rect { w, h } => (w * h) as f64, Shape::Empty => 0.0 }).sum()
}
fn main() {
    let c = Canvas { name: "demo", shapes: vec![Shape::Circle { r: 1.0 }, Shape::Rect { w: 2, h: 3 }, Shape::Empty], scale: Some(2) };
    println!("{} {}", c.name, area(&c));
}
RS
rustc -g -o "$OUT/shapes" "$OUT/shapes.rs"
section "ctf convert: add .SUNW_ctf to a Rust program built with -g"
$IR ctf convert "$OUT/shapes"
"$OUT/shapes"
section "ctf dump -t: the Rust types as CTF (Canvas, Shape's discriminant + union of variants)"
$IR ctf dump -t "$OUT/shapes" | grep -E -A6 'struct shapes::(Canvas|Shape)\b' | head -30
