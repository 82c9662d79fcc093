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
    NoAdapter { details: String },

    /// The adapter refused to create a device.
    #[error("could not open the GPU device {adapter}: {message}")]
    DeviceRequest { adapter: String, message: String },

    /// A device (a host's, or an adapter's) below what the kernels need.
    #[error(
        "the device {adapter} is below what engine's kernels need:\n  {missing}\n         Request at least these limits when creating the device (wgpu::Limits::default() has them)."
    )]
    Limits { adapter: String, missing: String },

    /// Two shapes that must agree do not.
    #[error("{op}: shapes do not match: {lhs:?} and {rhs:?}{hint}")]
    Shape {
        op: &'static str,
        lhs: Vec<usize>,
        rhs: Vec<usize>,
        hint: String,
    },

    /// A parameter or argument is out of its valid range.
    #[error("{op}: {message}")]
    Invalid { op: &'static str, message: String },

    /// A tensor larger than the device allows in one buffer.
    #[error(
        "tensor of shape {shape:?} needs {bytes} bytes, over this device's limit of {limit} bytes \
         per storage buffer ({adapter}). Use a smaller batch or resolution."
    )]
    TooLarge {
        shape: Vec<usize>,
        bytes: u64,
        limit: u64,
        adapter: String,
    },

    /// A kernel failed to compile or validate (a bug in our shaders, or a driver problem).
    #[error("kernel {name} failed to build: {message}")]
    Kernel { name: String, message: String },

    /// The device reported an error while running work.
    #[error("GPU device error: {0}")]
    Device(String),

    /// A checkpoint could not be written or read.
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: String, message: String },

    /// Reading results back from the device failed.
    #[error("reading a tensor back from the GPU failed: {0}")]
    Readback(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn invalid(op: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid {
            op,
            message: message.into(),
        }
    }

    pub fn shape(op: &'static str, lhs: &[usize], rhs: &[usize]) -> Self {
        Error::Shape {
            op,
            lhs: lhs.to_vec(),
            rhs: rhs.to_vec(),
            hint: String::new(),
        }
    }

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
