//! Reverse-mode autodiff on device tensors.
//!
//! A [`Var`] is a tensor plus, when it was computed from inputs that need
//! gradients, the closure that maps its output gradient to its inputs'
//! gradients (the op's backward, written next to its forward in the files of
//! this module). `backward()` sorts the graph below a loss topologically and
//! runs those closures in reverse order, accumulating gradients; each closure
//! is consumed as it runs, so the activations it saved are released as soon
//! as the backward pass is done with them.
//!
//! What GAN training needs: several independent backward passes per step (each
//! loss has its own graph), [`Var::detach`] (D trains on G's output without
//! reaching G), [`no_grad`] for sampling and evaluation, frozen parameters
//! (leaves with `requires_grad` off), zeroing gradients. And, for DF-GAN's
//! gradient penalty, gradients that are themselves differentiable
//! ([`grad`] with `create_graph`, higher.rs).

pub mod attention;
pub mod basic;
pub mod batch_norm;
pub mod bce;
pub mod concat;
pub mod conv;
pub mod cosine;
pub mod dropout;
pub mod embedding;
pub mod glu;
pub mod higher;
pub mod lstm;
pub mod pool;
pub mod softmax;
pub mod transpose;
pub mod upsample;

// One file per op, named as in ops/; the functions are used from here
// (`autograd::glu(&x)`), the elementwise ops, reductions and matmul as
// methods of [`Var`] (basic.rs).
pub use attention::word_attention;
pub use batch_norm::batch_norm;
pub use bce::bce_with_logits;
pub use concat::{concat, narrow};
pub use conv::{conv2d, conv_transpose2d};
pub use cosine::cosine_similarity;
pub use dropout::dropout;
pub use embedding::embedding;
pub use glu::glu;
pub use higher::grad;
pub use lstm::{last_state, lstm};
pub use pool::{avg_pool2d, global_avg_pool};
pub use softmax::{cross_entropy, masked_softmax};
pub use transpose::transpose_last2;
pub use upsample::{bilinear_matrix, resize_bilinear, upsample2x};

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::ops::fill;
use crate::runtime::{Result, Tensor};

/// Maps the gradient of an op's output to the gradients of its inputs (None
/// where an input needs none).
pub type BackwardFn = Box<dyn FnOnce(&Tensor) -> Result<Vec<Option<Tensor>>> + Send>;

struct Node {
    id: u64,
    value: Tensor,
    requires_grad: AtomicBool,
    /// The op that made this value and its inputs; empty for leaves.
    grad_fn: Mutex<Option<(BackwardFn, Vec<Var>)>>,
    /// Accumulated gradient of a leaf.
    grad: Mutex<Option<Tensor>>,
    /// The op's second-order rule, where it has one (higher.rs).
    rule: std::sync::OnceLock<higher::Rule>,
}

/// A tensor in the autodiff graph; cheap to clone.
#[derive(Clone)]
pub struct Var(Arc<Node>);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static NO_GRAD: Cell<usize> = const { Cell::new(0) };
}

/// Runs `f` without recording the graph (sampling, evaluation).
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    struct Guard;
    impl Drop for Guard {
        fn drop(&mut self) {
            NO_GRAD.with(|c| c.set(c.get() - 1));
        }
    }
    NO_GRAD.with(|c| c.set(c.get() + 1));
    let _guard = Guard;
    f()
}

/// Whether ops record the graph right now.
pub fn grad_enabled() -> bool {
    NO_GRAD.with(|c| c.get() == 0)
}

impl Var {
    fn make(value: Tensor, requires_grad: bool, grad_fn: Option<(BackwardFn, Vec<Var>)>) -> Var {
        Var(Arc::new(Node {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            value,
            requires_grad: AtomicBool::new(requires_grad),
            grad_fn: Mutex::new(grad_fn),
            grad: Mutex::new(None),
            rule: std::sync::OnceLock::new(),
        }))
    }

    /// A leaf that needs no gradient (data, targets).
    pub fn constant(value: Tensor) -> Var {
        Var::make(value, false, None)
    }

    /// A leaf whose gradient is accumulated by `backward` (parameters, test inputs).
    pub fn leaf(value: Tensor) -> Var {
        Var::make(value, true, None)
    }

    /// A leaf whose gradient accumulates into the given tensor (a view of a
    /// parameter store's flat gradient buffer).
    pub fn leaf_with_grad(value: Tensor, grad: Tensor) -> Var {
        let v = Var::make(value, true, None);
        *v.0.grad.lock().unwrap() = Some(grad);
        v
    }

    /// The result of an op: records `backward` if any input needs a gradient
    /// and recording is on.
    pub fn from_op(
        value: Tensor,
        inputs: &[&Var],
        backward: impl FnOnce(&Tensor) -> Result<Vec<Option<Tensor>>> + Send + 'static,
    ) -> Var {
        let needs = grad_enabled() && inputs.iter().any(|v| v.requires_grad());
        if needs {
            let parents = inputs.iter().map(|v| (*v).clone()).collect();
            Var::make(value, true, Some((Box::new(backward), parents)))
        } else {
            Var::constant(value)
        }
    }

    pub fn value(&self) -> &Tensor {
        &self.0.value
    }

    pub fn shape(&self) -> &[usize] {
        self.0.value.shape()
    }

    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::Relaxed)
    }

    /// Freezes (false) or unfreezes (true) a leaf.
    pub fn set_requires_grad(&self, on: bool) {
        self.0.requires_grad.store(on, Ordering::Relaxed);
    }

    /// The same value cut from the graph: gradients stop here.
    pub fn detach(&self) -> Var {
        Var::constant(self.0.value.clone())
    }

    /// The accumulated gradient of a leaf.
    pub fn grad(&self) -> Option<Tensor> {
        self.0.grad.lock().unwrap().clone()
    }

    /// Zeroes a leaf's gradient in place (or forgets it when it has no buffer of its own).
    pub fn zero_grad(&self) -> Result<()> {
        let g = self.0.grad.lock().unwrap();
        if let Some(g) = g.as_ref() {
            fill::fill_(g, 0.0)?;
        }
        Ok(())
    }

    fn accumulate_leaf(&self, g: Tensor) -> Result<()> {
        let mut slot = self.0.grad.lock().unwrap();
        match slot.as_ref() {
            Some(acc) => crate::ops::axpby::axpby_(&g, acc, 1.0, 1.0)?,
            None => *slot = Some(g),
        }
        Ok(())
    }

    /// Backpropagates from this value with gradient 1 everywhere (a scalar
    /// loss of shape `[1]`); leaves accumulate their gradients.
    pub fn backward(&self) -> Result<()> {
        let ones = fill::full(self.value().runtime(), self.shape(), 1.0)?;
        self.backward_with(ones)
    }

    /// Backpropagates with the given output gradient.
    pub fn backward_with(&self, grad: Tensor) -> Result<()> {
        if !self.requires_grad() {
            return Ok(());
        }
        // Topological order by iterative depth-first search.
        let mut order: Vec<Var> = Vec::new();
        let mut seen: HashSet<u64> = HashSet::new();
        let mut stack: Vec<(Var, bool)> = vec![(self.clone(), false)];
        while let Some((v, expanded)) = stack.pop() {
            if expanded {
                order.push(v);
                continue;
            }
            if !seen.insert(v.0.id) {
                continue;
            }
            stack.push((v.clone(), true));
            if let Some((_, parents)) = v.0.grad_fn.lock().unwrap().as_ref() {
                for p in parents {
                    if p.requires_grad() && !seen.contains(&p.0.id) {
                        stack.push((p.clone(), false));
                    }
                }
            }
        }
        let mut grads: HashMap<u64, Tensor> = HashMap::new();
        grads.insert(self.0.id, grad);
        for v in order.iter().rev() {
            let Some(g) = grads.remove(&v.0.id) else {
                continue;
            };
            let op = v.0.grad_fn.lock().unwrap().take();
            match op {
                None => {
                    if v.requires_grad() {
                        v.accumulate_leaf(g)?;
                    }
                }
                Some((backward, parents)) => {
                    let input_grads = backward(&g)?;
                    for (p, pg) in parents.iter().zip(input_grads) {
                        let Some(pg) = pg else { continue };
                        if !p.requires_grad() {
                            continue;
                        }
                        let merged = match grads.remove(&p.0.id) {
                            Some(acc) => acc.add(&pg)?,
                            None => pg,
                        };
                        grads.insert(p.0.id, merged);
                    }
                }
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for Var {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Var{:?}{}",
            self.shape(),
            if self.requires_grad() { " (grad)" } else { "" }
        )
    }
}
