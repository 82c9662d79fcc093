# Subgroup variant: 8 lanes; A rows loaded one per lane and broadcast; B columns lane + 8c.
import sys
def gen(RB, C, BVEC=False):
    L = []
    L.append("struct P { M: u32, N: u32, K: u32, pad: u32 }")
    L.append("@group(0) @binding(0) var<uniform> p: P;")
    L.append("@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;")
    L.append("@group(0) @binding(2) var<storage, read> b: array<f32>;")
    L.append("@group(0) @binding(3) var<storage, read_write> c: array<f32>;")
    L.append("@compute @workgroup_size(8)")
    L.append("fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {")
    L.append(f"  let m0 = wid.y * {8*RB}u;")
    L.append(f"  let n0 = wid.x * {8*C}u + lid.x;")
    for g in range(RB):
        for r in range(8):
            for c in range(C):
                L.append(f"  var acc{g}_{r}_{c} = 0.0;")
    L.append("  let K4 = p.K / 4u;")
    for g in range(RB):
        L.append(f"  let ar{g} = (m0 + {8*g}u + lid.x) * K4;")
    L.append("  for (var k4 = 0u; k4 < K4; k4++) {")
    for g in range(RB):
        L.append(f"    let a{g} = a[ar{g} + k4];")
    L.append("    let kb = k4 * 4u * p.N + n0;")
    for kk in range(4):
        for c in range(C):
            L.append(f"    let b{kk}_{c} = b[kb + {kk}u * p.N + {c*8}u];")
    comps = "xyzw"
    for kk in range(4):
        for g in range(RB):
            for r in range(8):
                L.append(f"    let s{g}_{r}_{kk} = subgroupBroadcast(a{g}.{comps[kk]}, {r}u);")
                for c in range(C):
                    L.append(f"    acc{g}_{r}_{c} = fma(s{g}_{r}_{kk}, b{kk}_{c}, acc{g}_{r}_{c});")
    L.append("  }")
    for g in range(RB):
        for r in range(8):
            for c in range(C):
                L.append(f"  c[(m0 + {8*g+r}u) * p.N + n0 + {c*8}u] = acc{g}_{r}_{c};")
    L.append("}")
    return "\n".join(L)
RB, C = map(int, sys.argv[1:3])
print(gen(RB, C))
