//! Python-compatible number formatting, so that our lines are byte-identical to
//! the originals' f-strings and to IPython's `%time` output.
//!
//! Rust's `{:.N}` and Python's `.Nf` both round the exact binary value half to
//! even, so `fixed` is a thin wrapper; `%g` and IPython's `_format_time` need
//! real code.

/// Python's `f"{x:.{prec}f}"`.
pub fn fixed(x: f64, prec: usize) -> String {
    format!("{x:.prec$}")
}

/// Python's `"%.*g" % (prec, x)` for finite `x` (C's `%g`: `prec` significant
/// digits, trailing zeros removed, exponent form when the exponent is below -4
/// or at least `prec`).
pub fn g(x: f64, prec: usize) -> String {
    let prec = prec.max(1);
    if x == 0.0 {
        return if x.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    if !x.is_finite() {
        return if x.is_nan() {
            "nan".into()
        } else if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    // The exponent after rounding to `prec` significant digits.
    let sci = format!("{:.*e}", prec - 1, x);
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    if exp < -4 || exp >= prec as i32 {
        let mantissa = strip_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        strip_zeros(&format!("{x:.decimals$}")).to_string()
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// The decimals that show `x` to three significant digits (3 for zero or
/// a non-finite `x`): one rule for an estimate printed with its interval,
/// the interval to as many decimals (the calibration line).
pub fn three_digits(x: f64) -> usize {
    if x.abs() > 0.0 && x.is_finite() {
        (2 - x.abs().log10().floor() as i64).clamp(0, 9) as usize
    } else {
        3
    }
}

/// `format(n, ",")`: `16,000`, a count with its thousands grouped, as the
/// calibration line and the reports print counts.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// IPython's `IPython.core.magics.execution._format_time(timespan, precision=3)`,
/// used by `%time`: `398 ms`, `9.75 s`, `1min 5s`.
pub fn ipython_time(timespan: f64) -> String {
    if timespan >= 60.0 {
        const PARTS: [(&str, f64); 4] = [("d", 86400.0), ("h", 3600.0), ("min", 60.0), ("s", 1.0)];
        let mut out: Vec<String> = Vec::new();
        let mut leftover = timespan;
        for (suffix, length) in PARTS {
            let value = (leftover / length).trunc();
            if value > 0.0 {
                leftover %= length;
                out.push(format!("{value}{suffix}"));
            }
            if leftover < 1.0 {
                break;
            }
        }
        return out.join(" ");
    }
    const UNITS: [&str; 4] = ["s", "ms", "\u{b5}s", "ns"];
    const SCALING: [f64; 4] = [1.0, 1e3, 1e6, 1e9];
    let order = if timespan > 0.0 {
        // Python: min(-int(math.floor(math.log10(timespan)) // 3), 3)
        let e = timespan.log10().floor() as i64;
        (-(e.div_euclid(3))).min(3) as usize
    } else {
        3
    };
    format!("{} {}", g(timespan * SCALING[order], 3), UNITS[order])
}

/// Python's `repr` of a list of optional integers: `[None, 4, 9]`.
pub fn py_list<T: std::fmt::Display>(items: &[Option<T>]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|v| match v {
            Some(v) => v.to_string(),
            None => "None".to_string(),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_significant_digits() {
        assert_eq!(three_digits(2.13), 2);
        assert_eq!(three_digits(0.0123), 4);
        assert_eq!(three_digits(123.0), 0);
        assert_eq!(three_digits(0.0), 3);
        assert_eq!(three_digits(f64::NAN), 3);
    }

    #[test]
    fn counts_group_their_thousands_as_python_does() {
        assert_eq!(thousands(16000), "16,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn ipython_cases_from_the_seed() {
        assert_eq!(ipython_time(0.398), "398 ms");
        assert_eq!(ipython_time(9.75), "9.75 s");
        assert_eq!(ipython_time(10.14), "10.1 s");
        assert_eq!(ipython_time(65.2), "1min 5s");
        assert_eq!(ipython_time(2.5e-5), "25 \u{b5}s");
        assert_eq!(ipython_time(20.0), "20 s");
        assert_eq!(ipython_time(13.1), "13.1 s");
        assert_eq!(ipython_time(0.0), "0 ns");
        assert_eq!(ipython_time(3.0e-9), "3 ns");
        assert_eq!(ipython_time(3600.0), "1h");
        assert_eq!(ipython_time(3725.5), "1h 2min 5s");
        assert_eq!(ipython_time(60.0), "1min");
        // %.3g switches to exponent form at 1000: Python prints `1e+03 ms`.
        assert_eq!(ipython_time(0.9996), "1e+03 ms");
    }

    #[test]
    fn g_matches_c_printf() {
        // Values checked against Python's "%.3g" % x.
        let cases = [
            (0.0001234, "0.000123"),
            (0.00001234, "1.23e-05"),
            (123456.0, "1.23e+05"),
            (999.5, "1e+03"),
            (1.0, "1"),
            (1.5, "1.5"),
            (100.0, "100"),
            (-2.345, "-2.35"),
            (0.125, "0.125"),
            (2.675, "2.67"),
        ];
        for (x, want) in cases {
            assert_eq!(g(x, 3), want, "g({x})");
        }
    }

    #[test]
    fn fixed_rounds_like_python() {
        // Python: f"{2.675:.2f}" == "2.67" (binary value below the tie),
        // f"{0.125:.2f}" == "0.12" (exact tie, half to even).
        assert_eq!(fixed(2.675, 2), "2.67");
        assert_eq!(fixed(0.125, 2), "0.12");
        assert_eq!(fixed(0.375, 2), "0.38");
        assert_eq!(fixed(-1e-7, 6), "-0.000000");
        assert_eq!(fixed(1.1309999, 3), "1.131");
    }

    #[test]
    fn py_list_repr() {
        assert_eq!(py_list::<i64>(&[None, None]), "[None, None]");
        assert_eq!(py_list(&[Some(81i64), Some(64)]), "[81, 64]");
        assert_eq!(py_list::<i64>(&[]), "[]");
    }
}
