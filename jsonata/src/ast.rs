//! The processed syntax tree the evaluator walks.
//!
//! Paths are flattened into steps; predicates, position (`#`) and focus (`@`) bindings, grouping
//! and parent (`%`) references are attached to the step they apply to, as the reference
//! implementation's `processAST` arranges them (the evaluation rules depend on that shape).

use std::rc::Rc;

use crate::signature::Signature;

/// A node and the annotations attached to it.
#[derive(Debug, Clone)]
pub struct Node {
    /// What the node is.
    pub kind: Kind,
    /// Character offset in the expression.
    pub position: usize,
    /// `[]` after the step: keep singleton arrays.
    pub keep_array: bool,
    /// Filters applied to the node's value (outside paths).
    pub predicate: Vec<Stage>,
    /// Filters and `#` bindings applied to a path step, in order.
    pub stages: Vec<Stage>,
    /// `{…}` grouping applied to the node's value.
    pub group: Option<Box<Group>>,
    /// `@$var`: the step binds the focus variable instead of moving the context.
    pub focus: Option<Rc<str>>,
    /// `#$var`: the step binds the position variable.
    pub index: Option<Rc<str>>,
    /// The step takes part in a tuple stream (it or a later step binds variables).
    pub tuple: bool,
    /// The label under which this step's context is kept for a `%` above it.
    pub ancestor: Option<Rc<str>>,
    /// The slot behind `ancestor` while processing resolves labels.
    pub ancestor_slot: Option<usize>,
    /// `%` references inside this node not yet resolved to a step (slot ids, during processing).
    pub seeking_parent: Vec<usize>,
    /// An array constructor at the start or end of a path: its result is not flattened.
    pub consarray: bool,
    /// A path with a `[]` step somewhere: its result keeps singleton arrays.
    pub keep_singleton_array: bool,
}

/// A filter or a position binding on a step.
#[derive(Debug, Clone)]
pub enum Stage {
    /// `[expr]`.
    Filter(Node),
    /// `#$name` after a filter.
    Index(Rc<str>),
}

/// `{ key: value, … }` grouping (also the object constructor).
#[derive(Debug, Clone)]
pub struct Group {
    /// Key and value expressions.
    pub pairs: Vec<(Node, Node)>,
    /// Position of the `{`.
    pub position: usize,
}

/// One `^(…)` term.
#[derive(Debug, Clone)]
pub struct SortTerm {
    /// `>` was given.
    pub descending: bool,
    /// The key expression.
    pub expression: Node,
}

/// A function literal.
#[derive(Debug)]
pub struct LambdaDef {
    /// Parameter names without `$`.
    pub params: Vec<Rc<str>>,
    /// `<…>` signature, if declared.
    pub signature: Option<Rc<Signature>>,
    /// The body.
    pub body: Node,
    /// A tail call wrapped for the trampoline (not a user's function).
    pub thunk: bool,
}

/// `| pattern | update, delete |`.
#[derive(Debug)]
pub struct TransformDef {
    /// Which parts of the cloned input to change.
    pub pattern: Node,
    /// Object merged into each match.
    pub update: Node,
    /// Keys removed from each match.
    pub delete: Option<Node>,
}

/// Binary operators evaluated by `evaluator::ops`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `&`
    Concat,
    /// `and`
    And,
    /// `or`
    Or,
    /// `in`
    In,
    /// `..`
    Range,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Concat => "&",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::In => "in",
            BinOp::Range => "..",
        }
    }
}

/// The node kinds.
#[derive(Debug, Clone)]
pub enum Kind {
    /// `a.b.c`: steps evaluated left to right over sequences.
    Path(Vec<Node>),
    /// A binary operator.
    Binary(BinOp, Box<Node>, Box<Node>),
    /// Unary minus.
    Negate(Box<Node>),
    /// `[a, b, …]`.
    Array(Vec<Node>),
    /// `{k: v, …}`.
    Object(Box<Group>),
    /// A field name.
    Name(Rc<str>),
    /// A string literal.
    Str(Rc<str>),
    /// A number literal.
    Num(f64),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// `*`
    Wildcard,
    /// `**`
    Descendant,
    /// `%`: the label of the ancestor it refers to (a slot id until processing resolves it).
    Parent(Rc<str>, usize),
    /// `c ? a : b`.
    Condition(Box<Node>, Box<Node>, Option<Box<Node>>),
    /// `(a; b; c)`.
    Block(Vec<Node>),
    /// `$x := value`.
    Bind(Rc<str>, Box<Node>),
    /// A regular expression literal.
    Regex(Rc<crate::jsregex::Matcher>),
    /// `f(args)`.
    Call(Box<Node>, Vec<Node>),
    /// `f(a, ?)`: `None` marks a `?` placeholder.
    Partial(Box<Node>, Vec<Option<Node>>),
    /// `$name` (`$` alone is the context).
    Variable(Rc<str>),
    /// `function($x){…}`.
    Lambda(Rc<LambdaDef>),
    /// `a ~> f`.
    Apply(Box<Node>, Box<Node>),
    /// `| … | … |`.
    Transform(Rc<TransformDef>),
    /// `^(…)` as a path step.
    Sort(Vec<SortTerm>),
}

impl Node {
    /// A node with no annotations.
    pub fn new(kind: Kind, position: usize) -> Self {
        Node {
            kind,
            position,
            keep_array: false,
            predicate: Vec::new(),
            stages: Vec::new(),
            group: None,
            focus: None,
            index: None,
            tuple: false,
            ancestor: None,
            ancestor_slot: None,
            seeking_parent: Vec::new(),
            consarray: false,
            keep_singleton_array: false,
        }
    }

    /// Short name of the kind, as the reference implementation's `type` field names it.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            Kind::Path(_) => "path",
            Kind::Binary(..) => "binary",
            Kind::Negate(_) | Kind::Array(_) | Kind::Object(_) => "unary",
            Kind::Name(_) => "name",
            Kind::Str(_) => "string",
            Kind::Num(_) => "number",
            Kind::Bool(_) | Kind::Null => "value",
            Kind::Wildcard => "wildcard",
            Kind::Descendant => "descendant",
            Kind::Parent(..) => "parent",
            Kind::Condition(..) => "condition",
            Kind::Block(_) => "block",
            Kind::Bind(..) => "bind",
            Kind::Regex(_) => "regex",
            Kind::Call(..) => "function",
            Kind::Partial(..) => "partial",
            Kind::Variable(_) => "variable",
            Kind::Lambda(_) => "lambda",
            Kind::Apply(..) => "apply",
            Kind::Transform(_) => "transform",
            Kind::Sort(_) => "sort",
        }
    }

    /// True for an array constructor `[…]`.
    pub fn is_array_constructor(&self) -> bool {
        matches!(self.kind, Kind::Array(_))
    }
}
