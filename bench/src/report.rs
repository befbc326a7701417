//! The report's table: rows of figures and ratios, each with its goal, in
//! markdown for people and JSON for tools.

use std::fmt::Write as _;

use crate::machine::Machine;

/// A goal a figure is held to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// No goal: a figure for reference.
    None,
    /// The figure must be at most this.
    AtMost(f64),
    /// The figure must be at least this.
    AtLeast(f64),
}

impl Goal {
    /// Whether `value` meets the goal (`None` when there is no goal).
    pub fn met(self, value: f64) -> Option<bool> {
        match self {
            Goal::None => None,
            Goal::AtMost(g) => Some(value <= g),
            Goal::AtLeast(g) => Some(value >= g),
        }
    }

    /// `value / goal`, when there is a non-zero goal.
    pub fn ratio(self, value: f64) -> Option<f64> {
        match self {
            Goal::AtMost(g) | Goal::AtLeast(g) if g != 0.0 => Some(value / g),
            _ => None,
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// The item number (1–7).
    pub item: u8,
    /// What is measured.
    pub measure: String,
    /// The figure, formatted.
    pub figure: String,
    /// The value the goal is checked against.
    pub value: f64,
    /// The goal.
    pub goal: Goal,
    /// How the goal reads (`≤ 1.10`, `≥ 2×`, `0`).
    pub goal_text: String,
}

impl Row {
    /// A row with no goal.
    pub fn info(item: u8, measure: impl Into<String>, figure: impl Into<String>) -> Row {
        Row {
            item,
            measure: measure.into(),
            figure: figure.into(),
            value: f64::NAN,
            goal: Goal::None,
            goal_text: String::new(),
        }
    }

    /// A row held to `goal`.
    pub fn goal(
        item: u8,
        measure: impl Into<String>,
        figure: impl Into<String>,
        value: f64,
        goal: Goal,
        goal_text: impl Into<String>,
    ) -> Row {
        Row {
            item,
            measure: measure.into(),
            figure: figure.into(),
            value,
            goal,
            goal_text: goal_text.into(),
        }
    }

    fn verdict(&self) -> &'static str {
        match self.goal.met(self.value) {
            Some(true) => "met",
            Some(false) => "**missed**",
            None => "",
        }
    }

    fn vs_goal(&self) -> String {
        match (self.goal, self.goal.ratio(self.value)) {
            (Goal::AtMost(0.0), _) => {
                if self.value == 0.0 {
                    "= goal".into()
                } else {
                    format!("{} over", self.value)
                }
            }
            (_, Some(r)) => format!("{r:.2}"),
            _ => String::new(),
        }
    }
}

/// A thousands-separated integer.
pub fn int(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    let s = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if x < 0.0 {
        out.insert(0, '-');
    }
    out
}

/// A duration in nanoseconds, in µs or ms.
pub fn dur_ns(ns: f64) -> String {
    if !ns.is_finite() {
        "n/a".into()
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.1} µs", ns / 1e3)
    }
}

/// A rate and the time it stands for: `4,812 /s (207.8 µs)`.
pub fn rate(ns_per: f64) -> String {
    format!("{} /s ({})", int(1e9 / ns_per), dur_ns(ns_per))
}

/// The whole report.
pub struct Report {
    /// The machine.
    pub machine: Machine,
    /// `full` or `quick`.
    pub mode: &'static str,
    /// The command that made it.
    pub command: String,
    /// How the measured code was built.
    pub build: String,
    /// The rows, in order.
    pub rows: Vec<Row>,
    /// Further sections after the table: a title and markdown.
    pub sections: Vec<(String, String)>,
    /// Notes at the end (method, cipher suites, failures).
    pub notes: Vec<String>,
}

impl Report {
    /// Rows whose goal is missed.
    pub fn missed(&self) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|r| r.goal.met(r.value) == Some(false))
            .collect()
    }

    /// The markdown table alone.
    pub fn table(&self) -> String {
        let mut s = String::new();
        s.push_str("| # | Measure | Figure | Goal | Figure ÷ goal | |\n");
        s.push_str("|---|---|---|---|---|---|\n");
        for r in &self.rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                r.item,
                r.measure,
                r.figure,
                r.goal_text,
                r.vs_goal(),
                r.verdict()
            );
        }
        s
    }

    /// The markdown document: title, machine, command, table, notes.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# Beckon benchmark report ({})\n", self.mode);
        let _ = writeln!(s, "- Machine: {}", self.machine.line());
        let _ = writeln!(s, "- Command: `{}`", self.command);
        let _ = writeln!(s, "- Build: {}", self.build);
        s.push('\n');
        s.push_str(&self.table());
        for (title, body) in &self.sections {
            let _ = write!(s, "\n## {title}\n\n{body}");
        }
        if !self.notes.is_empty() {
            s.push_str("\nNotes:\n\n");
            for n in &self.notes {
                let _ = writeln!(s, "- {n}");
            }
        }
        s
    }
}
