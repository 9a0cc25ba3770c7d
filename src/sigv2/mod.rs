//! Pure SigV2 verification (to be written).
