//! The KServe v1 request body, `{"instances": [...]}`, read straight into a row-major matrix.
//!
//! Each instance is an object keyed by feature name or an array of numbers in the artifact's
//! feature order. The body is read in one pass with no JSON tree: values land in the matrix as
//! they are read, the row limit stops the read at the first row too many (so memory is bounded by
//! the limit, not by the body), and problems in rows are collected, not fatal, so one answer
//! names every bad row and feature (up to [`MAX_PROBLEMS`]).

use std::cell::RefCell;
use std::fmt;

use serde::Serialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::served::ServedModel;

/// Problems named one by one in a 422 answer; further ones are counted.
pub const MAX_PROBLEMS: usize = 20;

/// The rows of a request, `features` values each, in the model's feature order.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    /// Number of rows.
    pub count: usize,
    /// Row-major values.
    pub values: Vec<f64>,
}

/// One thing wrong with one row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// The row's index in `instances`, from 0.
    pub row: usize,
    /// The feature at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature: Option<String>,
    /// What is wrong and what would fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Why a request body cannot be scored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    /// The body is not JSON (400).
    #[error("the request body is not valid JSON: {0}")]
    Malformed(String),
    /// The body is JSON but not `{"instances": [...]}` (400).
    #[error("the request is not a predict request: {0}")]
    NotInstances(String),
    /// More rows than the limit (413).
    #[error(
        "the request has more than {limit} instances, the most one request may score; split it into several requests"
    )]
    TooManyRows { limit: usize },
    /// Rows with missing, unknown or non-numeric features (422).
    #[error("{}", invalid_summary(.problems, *.more))]
    Invalid {
        /// The first [`MAX_PROBLEMS`] problems.
        problems: Vec<Problem>,
        /// How many more there were.
        more: usize,
    },
}

fn invalid_summary(problems: &[Problem], more: usize) -> String {
    let mut text = problems
        .iter()
        .map(|p| p.message.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    if more > 0 {
        text.push_str(&format!("; and {more} more problems"));
    }
    text
}

/// Reads `body` as a predict request for `model`, accepting at most `max_rows` rows.
pub fn parse(body: &[u8], model: &ServedModel, max_rows: usize) -> Result<Rows, RequestError> {
    let state = RefCell::new(State {
        model,
        n: model.features().len(),
        max_rows,
        values: Vec::new(),
        rows: 0,
        problems: Vec::new(),
        more: 0,
        envelope: None,
        seen_instances: false,
        too_many: false,
    });
    let mut de = serde_json::Deserializer::from_slice(body);
    let result = Envelope(&state)
        .deserialize(&mut de)
        .and_then(|()| de.end());
    let state = state.into_inner();
    if state.too_many {
        return Err(RequestError::TooManyRows { limit: max_rows });
    }
    if let Err(e) = result {
        return Err(match e.classify() {
            serde_json::error::Category::Data => RequestError::NotInstances(e.to_string()),
            _ => RequestError::Malformed(e.to_string()),
        });
    }
    if let Some(message) = state.envelope {
        return Err(RequestError::NotInstances(message));
    }
    if !state.seen_instances {
        return Err(RequestError::NotInstances(
            "it has no \"instances\" field; send {\"instances\": [...]}".into(),
        ));
    }
    if !state.problems.is_empty() {
        return Err(RequestError::Invalid {
            problems: state.problems,
            more: state.more,
        });
    }
    Ok(Rows {
        count: state.rows,
        values: state.values,
    })
}

struct State<'m> {
    model: &'m ServedModel,
    n: usize,
    max_rows: usize,
    values: Vec<f64>,
    rows: usize,
    problems: Vec<Problem>,
    more: usize,
    envelope: Option<String>,
    seen_instances: bool,
    too_many: bool,
}

impl State<'_> {
    fn problem(&mut self, row: usize, feature: Option<usize>, message: String) {
        if self.problems.len() < MAX_PROBLEMS {
            let feature = feature.map(|i| self.model.features()[i].clone());
            self.problems.push(Problem {
                row,
                feature,
                message,
            });
        } else {
            self.more += 1;
        }
    }

    fn feature_name(&self, i: usize) -> &str {
        &self.model.features()[i]
    }

    /// The feature list for a message, shortened when long.
    fn feature_list(&self) -> String {
        let f = self.model.features();
        let shown: Vec<&str> = f.iter().take(12).map(String::as_str).collect();
        if f.len() > shown.len() {
            format!("{}, … ({} in all)", shown.join(", "), f.len())
        } else {
            shown.join(", ")
        }
    }

    /// The feature closest to a name that is not one, if any is close.
    fn suggestion(&self, name: &str) -> Option<&str> {
        self.model
            .features()
            .iter()
            .map(|f| (strsim::jaro_winkler(f, name), f))
            .filter(|(score, _)| *score > 0.85)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, f)| f.as_str())
    }
}

/// `{"instances": [...]}`.
struct Envelope<'s, 'm>(&'s RefCell<State<'m>>);

impl<'de> DeserializeSeed<'de> for Envelope<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Envelope<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object {\"instances\": [...]}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "instances" {
                let twice = std::mem::replace(&mut self.0.borrow_mut().seen_instances, true);
                if twice {
                    self.0.borrow_mut().envelope =
                        Some("\"instances\" is given twice; send it once".into());
                    map.next_value::<IgnoredAny>()?;
                } else {
                    map.next_value_seed(Instances(self.0))?;
                }
            } else {
                let mut state = self.0.borrow_mut();
                if state.envelope.is_none() {
                    state.envelope = Some(format!(
                        "it has a field \"{}\"; a predict request is {{\"instances\": [...]}} and nothing else",
                        clip(&key)
                    ));
                }
                drop(state);
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The `instances` array.
struct Instances<'s, 'm>(&'s RefCell<State<'m>>);

impl<'de> DeserializeSeed<'de> for Instances<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Instances<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "\"instances\" to be an array of rows (objects keyed by feature name, or arrays of numbers in feature order)",
        )
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(()) = seq.next_element_seed(Row(self.0))? {}
        Ok(())
    }
}

/// One instance: an object or an array.
struct Row<'s, 'm>(&'s RefCell<State<'m>>);

impl<'de> DeserializeSeed<'de> for Row<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        {
            let mut state = self.0.borrow_mut();
            if state.rows >= state.max_rows {
                state.too_many = true;
                return Err(de::Error::custom("too many instances"));
            }
            let n = state.n;
            state.values.extend(std::iter::repeat_n(f64::NAN, n));
        }
        let result = d.deserialize_any(RowVisitor(self.0));
        self.0.borrow_mut().rows += 1;
        result
    }
}

struct RowVisitor<'s, 'm>(&'s RefCell<State<'m>>);

impl RowVisitor<'_, '_> {
    fn not_a_row(&self, what: &str) {
        let mut state = self.0.borrow_mut();
        let (row, n) = (state.rows, state.n);
        state.problem(
            row,
            None,
            format!(
                "row {row} is {what}; send an object keyed by feature name or an array of {n} numbers"
            ),
        );
    }
}

impl<'de> Visitor<'de> for RowVisitor<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row: an object keyed by feature name, or an array of numbers")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (row, n) = {
            let s = self.0.borrow();
            (s.rows, s.n)
        };
        let mut given = 0usize;
        loop {
            let slot = (given < n).then_some(given);
            if seq.next_element_seed(Value(self.0, slot))?.is_none() {
                break;
            }
            given += 1;
        }
        if given != n {
            let mut state = self.0.borrow_mut();
            let list = state.feature_list();
            state.problem(
                row,
                None,
                format!(
                    "row {row} has {given} values but the model takes {n}, in this order: {list}"
                ),
            );
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (row, n) = {
            let s = self.0.borrow();
            (s.rows, s.n)
        };
        let mut seen = vec![false; n];
        while let Some(key) = map.next_key_seed(Key(self.0))? {
            match key {
                FeatureKey::Known(i) if !seen[i] => {
                    seen[i] = true;
                    map.next_value_seed(Value(self.0, Some(i)))?;
                }
                FeatureKey::Known(i) => {
                    let mut state = self.0.borrow_mut();
                    let message = format!(
                        "row {row} gives feature '{}' twice; give it once",
                        state.feature_name(i)
                    );
                    state.problem(row, Some(i), message);
                    drop(state);
                    map.next_value::<IgnoredAny>()?;
                }
                FeatureKey::Unknown(name) => {
                    let mut state = self.0.borrow_mut();
                    let hint = match state.suggestion(&name) {
                        Some(s) => format!("did you mean '{s}'?"),
                        None => format!("the model's features are {}", state.feature_list()),
                    };
                    let message = format!(
                        "row {row} has '{}', which is not a feature of the model; {hint}",
                        clip(&name)
                    );
                    if state.problems.len() < MAX_PROBLEMS {
                        state.problems.push(Problem {
                            row,
                            feature: Some(clip(&name)),
                            message,
                        });
                    } else {
                        state.more += 1;
                    }
                    drop(state);
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let mut state = self.0.borrow_mut();
        for i in (0..n).filter(|&i| !seen[i]) {
            let message = format!(
                "row {row} is missing feature '{}'; every row needs all {n} features",
                state.feature_name(i)
            );
            state.problem(row, Some(i), message);
        }
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.not_a_row("a boolean");
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.not_a_row("a number");
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.not_a_row("a number");
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.not_a_row("a number");
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.not_a_row("a string");
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.not_a_row("null");
        Ok(())
    }
}

enum FeatureKey {
    Known(usize),
    Unknown(String),
}

/// A key of an object row, looked up among the features without allocating.
struct Key<'s, 'm>(&'s RefCell<State<'m>>);

impl<'de> DeserializeSeed<'de> for Key<'_, '_> {
    type Value = FeatureKey;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<FeatureKey, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_, '_> {
    type Value = FeatureKey;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a feature name")
    }
    fn visit_str<E: de::Error>(self, name: &str) -> Result<FeatureKey, E> {
        Ok(match self.0.borrow().model.feature_position(name) {
            Some(i) => FeatureKey::Known(i),
            None => FeatureKey::Unknown(name.to_owned()),
        })
    }
}

/// One feature value; `None` for a value past the model's features (counted, not kept).
struct Value<'s, 'm>(&'s RefCell<State<'m>>, Option<usize>);

impl Value<'_, '_> {
    fn set(&self, v: f64) {
        if let Some(i) = self.1 {
            let mut state = self.0.borrow_mut();
            let at = state.rows * state.n + i;
            state.values[at] = v;
        }
    }

    fn not_a_number(&self, what: String) {
        let Some(i) = self.1 else { return };
        let mut state = self.0.borrow_mut();
        let row = state.rows;
        let message = format!(
            "feature '{}' of row {row} is {what}, not a number; send every feature as a JSON number",
            state.feature_name(i)
        );
        state.problem(row, Some(i), message);
    }
}

impl<'de> DeserializeSeed<'de> for Value<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Value<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.set(v);
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.set(v as f64);
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.set(v as f64);
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.not_a_number(format!("the string \"{}\"", clip(v)));
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.not_a_number(format!("{v}"));
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.not_a_number("null".into());
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.not_a_number("an array".into());
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        self.not_a_number("an object".into());
        Ok(())
    }
}

/// A client's text shortened for a message.
fn clip(text: &str) -> String {
    const MAX: usize = 60;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}
