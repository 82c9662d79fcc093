//! Where one DAMSM training step spends its time (device-synchronised phases).
use std::time::Instant;

use wgpu_attngan::autograd::Var;
use wgpu_attngan::models::damsm::{sentence_loss, word_loss, Damsm, DamsmConfig};
use wgpu_attngan::Runtime;
use wgpu_attngan::Tensor;

fn main() -> wgpu_attngan::Result<()> {
    let rt = Runtime::new()?;
    let (b, s) = (16usize, 64usize);
    let model = Damsm::new(&rt, DamsmConfig::new(100), 0)?;
    let img: Vec<f32> = (0..b * 3 * s * s)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let images = Tensor::from_slice(&rt, &img, &[b, 3, s, s])?;
    let ids: Vec<f32> = (0..b * 18).map(|i| (i % 97 + 2) as f32).collect();
    let ids = Tensor::from_slice(&rt, &ids, &[b, 18])?;
    let lengths: Vec<usize> = (0..b).map(|i| 10 + i % 8).collect();
    let classes: Vec<u32> = (0..b as u32).map(|i| i + 1).collect();
    for _ in 0..3 {
        rt.sync()?;
        let d0 = rt.batch_stats().dispatches;
        let t = Instant::now();
        let (words, sent) = model
            .text
            .forward(&model.text_params, &ids, &lengths, true, 1)?;
        rt.sync()?;
        let t_text = t.elapsed();
        let (regions, global) =
            model
                .image
                .forward(&model.image_params, &Var::constant(images.clone()), true)?;
        rt.sync()?;
        let t_img = t.elapsed();
        let (w0, w1) = word_loss(&words, &regions, &lengths, None, &classes, &model.config)?;
        rt.sync()?;
        let t_word = t.elapsed();
        let (s0, s1) = sentence_loss(&global, &sent, None, &classes, 10.0)?;
        let total = w0.add(&w1)?.add(&s0)?.add(&s1)?;
        rt.sync()?;
        let t_loss = t.elapsed();
        let d1 = rt.batch_stats().dispatches;
        total.backward()?;
        rt.sync()?;
        let t_back = t.elapsed();
        let d2 = rt.batch_stats().dispatches;
        println!(
            "text {:?} image {:?} word-loss {:?} sent-loss {:?} backward {:?} | dispatches fwd {} bwd {}",
            t_text, t_img - t_text, t_word - t_img, t_loss - t_word, t_back - t_loss, d1 - d0, d2 - d1
        );
    }
    Ok(())
}
