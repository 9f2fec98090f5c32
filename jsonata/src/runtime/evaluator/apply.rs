//! Calling functions: arguments are evaluated eagerly, checked against the function's signature,
//! then the lambda body or the built-in runs. A call in tail position comes back as a thunk and
//! the loop in [`Evaluator::apply`] runs it, so tail recursion does not deepen the stack.

use std::rc::Rc;

use super::Evaluator;
use super::frame::{Env, Frame};
use crate::ast::{Kind, Node};
use crate::error::Error;
use crate::runtime::functions::{self, Ctx};
use crate::runtime::value::{Function, Value, stringify};

/// The name a call site uses for its function (for error tokens).
fn procedure_name(procedure: &Node) -> Option<String> {
    match &procedure.kind {
        Kind::Path(steps) => match steps.first().map(|s| &s.kind) {
            Some(Kind::Name(n)) => Some(n.to_string()),
            _ => None,
        },
        Kind::Variable(v) => Some(v.to_string()),
        _ => None,
    }
}

/// A tail-call thunk's body, context and scope.
fn thunk(v: &Value) -> Option<(Rc<crate::ast::LambdaDef>, Value, Env)> {
    match v {
        Value::Function(f) => match &**f {
            Function::Lambda { def, env, input } if def.thunk => {
                Some((def.clone(), input.clone(), env.clone()))
            }
            _ => None,
        },
        _ => None,
    }
}

impl Evaluator {
    /// `f(args)`; with `apply_to`, that value is the first argument (`x ~> f(args)`).
    #[inline(never)]
    pub(super) fn call(
        &mut self,
        node: &Node,
        procedure: &Node,
        args: &[Node],
        input: &Value,
        env: &Env,
        apply_to: Option<Value>,
    ) -> Result<Value, Error> {
        let proc = self.eval(procedure, input, env)?;
        let name = procedure_name(procedure);
        if !proc.is_defined()
            && let (Kind::Path(_), Some(n)) = (&procedure.kind, &name)
            && self.lookup(env, n).is_defined()
        {
            return Err(Error::at("T1005", node.position).with_token(n.clone()));
        }
        let mut evaluated = Vec::with_capacity(args.len() + 1);
        if let Some(first) = apply_to {
            evaluated.push(first);
        }
        for arg in args {
            evaluated.push(self.eval(arg, input, env)?);
        }
        self.apply(&proc, evaluated, input, env).map_err(|e| {
            let e = e.or_position(node.position);
            match &name {
                Some(n) => e.with_token(n.clone()),
                None => e,
            }
        })
    }

    /// `f(a, ?)`.
    #[inline(never)]
    pub(super) fn partial(
        &mut self,
        node: &Node,
        procedure: &Node,
        args: &[Option<Node>],
        input: &Value,
        env: &Env,
    ) -> Result<Value, Error> {
        let mut evaluated = Vec::with_capacity(args.len());
        for arg in args {
            evaluated.push(match arg {
                Some(a) => Some(self.eval(a, input, env)?),
                None => None,
            });
        }
        let proc = self.eval(procedure, input, env)?;
        let name = procedure_name(procedure);
        if !proc.is_defined()
            && let (Kind::Path(_), Some(n)) = (&procedure.kind, &name)
            && self.lookup(env, n).is_defined()
        {
            return Err(Error::at("T1007", node.position).with_token(n.clone()));
        }
        if !proc.is_function() {
            let e = Error::at("T1008", node.position);
            return Err(match name {
                Some(n) => e.with_token(n),
                None => e,
            });
        }
        Ok(Value::Function(Rc::new(Function::Partial {
            target: proc,
            args: evaluated,
        })))
    }

    /// `lhs ~> rhs`.
    #[inline(never)]
    pub(super) fn apply_expression(
        &mut self,
        node: &Node,
        lhs: &Node,
        rhs: &Node,
        input: &Value,
        env: &Env,
    ) -> Result<Value, Error> {
        let l = self.eval(lhs, input, env)?;
        if let Kind::Call(procedure, args) = &rhs.kind {
            return self.call(rhs, procedure, args, input, env, Some(l));
        }
        let func = self.eval(rhs, input, env)?;
        if !func.is_function() {
            return Err(Error::at("T2006", node.position).with_value(stringify(&func, false)));
        }
        if l.is_function() {
            return Ok(Value::Function(Rc::new(Function::Compose {
                first: l,
                second: func,
            })));
        }
        self.apply(&func, vec![l], &Value::Null, env)
    }

    /// Applies a function, running tail-call thunks until a value comes back.
    #[inline(never)]
    pub fn apply(
        &mut self,
        proc: &Value,
        args: Vec<Value>,
        input: &Value,
        env: &Env,
    ) -> Result<Value, Error> {
        let mut result = self.apply_inner(proc, args, input, env)?;
        while let Some((body, thunk_input, thunk_env)) = thunk(&result) {
            let Kind::Call(procedure, arg_nodes) = &body.body.kind else {
                break;
            };
            self.check_time()?;
            let next = self.eval(procedure, &thunk_input, &thunk_env)?;
            let mut args = Vec::with_capacity(arg_nodes.len());
            for a in arg_nodes {
                args.push(self.eval(a, &thunk_input, &thunk_env)?);
            }
            let name = procedure_name(procedure);
            result = self.apply_inner(&next, args, input, env).map_err(|e| {
                let e = e.or_position(body.body.position);
                match &name {
                    Some(n) => e.with_token(n.clone()),
                    None => e,
                }
            })?;
        }
        Ok(result)
    }

    #[inline(never)]
    fn apply_inner(
        &mut self,
        proc: &Value,
        args: Vec<Value>,
        input: &Value,
        env: &Env,
    ) -> Result<Value, Error> {
        let Value::Function(f) = proc else {
            return Err(Error::new("T1006"));
        };
        match &**f {
            Function::Lambda {
                def,
                env: closure_env,
                input: closure_input,
            } => {
                let args = match &def.signature {
                    Some(sig) => crate::runtime::validate::validate(sig, &args, input)?,
                    None => args,
                };
                let frame = Frame::child(closure_env);
                for (i, p) in def.params.iter().enumerate() {
                    frame.bind_rc(p, args.get(i).cloned().unwrap_or(Value::Undefined));
                }
                self.eval(&def.body, closure_input, &frame)
            }
            Function::Builtin(b) => {
                let args = match b.signature() {
                    Some(sig) => crate::runtime::validate::validate(sig, &args, input)
                        .map_err(|e| e.with_token(b.name))?,
                    None => args,
                };
                let ctx = Ctx {
                    input: input.clone(),
                    env: env.clone(),
                };
                (b.implementation)(self, &args, &ctx).map_err(|e| e.with_token(b.name))
            }
            Function::Native(n) => n.call(&args, input),
            Function::Partial {
                target,
                args: bound,
            } => {
                let mut supplied = args.into_iter();
                let full: Vec<Value> = bound
                    .iter()
                    .map(|a| match a {
                        Some(v) => v.clone(),
                        None => supplied.next().unwrap_or(Value::Undefined),
                    })
                    .collect();
                self.apply(target, full, input, env)
            }
            Function::Regex(m) => {
                let text = match args.first() {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Undefined) | None => return Ok(Value::Undefined),
                    Some(_) => return Err(Error::new("T0410").with_value("1")),
                };
                Ok(functions::regex::match_object(m, &text, 0))
            }
            Function::RegexNext {
                matcher,
                text,
                from,
            } => functions::regex::next_match(matcher, text, *from),
            Function::Compose { first, second } => {
                let x = self.apply(first, args, &Value::Null, env)?;
                self.apply(second, vec![x], &Value::Null, env)
            }
            Function::Transform {
                def,
                env: closure_env,
            } => {
                let arg = args.first().cloned().unwrap_or(Value::Undefined);
                let def = def.clone();
                let closure_env = closure_env.clone();
                self.transform(&def, arg, &closure_env)
            }
        }
    }
}
