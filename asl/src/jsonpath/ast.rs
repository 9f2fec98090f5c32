//! What a path is parsed into: its root, its steps, filter expressions and their operands; and
//! Jayway's rendering of steps (`$['a'][0]`), which its error messages quote.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Root {
    Input,
    Context,
    Variable(Box<str>),
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Step {
    Field(Box<str>),
    Index(i64),
    Wildcard,
    Slice {
        start: Option<i64>,
        end: Option<i64>,
        step: i64,
    },
    Indexes(Box<[i64]>),
    Fields(Box<[Box<str>]>),
    /// `..`: the next step applies to every node of the subtree, the node itself first.
    Descend,
    Filter(Box<Filter>),
    /// A function call such as `length()`. AWS accepts it in a definition but its paths do not
    /// support functions ("Functions such as length() aren't supported"), so it selects nothing.
    Function(Box<str>),
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Filter {
    Or(Box<Filter>, Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Exists(Operand),
    Compare(Operand, CmpOp, Operand),
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Operand {
    Current(Box<[Step]>),
    Root(Box<[Step]>),
    Literal(Value),
    Regex(Regex),
}

#[derive(Clone, Debug)]
pub(super) struct Regex(pub(super) regex::Regex);

impl PartialEq for Regex {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Matches,
    In,
    Nin,
    SubsetOf,
    AnyOf,
    NoneOf,
    Size,
    Empty,
    Contains,
}

pub(super) fn step_is_definite(step: &Step) -> bool {
    matches!(step, Step::Field(_) | Step::Index(_) | Step::Function(_))
}

pub(super) fn render(root: &Root, steps: &[Step]) -> String {
    let mut out = match root {
        Root::Input | Root::Context => String::from("$"),
        Root::Variable(name) => format!("${name}"),
    };
    for step in steps {
        out.push_str(&render_step(step));
    }
    out
}

pub(super) fn render_step(step: &Step) -> String {
    fn opt(v: Option<i64>) -> String {
        v.map(|v| v.to_string()).unwrap_or_default()
    }
    match step {
        Step::Field(name) => format!("['{name}']"),
        Step::Index(i) => format!("[{i}]"),
        Step::Wildcard => "[*]".into(),
        Step::Slice {
            start,
            end,
            step: 1,
        } => format!("[{}:{}]", opt(*start), opt(*end)),
        Step::Slice { start, end, step } => format!("[{}:{}:{step}]", opt(*start), opt(*end)),
        Step::Indexes(list) => {
            format!(
                "[{}]",
                list.iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            )
        }
        Step::Fields(list) => format!(
            "[{}]",
            list.iter()
                .map(|f| format!("'{f}'"))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Step::Descend => "..".into(),
        Step::Filter(_) => "[?]".into(),
        Step::Function(name) => format!(".{name}()"),
    }
}
