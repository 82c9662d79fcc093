# Uniform A (scalar loads, rows by workgroup), B per lane contiguous (lane + WG*c).
import sys
def gen(R, C, WG, BT=False):
    L = []
    L.append("struct P { M: u32, N: u32, K: u32, pad: u32 }")
    L.append("@group(0) @binding(0) var<uniform> p: P;")
    L.append("@group(0) @binding(1) var<storage, read> a: array<f32>;")
    L.append("@group(0) @binding(2) var<storage, read> b: array<f32>;")
    L.append("@group(0) @binding(3) var<storage, read_write> c: array<f32>;")
    L.append(f"@compute @workgroup_size({WG})")
    L.append("fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {")
    L.append(f"  let m0 = wid.y * {R}u;")
    L.append(f"  let n0 = wid.x * {WG*C}u + lid.x;")
    for r in range(R):
        for c in range(C):
            L.append(f"  var acc{r}_{c} = 0.0;")
    L.append("  let ab = m0 * p.K;")
    L.append("  for (var k = 0u; k < p.K; k++) {")
    L.append("    let kb = k * p.N + n0;")
    for c in range(C):
        L.append(f"    let b{c} = b[kb + {c*WG}u];")
    for r in range(R):
        L.append(f"    let a{r} = a[ab + {r}u * p.K + k];")
        for c in range(C):
            L.append(f"    acc{r}_{c} = fma(a{r}, b{c}, acc{r}_{c});")
    L.append("  }")
    for r in range(R):
        for c in range(C):
            L.append(f"  c[(m0 + {r}u) * p.N + n0 + {c*WG}u] = acc{r}_{c};")
    L.append("}")
    return "\n".join(L)
R, C, WG = map(int, sys.argv[1:4])
print(gen(R, C, WG))
