//! Command-line conventions shared by every binary: bad input is one line on
//! stderr naming the flag and the accepted range, exit code 2, never a panic.

use std::process::ExitCode;

/// Exit code for bad flags (as clap and most Unix tools).
pub const EXIT_USAGE: u8 = 2;
/// Exit code for a failed run (dead, hung or garbled worker).
pub const EXIT_FAILURE: u8 = 1;

/// The `after_help` of every binary: the rules of the extra lines that end
/// each run (the drift verdict and its attribution; see the `drift` crate).
pub fn after_help() -> String {
    format!("{}\n\n{}", drift::RULE, drift::attribution::RULE)
}

/// Parses the command line; `Err` carries the exit code to return at once
/// (help and version print and succeed; errors print one line and give 2).
pub fn parse<C: clap::Parser>() -> Result<C, ExitCode> {
    parse_from::<C, _, _>(std::env::args_os())
}

pub fn parse_from<C, I, T>(args: I) -> Result<C, ExitCode>
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
                ExitCode::SUCCESS
            }
            _ => {
                eprintln!("{}", one_line(&e.render().to_string()));
                ExitCode::from(EXIT_USAGE)
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
