//! One line of a transcript, recognised: a chunk line of one of the
//! originals' families (ORIGINALS.md), a header they print, or one of the
//! marks a terminal or a Markdown document leaves around a session (shell
//! prompt, interpreter banner, `sage:`/`In [N]:`/`>>>` prompt, heading, fence).

use regex::{Captures, Regex};
use std::sync::OnceLock;

/// The line family of a chunk line.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Family {
    /// `@para sleep`, label `ncpus` (@parallel) or `maxworkers` (executor).
    Para(String),
    Pool,
    RealField(u32),
    /// test_parallel_spawn_sleep.sage: one line per call.
    SpawnPerCall,
}

/// A chunk line: `calls` calls that took `wall` seconds.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct ChunkLine {
    pub family: Family,
    pub ncpus: usize,
    /// `None` for RealField.
    pub sleep: Option<f64>,
    pub calls: u64,
    pub wall: f64,
    pub cost_per_job: f64,
}

/// Which interpreter a shell command or a banner starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Interp {
    Sage,
    IPython,
    Python,
}

/// The prompt a line starts with: `sage:`, `In [N]:` or `>>>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PromptStyle {
    Sage,
    IPython,
    Python,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Line {
    Chunk(ChunkLine),
    /// The spawn script's ` Cost/ncpus is ...` line, which ends a call's line.
    SpawnCost(f64),
    /// `Wall time: ...`: the end of a `%time bar()`, with its seconds when
    /// they read.
    WallTime(Option<f64>),
    /// `CPU times: user X, sys: Y, total: Z`: the parent's user and system
    /// seconds of the `%time` block it opens.
    CpuTimes {
        user: f64,
        sys: f64,
    },
    /// The column header of an IPython `%prun` table (`ncalls  tottime
    /// percall  cumtime  percall filename:lineno(function)`).
    PrunHeader,
    /// A `%prun` row of a process-making built-in: `posix.fork`,
    /// `posix.wait`, `posix.waitpid`, `posix.wait4` (`ncalls` the primitive
    /// calls, the part after `/` of a recursive `a/b` left out).
    PrunRow {
        function: String,
        ncalls: u64,
        tottime: f64,
    },
    /// `Using ncpus=N ...` / `Using maxworkers=N ...`: the start of a bar().
    Using {
        executor: bool,
    },
    StartMethod(String),
    /// test_openmp_sleep.c's only line.
    OpenMp(usize),
    /// `$ sage`, `% python3 test_pool_fork_sleep.py`: a new interpreter.
    Shell {
        interp: Interp,
        script: Option<String>,
    },
    /// The first line(s) an interpreter prints, with the Python version and
    /// platform when the line names them (`Python 3.13.3 (...) [...] on darwin`).
    Banner(Interp, Option<String>, Option<String>),
    /// The Sage banner's `Using Python 3.12.5.` line.
    PythonVersion(String),
    /// ci/compare/harness.py's first line: the run's interpreter, OS,
    /// machine and factors (`Harness (extra): Python 3.12.1 (CPython) on
    /// Debian GNU/Linux 12 (bookworm), x86_64; cpu: Intel(R) Xeon(R) CPU @
    /// 2.20GHz; os.fork: real; stand-in leak: off; counters: on`; on macOS
    /// `on macOS 15.5, arm64; build: 24F74; cpu: Apple M2; ...`). `os` is
    /// `OS, ARCH` as a record's, `machine` the [`machine_label`] of the
    /// parts. Older harnesses wrote `on Linux x86_64;` and no build or cpu:
    /// then both are that.
    ///
    /// [`machine_label`]: crate::run::machine_label
    Harness {
        python: String,
        os: String,
        machine: String,
        os_fork: String,
        standin_leak: bool,
    },
    /// `Build (extra): LABEL`, which `ci/cpython-fix.sh` writes before the
    /// harness's output: the CPython build the session ran on (`unpatched,
    /// REPO REF at COMMIT` or `patched, …`), as fork_repro.py's
    /// `fork_repro: build:` line.
    Build(String),
    /// The harness's `Counters (extra): name=value ...` after a chunk line.
    Counters(probes::Reading),
    /// The harness's `Witness (extra): tool=pmap when=before regions=123`
    /// (`mach_msg=4` on macOS; `forks=800` after the last bar()).
    Witness(WitnessLine),
    /// An OS named in prose (`... on macOS 15.4.1 Sequoia`): the OS of the
    /// session that follows.
    OsMention(String),
    /// `number` is IPython's `N`; `script` what the input loads or imports.
    Prompt {
        style: PromptStyle,
        number: Option<u32>,
        script: Option<String>,
    },
    /// A Markdown heading (outside a fenced block).
    Heading,
    /// A Markdown code fence (```` ``` ```` or `~~~`).
    Fence,
    Other,
}

/// One `Witness (extra):` line of the harness (`probes::witness`).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct WitnessLine {
    pub tool: probes::witness::Tool,
    /// `when=after` (else `before`).
    pub after: bool,
    pub regions: probes::witness::Regions,
    /// `forks=N`: the `os.fork()` calls since the reading before.
    pub forks: Option<u64>,
}

struct Patterns {
    para: Regex,
    pool: Regex,
    real_field: Regex,
    spawn: Regex,
    spawn_cost: Regex,
    using: Regex,
    start_method: Regex,
    openmp: Regex,
    shell: Regex,
    banner: Regex,
    python_version: Regex,
    harness: Regex,
    os_mention: Regex,
    prompt: Regex,
    script: Regex,
    import: Regex,
    cpu_times: Regex,
    prun_header: Regex,
    prun_row: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let re = |s: &str| Regex::new(s).expect("valid pattern");
        const NUM: &str = r"(-?\d+\.\d+)";
        Patterns {
            para: re(&format!(
                r"^{NUM}s per (\d+) x (\d+) @para sleep\({NUM}\)\. Cost/(ncpus|maxworkers)/calls is {NUM}s\.$"
            )),
            pool: re(&format!(
                r"^{NUM}s per (\d+) x (\d+) sleep\({NUM}\)\. Cost/maxworkers/calls is {NUM}s\.$"
            )),
            real_field: re(&format!(
                r"^{NUM}s per (\d+) x (\d+) RealField\((\d+)\)\.sin\(\)\. Cost/ncpus/calls is {NUM}s\.$"
            )),
            spawn: re(&format!(
                r"^Now spawning @parallelized sleep\({NUM}\) on (\d+) workers\.\s+{NUM}s\.$"
            )),
            spawn_cost: re(&format!(r"^Cost/ncpus is {NUM}s\.$")),
            using: re(r"^Using (?:ncpus|maxworkers)=\d+ (parallel decorated function|as max_workers for ProcessPoolExecutor)$"),
            start_method: re(r"^Setting multiprocessing start method to '(\w+)'$"),
            openmp: re(r"^I am set up to use (\d+) threads\.$"),
            // A shell prompt (`$`, `%` or `#`, after an optional `(venv)` and
            // `user@host dir` or `~/dir`) then the interpreter, then its arguments.
            shell: re(r"^(?:\(\S+\)\s*)?(?:\S*[@:~/.-]\S*(?:\s\S+)?\s?)?[$%#]\s+(sage|ipython\d*|python[\d.]*)(?:\s+(.*))?$"),
            banner: re(r"SageMath version \d|^IPython \d+\.\d+.* -- An enhanced Interactive Python|^Python \d+\.\d+\.\d+\S* \("),
            python_version: re(r"^(?:Python (\d+\.\d+\.\d+)\S* \(.*?(?:\bon (\w+))?$|\W*Using Python (\d+\.\d+\.\d+)\.)"),
            harness: re(
                r"^Harness \(extra\): Python (\S+) \(\w+\) on ([^;]+?)(?:; build: ([^;]+))?(?:; cpu: ([^;]+))?; os\.fork: ([^;]+); stand-in leak: (on|off);",
            ),
            os_mention: re(r"\bmacOS (\d+(?:\.\d+)*)"),
            prompt: re(r"^(?:(sage:)|In \[(\d+)\]:|(>>>))(?:\s(.*))?$"),
            script: re(r#"(?:\b(?:load|attach)\(\s*|\bexec\(\s*open\(\s*)["']([^"']+)["']|%run\s+(?:-\S+\s+)*(\S+)"#),
            import: re(r"^(?:from\s+([\w.]+)\s+import\s+(.*)|import\s+([\w.]+))"),
            cpu_times: re(r"^CPU times: user (.+?), sys: (.+?), total: (.+)$"),
            prun_header: re(r"^ncalls\s+tottime\s+percall\s+cumtime\s+percall\s+filename:lineno\(function\)$"),
            prun_row: re(
                r"^(\d+)(?:/\d+)?\s+(\d+\.\d+)\s+(?:\d+\.\d+)\s+(?:\d+\.\d+)\s+(?:\d+\.\d+)\s+\{(?:built-in method )?(?:posix|os)\.(fork|wait|waitpid|wait4)\}$",
            ),
        }
    })
}

/// Classifies one line; `in_fence` tells whether it is inside a fenced block
/// of a Markdown document (where `#` starts a comment, not a heading).
pub(super) fn classify(raw: &str, in_fence: bool) -> Line {
    let line = raw.trim();
    if line.starts_with("```") || line.starts_with("~~~") {
        return Line::Fence;
    }
    if !in_fence && is_heading(line) {
        return Line::Heading;
    }
    if let Some(chunk) = chunk(line) {
        return Line::Chunk(chunk);
    }
    header(line)
        .or_else(|| harness(line))
        .or_else(|| prompt(line))
        .or_else(|| shell(line))
        .or_else(|| os_mention(line))
        .unwrap_or(Line::Other)
}

/// The harness's own lines: its first line, the counters after a chunk, the
/// witness, and the build line written before it.
fn harness(line: &str) -> Option<Line> {
    if let Some(words) = line.strip_prefix("Counters (extra): ") {
        return probes::resources::parse_words(words).map(Line::Counters);
    }
    if let Some(words) = line.strip_prefix("Witness (extra): ") {
        return witness(words).map(Line::Witness);
    }
    if let Some(label) = line.strip_prefix("Build (extra): ").map(str::trim) {
        return Some(Line::Build(label.to_string())).filter(|_| !label.is_empty());
    }
    let c = patterns().harness.captures(line)?;
    let os = c[2].to_string();
    let machine = match os.rsplit_once(", ") {
        Some((version, arch)) => {
            let part = |k: usize| c.get(k).map(|m| m.as_str());
            crate::run::machine_label(version, part(3), arch, part(4))
        }
        None => os.clone(),
    };
    Some(Line::Harness {
        python: c[1].to_string(),
        os,
        machine,
        os_fork: c[5].to_string(),
        standin_leak: &c[6] == "on",
    })
}

/// `tool=vmmap when=after regions=1234 mach_msg=4 forks=800`; `None`
/// for anything else (a refusal, on stderr, is a sentence).
fn witness(words: &str) -> Option<WitnessLine> {
    let mut rest = words.split_whitespace();
    let tool = match rest.next()? {
        "tool=vmmap" => probes::witness::Tool::Vmmap,
        "tool=pmap" => probes::witness::Tool::Pmap,
        _ => return None,
    };
    let after = match rest.next()? {
        "when=before" => false,
        "when=after" => true,
        _ => return None,
    };
    let numbers = probes::resources::parse_words(&rest.collect::<Vec<_>>().join(" "))?;
    Some(WitnessLine {
        tool,
        after,
        regions: probes::witness::Regions {
            total: *numbers.get("regions")?,
            mach_msg: numbers.get("mach_msg").copied(),
            types: Default::default(),
            counted: numbers.get("counted").copied(),
            counted_mach_msg: numbers.get("counted_mach_msg").copied(),
        },
        forks: numbers.get("forks").copied(),
    })
}

fn os_mention(line: &str) -> Option<Line> {
    let c = patterns().os_mention.captures(line)?;
    Some(Line::OsMention(format!("macOS {}", &c[1])))
}

fn is_heading(line: &str) -> bool {
    let hashes = line.bytes().take_while(|&b| b == b'#').count();
    (1..=6).contains(&hashes) && line[hashes..].starts_with(' ')
}

fn num(c: &Captures, k: usize) -> f64 {
    c[k].parse().unwrap_or(f64::NAN)
}

fn int(c: &Captures, k: usize) -> u64 {
    c[k].parse().unwrap_or(0)
}

/// A chunk line of any family; a chunk of 0 calls is no chunk.
fn chunk(line: &str) -> Option<ChunkLine> {
    let p = patterns();
    let make = |family, c: &Captures, sleep, cost: usize| ChunkLine {
        family,
        ncpus: int(c, 3) as usize,
        sleep,
        calls: int(c, 2),
        wall: num(c, 1),
        cost_per_job: num(c, cost),
    };
    let found = if let Some(c) = p.para.captures(line) {
        make(Family::Para(c[5].to_string()), &c, Some(num(&c, 4)), 6)
    } else if let Some(c) = p.pool.captures(line) {
        make(Family::Pool, &c, Some(num(&c, 4)), 5)
    } else if let Some(c) = p.real_field.captures(line) {
        make(Family::RealField(int(&c, 4) as u32), &c, None, 5)
    } else if let Some(c) = p.spawn.captures(line) {
        // One call per line: a "chunk" of 1 call. The cost is the original's
        // formula `(delta - T)/ncpus`, replaced by the printed figure when
        // the ` Cost/ncpus is` line follows.
        let (t, workers, delta) = (num(&c, 1), int(&c, 2) as usize, num(&c, 3));
        ChunkLine {
            family: Family::SpawnPerCall,
            ncpus: workers,
            sleep: Some(t),
            calls: 1,
            wall: delta,
            cost_per_job: (delta - t) / workers.max(1) as f64,
        }
    } else {
        return None;
    };
    (found.calls > 0).then_some(found)
}

/// The lines the originals print besides chunk lines.
fn header(line: &str) -> Option<Line> {
    let p = patterns();
    if let Some(rest) = line.strip_prefix("Wall time:") {
        Some(Line::WallTime(ipython_secs(rest)))
    } else if let Some(c) = p.cpu_times.captures(line) {
        Some(Line::CpuTimes {
            user: ipython_secs(&c[1])?,
            sys: ipython_secs(&c[2])?,
        })
    } else if p.prun_header.is_match(line) {
        Some(Line::PrunHeader)
    } else if let Some(c) = p.prun_row.captures(line) {
        Some(Line::PrunRow {
            function: format!("posix.{}", &c[3]),
            ncalls: int(&c, 1),
            tottime: num(&c, 2),
        })
    } else if let Some(c) = p.using.captures(line) {
        Some(Line::Using {
            executor: c[1].contains("Executor"),
        })
    } else if let Some(c) = p.spawn_cost.captures(line) {
        Some(Line::SpawnCost(num(&c, 1)))
    } else if let Some(c) = p.start_method.captures(line) {
        Some(Line::StartMethod(c[1].to_string()))
    } else if let Some(c) = p.openmp.captures(line) {
        Some(Line::OpenMp(int(&c, 1) as usize))
    } else if let Some(m) = p.banner.find(line) {
        let interp = match m.as_str() {
            s if s.starts_with("SageMath") => Interp::Sage,
            s if s.starts_with("IPython") => Interp::IPython,
            _ => Interp::Python,
        };
        let version = p.python_version.captures(line);
        let python = version.as_ref().and_then(|c| c.get(1)).map(|m| m.as_str().to_string());
        let os = version.as_ref().and_then(|c| c.get(2)).map(|m| match m.as_str() {
            "darwin" => "macOS".to_string(),
            "linux" => "Linux".to_string(),
            other => other.to_string(),
        });
        Some(Line::Banner(interp, python, os))
    } else {
        let v = p.python_version.captures(line)?;
        Some(Line::PythonVersion(v.get(3)?.as_str().to_string()))
    }
}

/// The seconds of a time as IPython's `_format_time` prints it (timing's
/// `pyfmt::ipython_time`): `398 ms`, `9.75 s`, `153 µs` (or `us` where
/// the terminal is not UTF-8), `0 ns`, `1min 5s`, `2h 3min 4s`.
pub(super) fn ipython_secs(text: &str) -> Option<f64> {
    let text = text.trim();
    let mut parts = text.split_whitespace();
    if let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) {
        let scale = match unit {
            "s" => Some(1.0),
            "ms" => Some(1e-3),
            "\u{b5}s" | "\u{3bc}s" | "us" => Some(1e-6),
            "ns" => Some(1e-9),
            _ => None,
        };
        if let (Some(scale), Ok(v)) = (scale, value.parse::<f64>()) {
            return Some(v * scale);
        }
    }
    // `1min 5s`: whole numbers with the suffixes d, h, min, s.
    let mut total = 0.0;
    for part in text.split_whitespace() {
        let digits = part.find(|c: char| !c.is_ascii_digit() && c != '.')?;
        let (value, suffix) = part.split_at(digits);
        let length = match suffix {
            "d" => 86400.0,
            "h" => 3600.0,
            "min" => 60.0,
            "s" => 1.0,
            _ => return None,
        };
        total += value.parse::<f64>().ok()? * length;
    }
    (!text.is_empty()).then_some(total)
}

fn prompt(line: &str) -> Option<Line> {
    let c = patterns().prompt.captures(line)?;
    let style = if c.get(1).is_some() {
        PromptStyle::Sage
    } else if c.get(3).is_some() {
        PromptStyle::Python
    } else {
        PromptStyle::IPython
    };
    Some(Line::Prompt {
        style,
        number: c.get(2).and_then(|n| n.as_str().parse().ok()),
        script: c.get(4).and_then(|input| script(input.as_str())),
    })
}

fn shell(line: &str) -> Option<Line> {
    let c = patterns().shell.captures(line)?;
    let interp = match &c[1] {
        "sage" => Interp::Sage,
        s if s.starts_with("ipython") => Interp::IPython,
        _ => Interp::Python,
    };
    let script = c.get(2).and_then(|args| {
        args.as_str()
            .split_whitespace()
            .find(|a| a.ends_with(".py") || a.ends_with(".sage"))
            .map(str::to_string)
    });
    Some(Line::Shell { interp, script })
}

/// The script a prompt's input loads: `load("x.sage")`, `attach(...)`,
/// `%run x.py`, `exec(open("x.py")...)`, or an import of a module that is
/// one of the test scripts. Only imports of `bar` (or `*`) or of a `test_...`
/// module count: `import os` in the middle of a session loads no experiment.
fn script(input: &str) -> Option<String> {
    let p = patterns();
    if let Some(c) = p.script.captures(input) {
        return c.get(1).or(c.get(2)).map(|m| m.as_str().to_string());
    }
    let c = p.import.captures(input.trim())?;
    let module = c.get(1).or(c.get(3))?.as_str();
    let names = c.get(2).map_or("", |m| m.as_str());
    let experiment = module.rsplit('.').next().is_some_and(|m| m.starts_with("test"))
        || names.split([',', ' ']).any(|n| n == "bar" || n == "*");
    experiment.then(|| module.to_string())
}

/// `dir/test_x.sage` → `test_x.sage`: the script's file name.
pub(super) fn file_name(script: &str) -> &str {
    script.rsplit(['/', '\\']).next().unwrap_or(script)
}

/// `dir/test_x.sage` → `test_x`: a script loaded as a file and imported as a
/// module is the same script.
pub(super) fn stem(script: &str) -> &str {
    let name = file_name(script);
    name.strip_suffix(".py")
        .or_else(|| name.strip_suffix(".sage"))
        .unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::ipython_secs;

    #[test]
    fn time_blocks_read_every_unit_ipython_prints() {
        assert_eq!(ipython_secs("398 ms"), Some(0.398));
        assert_eq!(ipython_secs(" 9.75 s"), Some(9.75));
        assert_eq!(ipython_secs("153 \u{b5}s"), Some(153e-6));
        assert_eq!(ipython_secs("153 us"), Some(153e-6));
        assert_eq!(ipython_secs("0 ns"), Some(0.0));
        assert_eq!(ipython_secs("1min 5s"), Some(65.0));
        assert_eq!(ipython_secs("2h 3min 4s"), Some(7384.0));
        assert_eq!(ipython_secs("soon"), None);
        // What timing prints reads back.
        for t in [0.000_153, 0.398, 9.75, 65.0, 7384.0] {
            let back = ipython_secs(&timing::pyfmt::ipython_time(t)).unwrap();
            assert!((back - t).abs() <= 0.005 * t, "{t} -> {back}");
        }
    }
}
