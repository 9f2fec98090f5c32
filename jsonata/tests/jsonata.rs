//! The crate's integration tests: the language as specified by example, the reference suite
//! with its no-regression list, and robustness (limits, random input).

mod jsonata {
    mod language;
    mod native;
    mod robustness;
    mod suite;
}
