//! Initial ramdisks: size and compression, for information only. PLACEHOLDER — being written.
