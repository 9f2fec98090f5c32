//! The local world's names: the region and account in its ARNs, the state machine's name, where
//! a state directory's database lives, and how a Lambda FunctionName (name or ARN) resolves to
//! a registered function. A leaf: the runtime and the recorded state machines (`machines`)
//! both name things by it.

use std::path::{Path, PathBuf};

/// The region in local ARNs.
pub const LOCAL_REGION: &str = "local";
/// The account in local ARNs.
pub const LOCAL_ACCOUNT: &str = "000000000000";
/// The state machine's name in the local world.
pub const STATE_MACHINE_NAME: &str = "stepscore-scoring-pipeline";

/// The local ARN of a Lambda function, e.g. `arn:aws:lambda:local:000000000000:function:stepscore-submit`.
pub fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{name}")
}

/// The function name in a FunctionName, exposed for tests of the resolution rule.
#[doc(hidden)]
pub fn function_name_for_tests(f: &str) -> &str {
    function_name(f)
}

/// The function name in a FunctionName (a name, a partial or full ARN, maybe qualified).
pub(crate) fn function_name(f: &str) -> &str {
    if let Some(rest) = f.strip_prefix("arn:") {
        // arn:aws:lambda:region:account:function:name[:qualifier]
        return rest.split(':').nth(5).unwrap_or(f);
    }
    f.split(':').next().unwrap_or(f)
}

/// Where a state directory's database lives.
pub fn database_path(state_dir: &Path) -> PathBuf {
    state_dir.join("state.db")
}
