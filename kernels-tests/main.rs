//! Every kernel against a plain CPU reference that accumulates in f64, on fresh
//! random inputs, odd sizes and poisoned outputs, compared by relative error.
//! Runs on whatever adapter the runtime picks (lavapipe in CI).

mod common;

mod conv;
mod dropout;
mod elementwise;
mod embedding;
mod lstm;
mod matmul;
mod reduce;
mod runtime;
mod shaders;
