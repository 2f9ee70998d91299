//! End-to-end tests: the built binary, run as unprivileged users, against real registries.
//! Set up by contrib/test-env.sh (the README's test command runs it first).

mod harness;

mod attach;
mod auth;
mod bad_input;
mod boundary;
mod cli;
mod containers;
mod cp;
mod health;
mod hostile;
mod images;
mod lifecycle;
mod network;
mod prune;
mod pull;
mod run;
mod store;
mod torture;
mod user_network;
mod user_networks;
