//! What an expression's text can read: the `$states` members it names, the variables it names
//! and the AWS functions it calls, found by scanning its `$name` tokens. The scan over-reports
//! (a `$name` inside a string literal counts), never under-reports: `$states` used other than as
//! `$states.input`/`.context`/`.result`/`.errorOutput`, or any `$eval`, binds everything.

use serde_json::Value;
use stepscore_jsonata::Bindings;

use super::QueryScope;
use super::functions;

/// What an expression can read.
#[derive(Debug, Clone, Default)]
pub(super) struct Uses {
    input: bool,
    context: bool,
    result: bool,
    error_output: bool,
    /// Every `$states` member and every variable (`$states` passed whole, `$eval`).
    everything: bool,
    /// Variables named, in order of first use.
    variables: Vec<Box<str>>,
    /// AWS functions called.
    functions: Vec<&'static str>,
}

impl Uses {
    pub(super) fn of(text: &str) -> Uses {
        let mut uses = Uses::default();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'$' {
                i += 1;
                continue;
            }
            let start = i + 1;
            let end = ident_end(text, start);
            let name = &text[start..end];
            i = end.max(start);
            match name {
                "" => {}
                "states" => uses.states_member(&text[end..]),
                "eval" => uses.everything = true,
                n => {
                    if let Some(f) = functions::NAMES.iter().find(|f| **f == n)
                        && !uses.functions.contains(f)
                    {
                        uses.functions.push(f);
                    }
                    if !uses.variables.iter().any(|v| &**v == n) {
                        uses.variables.push(n.into());
                    }
                }
            }
        }
        uses
    }

    /// True when the text may read `$states.context`.
    pub(super) fn reads_context(&self) -> bool {
        self.context || self.everything
    }

    /// Records the member `$states` is followed by (`rest` starts after `$states`).
    fn states_member(&mut self, rest: &str) {
        let member = rest
            .strip_prefix('.')
            .map(|r| &r[..ident_end(r, 0)])
            .unwrap_or("");
        match member {
            "input" => self.input = true,
            "context" => self.context = true,
            "result" => self.result = true,
            "errorOutput" => self.error_output = true,
            _ => self.everything = true,
        }
    }

    /// The bindings an evaluation in `scope` needs.
    pub(super) fn bindings(&self, scope: &QueryScope) -> Bindings {
        let mut b = Bindings::new();
        let all = self.everything;
        let mut members: Vec<(&str, &Value)> = Vec::with_capacity(4);
        if all || self.input {
            members.push(("input", scope.input));
        }
        if all || self.context {
            members.push(("context", scope.context));
        }
        if let Some(r) = scope.result.filter(|_| all || self.result) {
            members.push(("result", r));
        }
        if let Some(e) = scope.error_output.filter(|_| all || self.error_output) {
            members.push(("errorOutput", e));
        }
        if !members.is_empty() || all {
            b.object("states", &members);
        }
        if all {
            for name in scope.variables.visible_names() {
                if let Some(v) = scope.variables.get_ref(&name) {
                    b.value(&name, &v);
                }
            }
        } else {
            for name in &self.variables {
                if let Some(v) = scope.variables.get_ref(name) {
                    b.value(name, &v);
                }
            }
        }
        for f in &self.functions {
            if let Some(native) = functions::native(f) {
                b.function(native);
            }
        }
        b
    }
}

/// Where a name that starts at `start` ends (letters, digits, `_`).
fn ident_end(text: &str, start: usize) -> usize {
    text[start..]
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map_or(text.len(), |(i, _)| start + i)
}

#[cfg(test)]
mod tests {
    use super::Uses;

    #[test]
    fn finds_states_members_variables_and_functions() {
        let u = Uses::of("$states.input.a + $count($x) + $hash($states.result, 'MD5')");
        assert!(u.input && u.result && !u.context && !u.everything);
        assert_eq!(u.functions, vec!["hash"]);
        assert!(u.variables.iter().any(|v| &**v == "x"));
    }

    #[test]
    fn states_passed_whole_or_eval_binds_everything() {
        assert!(Uses::of("$states").everything);
        assert!(Uses::of("$keys($states)").everything);
        assert!(Uses::of("$eval('$x')").everything);
        assert!(!Uses::of("$states.context.Execution").everything);
    }
}
