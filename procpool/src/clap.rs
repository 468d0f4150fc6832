//! `clap::ValueEnum` for [`StartMethod`] and [`SpawnVia`] (feature `clap`),
//! so that every binary's `--start` and `--spawn-via` take the very names
//! and help this crate gives, without a copy of either enum. A feature
//! rather than a wrapper in another crate: the values and their names stay
//! next to the types, and a user of the pool alone builds no clap.

use crate::{SpawnVia, StartMethod};
use clap::builder::PossibleValue;
use clap::ValueEnum;

impl ValueEnum for StartMethod {
    fn value_variants<'a>() -> &'a [Self] {
        &StartMethod::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            StartMethod::Fork => "Workers forked from this process once, at pool creation",
            StartMethod::Forkserver => "Workers forked by a server process spawned once (SCM_RIGHTS hand-over)",
            StartMethod::Spawn => "Workers are fresh processes of this executable",
        };
        Some(PossibleValue::new(self.name()).help(help))
    }
}

impl ValueEnum for SpawnVia {
    fn value_variants<'a>() -> &'a [Self] {
        &SpawnVia::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            SpawnVia::PosixSpawn => {
                "std::process::Command: posix_spawn (vfork + execve in glibc), CPython's way on Linux"
            }
            SpawnVia::ForkExec => "fork, then dup2 and execve in the child: CPython's way on macOS",
        };
        Some(PossibleValue::new(self.name()).help(help))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_values_are_the_names() {
        for m in StartMethod::ALL {
            assert_eq!(StartMethod::from_str(m.name(), false), Ok(m));
        }
        for v in SpawnVia::ALL {
            assert_eq!(SpawnVia::from_str(v.name(), false), Ok(v));
        }
    }
}
