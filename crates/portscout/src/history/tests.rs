//! Tests of the scan history.
