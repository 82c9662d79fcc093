//! Linear, Conv2d and ConvTranspose2d modules.

use super::init::Init;
use super::params::{ParamBuilder, ParamId, ParamStore};
use crate::autograd::{conv, Var};
use crate::runtime::Result;

/// y = x W^T + b. x: [N, in] -> [N, out]; W: [out, in].
pub struct Linear {
    pub weight: ParamId,
    pub bias: Option<ParamId>,
}

impl Linear {
    pub fn new(
        b: &mut ParamBuilder,
        name: &str,
        inputs: usize,
        outputs: usize,
        bias: bool,
        init: Init,
    ) -> Self {
        Linear {
            weight: b.param(format!("{name}.weight"), &[outputs, inputs], init),
            bias: bias.then(|| b.param(format!("{name}.bias"), &[outputs], Init::Zeros)),
        }
    }

    pub fn forward(&self, ps: &ParamStore, x: &Var) -> Result<Var> {
        let y = x.matmul(ps.var(self.weight), false, true)?;
        match self.bias {
            Some(b) => y.add(ps.var(b)),
            None => Ok(y),
        }
    }
}

/// What a convolution layer is: channels in and out, a k x k kernel,
/// stride, zero padding, whether it has a bias, and its weights' init.
#[derive(Clone, Copy, Debug)]
pub struct ConvSpec {
    pub cin: usize,
    pub cout: usize,
    pub k: usize,
    pub stride: usize,
    pub padding: usize,
    pub bias: bool,
    pub init: Init,
}

impl ConvSpec {
    /// Stride 1 with padding k / 2 (the output keeps the input's size for
    /// odd k), no bias.
    pub fn same(cin: usize, cout: usize, k: usize, init: Init) -> ConvSpec {
        ConvSpec::strided(cin, cout, k, 1, k / 2, init)
    }

    /// Any stride and padding, no bias.
    pub fn strided(
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        padding: usize,
        init: Init,
    ) -> ConvSpec {
        ConvSpec {
            cin,
            cout,
            k,
            stride,
            padding,
            bias: false,
            init,
        }
    }

    /// With a bias (initialised to zeros).
    pub fn with_bias(self) -> ConvSpec {
        self.bias(true)
    }

    pub fn bias(self, bias: bool) -> ConvSpec {
        ConvSpec { bias, ..self }
    }
}

/// x: [N, C, H, W] -> [N, O, OH, OW]; weight [O, C, k, k].
pub struct Conv2d {
    pub weight: ParamId,
    pub bias: Option<ParamId>,
    pub stride: usize,
    pub padding: usize,
}

impl Conv2d {
    /// Parameters `{name}.weight` `[cout, cin, k, k]` and, with a bias,
    /// `{name}.bias` `[cout]`.
    pub fn new(b: &mut ParamBuilder, name: &str, spec: ConvSpec) -> Self {
        let ConvSpec {
            cin,
            cout,
            k,
            stride,
            padding,
            bias,
            init,
        } = spec;
        Conv2d {
            weight: b.param(format!("{name}.weight"), &[cout, cin, k, k], init),
            bias: bias.then(|| b.param(format!("{name}.bias"), &[cout], Init::Zeros)),
            stride,
            padding,
        }
    }

    pub fn forward(&self, ps: &ParamStore, x: &Var) -> Result<Var> {
        conv::conv2d(
            x,
            ps.var(self.weight),
            self.bias.map(|b| ps.var(b)),
            self.stride,
            self.padding,
        )
    }
}

/// x: [N, Cin, H, W] -> [N, Cout, (H-1)s - 2p + k, ..]; weight [Cin, Cout, k, k].
pub struct ConvTranspose2d {
    pub weight: ParamId,
    pub bias: Option<ParamId>,
    pub stride: usize,
    pub padding: usize,
}

impl ConvTranspose2d {
    /// `spec.cin` in, `spec.cout` out (the weight is [cin, cout, k, k]).
    pub fn new(b: &mut ParamBuilder, name: &str, spec: ConvSpec) -> Self {
        ConvTranspose2d {
            weight: b.param(
                format!("{name}.weight"),
                &[spec.cin, spec.cout, spec.k, spec.k],
                spec.init,
            ),
            bias: spec
                .bias
                .then(|| b.param(format!("{name}.bias"), &[spec.cout], Init::Zeros)),
            stride: spec.stride,
            padding: spec.padding,
        }
    }

    pub fn forward(&self, ps: &ParamStore, x: &Var) -> Result<Var> {
        conv::conv_transpose2d(
            x,
            ps.var(self.weight),
            self.bias.map(|b| ps.var(b)),
            self.stride,
            self.padding,
        )
    }
}
