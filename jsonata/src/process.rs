//! Turns the raw parse tree into the evaluator's tree: flattens `.` chains into path steps,
//! attaches predicates, `#`/`@` bindings, grouping and sorting to steps, resolves each `%`
//! (parent) to the step whose context it names, and marks tail calls for the trampoline.
//!
//! The rules (and error codes `S0209`–`S0217`) follow the reference implementation's
//! `processAST`, since evaluation depends on exactly this shape.

use std::rc::Rc;

use crate::ast::{BinOp, Group, Kind, LambdaDef, Node, SortTerm, Stage, TransformDef};
use crate::error::Error;
use crate::jsregex::Matcher;
use crate::parser::{Raw, RawKind};

/// A `%` reference being resolved: the label it will read and how many steps up it still looks.
#[derive(Debug)]
struct Slot {
    label: String,
    level: i64,
}

/// Processes a whole expression.
pub fn process(raw: Raw) -> Result<Node, Error> {
    let mut p = Processor {
        slots: Vec::new(),
        stack: crate::stack::StackGuard::new(PROCESS_STACK),
    };
    let mut node = p.node(raw)?;
    if matches!(node.kind, Kind::Parent(..)) || !node.seeking_parent.is_empty() {
        return Err(Error::at("S0217", node.position).with_token(node.type_name()));
    }
    p.finish(&mut node);
    Ok(node)
}

struct Processor {
    slots: Vec<Slot>,
    stack: crate::stack::StackGuard,
}

/// Native stack the processing may use (bytes); the parser has already bounded the nesting.
const PROCESS_STACK: usize = 768 << 10;

fn binop(op: &str) -> Option<BinOp> {
    Some(match op {
        "+" => BinOp::Add,
        "-" => BinOp::Sub,
        "*" => BinOp::Mul,
        "/" => BinOp::Div,
        "%" => BinOp::Mod,
        "=" => BinOp::Eq,
        "!=" => BinOp::Ne,
        "<" => BinOp::Lt,
        "<=" => BinOp::Le,
        ">" => BinOp::Gt,
        ">=" => BinOp::Ge,
        "&" => BinOp::Concat,
        "and" => BinOp::And,
        "or" => BinOp::Or,
        "in" => BinOp::In,
        ".." => BinOp::Range,
        _ => return None,
    })
}

/// `%` references of `value` that are still unresolved, including `value` itself.
fn pending(value: &Node) -> Vec<usize> {
    let mut slots = value.seeking_parent.clone();
    if let Kind::Parent(_, slot) = value.kind {
        slots.push(slot);
    }
    slots
}

fn push_ancestry(result: &mut Node, value: &Node) {
    result.seeking_parent.extend(pending(value));
}

fn into_path(node: Node) -> Node {
    if matches!(node.kind, Kind::Path(_)) {
        node
    } else {
        let pos = node.position;
        Node::new(Kind::Path(vec![node]), pos)
    }
}

fn steps_mut(node: &mut Node) -> Option<&mut Vec<Node>> {
    match &mut node.kind {
        Kind::Path(steps) => Some(steps),
        _ => None,
    }
}

/// Runs `f` on the last step of a path, or on the node itself.
fn with_last_step<R>(node: &mut Node, f: impl FnOnce(&mut Node) -> R) -> R {
    if matches!(&node.kind, Kind::Path(steps) if !steps.is_empty())
        && let Kind::Path(steps) = &mut node.kind
    {
        let i = steps.len() - 1;
        return f(&mut steps[i]);
    }
    f(node)
}

impl Processor {
    fn node(&mut self, raw: Raw) -> Result<Node, Error> {
        if self.stack.exceeded() {
            return Err(
                Error::at("U1001", raw.pos).with_value("Expression nested too deeply to process")
            );
        }
        let keep_array = raw.keep_array;
        let pos = raw.pos;
        let mut result = match raw.kind {
            RawKind::Binary(".", lhs, rhs) => self.path(*lhs, *rhs)?,
            RawKind::Binary("[", lhs, rhs) => self.predicate(*lhs, *rhs, pos)?,
            RawKind::Group(lhs, pairs) => {
                let mut result = self.node(*lhs)?;
                if result.group.is_some() {
                    return Err(Error::at("S0210", pos));
                }
                let pairs = pairs
                    .into_iter()
                    .map(|(k, v)| Ok((self.node(k)?, self.node(v)?)))
                    .collect::<Result<Vec<_>, Error>>()?;
                result.group = Some(Box::new(Group {
                    pairs,
                    position: pos,
                }));
                result
            }
            RawKind::Sort(lhs, terms) => {
                let mut result = into_path(self.node(*lhs)?);
                let mut sort = Node::new(Kind::Sort(Vec::new()), pos);
                let mut sort_terms = Vec::new();
                for (descending, expr) in terms {
                    let expression = self.node(expr)?;
                    push_ancestry(&mut sort, &expression);
                    sort_terms.push(SortTerm {
                        descending,
                        expression,
                    });
                }
                sort.kind = Kind::Sort(sort_terms);
                if let Some(steps) = steps_mut(&mut result) {
                    steps.push(sort);
                }
                self.resolve_ancestry(&mut result)?;
                result
            }
            RawKind::Binary(":=", lhs, rhs) => {
                let name = match lhs.kind {
                    RawKind::Var(v) => v,
                    _ => return Err(Error::at("S0212", lhs.pos)),
                };
                let rhs = self.node(*rhs)?;
                let slots = pending(&rhs);
                let mut result = Node::new(Kind::Bind(Rc::from(name), Box::new(rhs)), pos);
                result.seeking_parent.extend(slots);
                result
            }
            RawKind::Binary("@", lhs, rhs) => {
                let mut result = self.node(*lhs)?;
                let var = var_name(&rhs);
                with_last_step(&mut result, |step| {
                    if !step.stages.is_empty() || !step.predicate.is_empty() {
                        return Err(Error::at("S0215", pos));
                    }
                    if matches!(step.kind, Kind::Sort(_)) {
                        return Err(Error::at("S0216", pos));
                    }
                    if keep_array {
                        step.keep_array = true;
                    }
                    step.focus = Some(Rc::from(var));
                    step.tuple = true;
                    Ok(())
                })?;
                result
            }
            RawKind::Binary("#", lhs, rhs) => {
                let mut result = self.node(*lhs)?;
                let var: Rc<str> = Rc::from(var_name(&rhs));
                if !matches!(result.kind, Kind::Path(_)) {
                    let mut step = result;
                    let predicate = std::mem::take(&mut step.predicate);
                    step.stages = predicate;
                    result = into_path(step);
                }
                with_last_step(&mut result, |step| {
                    if step.stages.is_empty() {
                        step.index = Some(var);
                    } else {
                        step.stages.push(Stage::Index(var));
                    }
                    step.tuple = true;
                });
                result
            }
            RawKind::Binary("~>", lhs, rhs) => {
                let lhs = self.node(*lhs)?;
                let rhs = self.node(*rhs)?;
                let keep = lhs.keep_array || rhs.keep_array;
                let mut result = Node::new(Kind::Apply(Box::new(lhs), Box::new(rhs)), pos);
                result.keep_array = keep;
                result
            }
            RawKind::Binary(op, lhs, rhs) => {
                let lhs = self.node(*lhs)?;
                let rhs = self.node(*rhs)?;
                let Some(op) = binop(op) else {
                    return Err(Error::at("S0201", pos).with_token(op));
                };
                let mut result = Node::new(Kind::Null, pos);
                push_ancestry(&mut result, &lhs);
                push_ancestry(&mut result, &rhs);
                result.kind = Kind::Binary(op, Box::new(lhs), Box::new(rhs));
                result
            }
            RawKind::Negate(expr) => {
                let expr = self.node(*expr)?;
                if let Kind::Num(n) = expr.kind {
                    let mut lit = expr;
                    lit.kind = Kind::Num(-n);
                    lit
                } else {
                    let mut result = Node::new(Kind::Null, pos);
                    push_ancestry(&mut result, &expr);
                    result.kind = Kind::Negate(Box::new(expr));
                    result
                }
            }
            RawKind::Array(items) => {
                let mut result = Node::new(Kind::Null, pos);
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let value = self.node(item)?;
                    push_ancestry(&mut result, &value);
                    out.push(value);
                }
                result.kind = Kind::Array(out);
                result
            }
            RawKind::Object(pairs) => {
                let mut result = Node::new(Kind::Null, pos);
                let mut out = Vec::with_capacity(pairs.len());
                for (k, v) in pairs {
                    let key = self.node(k)?;
                    push_ancestry(&mut result, &key);
                    let value = self.node(v)?;
                    push_ancestry(&mut result, &value);
                    out.push((key, value));
                }
                result.kind = Kind::Object(Box::new(Group {
                    pairs: out,
                    position: pos,
                }));
                result
            }
            RawKind::Call(procedure, args) => {
                let mut result = Node::new(Kind::Null, pos);
                let mut out = Vec::with_capacity(args.len());
                for arg in args {
                    let a = self.node(arg)?;
                    push_ancestry(&mut result, &a);
                    out.push(a);
                }
                let procedure = self.node(*procedure)?;
                result.kind = Kind::Call(Box::new(procedure), out);
                result
            }
            RawKind::Partial(procedure, args) => {
                let mut result = Node::new(Kind::Null, pos);
                let mut out = Vec::with_capacity(args.len());
                for arg in args {
                    match arg {
                        Some(arg) => {
                            let a = self.node(arg)?;
                            push_ancestry(&mut result, &a);
                            out.push(Some(a));
                        }
                        None => out.push(None),
                    }
                }
                let procedure = self.node(*procedure)?;
                result.kind = Kind::Partial(Box::new(procedure), out);
                result
            }
            RawKind::Lambda(params, signature, body) => {
                let body = tail_call_optimize(self.node(*body)?);
                Node::new(
                    Kind::Lambda(Rc::new(LambdaDef {
                        params: params.into_iter().map(Rc::from).collect(),
                        signature,
                        body,
                        thunk: false,
                    })),
                    pos,
                )
            }
            RawKind::Condition(cond, then, otherwise) => {
                let mut result = Node::new(Kind::Null, pos);
                let cond = self.node(*cond)?;
                push_ancestry(&mut result, &cond);
                let then = self.node(*then)?;
                push_ancestry(&mut result, &then);
                let otherwise = match otherwise {
                    Some(e) => {
                        let e = self.node(*e)?;
                        push_ancestry(&mut result, &e);
                        Some(Box::new(e))
                    }
                    None => None,
                };
                result.kind = Kind::Condition(Box::new(cond), Box::new(then), otherwise);
                result
            }
            RawKind::Transform(pattern, update, delete) => {
                let pattern = self.node(*pattern)?;
                let update = self.node(*update)?;
                let delete = match delete {
                    Some(d) => Some(self.node(*d)?),
                    None => None,
                };
                Node::new(
                    Kind::Transform(Rc::new(TransformDef {
                        pattern,
                        update,
                        delete,
                    })),
                    pos,
                )
            }
            RawKind::Block(exprs) => {
                let mut result = Node::new(Kind::Null, pos);
                let mut out = Vec::with_capacity(exprs.len());
                for e in exprs {
                    let part = self.node(e)?;
                    push_ancestry(&mut result, &part);
                    let starts_cons = match &part.kind {
                        Kind::Path(steps) => steps.first().is_some_and(|s| s.consarray),
                        _ => false,
                    };
                    if part.consarray || starts_cons {
                        result.consarray = true;
                    }
                    out.push(part);
                }
                result.kind = Kind::Block(out);
                result
            }
            RawKind::Name(name) => {
                let mut step = Node::new(Kind::Name(Rc::from(name)), pos);
                step.keep_array = keep_array;
                let mut path = Node::new(Kind::Path(vec![step]), pos);
                path.keep_singleton_array = keep_array;
                path
            }
            RawKind::OperatorName(name) => {
                let mut step = Node::new(Kind::Name(Rc::from(name)), pos);
                step.keep_array = keep_array;
                let mut path = Node::new(Kind::Path(vec![step]), pos);
                path.keep_singleton_array = keep_array;
                path
            }
            RawKind::Parent => {
                let slot = self.slots.len();
                self.slots.push(Slot {
                    label: format!("!{slot}"),
                    level: 1,
                });
                Node::new(Kind::Parent(Rc::from(""), slot), pos)
            }
            RawKind::Var(v) => Node::new(Kind::Variable(Rc::from(v)), pos),
            RawKind::Str(s) => Node::new(Kind::Str(Rc::from(s)), pos),
            RawKind::Num(n) => Node::new(Kind::Num(n), pos),
            RawKind::Bool(b) => Node::new(Kind::Bool(b), pos),
            RawKind::Null => Node::new(Kind::Null, pos),
            RawKind::Wildcard => Node::new(Kind::Wildcard, pos),
            RawKind::Descendant => Node::new(Kind::Descendant, pos),
            RawKind::Regex(pattern, flags) => {
                let matcher = Matcher::new(&pattern, &flags).map_err(|e| e.or_position(pos))?;
                Node::new(Kind::Regex(Rc::new(matcher)), pos)
            }
        };
        if keep_array {
            result.keep_array = true;
        }
        Ok(result)
    }

    fn path(&mut self, lhs: Raw, rhs: Raw) -> Result<Node, Error> {
        let lstep = self.node(lhs)?;
        let lhs_is_parent = matches!(lstep.kind, Kind::Parent(..));
        let lhs_slot = match lstep.kind {
            Kind::Parent(_, slot) => Some(slot),
            _ => None,
        };
        let mut result = into_path(lstep);
        if lhs_is_parent {
            result.seeking_parent = lhs_slot.into_iter().collect();
        }
        let rest = self.node(rhs)?;
        if let Some(steps) = steps_mut(&mut result) {
            match rest.kind {
                Kind::Path(rest_steps) => steps.extend(rest_steps),
                _ => {
                    let mut rest = rest;
                    let predicate = std::mem::take(&mut rest.predicate);
                    if !predicate.is_empty() {
                        rest.stages = predicate;
                    }
                    steps.push(rest);
                }
            }
            for step in steps.iter_mut() {
                match &step.kind {
                    Kind::Num(n) => {
                        return Err(Error::at("S0213", step.position)
                            .with_value(crate::number::js_to_string(*n)));
                    }
                    Kind::Bool(b) => {
                        return Err(Error::at("S0213", step.position).with_value(b.to_string()));
                    }
                    Kind::Null => {
                        return Err(Error::at("S0213", step.position).with_value("null"));
                    }
                    Kind::Str(s) => step.kind = Kind::Name(s.clone()),
                    _ => {}
                }
            }
            let keep = steps.iter().any(|s| s.keep_array);
            if let Some(first) = steps.first_mut()
                && first.is_array_constructor()
            {
                first.consarray = true;
            }
            if let Some(last) = steps.last_mut()
                && last.is_array_constructor()
            {
                last.consarray = true;
            }
            if keep {
                result.keep_singleton_array = true;
            }
        }
        self.resolve_ancestry(&mut result)?;
        Ok(result)
    }

    fn predicate(&mut self, lhs: Raw, rhs: Raw, pos: usize) -> Result<Node, Error> {
        let mut result = self.node(lhs)?;
        let is_path = matches!(result.kind, Kind::Path(_));
        let predicate = self.node(rhs)?;
        if with_last_step(&mut result, |step| step.group.is_some()) {
            return Err(Error::at("S0209", pos));
        }
        if !predicate.seeking_parent.is_empty() {
            let slots = predicate.seeking_parent.clone();
            for slot in slots {
                if self.slots[slot].level == 1 {
                    with_last_step(&mut result, |step| self.seek_parent(step, slot))?;
                } else {
                    self.slots[slot].level -= 1;
                }
            }
            with_last_step(&mut result, |step| push_ancestry(step, &predicate));
        }
        with_last_step(&mut result, |step| {
            if is_path {
                step.stages.push(Stage::Filter(predicate));
            } else {
                step.predicate.push(Stage::Filter(predicate));
            }
        });
        Ok(result)
    }

    /// Walks back from `node` to find the step a `%` in `slot` refers to.
    fn seek_parent(&mut self, node: &mut Node, slot: usize) -> Result<usize, Error> {
        match &mut node.kind {
            Kind::Name(_) | Kind::Wildcard => {
                self.slots[slot].level -= 1;
                if self.slots[slot].level == 0 {
                    if let Some(existing) = node.ancestor_slot {
                        self.slots[slot].label = self.slots[existing].label.clone();
                    }
                    node.ancestor_slot = Some(slot);
                    node.tuple = true;
                }
            }
            Kind::Parent(..) => {
                self.slots[slot].level += 1;
            }
            Kind::Block(exprs) => {
                if let Some(last) = exprs.last_mut() {
                    node.tuple = true;
                    return self.seek_parent(last, slot);
                }
            }
            Kind::Path(steps) => {
                node.tuple = true;
                let mut index = steps.len() as i64 - 1;
                if index >= 0 {
                    self.seek_parent(&mut steps[index as usize], slot)?;
                    index -= 1;
                }
                while self.slots[slot].level > 0 && index >= 0 {
                    self.seek_parent(&mut steps[index as usize], slot)?;
                    index -= 1;
                }
            }
            _ => {
                return Err(Error::at("S0217", node.position).with_token(node.type_name()));
            }
        }
        Ok(slot)
    }

    fn resolve_ancestry(&mut self, path: &mut Node) -> Result<(), Error> {
        let Kind::Path(steps) = &mut path.kind else {
            return Ok(());
        };
        let Some(last) = steps.last() else {
            return Ok(());
        };
        let slots = pending(last);
        for slot in slots {
            let mut index = steps.len() as i64 - 2;
            while self.slots[slot].level > 0 {
                if index < 0 {
                    path.seeking_parent.push(slot);
                    break;
                }
                let mut i = index as usize;
                index -= 1;
                // contiguous steps that bind the focus count as one
                while index >= 0
                    && steps[i].focus.is_some()
                    && steps[index as usize].focus.is_some()
                {
                    i = index as usize;
                    index -= 1;
                }
                self.seek_parent(&mut steps[i], slot)?;
            }
        }
        Ok(())
    }

    /// Replaces slot ids by their final labels.
    fn finish(&self, node: &mut Node) {
        if let Some(slot) = node.ancestor_slot {
            node.ancestor = Some(Rc::from(self.slots[slot].label.as_str()));
        }
        node.seeking_parent.clear();
        match &mut node.kind {
            Kind::Parent(label, slot) => *label = Rc::from(self.slots[*slot].label.as_str()),
            Kind::Path(steps) | Kind::Array(steps) | Kind::Block(steps) => {
                for s in steps {
                    self.finish(s);
                }
            }
            Kind::Binary(_, a, b) | Kind::Apply(a, b) => {
                self.finish(a);
                self.finish(b);
            }
            Kind::Negate(a) | Kind::Bind(_, a) => self.finish(a),
            Kind::Condition(a, b, c) => {
                self.finish(a);
                self.finish(b);
                if let Some(c) = c {
                    self.finish(c);
                }
            }
            Kind::Call(p, args) => {
                self.finish(p);
                for a in args {
                    self.finish(a);
                }
            }
            Kind::Partial(p, args) => {
                self.finish(p);
                for a in args.iter_mut().flatten() {
                    self.finish(a);
                }
            }
            Kind::Lambda(def) => {
                if let Some(def) = Rc::get_mut(def) {
                    self.finish(&mut def.body);
                }
            }
            Kind::Transform(def) => {
                if let Some(def) = Rc::get_mut(def) {
                    self.finish(&mut def.pattern);
                    self.finish(&mut def.update);
                    if let Some(d) = &mut def.delete {
                        self.finish(d);
                    }
                }
            }
            Kind::Sort(terms) => {
                for t in terms {
                    self.finish(&mut t.expression);
                }
            }
            Kind::Object(group) => {
                for (k, v) in &mut group.pairs {
                    self.finish(k);
                    self.finish(v);
                }
            }
            Kind::Name(_)
            | Kind::Str(_)
            | Kind::Num(_)
            | Kind::Bool(_)
            | Kind::Null
            | Kind::Wildcard
            | Kind::Descendant
            | Kind::Regex(_)
            | Kind::Variable(_) => {}
        }
        for stage in node.stages.iter_mut().chain(node.predicate.iter_mut()) {
            if let Stage::Filter(f) = stage {
                self.finish(f);
            }
        }
        if let Some(group) = &mut node.group {
            for (k, v) in &mut group.pairs {
                self.finish(k);
                self.finish(v);
            }
        }
    }
}

fn var_name(raw: &Raw) -> String {
    match &raw.kind {
        RawKind::Var(v) => v.clone(),
        _ => String::new(),
    }
}

/// Wraps calls in tail position into thunks the trampoline in `apply` unwinds, so that
/// tail-recursive functions run in constant stack.
fn tail_call_optimize(node: Node) -> Node {
    match node.kind {
        Kind::Call(..) if node.predicate.is_empty() => {
            let pos = node.position;
            Node::new(
                Kind::Lambda(Rc::new(LambdaDef {
                    params: Vec::new(),
                    signature: None,
                    body: node,
                    thunk: true,
                })),
                pos,
            )
        }
        Kind::Condition(c, then, otherwise) => {
            let mut node = Node {
                kind: Kind::Null,
                ..node
            };
            node.kind = Kind::Condition(
                c,
                Box::new(tail_call_optimize(*then)),
                otherwise.map(|o| Box::new(tail_call_optimize(*o))),
            );
            node
        }
        Kind::Block(mut exprs) => {
            if let Some(last) = exprs.pop() {
                exprs.push(tail_call_optimize(last));
            }
            Node {
                kind: Kind::Block(exprs),
                ..node
            }
        }
        _ => node,
    }
}
