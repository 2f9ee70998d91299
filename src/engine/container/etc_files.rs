//! The files the engine writes for each start and the runtime binds over the image's:
//! /etc/hosts, /etc/hostname and /etc/resolv.conf.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Writes the files into `dir` (the container's run directory) and returns them as the spec
/// names them: (path in the container, file on the host).
pub(crate) fn write_etc_files(
    dir: &Path,
    hostname: &str,
    host_network: bool,
) -> io::Result<Vec<(String, PathBuf)>> {
    let hosts = if host_network {
        fs::read_to_string("/etc/hosts").unwrap_or_default()
    } else {
        format!(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n"
        )
    };
    let resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let files = [
        ("/etc/hosts", hosts),
        ("/etc/hostname", format!("{hostname}\n")),
        ("/etc/resolv.conf", resolv),
    ];
    let mut out = Vec::new();
    for (inside, text) in files {
        let host = dir.join(Path::new(inside).file_name().unwrap_or(OsStr::new("file")));
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&host)?;
        f.write_all(text.as_bytes())?;
        out.push((inside.to_string(), host));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_network_gets_its_own_hosts_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_etc_files(dir.path(), "box", false).unwrap();
        let names: Vec<&str> = files.iter().map(|(inside, _)| inside.as_str()).collect();
        assert_eq!(names, ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"]);
        assert_eq!(
            fs::read_to_string(dir.path().join("hosts")).unwrap(),
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tbox\n"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("hostname")).unwrap(),
            "box\n"
        );
        let host = write_etc_files(dir.path(), "box", true).unwrap();
        assert_eq!(
            fs::read(&host[0].1).unwrap(),
            fs::read("/etc/hosts").unwrap_or_default(),
            "the host's network: the host's file"
        );
    }
}
