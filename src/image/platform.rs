//! Platform names (`os/arch[/variant]`) and the choice of one manifest from an index.

use std::fmt;

use super::manifest::Descriptor;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSpec {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl fmt::Display for PlatformSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl PlatformSpec {
    /// The platform this binary runs on, in Go's names as images use them.
    pub fn host() -> PlatformSpec {
        let (arch, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            "powerpc64" => ("ppc64le", None),
            "s390x" => ("s390x", None),
            "riscv64" => ("riscv64", None),
            other => (other, None),
        };
        PlatformSpec {
            os: "linux".into(),
            arch: arch.into(),
            variant: variant.map(str::to_string),
        }
    }

    /// Parses `os/arch[/variant]` (or `arch` alone) as `--platform` takes it.
    pub fn parse(s: &str) -> Result<PlatformSpec, String> {
        let parts: Vec<&str> = s.split('/').collect();
        let bad =
            || format!("invalid platform {s:?}: expected os/arch[/variant], e.g. linux/arm64");
        let (os, arch, variant) = match parts.as_slice() {
            [arch] if !arch.is_empty() => ("linux", *arch, None),
            [os, arch] if !os.is_empty() && !arch.is_empty() => (*os, *arch, None),
            [os, arch, v] if !os.is_empty() && !arch.is_empty() && !v.is_empty() => {
                (*os, *arch, Some(*v))
            }
            _ => return Err(bad()),
        };
        let (arch, variant) = normalize_arch(&arch.to_lowercase(), variant.map(str::to_lowercase));
        Ok(PlatformSpec {
            os: os.to_lowercase(),
            arch,
            variant,
        })
    }

    pub fn with_arch(mut self, arch: &str) -> PlatformSpec {
        let (a, v) = normalize_arch(&arch.to_lowercase(), None);
        self.arch = a;
        self.variant = v;
        self
    }

    /// Whether an image of `os/arch/variant` can serve this request.
    pub fn matches(&self, os: &str, arch: &str, variant: Option<&str>) -> bool {
        let (arch, variant) = normalize_arch(arch, variant.map(str::to_string));
        if self.os != os || self.arch != arch {
            return false;
        }
        match (&self.variant, &variant) {
            (Some(want), Some(have)) => want == have,
            // arm64 images often omit v8; a request without a variant takes any.
            _ => true,
        }
    }

    /// Picks the best entry of an index for this platform: an exact variant match first.
    pub fn choose<'a>(&self, entries: &'a [Descriptor]) -> Option<&'a Descriptor> {
        let candidates = entries.iter().filter(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| self.matches(&p.os, &p.architecture, p.variant.as_deref()))
        });
        let mut best: Option<&Descriptor> = None;
        for d in candidates {
            let p = d.platform.as_ref().expect("filtered above");
            let exact = p.variant.as_deref().map(str::to_lowercase) == self.variant;
            if exact {
                return Some(d);
            }
            best = best.or(Some(d));
        }
        best
    }
}

fn normalize_arch(arch: &str, variant: Option<String>) -> (String, Option<String>) {
    match arch {
        "x86_64" | "x86-64" => ("amd64".into(), None),
        "aarch64" | "arm64" => ("arm64".into(), variant.or_else(|| Some("v8".into()))),
        "armhf" => ("arm".into(), Some("v7".into())),
        "armel" => ("arm".into(), Some("v6".into())),
        "i386" => ("386".into(), None),
        other => (other.to_string(), variant),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::manifest::Platform;

    fn desc(arch: &str, variant: Option<&str>) -> Descriptor {
        Descriptor {
            media_type: String::new(),
            digest: format!("sha256:{arch}"),
            size: 1,
            platform: Some(Platform {
                architecture: arch.into(),
                os: "linux".into(),
                variant: variant.map(str::to_string),
            }),
            annotations: None,
        }
    }

    #[test]
    fn parse_and_choose() {
        let p = PlatformSpec::parse("linux/arm64").unwrap();
        assert_eq!(p.to_string(), "linux/arm64/v8");
        let entries = vec![
            desc("amd64", None),
            desc("arm64", None),
            desc("arm", Some("v7")),
        ];
        assert_eq!(p.choose(&entries).unwrap().digest, "sha256:arm64");
        let amd = PlatformSpec::parse("linux/amd64").unwrap();
        assert_eq!(amd.choose(&entries).unwrap().digest, "sha256:amd64");
        let arm6 = PlatformSpec::parse("linux/arm/v6").unwrap();
        assert!(arm6.choose(&entries).is_none());
        assert!(PlatformSpec::parse("linux//").is_err());
    }
}
