//! `skiff login` and `skiff logout`.

use std::io::{self, BufRead, Read, Write};
use std::os::fd::AsFd;

use clap::Args;

use super::common::{read_secret, TlsArgs};
use crate::config::Credentials;
use crate::engine::normalize_server;
use crate::engine::Engine;
use crate::Error;

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Username.
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password (prefer --password-stdin: this one shows in the process list).
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin.
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// The registry (default: docker.io).
    pub server: Option<String>,
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    /// Remove the credentials of every registry.
    #[arg(short, long)]
    pub all: bool,
    /// The registry (default: docker.io).
    pub server: Option<String>,
}

pub fn login(engine: &Engine, args: LoginArgs) -> Result<i32, Error> {
    let server = args.server.clone().unwrap_or_else(|| "docker.io".into());
    if args.password.is_some() && args.password_stdin {
        return Err(Error::Invalid(
            "--password and --password-stdin are mutually exclusive".into(),
        ));
    }
    if args.password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    let username = match &args.username {
        Some(u) if !u.is_empty() => u.clone(),
        _ if args.password_stdin => {
            return Err(Error::Invalid(
                "must provide --username with --password-stdin".into(),
            ))
        }
        _ => prompt_username()?,
    };
    let password = if args.password_stdin {
        let mut s = String::new();
        io::stdin()
            .lock()
            .read_to_string(&mut s)
            .map_err(|e| Error::Other(format!("reading the password from stdin: {e}")))?;
        s.trim_end_matches(['\n', '\r']).to_string()
    } else if let Some(p) = &args.password {
        p.clone()
    } else {
        read_secret("Password: ")?
    };
    if password.is_empty() {
        return Err(Error::Invalid("password is empty".into()));
    }
    engine.login(
        &server,
        Credentials::new(username, password),
        args.tls.tls_verify,
    )?;
    println!("Login Succeeded");
    Ok(0)
}

fn prompt_username() -> Result<String, Error> {
    if !crate::sys::is_terminal(io::stdin().as_fd()) {
        return Err(Error::Invalid(
            "cannot prompt for a username: stdin is not a terminal; pass --username".into(),
        ));
    }
    eprint!("Username: ");
    let _ = io::stderr().flush();
    let mut line = String::new();
    io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::Other(format!("reading the username: {e}")))?;
    let name = line.trim().to_string();
    if name.is_empty() {
        return Err(Error::Invalid("username is empty".into()));
    }
    Ok(name)
}

pub fn logout(engine: &Engine, args: LogoutArgs) -> Result<i32, Error> {
    if args.all {
        engine.logout(None, true)?;
        println!("Removed login credentials for all registries");
        return Ok(0);
    }
    let server = args.server.clone().unwrap_or_else(|| "docker.io".into());
    if engine.logout(Some(&server), false)? {
        println!(
            "Removing login credentials for {}",
            normalize_server(&server)
        );
        Ok(0)
    } else {
        Err(Error::Invalid(format!(
            "not logged in to {}",
            normalize_server(&server)
        )))
    }
}
