//! AWS adapters for the stepscore ports.
