//! Reading a [`Kernel`] in one pass.
//!
//! serde's derive for an enum tagged by a field (`"kind": "forest"`) first copies the whole
//! object into a tree of its own values to find the tag, then reads the variant from that copy:
//! for a 50-tree forest, some 200,000 numbers boxed one by one and read twice, most of a cold
//! start's parse. The variants' fields are disjoint but for `coefficients` (rows of weights for
//! logistic regression, one row for linear), so each field is read straight into its type, in
//! whatever order the object has them, and `kind` decides at the end which of them make the
//! kernel. The documents accepted are the derive's: fields of other variants and unknown fields
//! are ignored (but must be well-formed), a missing or unknown `kind` is an error.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{Combine, FlatTree, Kernel};

const KINDS: &[&str] = &["logistic", "linear", "forest"];

impl<'de> Deserialize<'de> for Kernel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(KernelVisitor)
    }
}

struct KernelVisitor;

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    Kind,
    Coefficients,
    Intercepts,
    Intercept,
    Combine,
    Trees,
    #[serde(other)]
    Other,
}

/// The fields as found, before `kind` says which belong together.
#[derive(Default)]
struct Found {
    kind: Option<String>,
    coefficients: Option<Vec<Weights>>,
    intercepts: Option<Vec<f64>>,
    intercept: Option<f64>,
    combine: Option<Combine>,
    trees: Option<Vec<FlatTree>>,
}

impl<'de> Visitor<'de> for KernelVisitor {
    type Value = Kernel;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a kernel object with a \"kind\" of logistic, linear or forest")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kernel, A::Error> {
        let mut found = Found::default();
        while let Some(key) = map.next_key::<Field>()? {
            match key {
                Field::Kind => set(&mut found.kind, "kind", map.next_value()?)?,
                Field::Coefficients => {
                    set(&mut found.coefficients, "coefficients", map.next_value()?)?
                }
                Field::Intercepts => set(&mut found.intercepts, "intercepts", map.next_value()?)?,
                Field::Intercept => set(&mut found.intercept, "intercept", map.next_value()?)?,
                Field::Combine => set(&mut found.combine, "combine", map.next_value()?)?,
                Field::Trees => set(&mut found.trees, "trees", map.next_value()?)?,
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        found.into_kernel()
    }
}

fn set<T, E: de::Error>(slot: &mut Option<T>, name: &'static str, value: T) -> Result<(), E> {
    if slot.replace(value).is_some() {
        return Err(E::duplicate_field(name));
    }
    Ok(())
}

impl Found {
    fn into_kernel<E: de::Error>(self) -> Result<Kernel, E> {
        let kind = self.kind.ok_or_else(|| E::missing_field("kind"))?;
        match kind.as_str() {
            "logistic" => Ok(Kernel::Logistic {
                coefficients: self
                    .coefficients
                    .ok_or_else(|| E::missing_field("coefficients"))?
                    .into_iter()
                    .map(|w| match w {
                        Weights::Row(r) => Ok(r),
                        Weights::One(_) => Err(E::custom(
                            "logistic coefficients must be rows of numbers, one per score",
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                intercepts: self
                    .intercepts
                    .ok_or_else(|| E::missing_field("intercepts"))?,
            }),
            "linear" => Ok(Kernel::Linear {
                coefficients: self
                    .coefficients
                    .ok_or_else(|| E::missing_field("coefficients"))?
                    .into_iter()
                    .map(|w| match w {
                        Weights::One(x) => Ok(x),
                        Weights::Row(_) => Err(E::custom(
                            "linear coefficients must be numbers, one per feature",
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                intercept: self
                    .intercept
                    .ok_or_else(|| E::missing_field("intercept"))?,
            }),
            "forest" => Ok(Kernel::Forest {
                combine: self.combine.ok_or_else(|| E::missing_field("combine"))?,
                trees: self.trees.ok_or_else(|| E::missing_field("trees"))?,
            }),
            other => Err(E::unknown_variant(other, KINDS)),
        }
    }
}

/// One element of `coefficients`: a weight (linear) or a row of weights (logistic).
enum Weights {
    One(f64),
    Row(Vec<f64>),
}

impl<'de> Deserialize<'de> for Weights {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Weights;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or an array of numbers")
            }
            fn visit_f64<E: de::Error>(self, x: f64) -> Result<Weights, E> {
                Ok(Weights::One(x))
            }
            fn visit_i64<E: de::Error>(self, x: i64) -> Result<Weights, E> {
                Ok(Weights::One(x as f64))
            }
            fn visit_u64<E: de::Error>(self, x: u64) -> Result<Weights, E> {
                Ok(Weights::One(x as f64))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Weights, A::Error> {
                Vec::<f64>::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(Weights::Row)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What serde's derive (`#[serde(tag = "kind", rename_all = "kebab-case")]`) reads and
    /// writes, which this reader must keep reading.
    #[test]
    fn reads_every_kind_as_written_in_any_field_order() {
        let kernels = [
            Kernel::Logistic {
                coefficients: vec![vec![1.0, -2.5], vec![0.0, 3.0], vec![4.0, 5.0]],
                intercepts: vec![0.5, -0.5, 0.0],
            },
            Kernel::Linear {
                coefficients: vec![1.0, 2.0],
                intercept: -1.0,
            },
            Kernel::Forest {
                combine: Combine::Vote,
                trees: vec![FlatTree {
                    feature: vec![1, 0, 0],
                    threshold: vec![f64::NAN, 0.0, 0.0],
                    left: vec![1, 0, 0],
                    right: vec![2, 0, 0],
                    value: vec![0.0, 1.0, 0.0],
                }],
            },
        ];
        for k in kernels {
            let written = serde_json::to_value(&k).unwrap();
            let read: Kernel = serde_json::from_value(written.clone()).unwrap();
            assert_eq!(format!("{read:?}"), format!("{k:?}"), "{written}");
            // the tag last, and a field of another kind and an unknown one beside it
            let mut reordered = written.as_object().unwrap().clone();
            let kind = reordered.shift_remove("kind").unwrap();
            reordered.insert("note".into(), json!({"any": [1, "thing"]}));
            reordered.insert("kind".into(), kind);
            let text = serde_json::to_string(&reordered).unwrap();
            let read: Kernel = serde_json::from_str(&text).unwrap();
            assert_eq!(format!("{read:?}"), format!("{k:?}"), "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_kernel_naming_the_field() {
        for (doc, want) in [
            (
                json!({"combine": "vote", "trees": []}),
                "missing field `kind`",
            ),
            (json!({"kind": "boosted"}), "unknown variant `boosted`"),
            (
                json!({"kind": "forest", "trees": []}),
                "missing field `combine`",
            ),
            (
                json!({"kind": "linear", "coefficients": [[1.0]], "intercept": 0.0}),
                "linear coefficients must be numbers",
            ),
            (
                json!({"kind": "logistic", "coefficients": [1.0], "intercepts": [0.0]}),
                "logistic coefficients must be rows",
            ),
            (
                json!({"kind": "linear", "coefficients": ["1"], "intercept": 0.0}),
                "expected a number or an array of numbers",
            ),
            (json!([1, 2]), "expected a kernel object"),
        ] {
            let e = serde_json::from_value::<Kernel>(doc.clone())
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{doc}: {e}");
        }
        let twice = r#"{"kind": "forest", "kind": "forest", "combine": "vote", "trees": []}"#;
        let e = serde_json::from_str::<Kernel>(twice)
            .unwrap_err()
            .to_string();
        assert!(e.contains("duplicate field `kind`"), "{e}");
    }
}
