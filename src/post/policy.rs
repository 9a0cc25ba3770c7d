//! POST policy documents: parsing, signature and condition evaluation (to be written).
