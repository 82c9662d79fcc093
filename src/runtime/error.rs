//! One error type for the runtime and everything built on it. Every message
//! names the thing that is wrong and, where there is one, the fix.

/// Errors of the runtime, ops and layers above.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No adapter could be found at all (or none matching WGPU_ADAPTER_NAME / WGPU_BACKEND).
    #[error(
        "no GPU adapter found{details}.\n\
         Install a Vulkan, Metal or DX12 driver for your GPU. On a machine without a GPU, \
         install Mesa's software Vulkan driver (lavapipe): `apt-get install mesa-vulkan-drivers libvulkan1` \
         on Debian/Ubuntu. Run `engine devices` to see what wgpu finds; WGPU_BACKEND and \
         WGPU_ADAPTER_NAME narrow the choice."
    )]
    NoAdapter {
        /// What wgpu saw, per backend.
        details: String,
    },

    /// The adapter refused to create a device.
    #[error("could not open the GPU device {adapter}: {message}")]
    DeviceRequest {
        /// The adapter's name.
        adapter: String,
        /// wgpu's reason.
        message: String,
    },

    /// A device (a host's, or an adapter's) below what the kernels need.
    #[error(
        "the device {adapter} is below what engine's kernels need:\n  {missing}\n         Request at least these limits when creating the device (wgpu::Limits::default() has them)."
    )]
    Limits {
        /// The adapter's name.
        adapter: String,
        /// One line per limit: its name, the device's value and what is needed.
        missing: String,
    },

    /// Two shapes that must agree do not.
    #[error("{op}: shapes do not match: {lhs:?} and {rhs:?}{hint}")]
    Shape {
        /// The op that checked them.
        op: &'static str,
        /// The first shape.
        lhs: Vec<usize>,
        /// The second shape.
        rhs: Vec<usize>,
        /// What they should be, in parentheses, or empty.
        hint: String,
    },

    /// A parameter or argument is out of its valid range.
    #[error("{op}: {message}")]
    Invalid {
        /// The op, command or setting that refused.
        op: &'static str,
        /// What is wrong and the fix.
        message: String,
    },

    /// A tensor larger than the device allows in one buffer.
    #[error(
        "tensor of shape {shape:?} needs {bytes} bytes, over this device's limit of {limit} bytes \
         per storage buffer ({adapter}). Use a smaller batch or resolution."
    )]
    TooLarge {
        /// The shape asked for.
        shape: Vec<usize>,
        /// The bytes it needs.
        bytes: u64,
        /// The device's largest storage buffer binding.
        limit: u64,
        /// The adapter's name.
        adapter: String,
    },

    /// A kernel failed to compile or validate (a bug in our shaders, or a driver problem).
    #[error("kernel {name} failed to build: {message}")]
    Kernel {
        /// The kernel (shaders/NAME.wgsl with its defines).
        name: String,
        /// The compiler's or validator's message.
        message: String,
    },

    /// The device reported an error while running work.
    #[error("GPU device error: {0}")]
    Device(String),

    /// A checkpoint could not be written or read.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// The file.
        path: String,
        /// What is wrong with it, and the fix.
        message: String,
    },

    /// Reading results back from the device failed.
    #[error("reading a tensor back from the GPU failed: {0}")]
    Readback(String),
}

/// The result of every fallible call of the engine.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An [`Error::Invalid`] of `op`.
    pub fn invalid(op: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid {
            op,
            message: message.into(),
        }
    }

    /// An [`Error::Shape`] of `op` without a hint.
    pub fn shape(op: &'static str, lhs: &[usize], rhs: &[usize]) -> Self {
        Error::Shape {
            op,
            lhs: lhs.to_vec(),
            rhs: rhs.to_vec(),
            hint: String::new(),
        }
    }

    /// An [`Error::Shape`] of `op` saying what the shapes should be.
    pub fn shape_hint(
        op: &'static str,
        lhs: &[usize],
        rhs: &[usize],
        hint: impl Into<String>,
    ) -> Self {
        Error::Shape {
            op,
            lhs: lhs.to_vec(),
            rhs: rhs.to_vec(),
            hint: format!(" ({})", hint.into()),
        }
    }
}
