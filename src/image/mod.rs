//! Images away from the store: references and short names, manifests, platforms, registries.

pub mod manifest;
pub mod platform;
pub mod reference;
pub mod registry;
mod tls;
