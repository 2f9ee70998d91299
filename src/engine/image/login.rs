//! `skiff login` / `skiff logout`: credentials in Podman's auth.json, Docker's config.json read too.

use crate::config::{self, AuthStore, Credentials};
use crate::engine::Engine;
use crate::image::reference;
use crate::image::registry::{self, Session, Target};
use crate::Error;

impl Engine {
    fn auth_store(&self) -> Result<AuthStore, Error> {
        Ok(AuthStore::from_env(&config::ProcessEnv, self.user.uid))
    }

    /// Stored credentials for a repository, if any, and the Docker `config.json` files that
    /// could not be read (Docker goes on without them, with a warning; the caller says so).
    pub fn credentials(&self, registry: &str, repository: &str) -> Result<config::Found, Error> {
        Ok(self.auth_store()?.find(registry, repository)?)
    }

    /// Checks the credentials against the registry, then stores them.
    pub fn login(
        &self,
        server: &str,
        creds: Credentials,
        tls_verify: Option<bool>,
    ) -> Result<(), Error> {
        let host = normalize_server(server);
        let registry = host.split('/').next().unwrap_or(&host);
        let endpoint = self
            .registries()?
            .endpoint_with_tls(registry, "", tls_verify);
        let api_host = if registry == "docker.io" {
            "registry-1.docker.io".to_string()
        } else {
            endpoint.host.clone()
        };
        let session = Session::new(
            registry::agents(),
            Target {
                host: api_host,
                repository: String::new(),
                insecure: endpoint.insecure,
            },
            Some(creds.clone()),
        );
        session.check_login()?;
        self.auth_store()?.store(&host, &creds)?;
        Ok(())
    }

    /// Removes stored credentials; false when there were none for `server`.
    pub fn logout(&self, server: Option<&str>, all: bool) -> Result<bool, Error> {
        let store = self.auth_store()?;
        if all {
            store.remove_all()?;
            return Ok(true);
        }
        let server =
            server.ok_or_else(|| Error::Invalid("logout needs a registry or --all".into()))?;
        Ok(store.remove(&normalize_server(server))?)
    }
}

/// `https://index.docker.io/v1/`, `docker.io`, `host:port/` → the registry name credentials are kept under.
pub fn normalize_server(server: &str) -> String {
    let s = server
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let host = s.split('/').next().unwrap_or(s);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".to_string(),
        _ => {
            // Keep a repository path when one was given: auth.json supports per-repository keys.
            if reference::parse_name(s).is_ok() && s.contains('/') {
                s.to_string()
            } else {
                host.to_string()
            }
        }
    }
}
