//! Functions an embedder adds to the library: called as `$name(…)` like a built-in, their
//! arguments checked against a JSONata signature first, then passed to the embedder as JSON.
//!
//! This is how a host language extends JSONata (AWS Step Functions adds `$partition`, `$hash`…)
//! without this crate knowing the host: the function is bound as a variable of the evaluation
//! ([`crate::Bindings::function`]), so it shadows a built-in of the same name.

use std::fmt;
use std::rc::Rc;

use crate::error::Error;
use crate::runtime::value::{Value, flags};
use crate::signature::Signature;

/// What a native function computes from its arguments (`None` for an undefined argument):
/// `Ok(None)` is undefined.
pub type NativeImplementation =
    dyn Fn(&[Option<serde_json::Value>]) -> Result<Option<serde_json::Value>, Error>;

/// A function of the embedder, callable from expressions as `$name(…)`.
pub struct NativeFunction {
    name: Rc<str>,
    signature: Signature,
    sequence: bool,
    implementation: Box<NativeImplementation>,
}

impl fmt::Debug for NativeFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NativeFunction")
            .field("name", &self.name)
            .field("signature", &self.signature.definition)
            .finish_non_exhaustive()
    }
}

impl NativeFunction {
    /// A function called `$name` with a JSONata signature (`<nn?:n>`); the signature is
    /// checked (and `-` parameters filled from the context) before `implementation` runs.
    pub fn new(
        name: &str,
        signature: &str,
        implementation: impl Fn(
            &[Option<serde_json::Value>],
        ) -> Result<Option<serde_json::Value>, Error>
        + 'static,
    ) -> Result<NativeFunction, Error> {
        Ok(NativeFunction {
            name: Rc::from(name),
            signature: Signature::parse(signature)?,
            sequence: false,
            implementation: Box::new(implementation),
        })
    }

    /// The array it returns is a sequence, as a path's result is: one item stands for itself
    /// (`[5]` comes back as `5`), none for undefined.
    pub fn returning_sequence(mut self) -> NativeFunction {
        self.sequence = true;
        self
    }

    /// The name, without `$`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many parameters the signature declares.
    pub fn arity(&self) -> usize {
        self.signature.params.len()
    }

    /// Checks the arguments against the signature, converts them to JSON and runs the function.
    pub(crate) fn call(&self, args: &[Value], context: &Value) -> Result<Value, Error> {
        let args = crate::runtime::validate::validate(&self.signature, args, context)
            .map_err(|e| e.with_token(self.name.to_string()))?;
        let json: Vec<Option<serde_json::Value>> = args.iter().map(Value::to_json).collect();
        let result =
            (self.implementation)(&json).map_err(|e| e.with_token(self.name.to_string()))?;
        Ok(match result {
            None => Value::Undefined,
            Some(serde_json::Value::Array(items)) if self.sequence => Value::array_with(
                items.iter().map(Value::from_json).collect(),
                flags::SEQUENCE,
            ),
            Some(v) => Value::from_json(&v),
        })
    }
}
