//! The RealField workload of `test_pool_fork_RF.py`, `test_pool_forkserver_RF.py`
//! and `test_pool_spawn_RF.py` (and `test_pool_fork_RF.sage`): a
//! `multiprocessing.Pool(processes=ncpus)` whose worker turns `(a, data,
//! precision)` into `RealField(precision)(data).sin()`.
//!
//! SageMath's `RealField(p)` is MPFR with `p` bits, rounding to nearest; here
//! it is MPFR too, through `rug`, so the values are the very same bits:
//!
//! - [`sin_job`] runs in a pool worker: `Float::with_val(p, data)` is
//!   `mpfr_set_d` (the binary double, exact when `p >= 53`, else rounded to
//!   nearest, as Sage's `R(data)`), then `sin` rounded to nearest;
//! - the result travels back *exactly*, as an exact base-16 digit string
//!   (`mpfr_get_str` with as many digits as the precision needs). Sage itself
//!   pickles a `RealNumber` as a digit string in base 32, so the worker does
//!   the same kind of work as the original's `pickle.dumps`, and the parent
//!   parses it back ([`decode_result`]) after every call as `pickle.loads` does;
//! - `--check` prints the last results as Sage prints a list of RealField
//!   numbers ([`sage_str`], [`sage_list`]).

use procpool::{Fault, Job, MAX_FRAME};
use rug::float::Round;
use rug::ops::AssignRound;
use rug::Float;

/// Largest `--precision`: the exact result of a job (4 bytes of precision and
/// about `p/4` hexadecimal digits) must fit in one pool frame
/// ([`procpool::MAX_FRAME`], 64 KiB); a unit test checks the worst case.
pub const MAX_PRECISION: u32 = 200_000;
/// Smallest `--precision` (MPFR's and Sage's minimum).
pub const MIN_PRECISION: u32 = 2;

/// Size of a job's payload: `a` (u64), `data` (f64 bits), `precision` (u32),
/// the injected fault (u8, a [`Fault::code`] or 0: testing aids for the fault
/// paths, `--inject KIND@A`).
pub const JOB_LEN: usize = 21;

/// Job `a`: the originals' `(a, data_list[a], precision)`.
pub fn encode_job(a: u64, data: f64, precision: u32, fault: u8) -> [u8; JOB_LEN] {
    let mut b = [0u8; JOB_LEN];
    b[..8].copy_from_slice(&a.to_le_bytes());
    b[8..16].copy_from_slice(&data.to_bits().to_le_bytes());
    b[16..20].copy_from_slice(&precision.to_le_bytes());
    b[20] = fault;
    b
}

/// The inverse of [`encode_job`] (the fault as its byte).
pub fn decode_job(input: &[u8]) -> Option<(u64, f64, u32, u8)> {
    let input: &[u8; JOB_LEN] = input.try_into().ok()?;
    let a = u64::from_le_bytes(input[..8].try_into().ok()?);
    let data = f64::from_bits(u64::from_le_bytes(input[8..16].try_into().ok()?));
    let precision = u32::from_le_bytes(input[16..20].try_into().ok()?);
    Some((a, data, precision, input[20]))
}

/// `RealField(precision)(data).sin()`, rounded to nearest.
pub fn real_field_sin(data: f64, precision: u32) -> Float {
    let mut x = Float::with_val(precision, data);
    x.sin_round(Round::Nearest);
    x
}

/// The exact encoding of an MPFR value: its precision (u32 LE), then
/// `to_string_radix(16, None)`, which for a power-of-two radix has enough
/// digits to be exact (`@NaN@`, `@inf@` for the special values).
pub fn encode_value(x: &Float, output: &mut Vec<u8>) {
    output.extend_from_slice(&x.prec().to_le_bytes());
    output.extend_from_slice(x.to_string_radix(16, None).as_bytes());
}

/// Reads a result of [`encode_value`] into `into`, whose precision must be the
/// one the job asked for; `false` for anything else (wrong precision, not
/// a base-16 number, digits that do not fit the precision).
pub fn decode_result(r: &[u8], into: &mut Float) -> bool {
    let Some((prec, digits)) = r.split_first_chunk::<4>() else {
        return false;
    };
    if u32::from_le_bytes(*prec) != into.prec() {
        return false;
    }
    let Ok(parsed) = Float::parse_radix(digits, 16) else {
        return false;
    };
    // Rounding to nearest reports how the stored value differs from the
    // parsed one: an exact encoding never rounds.
    let dir = into.assign_round(parsed, Round::Nearest);
    dir == std::cmp::Ordering::Equal
}

/// The job function, run in a pool worker (see the crate docs). Its `a` is
/// unused, as in the originals; the precision was range-checked by the
/// parent and is checked again (a bad job fails with code 1 instead of an
/// MPFR abort).
///
/// In a `fork` worker this allocates (MPFR numbers, the digit string): that is
/// sound because procpool forks its workers while the parent is still
/// single-threaded, so the child's heap is consistent, as in CPython's fork
/// Pool, whose workers run arbitrary Python.
pub fn sin_job(input: &[u8], output: &mut Vec<u8>) -> Result<(), i32> {
    let (_a, data, precision, cmd) = decode_job(input).ok_or(1)?;
    if !(MIN_PRECISION..=MAX_PRECISION).contains(&precision) {
        return Err(2);
    }
    match Fault::from_code(cmd) {
        // A well-framed reply that is not an MPFR value (the parent's
        // decoding must refuse it).
        Some(Fault::Junk) => {
            output.extend_from_slice(&precision.to_le_bytes());
            output.extend_from_slice(b"not a number");
            return Ok(());
        }
        Some(fault) => fault.strike(),
        None => {}
    }
    encode_value(&real_field_sin(data, precision), output);
    debug_assert!(output.len() <= MAX_FRAME);
    Ok(())
}

/// The job table: `procpool::enter_worker_role_if_asked(JOBS)` first in main.
pub const JOBS: &[Job] = &[Job {
    name: "realfield-sin",
    run: sin_job,
}];

/// Number of decimal digits Sage prints for a `RealField(prec)` number:
/// `floor((prec - 1) * log10(2))`, at least 2 (`RealNumber.str(truncate=True)`,
/// which `repr` uses; `M_LN2_LN10` there is log10(2) as a C double).
pub fn sage_digits(prec: u32) -> usize {
    let d = (f64::from(prec.saturating_sub(1)) * std::f64::consts::LOG10_2) as usize;
    d.max(2)
}

/// `repr` of a Sage `RealNumber` with the default parent options
/// (round to nearest, no forced scientific notation), from the number's own
/// precision:
///
/// - `mpfr_get_str` with [`sage_digits`] digits (one more for zero), rounded
///   to nearest, trailing zeros kept;
/// - with `e` the decimal exponent of the leading digit (`mpfr_get_str`'s
///   exponent minus one, zero counting as 0), scientific notation
///   `d.ddde-8` when `|e| >= 6`, else plain notation: `0.000ddd`, `ddd.ddd`,
///   or `ddd000.` (always a decimal point);
/// - `NaN`, `+infinity`, `-infinity`.
pub fn sage_str(x: &Float) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x.is_sign_negative() { "-infinity" } else { "+infinity" }.into();
    }
    let mut digits = sage_digits(x.prec());
    let (negative, t, exponent) = if x.is_zero() {
        // Sage adds a digit for zero and treats it as having exponent 1.
        digits += 1;
        (x.is_sign_negative(), "0".repeat(digits), 1i64)
    } else {
        let (neg, t, exp) = x.to_sign_string_exp_round(10, Some(digits), Round::Nearest);
        (neg, t, i64::from(exp.unwrap_or(1)))
    };
    let sign = if negative { "-" } else { "" };
    if (exponent - 1).abs() >= 6 {
        let mantissa = if t.len() > 1 {
            format!("{}.{}", &t[..1], &t[1..])
        } else {
            t
        };
        return format!("{sign}{mantissa}e{}", exponent - 1);
    }
    let len = t.len() as i64;
    if exponent <= 0 {
        format!("{sign}0.{}{t}", "0".repeat((-exponent) as usize))
    } else if exponent >= len {
        format!("{sign}{t}{}.", "0".repeat((exponent - len) as usize))
    } else {
        let (int, frac) = t.split_at(exponent as usize);
        format!("{sign}{int}.{frac}")
    }
}

/// `repr` of a Python list of RealField numbers: `[x, y, ...]`.
pub fn sage_list(values: &[Float]) -> String {
    let parts: Vec<String> = values.iter().map(sage_str).collect();
    format!("[{}]", parts.join(", "))
}

/// The exact values, for the `--hex` testing aid: `[hex, hex, ...]`.
pub fn hex_list(values: &[Float]) -> String {
    let parts: Vec<String> = values.iter().map(|v| v.to_string_radix(16, None)).collect();
    format!("[{}]", parts.join(", "))
}

/// Value parser of `--data`: comma-separated floats as Python's `float()`
/// reads them (`0.1`, `-2.5e-3`, `inf`, `nan`), at least one.
pub fn parse_data(s: &str) -> Result<Vec<f64>, String> {
    let values: Result<Vec<f64>, String> = s
        .split(',')
        .map(|v| {
            let v = v.trim();
            v.parse::<f64>()
                .map_err(|_| format!("'{v}' is not a float (expected comma-separated floats such as 0.1,0.2,0.3)"))
        })
        .collect();
    values
}

/// `--inject KIND@A` (hidden): job `a` misbehaves (every [`Fault`], `junk`
/// included: a reply the parent's MPFR decoding must refuse).
pub fn parse_inject(s: &str) -> Result<(Fault, u64), String> {
    Fault::parse_at(s, &Fault::ALL)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sin_str(prec: u32, x: f64) -> String {
        sage_str(&real_field_sin(x, prec))
    }

    #[test]
    fn default_check_line_is_sages() {
        // ORIGINALS.md: real SageMath 10.8, bar(check=True) at 100 bits.
        let values: Vec<Float> = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
            .iter()
            .map(|&x| real_field_sin(x, 100))
            .collect();
        assert_eq!(
            sage_list(&values),
            "[0.099833416646828157830196867859, 0.19866933079506122634033743097, \
             0.29552020666133956449895508077, 0.38941834230865051211797420932, \
             0.47942553860420300027328793522, 0.56464247339503533887481339134, \
             0.64421768723769101970679809028, 0.71735609089952279256716781570]"
        );
    }

    #[test]
    fn other_precisions_as_sage_prints_them() {
        assert_eq!(sin_str(53, 0.1), "0.0998334166468282");
        assert_eq!(sin_str(64, 0.1), "0.0998334166468281578");
        assert_eq!(sin_str(113, 0.1), "0.0998334166468281578301968678586167");
        assert_eq!(sin_str(53, 3.7), "-0.529836140908493");
        assert_eq!(sin_str(100, 1e-7), "9.9999999999999828808144515922e-8");
        assert_eq!(
            sage_str(&Float::with_val(100, 123456.7)),
            "123456.69999999999708961695433"
        );
    }

    #[test]
    fn more_values_as_passagemath_prints_them() {
        // repr(RealField(p)(x).sin()) in passagemath 10.8.13 (Sage's own code).
        let cases: &[(u32, f64, &str)] = &[
            (2, 0.1, "0.094"),
            (2, 355.0, "0.75"),
            (10, 7e5, "-0.87"),
            (10, -1e6, "-1.0"),
            (24, 2.2e-6, "2.20000e-6"),
            (53, 1e-300, "1.00000000000000e-300"),
            (53, 5e-324, "4.94065645841247e-324"),
            (7, 123456.7, "-0.40"),
            (53, 1e300, "-0.817881912115909"),
            (
                200,
                std::f64::consts::FRAC_PI_2,
                "0.99999999999999999999999999999999812530027167267800669190544",
            ),
        ];
        for &(p, x, want) in cases {
            assert_eq!(sin_str(p, x), want, "sin({x}) at {p} bits");
        }
        assert_eq!(sage_str(&Float::with_val(10, 123456.7)), "120000.");
        assert_eq!(sage_str(&Float::with_val(2, 0.0)), "0.00");
    }

    #[test]
    fn digit_rule_edges() {
        assert_eq!(sage_digits(2), 2);
        assert_eq!(sage_digits(53), 15);
        assert_eq!(sage_digits(100), 29);
        // Zero: one more digit, exponent 1 (Sage's RR(0) is 0.000000000000000).
        assert_eq!(sage_str(&Float::with_val(53, 0.0)), "0.000000000000000");
        assert_eq!(sage_str(&Float::with_val(53, -0.0)), "-0.000000000000000");
        // Sage: RR(10^17) is 1.00000000000000e17, 61/3.0 is 20.3333333333333.
        assert_eq!(sage_str(&Float::with_val(53, 1e17)), "1.00000000000000e17");
        assert_eq!(sage_str(&(Float::with_val(53, 61) / 3.0)), "20.3333333333333");
        // Exponent 5 is plain, 6 is scientific; large integers keep the point.
        assert_eq!(sage_str(&Float::with_val(53, 123456.0)), "123456.000000000");
        assert_eq!(sage_str(&Float::with_val(53, 1234567.0)), "1.23456700000000e6");
        assert_eq!(sage_str(&Float::with_val(2, 12.0)), "12.");
        assert_eq!(sage_str(&Float::with_val(53, 0.5f64.powi(53))), "1.11022302462516e-16");
        assert_eq!(sage_str(&Float::with_val(53, 1e-5)), "0.0000100000000000000");
        assert_eq!(sage_str(&Float::with_val(53, 1e-6)), "1.00000000000000e-6");
        let nan = Float::with_val(53, f64::NAN);
        assert_eq!(sage_str(&nan), "NaN");
        assert_eq!(sage_str(&Float::with_val(53, f64::NEG_INFINITY)), "-infinity");
        assert_eq!(sage_str(&Float::with_val(53, f64::INFINITY)), "+infinity");
    }

    #[test]
    fn below_53_bits_the_double_is_rounded_first() {
        // Sage: RealField(10)(0.1) is rounded to 10 bits before sin.
        let x = real_field_sin(0.1, 10);
        let mut want = Float::with_val(10, 0.1);
        want.sin_mut();
        assert_eq!(x, want);
        assert_eq!(x.prec(), 10);
    }

    #[test]
    fn the_job_round_trips_exactly() {
        for &(x, p) in &[(0.1, 100), (0.8, 2), (1e-7, 100), (3.7, 113), (-0.0, 64), (1e300, 300)] {
            let mut out = Vec::with_capacity(MAX_FRAME);
            sin_job(&encode_job(3, x, p, 0), &mut out).unwrap();
            let mut back = Float::new(p);
            assert!(decode_result(&out, &mut back), "{x} at {p}");
            let want = real_field_sin(x, p);
            assert_eq!(back.to_string_radix(16, None), want.to_string_radix(16, None));
            assert_eq!(back.is_sign_negative(), want.is_sign_negative());
            assert_eq!(back.prec(), p);
        }
        // Special values travel too.
        for x in [f64::NAN, f64::INFINITY] {
            let mut out = Vec::new();
            sin_job(&encode_job(0, x, 53, 0), &mut out).unwrap();
            let mut back = Float::new(53);
            assert!(decode_result(&out, &mut back));
            assert!(back.is_nan());
        }
        let mut out = Vec::new();
        encode_value(&Float::with_val(64, f64::NEG_INFINITY), &mut out);
        let mut back = Float::new(64);
        assert!(decode_result(&out, &mut back));
        assert_eq!(back, f64::NEG_INFINITY);
    }

    #[test]
    fn bad_results_are_refused() {
        let mut out = Vec::new();
        encode_value(&real_field_sin(0.1, 100), &mut out);
        // Wrong precision, truncated, junk, too many digits for the precision.
        assert!(!decode_result(&out, &mut Float::new(99)));
        assert!(!decode_result(&out[..3], &mut Float::new(100)));
        let mut junk = 100u32.to_le_bytes().to_vec();
        junk.extend_from_slice(b"not a number");
        assert!(!decode_result(&junk, &mut Float::new(100)));
        let mut long = Vec::new();
        encode_value(&real_field_sin(0.1, 200), &mut long);
        long[..4].copy_from_slice(&100u32.to_le_bytes());
        assert!(!decode_result(&long, &mut Float::new(100)));
        // A bad precision in a job fails the job, it does not abort MPFR.
        let mut out = Vec::new();
        assert_eq!(sin_job(&encode_job(0, 0.1, 1, 0), &mut out), Err(2));
        assert_eq!(sin_job(&[0u8; 3], &mut out), Err(1));
    }

    #[test]
    fn the_largest_result_fits_a_frame() {
        let mut out = Vec::new();
        // The longest digit string: a value with a long exponent.
        encode_value(&real_field_sin(1e-300, MAX_PRECISION), &mut out);
        assert!(out.len() <= MAX_FRAME, "{} bytes", out.len());
        // and more precision would not fit, roughly: the limit is not absurd.
        assert!(out.len() > MAX_FRAME / 2);
    }

    #[test]
    fn data_and_inject_parsers() {
        assert_eq!(parse_data("0.1,0.2, -3e-2"), Ok(vec![0.1, 0.2, -0.03]));
        assert!(parse_data("inf,nan").is_ok());
        assert!(parse_data("0.1,,0.2").unwrap_err().contains("'' is not a float"));
        assert!(parse_data("0.1,x").unwrap_err().contains("'x' is not a float"));
        assert!(parse_data("").is_err());
        assert_eq!(parse_inject("junk@3"), Ok((Fault::Junk, 3)));
        assert!(parse_inject("boom@3").is_err());
    }
}
