//! Device time of each op of DAMSM's batched word scores (B = 16, D = 256, R = 64, T = 18).
use wgpu_attngan::autograd::{self as ag, Var};
use wgpu_attngan::ops::fill;
use wgpu_attngan::{Runtime, Tensor};

fn main() -> wgpu_attngan::Result<()> {
    let rt = Runtime::new()?;
    let (b, d, r, t) = (16usize, 256usize, 64usize, 18usize);
    let det = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
            .collect()
    };
    let words = Var::leaf(Tensor::from_slice(&rt, &det(b * d * t), &[b, d, t])?);
    let regions = Var::leaf(Tensor::from_slice(&rt, &det(b * d * r), &[b, d, r])?);
    let excluded = Tensor::from_slice(&rt, &vec![0.0; b * t], &[b, t])?;
    for round in 0..2 {
        let mut v: Option<Var> = None;
        let step = |name: &str,
                    f: &mut dyn FnMut() -> wgpu_attngan::Result<Var>|
         -> wgpu_attngan::Result<Var> {
            let mut out = None;
            let ms = rt.time(|| {
                out = Some(f()?);
                Ok(())
            })?;
            if round == 1 {
                println!("{name:<28} {ms:8.2} ms");
            }
            Ok(out.unwrap())
        };
        let regions_t = step("transpose regions", &mut || ag::transpose_last2(&regions))?;
        let attn = step("scores matmul", &mut || {
            regions_t.reshape(&[b * r, d])?.matmul(&words, false, false)
        })?;
        let attn = step("softmax over words", &mut || {
            ag::masked_softmax(&attn, 2, 1.0, Some(&excluded))
        })?;
        let attn = step("softmax over regions", &mut || {
            ag::masked_softmax(&attn.reshape(&[b, b, r, t])?, 2, 4.0, None)
        })?;
        let ctx = step("context matmul", &mut || {
            attn.reshape(&[b * b, r, t])?
                .matmul(&regions_t, true, false)
        })?;
        let ones = Var::constant(fill::full(&rt, &[1, b, 1, 1], 1.0)?);
        let wt = step("words broadcast", &mut || {
            ag::transpose_last2(&words)?
                .reshape(&[b, 1, t, d])?
                .mul(&ones)
        })?;
        let cos = step("cosine", &mut || {
            ag::cosine_similarity(&wt, &ctx.reshape(&[b, b, t, d])?, 3)
        })?;
        let s = step("exp-sum-log", &mut || {
            cos.mul_scalar(5.0)?.exp()?.sum(2, false)?.log()
        })?;
        let total = s.sum_all()?;
        let ms = rt.time(|| total.backward())?;
        if round == 1 {
            println!("{:<28} {ms:8.2} ms", "backward (all)");
        }
        v.replace(total);
    }
    Ok(())
}
