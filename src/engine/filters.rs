//! The `--filter` terms the prune commands share (`container prune`, `image prune`,
//! `system prune`).

use chrono::{DateTime, Utc};

use crate::Error;

/// Docker's prune filters: `until=` (created before; RFC 3339, Unix seconds or a duration
/// back from now) and `label=KEY[=VALUE]` / `label!=KEY[=VALUE]`, all of which must match.
/// What killed commands left is finished whatever the filters say: it is nobody's object.
#[derive(Debug, Clone, Default)]
pub struct PruneFilters {
    pub until: Option<DateTime<Utc>>,
    /// Key, value (None: any), and whether the label must be absent (`label!=`).
    pub labels: Vec<(String, Option<String>, bool)>,
}

impl PruneFilters {
    pub fn parse(terms: &[String], now: DateTime<Utc>) -> Result<PruneFilters, Error> {
        let mut f = PruneFilters::default();
        for term in terms {
            let (key, value) = term.split_once('=').ok_or_else(|| {
                Error::Invalid(format!(
                    "bad format of filter {term:?} (expected name=value)"
                ))
            })?;
            let (key, negated) = match key.strip_suffix('!') {
                Some(k) => (k, true),
                None => (key, false),
            };
            match (key, negated) {
                ("until", false) => f.until = Some(super::duration::parse_moment(value, now)?),
                ("label", _) => {
                    let (k, v) = match value.split_once('=') {
                        Some((k, v)) => (k, Some(v.to_string())),
                        None => (value, None),
                    };
                    f.labels.push((k.to_string(), v, negated));
                }
                _ => {
                    return Err(Error::Invalid(format!(
                        "invalid filter {term:?}: prune takes until= and label= (or label!=)"
                    )))
                }
            }
        }
        Ok(f)
    }

    /// Whether an object created at `created` with `labels` may be pruned.
    pub fn matches(
        &self,
        created: Option<DateTime<Utc>>,
        labels: &dyn Fn() -> Vec<(String, String)>,
    ) -> bool {
        if let Some(until) = self.until {
            // An object whose age is unknown is not known to be older.
            if created.is_none_or(|c| c >= until) {
                return false;
            }
        }
        if self.labels.is_empty() {
            return true;
        }
        let have = labels();
        self.labels.iter().all(|(k, v, negated)| {
            let found = have
                .iter()
                .any(|(hk, hv)| hk == k && v.as_ref().is_none_or(|v| v == hv));
            found != *negated
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let now = DateTime::parse_from_rfc3339("2026-01-02T00:00:00Z")
            .unwrap()
            .to_utc();
        let f = |terms: &[&str]| {
            let terms: Vec<String> = terms.iter().map(|t| t.to_string()).collect();
            PruneFilters::parse(&terms, now)
        };
        let hour_ago = Some(now - chrono::Duration::hours(1));
        let labels = || vec![("app".to_string(), "web".to_string())];
        assert!(f(&[]).unwrap().matches(None, &labels));
        let until = f(&["until=30m"]).unwrap();
        assert!(until.matches(hour_ago, &labels));
        assert!(!until.matches(Some(now), &labels));
        assert!(!until.matches(None, &labels));
        assert!(!f(&["until=2h"]).unwrap().matches(hour_ago, &labels));
        assert!(f(&["until=2025-12-31T00:00:00Z"]).unwrap().until < hour_ago);
        assert!(f(&["label=app"]).unwrap().matches(None, &labels));
        assert!(f(&["label=app=web"]).unwrap().matches(None, &labels));
        assert!(!f(&["label=app=db"]).unwrap().matches(None, &labels));
        assert!(!f(&["label!=app"]).unwrap().matches(None, &labels));
        assert!(f(&["label!=app=db", "label=app"])
            .unwrap()
            .matches(None, &labels));
        for bad in ["until", "until=soon", "since=1h", "until!=1h"] {
            assert!(f(&[bad]).is_err(), "{bad}");
        }
    }
}
