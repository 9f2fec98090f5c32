//! `iam/policies.json`, the one source of every principal's IAM permissions, and an evaluator of
//! IAM policy statements.
//!
//! Terraform renders the file with `templatefile` and builds each role's policy from it; the
//! tests render it here with the same placeholder names and evaluate every AWS call the code
//! made (see [`crate::calllog`]) against the principal's statements, with IAM's rules: an
//! explicit Deny wins, else an Allow whose Action, Resource and Condition all match, else the
//! call is implicitly denied.
//!
//! The evaluator is written here rather than taken from a crate: no maintained Rust crate
//! evaluates IAM identity policies (the ones that exist parse policies or call AWS's simulator).
//! Wildcards are translated to `regex`, the well-kept matcher.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The file's text, part of this build.
pub const POLICIES_JSON: &str = include_str!("../../iam/policies.json");

/// Why the policy file or a statement could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file is not the JSON this module reads.
    #[error("iam/policies.json is not valid: {0}")]
    File(String),
    /// A principal the caller named is not in the file.
    #[error("iam/policies.json has no principal '{0}'; it has: {1}")]
    NoPrincipal(String, String),
    /// A placeholder has no value.
    #[error(
        "placeholder ${{{0}}} of iam/policies.json has no value: pass it to render (as Terraform's templatefile must)"
    )]
    Unfilled(String),
    /// A statement uses a condition operator this evaluator does not implement.
    #[error(
        "condition operator {0} is not implemented by stepscore_aws::policy: implement it or use one of StringEquals, StringNotEquals, StringEqualsIgnoreCase, StringLike, StringNotLike, Null (each optionally ...IfExists)"
    )]
    Operator(String),
}

/// The parsed file.
#[derive(Debug, Clone, Deserialize)]
pub struct PolicyFile {
    /// Format version (1).
    pub version: u32,
    /// Placeholder name -> what it holds.
    pub placeholders: BTreeMap<String, String>,
    /// Principal name -> its permissions (templates, placeholders unfilled).
    pub principals: BTreeMap<String, Value>,
}

impl PolicyFile {
    /// The file of this build.
    pub fn bundled() -> Result<Self, PolicyError> {
        serde_json::from_str(POLICIES_JSON).map_err(|e| PolicyError::File(e.to_string()))
    }

    /// The statements of `principal` with every `${placeholder}` replaced by its value.
    pub fn render(
        &self,
        principal: &str,
        values: &BTreeMap<String, String>,
    ) -> Result<Vec<Statement>, PolicyError> {
        let template = self.principals.get(principal).ok_or_else(|| {
            PolicyError::NoPrincipal(
                principal.into(),
                self.principals
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })?;
        let statements = template
            .get("statements")
            .cloned()
            .ok_or_else(|| PolicyError::File(format!("principal {principal} has no statements")))?;
        let filled = fill(statements, values)?;
        serde_json::from_value(filled)
            .map_err(|e| PolicyError::File(format!("principal {principal}: {e}")))
    }

    /// `principal`'s statements as an IAM policy document (what an IAM user or role holds).
    pub fn document(
        &self,
        principal: &str,
        values: &BTreeMap<String, String>,
    ) -> Result<Value, PolicyError> {
        Ok(serde_json::json!({
            "Version": "2012-10-17",
            "Statement": self.render(principal, values)?,
        }))
    }
}

/// Replaces `${name}` in every string of `value` (the placeholders of Terraform's templatefile).
fn fill(value: Value, values: &BTreeMap<String, String>) -> Result<Value, PolicyError> {
    Ok(match value {
        Value::String(text) => Value::String(fill_text(&text, values)?),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| fill(v, values))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| Ok((fill_text(&k, values)?, fill(v, values)?)))
                .collect::<Result<_, PolicyError>>()?,
        ),
        other => other,
    })
}

fn fill_text(text: &str, values: &BTreeMap<String, String>) -> Result<String, PolicyError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| PolicyError::File(format!("unterminated placeholder in '{text}'")))?;
        let name = &after[..end];
        out.push_str(
            values
                .get(name)
                .ok_or_else(|| PolicyError::Unfilled(name.into()))?,
        );
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A string or a list of strings, as IAM accepts in Action, Resource and condition values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One value.
    One(String),
    /// Several values.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values.
    pub fn values(&self) -> &[String] {
        match self {
            OneOrMany::One(v) => std::slice::from_ref(v),
            OneOrMany::Many(v) => v,
        }
    }
}

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Refuses, whatever else grants.
    Deny,
}

/// One IAM policy statement (identity-based: no Principal).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// Statement id.
    #[serde(rename = "Sid", default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Allow or Deny.
    #[serde(rename = "Effect")]
    pub effect: Effect,
    /// Actions it applies to.
    #[serde(rename = "Action", default, skip_serializing_if = "Option::is_none")]
    pub action: Option<OneOrMany>,
    /// Actions it applies to: all but these.
    #[serde(rename = "NotAction", default, skip_serializing_if = "Option::is_none")]
    pub not_action: Option<OneOrMany>,
    /// Resources it applies to.
    #[serde(rename = "Resource", default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<OneOrMany>,
    /// Resources it applies to: all but these.
    #[serde(
        rename = "NotResource",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub not_resource: Option<OneOrMany>,
    /// Operator -> condition key -> values.
    #[serde(
        rename = "Condition",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub condition: BTreeMap<String, BTreeMap<String, OneOrMany>>,
}

/// One authorisation question: may this action be done on this resource, in this context?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// `service:Action`, e.g. `s3:GetObject`.
    pub action: &'a str,
    /// The resource's ARN, or `*` for actions without resource-level permissions.
    pub resource: &'a str,
    /// Condition keys of the request (e.g. `s3:prefix`) and their values.
    pub context: &'a BTreeMap<String, String>,
}

/// The outcome of evaluating statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// An Allow statement matched and no Deny did; its Sid.
    Allowed(Option<String>),
    /// A Deny statement matched; its Sid.
    ExplicitDeny(Option<String>),
    /// No statement matched.
    ImplicitDeny,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sid = |s: &Option<String>| s.clone().unwrap_or_else(|| "(no Sid)".into());
        match self {
            Decision::Allowed(s) => write!(f, "allowed by {}", sid(s)),
            Decision::ExplicitDeny(s) => write!(f, "explicitly denied by {}", sid(s)),
            Decision::ImplicitDeny => write!(f, "implicitly denied: no statement allows it"),
        }
    }
}

/// Evaluates `request` against `statements` as IAM evaluates one identity policy: an explicit
/// Deny beats any Allow; without a matching Allow the request is denied.
pub fn evaluate(statements: &[Statement], request: &Request<'_>) -> Result<Decision, PolicyError> {
    let mut allowed = None;
    for statement in statements {
        if statement.applies_to(request)? {
            match statement.effect {
                Effect::Deny => return Ok(Decision::ExplicitDeny(statement.sid.clone())),
                Effect::Allow => {
                    allowed.get_or_insert_with(|| statement.sid.clone());
                }
            }
        }
    }
    Ok(allowed.map_or(Decision::ImplicitDeny, Decision::Allowed))
}

impl Statement {
    /// Whether Action/NotAction, Resource/NotResource and every Condition match `request`.
    pub fn applies_to(&self, request: &Request<'_>) -> Result<bool, PolicyError> {
        let action = match (&self.action, &self.not_action) {
            (Some(a), _) => a.values().iter().any(|p| action_matches(p, request.action)),
            (None, Some(n)) => !n.values().iter().any(|p| action_matches(p, request.action)),
            (None, None) => false,
        };
        let resource = match (&self.resource, &self.not_resource) {
            (Some(r), _) => r.values().iter().any(|p| arn_matches(p, request.resource)),
            (None, Some(n)) => !n.values().iter().any(|p| arn_matches(p, request.resource)),
            (None, None) => false,
        };
        if !(action && resource) {
            return Ok(false);
        }
        for (operator, keys) in &self.condition {
            for (key, values) in keys {
                if !condition_matches(operator, key, values.values(), request.context)? {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}

/// IAM action names are case-insensitive; `*` and `?` are wildcards.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    glob(pattern, true).is_match(action)
}

/// Resource ARNs match segment by segment (partition, service, region, account, resource): a
/// wildcard does not cross the colons between the first five segments, but within the
/// resource segment `*` spans `/` and `:`. `*` alone matches every resource. Case-sensitive.
pub fn arn_matches(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    p.len() == a.len() && p.iter().zip(&a).all(|(p, a)| glob(p, false).is_match(a))
}

/// A wildcard pattern (`*` any run, `?` one character) as an anchored regex.
fn glob(pattern: &str, ignore_case: bool) -> regex::Regex {
    let mut re = String::from(if ignore_case { "(?is)^" } else { "(?s)^" });
    for c in pattern.chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).expect("an escaped wildcard pattern is a valid regex")
}

/// One condition operator over one key. Condition keys are case-insensitive; several values of
/// one key are ORed (for a negated operator: the request value matches none of them). A key
/// missing from the request fails a positive operator and satisfies a negated one; `IfExists`
/// makes a missing key satisfy any operator.
fn condition_matches(
    operator: &str,
    key: &str,
    expected: &[String],
    context: &BTreeMap<String, String>,
) -> Result<bool, PolicyError> {
    let actual = context
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str());
    if operator == "Null" {
        let want_missing = expected.iter().any(|v| v.eq_ignore_ascii_case("true"));
        return Ok(actual.is_none() == want_missing);
    }
    let (base, if_exists) = match operator.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (operator, false),
    };
    let (negated, matches): (bool, fn(&str, &str) -> bool) = match base {
        "StringEquals" => (false, |e, a| e == a),
        "StringNotEquals" => (true, |e, a| e == a),
        "StringEqualsIgnoreCase" => (false, |e, a| e.eq_ignore_ascii_case(a)),
        "StringNotEqualsIgnoreCase" => (true, |e, a| e.eq_ignore_ascii_case(a)),
        "StringLike" => (false, |e, a| glob(e, false).is_match(a)),
        "StringNotLike" => (true, |e, a| glob(e, false).is_match(a)),
        other => return Err(PolicyError::Operator(other.into())),
    };
    Ok(match actual {
        None => if_exists || negated,
        Some(actual) => expected.iter().any(|e| matches(e, actual)) != negated,
    })
}

/// The policy principal of a component's SDK app name: `stepscore-batch-job` -> `batch_job`.
pub fn principal_of(app_name: &str) -> Option<String> {
    app_name
        .strip_prefix("stepscore-")
        .map(|p| p.replace('-', "_"))
}

/// The component's SDK app name of a policy principal: `batch_job` -> `stepscore-batch-job`.
pub fn app_name_of(principal: &str) -> String {
    format!("stepscore-{}", principal.replace('_', "-"))
}

/// Distinct (principal, action, resource) triples that were allowed.
pub type AllowedCalls = std::collections::BTreeSet<(String, String, String)>;

/// Evaluates every logged call of a named component against that principal's statements
/// rendered with `values`, and returns one line per call not allowed, naming the principal,
/// action, resource and why; calls of unnamed SDK configs (test setup) are not evaluated.
/// Also returns the distinct (principal, action, resource) triples that were allowed.
pub fn check_calls(
    file: &PolicyFile,
    values: &BTreeMap<String, String>,
    calls: &[crate::calllog::LoggedCall],
) -> Result<(Vec<String>, AllowedCalls), PolicyError> {
    let mut rendered: BTreeMap<String, Vec<Statement>> = BTreeMap::new();
    let mut denials = Vec::new();
    let mut allowed = std::collections::BTreeSet::new();
    for call in calls {
        let Some(app) = &call.principal else { continue };
        let Some(principal) = principal_of(app) else {
            denials.push(format!(
                "{app}: {} by a component with no principal in iam/policies.json",
                call.operation
            ));
            continue;
        };
        let Some(action) = &call.action else {
            denials.push(format!(
                "{principal}: {} has no IAM action mapped in stepscore_aws::calllog: map it from the Service Authorization Reference",
                call.operation
            ));
            continue;
        };
        if !rendered.contains_key(&principal) {
            let statements = file.render(&principal, values)?;
            rendered.insert(principal.clone(), statements);
        }
        let decision = evaluate(
            &rendered[&principal],
            &Request {
                action,
                resource: &call.resource,
                context: &call.context,
            },
        )?;
        if matches!(decision, Decision::Allowed(_)) {
            allowed.insert((principal, action.clone(), call.resource.clone()));
        } else {
            let context = if call.context.is_empty() {
                String::new()
            } else {
                format!(" with {:?}", call.context)
            };
            let line = format!(
                "{principal}: {action} on {}{context} ({}) is {decision}",
                call.resource, call.operation
            );
            if !denials.contains(&line) {
                denials.push(line);
            }
        }
    }
    Ok((denials, allowed))
}

#[cfg(test)]
mod tests {
    //! Examples from AWS's IAM documentation ("Policy evaluation logic", "IAM JSON policy
    //! elements: Action / NotAction / Resource / NotResource / Condition operators", and the
    //! S3 user guide's home-folder example), decided as the documentation says AWS decides them.

    use super::*;

    fn statements(json: &str) -> Vec<Statement> {
        let doc: Value = serde_json::from_str(json).unwrap();
        serde_json::from_value(doc["Statement"].clone()).unwrap()
    }

    fn decide(policy: &str, action: &str, resource: &str, context: &[(&str, &str)]) -> Decision {
        let context: BTreeMap<String, String> = context
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        evaluate(
            &statements(policy),
            &Request {
                action,
                resource,
                context: &context,
            },
        )
        .unwrap()
    }

    fn allowed(policy: &str, action: &str, resource: &str, context: &[(&str, &str)]) -> bool {
        matches!(
            decide(policy, action, resource, context),
            Decision::Allowed(_)
        )
    }

    #[test]
    fn an_explicit_deny_overrides_any_allow() {
        // "Policy evaluation logic": an explicit deny in any policy overrides any allow.
        let policy = r#"{"Version": "2012-10-17", "Statement": [
            {"Sid": "AllowAll", "Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Sid": "DenyDelete", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*"}]}"#;
        assert_eq!(
            decide(
                policy,
                "s3:DeleteObject",
                "arn:aws:s3:::amzn-s3-demo-bucket/a.txt",
                &[]
            ),
            Decision::ExplicitDeny(Some("DenyDelete".into()))
        );
        assert!(allowed(
            policy,
            "s3:GetObject",
            "arn:aws:s3:::amzn-s3-demo-bucket/a.txt",
            &[]
        ));
    }

    #[test]
    fn nothing_allowed_is_implicitly_denied() {
        // "By default, all requests are implicitly denied."
        let policy = r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "arn:aws:dynamodb:us-east-2:123456789012:table/Books"}]}"#;
        assert_eq!(
            decide(
                policy,
                "dynamodb:PutItem",
                "arn:aws:dynamodb:us-east-2:123456789012:table/Books",
                &[]
            ),
            Decision::ImplicitDeny
        );
        assert_eq!(
            decide(
                policy,
                "dynamodb:GetItem",
                "arn:aws:dynamodb:us-east-2:123456789012:table/Magazines",
                &[]
            ),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn actions_match_case_insensitively_with_wildcards() {
        // Action element: "iam:*AccessKey*" covers the access-key actions; action names are
        // not case-sensitive ("iam:listaccesskeys" works).
        let policy = r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["iam:*AccessKey*", "s3:Get?bject"], "Resource": "*"}]}"#;
        for action in [
            "iam:CreateAccessKey",
            "iam:ListAccessKeys",
            "IAM:listaccesskeys",
            "s3:GetObject",
        ] {
            assert!(allowed(policy, action, "*", &[]), "{action}");
        }
        for action in ["iam:CreateUser", "s3:GetObjectVersion", "s3:GetObjec"] {
            assert!(!allowed(policy, action, "*", &[]), "{action}");
        }
    }

    #[test]
    fn resource_wildcards_span_slashes_but_not_arn_segments() {
        // Resource element: "arn:aws:s3:::amzn-s3-demo-bucket/*" covers every object but not
        // the bucket; wildcards within one segment ("arn:aws:iam::account-ID-without-hyphens:
        // user/Development/product_1234/*"); "?" is one character.
        let policy = r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket/*", "arn:aws:s3:::logs-bucket/file?.txt"]},
            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:*:123456789012:queue*"}]}"#;
        let object = "arn:aws:s3:::amzn-s3-demo-bucket/a/b/c.csv";
        assert!(allowed(policy, "s3:GetObject", object, &[]));
        assert!(!allowed(
            policy,
            "s3:ListBucket",
            "arn:aws:s3:::amzn-s3-demo-bucket",
            &[]
        ));
        assert!(allowed(
            policy,
            "s3:GetObject",
            "arn:aws:s3:::logs-bucket/file1.txt",
            &[]
        ));
        assert!(!allowed(
            policy,
            "s3:GetObject",
            "arn:aws:s3:::logs-bucket/file10.txt",
            &[]
        ));
        assert!(allowed(
            policy,
            "sqs:SendMessage",
            "arn:aws:sqs:us-west-2:123456789012:queue1",
            &[]
        ));
        // resource names are case-sensitive
        assert!(!allowed(
            policy,
            "s3:GetObject",
            "arn:aws:s3:::AMZN-S3-DEMO-BUCKET/a",
            &[]
        ));
        // "*" in the region segment does not reach into the account segment
        assert!(!allowed(
            policy,
            "sqs:SendMessage",
            "arn:aws:sqs:us-west-2:999999999999:queue1",
            &[]
        ));
    }

    #[test]
    fn not_action_allows_everything_else() {
        // NotAction element: "Allow NotAction iam:* Resource *" grants every action outside IAM.
        let policy = r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}"#;
        assert!(allowed(policy, "s3:GetObject", "arn:aws:s3:::b/k", &[]));
        assert!(!allowed(policy, "iam:CreateUser", "*", &[]));
    }

    #[test]
    fn not_resource_with_deny_fences_a_bucket() {
        // NotResource element: deny all of S3 except one bucket and its objects.
        let policy = r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:*", "NotResource": ["arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*"]}]}"#;
        assert!(allowed(
            policy,
            "s3:GetObject",
            "arn:aws:s3:::HRBucket/Payroll/may.csv",
            &[]
        ));
        assert!(matches!(
            decide(policy, "s3:GetObject", "arn:aws:s3:::HRBucket/Other/x", &[]),
            Decision::ExplicitDeny(_)
        ));
    }

    #[test]
    fn list_bucket_is_limited_to_prefixes_by_condition() {
        // S3 user guide, "Allow users to access their home folders": ListBucket on the bucket
        // with StringLike s3:prefix ["", "home/", "home/David/*"].
        let policy = r#"{"Version": "2012-10-17", "Statement": [
            {"Sid": "AllowListingOfUserFolder", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::amzn-s3-demo-bucket",
             "Condition": {"StringLike": {"s3:prefix": ["", "home/", "home/David/*"]}}}]}"#;
        let bucket = "arn:aws:s3:::amzn-s3-demo-bucket";
        for prefix in ["", "home/", "home/David/", "home/David/photos/"] {
            assert!(
                allowed(policy, "s3:ListBucket", bucket, &[("s3:prefix", prefix)]),
                "{prefix:?}"
            );
        }
        for prefix in ["home/Bob/", "home", "other/"] {
            assert!(
                !allowed(policy, "s3:ListBucket", bucket, &[("s3:prefix", prefix)]),
                "{prefix:?}"
            );
        }
        // no prefix in the request: the key is missing, the positive operator fails
        assert!(!allowed(policy, "s3:ListBucket", bucket, &[]));
        // condition keys are case-insensitive
        assert!(allowed(
            policy,
            "s3:ListBucket",
            bucket,
            &[("S3:Prefix", "home/")]
        ));
    }

    #[test]
    fn negated_and_if_exists_operators_on_a_missing_key() {
        // Condition operators: StringNotEquals matches when the key is absent; ...IfExists
        // makes an absent key match; Null tests presence.
        let policy = r#"{"Version": "2012-10-17", "Statement": [
            {"Sid": "NotFromTest", "Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*", "Condition": {"StringNotEquals": {"aws:RequestTag/env": "test"}}},
            {"Sid": "TypeIfExists", "Effect": "Allow", "Action": "ec2:StartInstances", "Resource": "*", "Condition": {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*"]}}},
            {"Sid": "Tagged", "Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "*", "Condition": {"Null": {"aws:TagKeys": "false"}}}]}"#;
        assert!(allowed(policy, "ec2:RunInstances", "*", &[]));
        assert!(!allowed(
            policy,
            "ec2:RunInstances",
            "*",
            &[("aws:RequestTag/env", "test")]
        ));
        assert!(allowed(policy, "ec2:StartInstances", "*", &[]));
        assert!(allowed(
            policy,
            "ec2:StartInstances",
            "*",
            &[("ec2:InstanceType", "t2.micro")]
        ));
        assert!(!allowed(
            policy,
            "ec2:StartInstances",
            "*",
            &[("ec2:InstanceType", "m5.large")]
        ));
        assert!(!allowed(policy, "ec2:CreateTags", "*", &[]));
        assert!(allowed(
            policy,
            "ec2:CreateTags",
            "*",
            &[("aws:TagKeys", "team")]
        ));
    }

    #[test]
    fn an_unknown_operator_is_an_error_not_a_pass() {
        let policy = statements(
            r#"{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}}]}"#,
        );
        let context = BTreeMap::new();
        let err = evaluate(
            &policy,
            &Request {
                action: "s3:GetObject",
                resource: "arn:aws:s3:::b/k",
                context: &context,
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("DateGreaterThan"), "{err}");
    }

    #[test]
    fn every_principal_of_the_file_renders_with_every_placeholder_filled() {
        let file = PolicyFile::bundled().unwrap();
        let values: BTreeMap<String, String> = file
            .placeholders
            .keys()
            .map(|k| (k.clone(), format!("<{k}>")))
            .collect();
        for principal in file.principals.keys() {
            let statements = file.render(principal, &values).unwrap();
            assert!(!statements.is_empty(), "{principal}");
            let text = serde_json::to_string(&statements).unwrap();
            assert!(!text.contains("${"), "{principal}: {text}");
        }
        let mut missing = values.clone();
        missing.remove("bucket_arn");
        assert!(matches!(
            file.render("admit", &missing),
            Err(PolicyError::Unfilled(name)) if name == "bucket_arn"
        ));
    }
}
