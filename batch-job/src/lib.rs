//! The scoring container: train and score smartcore models on CSV.
