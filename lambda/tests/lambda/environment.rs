//! Each binary reads exactly its environment in `handlers/lambda-functions.json` (Terraform sets
//! that list, see `terraform/tests`), and the code they share reads only Lambda's own settings.

use std::collections::BTreeSet;

use serde_json::Value;

#[test]
fn each_binary_reads_exactly_its_listed_environment() {
    let c: Value = serde_json::from_str(stepscore_handlers::LAMBDA_FUNCTIONS_JSON).unwrap();
    let re = regex::Regex::new(r#"env::var(?:_os)?\(\s*"([A-Za-z_][A-Za-z0-9_]*)""#).unwrap();
    let src = format!("{}/src", env!("CARGO_MANIFEST_DIR"));
    let read = |path: &str| -> BTreeSet<String> {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        re.captures_iter(&text).map(|m| m[1].to_owned()).collect()
    };
    for (name, f) in c["functions"].as_object().unwrap() {
        let listed: BTreeSet<String> = f["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        let binary = f["binary"].as_str().unwrap();
        assert_eq!(read(&format!("{src}/bin/{binary}.rs")), listed, "{name}");
    }
    // the shared runtime reads no environment of its own (only AWS_LAMBDA_* runtime settings)
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let names = read(path.to_str().unwrap());
            assert!(
                names.iter().all(|n| n.starts_with("AWS_LAMBDA_")),
                "{}: {names:?}",
                path.display()
            );
        }
    }
}
