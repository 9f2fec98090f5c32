//! stepscore domain.
