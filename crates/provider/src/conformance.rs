//! The provider conformance suite (to be written).
