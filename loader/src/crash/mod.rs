//! Panic (crash) loads: what the capture kernel needs to find the old kernel's memory.

pub mod elfcore;
