//! Warnings for the user (limits not applied, owners collapsed for lack of subordinate ids): a
//! channel of their own, separate from pull progress, so that the container wing can tell the
//! user something without knowing how pulls are drawn. The CLI decides how they are printed.

use std::fmt;

/// Something the user should know once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice(pub String);

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an operation sends its notices.
pub type Notices<'a> = &'a (dyn Fn(Notice) + Sync);
