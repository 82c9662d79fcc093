//! Data parallelism across processes: `mpirun -n K engine train ...` runs K
//! workers (ranks), each with its own device and model copy. Every global
//! batch is split into K equal shards (data/loader.rs); after each backward
//! pass [`all_reduce_mean`] averages the flat gradient buffer over the
//! ranks through MPI (Open MPI or MPICH, by the `mpi` crate: no transport
//! of our own), so every rank takes the same Adam step and holds the same
//! parameters. Batch-norm statistics, and whatever a loss compares within a
//! batch (DAMSM's negatives, AttnGAN's mismatched pairs), stay per rank, as
//! in PyTorch's DistributedDataParallel without SyncBatchNorm.
//!
//! The MPI build is the cargo feature `mpi`. Without it, or when not
//! launched by an MPI launcher, there is one worker and every function
//! here is the identity. A build without the feature that finds itself
//! launched as one of several ranks refuses to run, instead of letting K
//! copies of one run overwrite each other's checkpoints.

use std::sync::OnceLock;

use crate::runtime::{Error, Result};

/// This process's place among the workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workers {
    pub rank: usize,
    pub size: usize,
}

static WORKERS: OnceLock<Workers> = OnceLock::new();

/// Held by `main` for the life of the program: MPI is finalised when it is
/// dropped. Without MPI it holds nothing.
pub struct Session {
    #[cfg(feature = "mpi")]
    _universe: Option<mpi::environment::Universe>,
}

/// The (rank, size) an MPI launcher gave this process, from its
/// environment (Open MPI's, then MPICH/Hydra's), if any.
pub fn launched_as() -> Option<Workers> {
    let var = |k: &str| std::env::var(k).ok()?.trim().parse::<usize>().ok();
    for (r, s) in [
        ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
        ("PMI_RANK", "PMI_SIZE"),
        ("PMIX_RANK", "PMIX_SIZE"),
    ] {
        if let (Some(rank), Some(size)) = (var(r), var(s)) {
            if size >= 1 && rank < size {
                return Some(Workers { rank, size });
            }
        }
    }
    None
}

/// Joins the workers of an MPI launch (or stands alone). Call once, at
/// start-up, before any device is opened.
pub fn init() -> Result<Session> {
    let launched = launched_as();
    #[cfg(feature = "mpi")]
    {
        if launched.is_some() {
            let universe = mpi::initialize().ok_or_else(|| {
                Error::invalid("mpi", "MPI was already initialised in this process")
            })?;
            use mpi::traits::Communicator;
            let world = universe.world();
            let w = Workers {
                rank: world.rank() as usize,
                size: world.size() as usize,
            };
            let _ = WORKERS.set(w);
            return Ok(Session {
                _universe: Some(universe),
            });
        }
        let _ = WORKERS.set(Workers { rank: 0, size: 1 });
        Ok(Session { _universe: None })
    }
    #[cfg(not(feature = "mpi"))]
    {
        if let Some(w) = launched.filter(|w| w.size > 1) {
            return Err(Error::invalid(
                "mpi",
                format!(
                    "launched as rank {} of {}, but this engine was built without MPI; rebuild it with `cargo build --release --features mpi` (needs libopenmpi-dev and libclang-dev), or run it without mpirun",
                    w.rank, w.size
                ),
            ));
        }
        let _ = WORKERS.set(Workers { rank: 0, size: 1 });
        Ok(Session {})
    }
}

/// This process's rank and the number of workers (0 of 1 when alone).
pub fn workers() -> Workers {
    *WORKERS.get().unwrap_or(&Workers { rank: 0, size: 1 })
}

/// The share of the data and of the noise this worker draws: its own place
/// among the workers, or, under `ENGINE_DP_REPLICATE=1`, the whole of it
/// (0 of 1) on every worker. That is a check, not a way to train: every
/// worker then computes the lone run's gradients, so their mean is those
/// gradients exactly, and K workers must write, bit for bit, the
/// checkpoint of one process (tests/mpi.rs).
pub fn shard() -> Workers {
    if std::env::var("ENGINE_DP_REPLICATE").is_ok_and(|v| v == "1") {
        Workers { rank: 0, size: 1 }
    } else {
        workers()
    }
}

/// Rank 0: the one worker that writes checkpoints, curves and progress.
pub fn is_leader() -> bool {
    workers().rank == 0
}

/// Replaces `data` by its mean over the workers (sum, then divided by their
/// number): the gradient of the global batch when each rank holds the mean
/// gradient of an equal shard.
pub fn all_reduce_mean(data: &mut [f32]) {
    let w = workers();
    if w.size == 1 {
        return;
    }
    #[cfg(feature = "mpi")]
    {
        use mpi::collective::{CommunicatorCollectives, SystemOperation};
        let world = mpi::topology::SimpleCommunicator::world();
        let send = data.to_vec();
        world.all_reduce_into(&send[..], data, SystemOperation::sum());
        let k = 1.0 / w.size as f32;
        data.iter_mut().for_each(|x| *x *= k);
    }
    #[cfg(not(feature = "mpi"))]
    let _ = data;
}

/// Every worker's `value`, in rank order.
pub fn all_gather_u64(value: u64) -> Vec<u64> {
    let w = workers();
    if w.size == 1 {
        return vec![value];
    }
    #[cfg(feature = "mpi")]
    {
        use mpi::collective::CommunicatorCollectives;
        let world = mpi::topology::SimpleCommunicator::world();
        let mut all = vec![0u64; w.size];
        world.all_gather_into(&value, &mut all[..]);
        all
    }
    #[cfg(not(feature = "mpi"))]
    unreachable!("one worker without MPI")
}

/// Refuses, on every rank alike, when the workers disagree on `value`
/// (parameters, step, settings): `what` names it in the message.
pub fn check_same(what: &str, value: u64) -> Result<()> {
    let all = all_gather_u64(value);
    if all.iter().all(|&v| v == all[0]) {
        return Ok(());
    }
    Err(Error::invalid(
        "mpi",
        format!(
            "the {} workers disagree on {what} (per rank: {all:x?}); every rank must start from the same checkpoint and settings",
            all.len()
        ),
    ))
}

/// Ends every worker after an error on this one, so that the others do not
/// wait forever in the next all-reduce. Alone, it does nothing.
pub fn abort_others(code: i32) {
    if workers().size == 1 {
        return;
    }
    #[cfg(feature = "mpi")]
    {
        use mpi::topology::Communicator;
        mpi::topology::SimpleCommunicator::world().abort(code);
    }
    #[cfg(not(feature = "mpi"))]
    let _ = code;
}

/// FNV-1a of some f32s' bits: a cheap fingerprint for [`check_same`].
pub fn fingerprint(values: &[f32]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in values {
        for b in v.to_bits().to_le_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// This machine's name, for the workers' start-up lines.
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this machine".into())
}
