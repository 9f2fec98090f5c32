//! `stepscore put`: a name S3 would refuse is the user's input at fault (exit 2), never an
//! environment failure (exit 4). The bucket cases are AWS's documented naming rules.

use super::{stepscore, text};

fn put_to(uri: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.json");
    std::fs::write(&file, "{}").unwrap();
    let out = stepscore(
        &dir.path().join("state"),
        &["put", file.to_str().unwrap(), uri],
    );
    (out.status.code(), text(&out))
}

#[test]
fn bucket_names_s3_refuses_are_invalid_input() {
    for uri in [
        "s3://ab/x.json",                           // under 3 characters
        "s3://Upper/x.json",                        // uppercase
        "s3://under_score/x.json",                  // underscore
        "s3://-leading/x.json",                     // must begin with a letter or digit
        "s3://trailing-/x.json",                    // must end with a letter or digit
        "s3://my..bucket/x.json",                   // adjacent dots
        "s3://192.168.5.4/x.json",                  // formatted as an IP address
        "s3://xn--bucket/x.json",                   // reserved prefix
        "s3://sthree-bucket/x.json",                // reserved prefix
        "s3://amzn-s3-demo-bucket/x.json",          // reserved prefix
        "s3://bucket-s3alias/x.json",               // reserved suffix
        "s3://bucket--ol-s3/x.json",                // reserved suffix
        "s3://bucket.mrap/x.json",                  // reserved suffix
        "s3://bucket--x-s3/x.json",                 // reserved suffix
        &format!("s3://{}/x.json", "a".repeat(64)), // over 63 characters
    ] {
        let (code, out) = put_to(uri);
        assert_eq!(code, Some(2), "{uri}: {out}");
        assert!(
            out.contains("bucket"),
            "{uri}: the message names the bucket: {out}"
        );
    }
}

#[test]
fn keys_the_store_cannot_hold_are_invalid_input() {
    let long_prefix = format!(
        "s3://stepscore/{}",
        format!("{}/", "d".repeat(200)).repeat(5)
    );
    for uri in [
        "s3://stepscore/a/../b.json".to_owned(),
        "s3://stepscore/a//b.json".to_owned(),
        "s3://stepscore/a\\b.json".to_owned(),
        format!("s3://stepscore/{}", "k".repeat(1025)),
        // the file's name appended to a prefix takes the key past 1,024 bytes
        format!("{long_prefix}{}/", "e".repeat(14)),
    ] {
        let (code, out) = put_to(&uri);
        assert_eq!(code, Some(2), "{uri}: {out}");
    }
}

#[test]
fn valid_names_are_stored() {
    for uri in [
        "s3://stepscore/jobs/x.json",
        "s3://my.bucket-1/x.json",
        "s3://abc/x.json",
        "s3://192.168.5.4x/x.json",
    ] {
        let (code, out) = put_to(uri);
        assert_eq!(code, Some(0), "{uri}: {out}");
    }
}
