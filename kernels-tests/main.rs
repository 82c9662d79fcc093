//! Every kernel against a plain CPU reference that accumulates in f64, on fresh
//! random inputs, odd sizes and poisoned outputs, compared by relative error.
//! Runs on whatever adapter the runtime picks (lavapipe in CI).

mod common;
mod gradcheck;

mod adam;
mod autograd;
mod axpby;

mod activation;
mod attention;
mod batch_norm;
mod bce;
mod concat;
mod conv;
mod cosine;
mod dropout;
mod elementwise;
mod embedding;
mod glu;
mod lstm;
mod matmul;
mod pad2d;
mod pool;
mod profile;
mod reduce;
mod rgba;
mod runtime;
mod shaders;
mod softmax;
mod swap01;
mod transpose;
mod upsample;
