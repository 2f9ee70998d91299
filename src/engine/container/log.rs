//! The log of a detached container: written by its monitor (`LogWriter`), read by `logs`
//! (`parse_log_line`, `write_entry`). Docker's json-file format (one JSON object a line) or
//! Podman's k8s-file (`TIME STREAM F|P TEXT`, P for a partial line), rotated past `max-size`
//! into `max-file - 1` numbered files.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::record::{ContainerRecord, LogConfig};
use crate::engine::Engine;
use crate::Error;

/// The log file of a container, by driver.
pub fn log_path(container_dir: &Path, log: &LogConfig) -> Option<PathBuf> {
    match log.driver.as_str() {
        "json-file" => Some(container_dir.join("json.log")),
        "k8s-file" => Some(container_dir.join("ctr.log")),
        _ => None,
    }
}

impl Engine {
    /// The log entries of a container, oldest first: rotated files, then the current one.
    pub fn log_files(&self, record: &ContainerRecord) -> Result<Vec<std::path::PathBuf>, Error> {
        let dir = self.container_dir(&record.id);
        let Some(path) = log_path(&dir, &record.log) else {
            return Err(Error::Invalid(format!(
                "container {} logs nothing (--log-driver {})",
                record.name, record.log.driver
            )));
        };
        let mut files: Vec<std::path::PathBuf> = (1..record.log.max_file)
            .rev()
            .map(|n| std::path::PathBuf::from(format!("{}.{n}", path.display())))
            .filter(|p| p.exists())
            .collect();
        files.push(path);
        Ok(files)
    }
}

/// Appends log entries in the container's log format, rotating past `max-size`.
pub struct LogWriter {
    path: Option<PathBuf>,
    file: Option<File>,
    k8s: bool,
    max_size: Option<u64>,
    max_file: u32,
    size: u64,
}

impl LogWriter {
    pub fn open(path: Option<PathBuf>, config: &LogConfig) -> LogWriter {
        let file = path.as_ref().and_then(|p| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(p)
                .ok()
        });
        let size = file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len());
        LogWriter {
            path,
            file,
            k8s: config.driver == "k8s-file",
            max_size: config.max_size,
            max_file: config.max_file.max(1),
            size,
        }
    }

    /// One entry: `text` is a whole line (with its newline) or a partial one.
    pub fn line(&mut self, stream: &str, text: &[u8]) {
        let now = chrono::Utc::now();
        let entry = if self.k8s {
            let (body, tag) = match text.strip_suffix(b"\n") {
                Some(b) => (b, "F"),
                None => (text, "P"),
            };
            format!(
                "{} {stream} {tag} {}\n",
                now.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                String::from_utf8_lossy(body)
            )
        } else {
            let value = serde_json::json!({
                "log": String::from_utf8_lossy(text),
                "stream": stream,
                "time": now.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            });
            format!("{value}\n")
        };
        if let Some(max) = self.max_size {
            if self.size > 0 && self.size + entry.len() as u64 > max {
                self.rotate();
            }
        }
        if let Some(f) = &mut self.file {
            if f.write_all(entry.as_bytes()).is_ok() {
                self.size += entry.len() as u64;
            }
        }
    }

    /// `max-file` files at most: the current one and `max-file - 1` numbered ones.
    fn rotate(&mut self) {
        let Some(path) = self.path.clone() else {
            return;
        };
        let numbered = |n: u32| PathBuf::from(format!("{}.{n}", path.display()));
        if self.max_file > 1 {
            for n in (1..self.max_file - 1).rev() {
                let _ = fs::rename(numbered(n), numbered(n + 1));
            }
            let _ = fs::rename(&path, numbered(1));
        }
        self.file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .ok();
        self.size = 0;
    }
}

/// A parsed log entry.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub stream: String,
    pub time: chrono::DateTime<chrono::Utc>,
    pub text: Vec<u8>,
}

/// Parses one line of a json-file or k8s-file log.
pub fn parse_log_line(line: &str, k8s: bool) -> Option<LogEntry> {
    if k8s {
        let mut parts = line.splitn(4, ' ');
        let time = parts.next()?;
        let stream = parts.next()?;
        let tag = parts.next()?;
        let text = parts.next().unwrap_or("");
        let mut text = text.as_bytes().to_vec();
        if tag == "F" {
            text.push(b'\n');
        }
        Some(LogEntry {
            stream: stream.into(),
            time: chrono::DateTime::parse_from_rfc3339(time).ok()?.to_utc(),
            text,
        })
    } else {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        Some(LogEntry {
            stream: v["stream"].as_str()?.into(),
            time: chrono::DateTime::parse_from_rfc3339(v["time"].as_str()?)
                .ok()?
                .to_utc(),
            text: v["log"].as_str()?.as_bytes().to_vec(),
        })
    }
}

/// Writes `entries` as `logs` shows them (with `-t`, Docker's timestamp first).
pub fn write_entry(out: &mut impl Write, e: &LogEntry, timestamps: bool) -> std::io::Result<()> {
    if timestamps {
        write!(
            out,
            "{} ",
            e.time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
        )?;
    }
    out.write_all(&e.text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_back(path: &Path, k8s: bool) -> Vec<LogEntry> {
        fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| parse_log_line(l, k8s).expect(l))
            .collect()
    }

    #[test]
    fn what_the_monitor_writes_logs_reads_back() {
        for driver in ["json-file", "k8s-file"] {
            let dir = tempfile::tempdir().unwrap();
            let config = LogConfig {
                driver: driver.into(),
                ..LogConfig::default()
            };
            let path = log_path(dir.path(), &config).unwrap();
            let before = chrono::Utc::now();
            let mut log = LogWriter::open(Some(path.clone()), &config);
            log.line("stdout", b"one \"quoted\" line\n");
            log.line("stderr", b"a partial line");
            log.line("stdout", b"\tend\n");
            log.line("stdout", b"not utf-8: \xff\n");
            drop(log);
            let entries = read_back(&path, driver == "k8s-file");
            let texts: Vec<&[u8]> = entries.iter().map(|e| e.text.as_slice()).collect();
            assert_eq!(
                texts,
                [
                    &b"one \"quoted\" line\n"[..],
                    b"a partial line",
                    b"\tend\n",
                    "not utf-8: \u{fffd}\n".as_bytes()
                ],
                "{driver}"
            );
            let streams: Vec<&str> = entries.iter().map(|e| e.stream.as_str()).collect();
            assert_eq!(streams, ["stdout", "stderr", "stdout", "stdout"]);
            assert!(entries.iter().all(|e| e.time >= before));
            let mut shown = Vec::new();
            write_entry(&mut shown, &entries[0], false).unwrap();
            assert_eq!(shown, b"one \"quoted\" line\n");
            shown.clear();
            write_entry(&mut shown, &entries[0], true).unwrap();
            let stamp = std::str::from_utf8(&shown)
                .unwrap()
                .split(' ')
                .next()
                .unwrap();
            assert_eq!(
                chrono::DateTime::parse_from_rfc3339(stamp).unwrap(),
                entries[0].time
            );
        }
        let none = LogConfig {
            driver: "none".into(),
            ..LogConfig::default()
        };
        assert!(log_path(Path::new("/x"), &none).is_none());
    }

    #[test]
    fn rotation_keeps_max_file_files_oldest_numbered_highest() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            driver: "json-file".into(),
            max_size: Some(200),
            max_file: 3,
        };
        let path = log_path(dir.path(), &config).unwrap();
        let mut log = LogWriter::open(Some(path.clone()), &config);
        for n in 0..20 {
            log.line("stdout", format!("line {n:02}\n").as_bytes());
        }
        drop(log);
        let mut files: Vec<PathBuf> = (1..config.max_file)
            .rev()
            .map(|n| PathBuf::from(format!("{}.{n}", path.display())))
            .collect();
        files.push(path.clone());
        assert!(files.iter().all(|f| f.exists()), "{files:?}");
        assert!(!PathBuf::from(format!("{}.3", path.display())).exists());
        let mut all = Vec::new();
        for f in &files {
            assert!(fs::metadata(f).unwrap().len() <= 200);
            all.extend(read_back(f, false));
        }
        // The newest lines survive, in order, across the files.
        let texts: Vec<String> = all
            .iter()
            .map(|e| String::from_utf8(e.text.clone()).unwrap())
            .collect();
        assert_eq!(texts.last().unwrap(), "line 19\n");
        let numbers: Vec<u32> = texts.iter().map(|t| t[5..7].parse().unwrap()).collect();
        assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{numbers:?}");
    }
}
