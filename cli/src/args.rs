//! Command-line conventions shared by every binary: bad input is one line on
//! stderr naming the flag and the accepted range, exit code 2, never a panic.
//!
//! Every binary's `main` is `cli::args::main(TOOL, run)` (the worker-role hook
//! of the pool binaries first): `run` returns `anyhow::Result<ExitCode>` and
//! never prints an error; [`main`] prints the one line `<tool>: <cause>` and
//! picks the exit code, as ripgrep's `crates/core/main.rs` does. The flags
//! every binary has are [`RunArgs`], flattened into each `Cli`.

use std::fmt::Display;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code for bad flags (as clap and most Unix tools).
pub const EXIT_USAGE: u8 = 2;
/// Exit code for a failed run (dead, hung or garbled worker).
pub const EXIT_FAILURE: u8 = 1;

/// The `after_help` of every binary: the rules of the extra lines that end
/// each run (the drift verdict and its attribution; see the `drift` crate)
/// and the stopping rule of `--until-verdict`.
pub fn after_help() -> String {
    format!(
        "{}\n\n{}\n\n{}\n\n--until-verdict: {}",
        drift::RULE,
        drift::attribution::RULE,
        drift::load::RULE,
        drift::sequential::RULE
    )
}

/// The clap self-test every binary has (`Cli::command().debug_assert()`,
/// which catches clashing flags and bad defaults): `cli::cli_is_well_formed!(Cli);`.
#[macro_export]
macro_rules! cli_is_well_formed {
    ($cli:ty) => {
        #[cfg(test)]
        #[test]
        fn cli_is_well_formed() {
            use clap::CommandFactory;
            <$cli>::command().debug_assert();
        }
    };
}

/// The flags of every binary of the suite, flattened into each `Cli`
/// (`#[command(flatten)] run: RunArgs`). Where a binary's original differs
/// (the number of calls), the binary sets its default and help with
/// `mut_arg`; the record's params take them through [`RunArgs::params`].
#[derive(clap::Args, Clone, Debug, PartialEq)]
#[command(after_help = after_help(), allow_negative_numbers = true)]
pub struct RunArgs {
    /// Calls per bar(), timed in chunks of 100.
    #[arg(long, value_name = "N", value_parser = int_in::<1, 100_000_000>)]
    pub numcalls: Option<u64>,
    /// Jobs return a*a; print the last call's results (completion order).
    #[arg(long)]
    pub check: bool,
    /// Run bar() this many times in this process, each under %time.
    #[arg(long, value_name = "K", default_value = "1", value_parser = int_in::<1, 100_000>)]
    pub repeat: u64,
    /// Write the run record (parameters, system, every chunk) to this JSON file;
    /// `-` writes it to stdout after the run's lines. A device or FIFO is written
    /// through, a symlink's target replaced; a new file gets 0666 & !umask.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Run bar() again and again (at least --repeat times) until the drift
    /// verdict is DRIFT or no drift, or SECONDS have passed (then it is
    /// inconclusive); the verdict line says how many bar() it took. A bar()
    /// is not started when the last one's duration would overrun SECONDS.
    /// 1..=86400; the stopping rule is below.
    #[arg(long, value_name = "SECONDS", value_parser = until_seconds)]
    pub until_verdict: Option<f64>,
    /// Read the system's own count of this process's regions before the
    /// first bar() and after the last, outside every timed region (macOS:
    /// `vmmap -summary`, with its Mach message regions; Linux: `pmap`), into
    /// the record's `witness`; `report` sets its growth per fork beside the
    /// counters'. A missing or refusing tool is one line on stderr. Off by
    /// default (vmmap takes about a second on a Mac, twice a run, and may
    /// refuse); ci/diagnose.sh, ci/compare.sh and ci/matrix.sh turn it on.
    #[arg(long, value_name = "WHEN", default_value = "off")]
    pub witness: Witness,
}

/// `--witness`: the system's tool read before and after, or not.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Witness {
    /// Read it (vmmap on macOS, pmap on Linux).
    On,
    /// Do not.
    Off,
}

/// Value parser for `--until-verdict`: 1 second to a day.
pub fn until_seconds(s: &str) -> Result<f64, String> {
    seconds_between(s, 1.0, 86400.0)
}

impl RunArgs {
    /// `--numcalls`, or the binary's default (the original's).
    pub fn numcalls(&self, default: u64) -> u64 {
        self.numcalls.unwrap_or(default)
    }

    /// The record's `params`: `numcalls` (resolved), `check`, `repeat`,
    /// `witness` and `until_verdict` (when given), then the binary's own (an
    /// object; its keys win). `timing::Experiment::new` takes `until_verdict`
    /// and `witness` from here: the params are what every binary already
    /// hands it, so the flags need no line in any binary.
    pub fn params(&self, numcalls: u64, own: serde_json::Value) -> serde_json::Value {
        let witness = if self.witness == Witness::On { "on" } else { "off" };
        let mut params = serde_json::json!({
            "numcalls": numcalls, "check": self.check, "repeat": self.repeat, "witness": witness,
        });
        if let (Some(all), Some(secs)) = (params.as_object_mut(), self.until_verdict) {
            all.insert("until_verdict".into(), secs.into());
        }
        if let (Some(all), serde_json::Value::Object(own)) = (params.as_object_mut(), own) {
            all.extend(own);
        }
        params
    }
}

/// How `run` stops without a failure of the run: a usage error found after
/// parsing (printed by [`main`] as one line, exit 2), or an exit code whose
/// message is already printed (help, version, clap's own usage errors).
#[derive(Debug, thiserror::Error)]
pub enum Stop {
    /// Bad input that clap cannot see (an environment variable, a flag
    /// against another, an unwritable `--json`): exit 2.
    #[error("{0}")]
    Usage(String),
    /// Already said; exit with this code.
    #[error("exit {0}")]
    Exit(u8),
}

/// A usage error as `run`'s error: `Err(usage(e))?`.
pub fn usage(e: impl Display) -> anyhow::Error {
    Stop::Usage(e.to_string()).into()
}

/// Every binary's `main`: runs `run`, prints its error as one line
/// `<tool>: <cause>`, and returns the exit code: `run`'s own (0, or 128 + n
/// after signal n), 2 for a usage error, 1 for any other error.
pub fn main(tool: &str, run: impl FnOnce() -> anyhow::Result<ExitCode>) -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => match err.downcast_ref::<Stop>() {
            Some(Stop::Exit(code)) => ExitCode::from(*code),
            Some(Stop::Usage(why)) => {
                eprintln!("{tool}: {why}");
                ExitCode::from(EXIT_USAGE)
            }
            None => {
                eprintln!("{tool}: {err:#}");
                ExitCode::from(EXIT_FAILURE)
            }
        },
    }
}

/// Parses the command line; help and version print and stop with 0, errors
/// print one line and stop with 2 (as [`Stop::Exit`]).
pub fn parse<C: clap::Parser>() -> Result<C, Stop> {
    parse_from::<C, _, _>(std::env::args_os()).map_err(Stop::Exit)
}

/// As [`parse`], from `args`; `Err` is the exit code to return at once.
pub fn parse_from<C, I, T>(args: I) -> Result<C, u8>
where
    C: clap::Parser,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    C::try_parse_from(args).map_err(|e| {
        use clap::error::ErrorKind::*;
        match e.kind() {
            DisplayHelp | DisplayVersion | DisplayHelpOnMissingArgumentOrSubcommand => {
                let _ = e.print();
                0
            }
            _ => {
                eprintln!("{}", one_line(&e.render().to_string()));
                EXIT_USAGE
            }
        }
    })
}

/// Folds clap's multi-line error into one line, keeping the part that names
/// the flag and the accepted values and dropping usage and tips.
pub fn one_line(rendered: &str) -> String {
    rendered
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Value parser for an integer flag in `LO..=HI`.
pub fn int_in<const LO: u64, const HI: u64>(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<u64>()
        .ok()
        .filter(|v| (LO..=HI).contains(v))
        .ok_or_else(|| format!("expected an integer in {LO}..={HI}"))
}

/// Value parser for a number of seconds in `0..=3600` (`--sleep`): finite,
/// not negative, at most an hour.
pub fn seconds(s: &str) -> Result<f64, String> {
    seconds_between(s, 0.0, 3600.0)
}

/// Value parser for a strictly positive number of seconds up to a day
/// (`--timeout`).
pub fn positive_seconds(s: &str) -> Result<f64, String> {
    seconds_between(s, f64::MIN_POSITIVE, 86400.0)
        .map_err(|_| "expected seconds greater than 0 and at most 86400".to_string())
}

fn seconds_between(s: &str, lo: f64, hi: f64) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= lo && *v <= hi)
        .ok_or_else(|| format!("expected seconds in {lo}..={hi} (a finite number)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(int_in::<1, 4096>("8"), Ok(8));
        assert!(int_in::<1, 4096>("0").unwrap_err().contains("1..=4096"));
        assert!(int_in::<1, 4096>("4097").is_err());
        assert!(int_in::<1, 4096>("-3").is_err());
        assert_eq!(seconds("0.001"), Ok(0.001));
        assert_eq!(seconds("0"), Ok(0.0));
        for bad in ["-0.1", "nan", "NaN", "inf", "-inf", "3600.5", "x"] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
        assert!(positive_seconds("0").is_err());
        assert_eq!(until_seconds("60"), Ok(60.0));
        for bad in ["0", "0.5", "86401", "nan", "-1"] {
            assert!(until_seconds(bad).unwrap_err().contains("1..=86400"), "{bad}");
        }
        assert_eq!(positive_seconds("2.5"), Ok(2.5));
    }

    #[test]
    fn one_line_drops_usage_and_tips() {
        let clap_text = "error: invalid value 'x' for '--ipc <IPC>'\n  [possible values: pipe, file]\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line(clap_text),
            "error: invalid value 'x' for '--ipc <IPC>'; [possible values: pipe, file]"
        );
    }
}
