//! The image wing: pulling, the local image operations (list, tag, remove, prune, history,
//! inspect) and registry logins.

pub mod local;
pub mod login;
pub mod pull;
pub mod unpacker;
