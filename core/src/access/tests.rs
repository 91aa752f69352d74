//! Unit tests of team access.
