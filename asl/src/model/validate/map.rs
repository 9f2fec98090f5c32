//! The Map state's own fields: the item processor (`ItemProcessor` or the legacy `Iterator`, a
//! machine of its own), where the items come from and how each is shaped, and how many run at
//! once and may fail.

use serde_json::{Map, Value};

use super::Validator;
use crate::model::distributed::DistributedSpec;
use crate::model::{MapSpec, PathField, PercentField, QueryLanguage, StateMachine};
use crate::query::{self, QueryTemplate};

impl Validator {
    pub(super) fn map(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        ql: QueryLanguage,
        top_ql: QueryLanguage,
        depth: usize,
        jp: bool,
    ) -> Option<MapSpec> {
        let (processor, distributed, processor_config) =
            self.item_processor(obj, base, ql, top_ql, depth)?;
        let dist = self.distributed_map(obj, base, processor_config.as_ref(), distributed, jp);
        if obj.contains_key("ItemSelector") && obj.contains_key("Parameters") {
            self.err(
                base,
                "These fields are mutually exclusive: [ItemSelector, Parameters]",
            );
        }
        if obj.contains_key("Items") && obj.contains_key("ItemsPath") {
            self.err(
                base,
                "These fields are mutually exclusive: [Items, ItemsPath]",
            );
        }
        if !jp {
            return Some(self.query_map(obj, base, processor, distributed, dist));
        }
        let item_selector = obj
            .get("ItemSelector")
            .map(|v| ("ItemSelector", v))
            .or(obj.get("Parameters").map(|v| ("Parameters", v)))
            .and_then(|(f, v)| self.template(v, &Self::loc(base, f)));
        let items_path = self.path_field(obj, "ItemsPath", base, false);
        let max_concurrency = self.seconds_field(obj, base, "MaxConcurrency", "MaxConcurrencyPath");
        let tolerated_failure_count = self.seconds_field(
            obj,
            base,
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
        );
        let tolerated_failure_percentage = self.tolerated_failure_percentage(obj, base);
        Some(MapSpec {
            items_path,
            items: None,
            item_selector,
            query_item_selector: None,
            processor,
            max_concurrency,
            tolerated_failure_count,
            tolerated_failure_percentage,
            distributed,
            dist,
        })
    }

    /// A JSONata Map's fields: `Items`, `ItemSelector`, `MaxConcurrency` and the tolerated
    /// failures, each literal or a template.
    fn query_map(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        processor: StateMachine,
        distributed: bool,
        dist: Option<Box<DistributedSpec>>,
    ) -> MapSpec {
        let items = self.query_field(obj, base, "Items");
        if let Some(QueryTemplate::Literal(v)) = &items
            && !v.is_array()
        {
            self.err(
                Self::loc(base, "Items"),
                format!("Expected value of type: Array or a JSONata expression but got {v}"),
            );
        }
        let percentage = match obj.get("ToleratedFailurePercentage") {
            Some(v @ Value::String(s)) if query::is_expression(s) => self
                .query_template(
                    v,
                    &Self::loc(base, "ToleratedFailurePercentage"),
                    "ToleratedFailurePercentage",
                )
                .map(PercentField::Query),
            _ => self.tolerated_failure_percentage(obj, base),
        };
        MapSpec {
            items_path: PathField::Default,
            items,
            item_selector: None,
            query_item_selector: self.query_field(obj, base, "ItemSelector"),
            processor,
            max_concurrency: self.query_count(obj, base, "MaxConcurrency", None),
            tolerated_failure_count: self.query_count(obj, base, "ToleratedFailureCount", None),
            tolerated_failure_percentage: percentage,
            distributed,
            dist,
        }
    }

    /// The item processor's machine, and whether its `ProcessorConfig` asks for a distributed
    /// Map.
    fn item_processor(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        ql: QueryLanguage,
        top_ql: QueryLanguage,
        depth: usize,
    ) -> Option<(StateMachine, bool, Option<Value>)> {
        let (proc_field, proc_val) = match (obj.get("ItemProcessor"), obj.get("Iterator")) {
            (Some(p), None) => ("ItemProcessor", p),
            (None, Some(i)) => ("Iterator", i),
            (Some(_), Some(_)) => {
                self.err(
                    base,
                    "These fields are mutually exclusive: [ItemProcessor, Iterator]",
                );
                return None;
            }
            (None, None) => {
                self.err(base, "These fields are required: [ItemProcessor]");
                return None;
            }
        };
        let ploc = Self::loc(base, proc_field);
        let Some(po) = proc_val.as_object() else {
            self.err(ploc, "Expected value of type: Object");
            return None;
        };
        self.check_fields(
            po,
            &ploc,
            &[
                "StartAt",
                "States",
                "Comment",
                "ProcessorConfig",
                "QueryLanguage",
            ],
            &[],
        );
        let mut distributed = false;
        if let Some(pc) = po.get("ProcessorConfig") {
            match pc.get("Mode").and_then(Value::as_str) {
                None | Some("INLINE") => {}
                Some("DISTRIBUTED") => distributed = true,
                Some(m) => self.err(
                    format!("{ploc}/ProcessorConfig/Mode"),
                    format!("Value '{m}' is not one of [INLINE, DISTRIBUTED]"),
                ),
            }
        }
        let processor = self.machine(po, &ploc, ql, top_ql, depth + 1)?;
        Some((processor, distributed, po.get("ProcessorConfig").cloned()))
    }

    /// `ToleratedFailurePercentage` (0 to 100) or `ToleratedFailurePercentagePath`.
    fn tolerated_failure_percentage(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
    ) -> Option<PercentField> {
        match (
            obj.get("ToleratedFailurePercentage"),
            obj.get("ToleratedFailurePercentagePath"),
        ) {
            (Some(v), None) => match v.as_f64() {
                Some(p) if (0.0..=100.0).contains(&p) => Some(PercentField::Literal(p)),
                _ => {
                    self.err(Self::loc(base, "ToleratedFailurePercentage"), format!("ToleratedFailurePercentage must be a number between 0 and 100 but got {v}"));
                    None
                }
            },
            (None, Some(p)) => self
                .path(p, &Self::loc(base, "ToleratedFailurePercentagePath"), true)
                .map(PercentField::Path),
            (Some(_), Some(_)) => {
                self.err(base, "These fields are mutually exclusive: [ToleratedFailurePercentage, ToleratedFailurePercentagePath]");
                None
            }
            (None, None) => None,
        }
    }
}
