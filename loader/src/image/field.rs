//! One line of `warmboot inspect` text output, which every image format renders itself.

/// One line of `warmboot inspect` text output: a label and its rendered value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub label: &'static str,
    pub value: String,
}

impl Field {
    pub fn new(label: &'static str, value: impl Into<String>) -> Field {
        Field {
            label,
            value: value.into(),
        }
    }

    /// A hexadecimal address or size, the way kernel documentation writes them.
    pub fn hex(label: &'static str, value: u64) -> Field {
        Field::new(label, format!("{value:#x}"))
    }

    /// A size in bytes, with a human-readable unit alongside.
    pub fn size(label: &'static str, bytes: u64) -> Field {
        Field::new(label, crate::human_size::human_size(bytes))
    }
}
