//! One interpreter session of a transcript, and the marks that end it.
//!
//! A pasted issue often holds several sessions (the seed report has a Sage
//! session with `test_parallel_sleep_v2.sage`, then an IPython session with
//! the pure-Python `test_pyparallel_sleep.py`), each printing the same
//! `Using ncpus=8 ...` header and chunk family. Reading them as one run would
//! mix two experiments under one label and one verdict, so a new session
//! starts at: a shell prompt starting `sage`/`ipython`/`python`, an
//! interpreter banner, `In [N]:` numbering going back (`In [1]:` again), a
//! change of prompt style (`sage:` vs `In [N]:` vs `>>>`), a `load(...)` or
//! import of a different script, and a Markdown heading between transcripts.
//! (A different header, family, `ncpus` or `sleep(T)` starts a new run within
//! the session: see the builder.)

use super::lines::{file_name, stem, Family, Interp, Line, PromptStyle};
use crate::run::{Factors, StrategyKind};

/// What is known of the current session.
#[derive(Clone, Debug, Default)]
pub(super) struct Session {
    /// A `sage:` prompt, the Sage banner, `$ sage` or a `.sage` script.
    sage: bool,
    prompt: Option<PromptStyle>,
    last_in: Option<u32>,
    /// The script loaded or imported (as written).
    script: Option<String>,
    start_method: Option<String>,
    executor: bool,
    openmp: bool,
    /// The interpreter and the harness's factors, where printed.
    factors: Factors,
    /// The OS, where printed (harness line, banner, or prose before the session).
    os: Option<String>,
    /// The machine in words, where the compare harness's line names it.
    machine: Option<String>,
    /// The CPython build, where a `Build (extra):` line names it.
    build: Option<String>,
    /// A prompt or an original's line was seen: a banner or a shell command
    /// now starts another session (before that, `$ ipython` and the banners
    /// it prints are one start).
    active: bool,
}

impl Session {
    /// Whether `line` ends this session and starts another.
    pub fn ends_at(&self, line: &Line) -> bool {
        match line {
            Line::Shell { .. } | Line::Banner(..) | Line::Harness { .. } | Line::Build(_) | Line::Heading => {
                self.active
            }
            Line::Prompt { style, number, script } => {
                let other_style = self.prompt.is_some_and(|p| p != *style);
                let renumbered = matches!((number, self.last_in), (Some(n), Some(last)) if *n <= last);
                let other_script = match (script, &self.script) {
                    (Some(new), Some(old)) => stem(new) != stem(old),
                    _ => false,
                };
                other_style || renumbered || other_script
            }
            _ => false,
        }
    }

    /// Takes in what `line` says about the session.
    pub fn note(&mut self, line: &Line) {
        match line {
            Line::Shell { interp, script } => {
                self.sage |= *interp == Interp::Sage;
                self.set_script(script);
            }
            Line::Banner(interp, python, os) => {
                self.sage |= *interp == Interp::Sage;
                self.factors.python = python.clone().or(self.factors.python.take());
                self.os = os.clone().or(self.os.take());
            }
            Line::PythonVersion(v) => self.factors.python = Some(v.clone()),
            Line::Harness {
                python,
                os,
                machine,
                os_fork,
                standin_leak,
            } => {
                self.factors.python = Some(python.clone());
                self.factors.os_fork = Some(os_fork.clone());
                self.factors.standin_leak = Some(*standin_leak);
                self.os = Some(os.clone());
                self.machine = Some(machine.clone());
            }
            // A prose mention names the OS of a session not yet started; a
            // later one belongs to the next session (see `parse`).
            Line::OsMention(os) if !self.active && self.os.is_none() => {
                self.os = Some(format!("{os} (from the text)"));
            }
            Line::Build(label) => self.build = Some(label.clone()),
            Line::OsMention(_) | Line::Counters(_) | Line::Witness(_) => {}
            Line::Prompt { style, number, script } => {
                self.active = true;
                self.sage |= *style == PromptStyle::Sage;
                self.prompt = Some(*style);
                self.last_in = number.or(self.last_in);
                self.set_script(script);
            }
            Line::Using { executor } => {
                self.active = true;
                self.executor |= executor;
            }
            Line::StartMethod(method) => {
                self.active = true;
                self.start_method = Some(method.clone());
            }
            Line::OpenMp(_) => {
                self.active = true;
                self.openmp = true;
            }
            Line::Chunk(_) | Line::WallTime(_) | Line::SpawnCost(_) => self.active = true,
            Line::CpuTimes { .. } | Line::PrunHeader | Line::PrunRow { .. } => self.active = true,
            Line::Heading | Line::Fence | Line::Other => {}
        }
    }

    fn set_script(&mut self, script: &Option<String>) {
        if let Some(s) = script {
            self.sage |= s.ends_with(".sage");
            self.script = Some(s.clone());
        }
    }

    /// The interpreter and factors known so far.
    pub fn factors(&self) -> Factors {
        self.factors.clone()
    }

    /// The OS known so far.
    pub fn os(&self) -> Option<String> {
        self.os.clone()
    }

    /// The machine, where the compare harness named it.
    pub fn machine(&self) -> Option<String> {
        self.machine.clone()
    }

    /// The build the session ran on, where a `Build (extra):` line names it.
    pub fn build(&self) -> Option<&str> {
        self.build.as_deref()
    }

    /// Starts the OS of a session from a prose mention made in the previous one.
    pub fn with_os(mut self, os: Option<String>) -> Session {
        self.os = os.map(|o| format!("{o} (from the text)"));
        self
    }

    /// What tells one mechanism from another within a session (start
    /// method, executor, OpenMP): a change of it starts a new run. The Sage
    /// or script part of the label only gets more precise as the session
    /// goes on, so it does not.
    pub fn mechanism(&self) -> (Option<String>, bool, bool) {
        (self.start_method.clone(), self.executor, self.openmp)
    }

    /// The kind and the strategy label of a chunk line of `family` in this
    /// session. For the @para family the script tells Sage's real
    /// `@parallel` (`test_parallel_sleep*.sage`, named in the label: two
    /// scripts of it differ in their jobs) from E. Costa's pure-Python
    /// emulation (`test_pyparallel_sleep.py`), which print the very same
    /// lines.
    pub fn strategy(&self, family: &Family) -> (StrategyKind, String) {
        let method = self.start_method.as_deref();
        let script = self.script.as_deref();
        match family {
            Family::Para(label) if label == "maxworkers" || self.executor => (
                StrategyKind::Pool,
                format!("ProcessPoolExecutor/{}", method.unwrap_or("fork")),
            ),
            Family::Para(_) if self.openmp => (StrategyKind::ThreadTeam, "OpenMP thread team".into()),
            Family::Para(_) if script.is_some_and(|s| stem(s).contains("pyparallel")) => (
                StrategyKind::ForkPerJob,
                "fork-per-job (pure-Python @parallel emulation)".into(),
            ),
            Family::Para(_) if self.sage => {
                let label = match script {
                    Some(s) => format!("fork-per-job (Sage @parallel, {})", file_name(s)),
                    None => "fork-per-job (Sage @parallel)".into(),
                };
                (StrategyKind::ForkPerJob, label)
            }
            Family::Para(_) => (StrategyKind::ForkPerJob, "fork-per-job (@parallel)".into()),
            Family::Pool => (StrategyKind::Pool, format!("pool/{}", method.unwrap_or("?"))),
            Family::RealField(p) => (
                StrategyKind::RealField,
                format!("pool/{} RealField({p})", method.unwrap_or("?")),
            ),
            Family::SpawnPerCall => (
                StrategyKind::PoolPerCall,
                "pool-per-call/spawn (Sage @parallel p_iter=multiprocessing)".into(),
            ),
        }
    }
}
