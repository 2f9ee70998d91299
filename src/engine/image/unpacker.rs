//! The unpacker of one layer, fed as it downloads: a helper process inside the user's namespace
//! (rootless) or a thread (root), and the spare one `pull` starts ahead of need.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};

use serde::{Deserialize, Serialize};

use crate::runtime::userns;
use crate::runtime::RuntimeError;
use crate::store::unpack::{self, Unpacked};
use crate::Error;

/// Where a layer's compressed bytes go to be unpacked, and how to learn the result.
pub struct LayerSink {
    writer: Option<Box<dyn Write + Send>>,
    done: Done,
}

enum Done {
    Helper(userns::Helper),
    Thread(std::thread::JoinHandle<Result<Unpacked, unpack::UnpackError>>),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Ok(Unpacked),
    Error(String),
}

impl LayerSink {
    pub fn writer(&mut self) -> &mut (dyn Write + Send) {
        self.writer
            .as_mut()
            .expect("writer used after finish")
            .as_mut()
    }

    /// Closes the stream and waits for the unpacker's verdict.
    pub fn finish(mut self) -> Result<Unpacked, Error> {
        drop(self.writer.take());
        match self.done {
            Done::Thread(handle) => handle
                .join()
                .map_err(|_| Error::Other("the unpacking thread panicked".into()))?
                .map_err(Error::from),
            Done::Helper(mut helper) => {
                let mut out = String::new();
                if let Some(mut stdout) = helper.child.stdout.take() {
                    let _ = stdout.read_to_string(&mut out);
                }
                tracing::debug!("unpacker replied");
                let status = helper.child.wait().map_err(RuntimeError::Io)?;
                tracing::debug!("unpacker exited");
                match serde_json::from_str::<Reply>(out.trim()) {
                    Ok(Reply::Ok(u)) => Ok(u),
                    Ok(Reply::Error(e)) => Err(Error::Other(e)),
                    Err(_) => Err(RuntimeError::Helper(format!(
                        "the unpacking helper failed ({status}) without saying why"
                    ))
                    .into()),
                }
            }
        }
    }

    /// Stops the unpacker after a failed download; its staging directory is removed by the caller.
    pub fn abort(mut self) {
        drop(self.writer.take());
        match self.done {
            Done::Helper(mut helper) => {
                let _ = helper.child.kill();
                let _ = helper.child.wait();
            }
            Done::Thread(handle) => {
                let _ = handle.join();
            }
        }
    }
}

impl LayerSink {
    pub fn thread(
        writer: Box<dyn Write + Send>,
        handle: std::thread::JoinHandle<Result<Unpacked, unpack::UnpackError>>,
    ) -> LayerSink {
        LayerSink {
            writer: Some(writer),
            done: Done::Thread(handle),
        }
    }

    pub fn helper(writer: Box<dyn Write + Send>, helper: userns::Helper) -> LayerSink {
        LayerSink {
            writer: Some(writer),
            done: Done::Helper(helper),
        }
    }
}

/// A staging directory with an unpacker already running for it.
pub struct Prepared {
    staging: PathBuf,
    sink: LayerSink,
}

impl Prepared {
    pub fn new(staging: PathBuf, sink: LayerSink) -> Prepared {
        Prepared { staging, sink }
    }

    pub fn into_parts(self) -> (PathBuf, LayerSink) {
        (self.staging, self.sink)
    }

    /// Stops an unpacker nobody needed; returns its (empty) staging directory to remove.
    pub fn discard(self) -> PathBuf {
        self.sink.abort();
        self.staging
    }
}

/// The unpacker started ahead of need; `take` waits for it if it is still starting.
#[derive(Default)]
pub struct SpareUnpacker {
    state: Mutex<Spare>,
    ready: Condvar,
}

#[derive(Default)]
enum Spare {
    #[default]
    None,
    Starting,
    Ready(Result<Prepared, Error>),
}

impl SpareUnpacker {
    pub fn start(&self) {
        *self.state.lock().expect("spare lock") = Spare::Starting;
    }

    pub fn finish(&self, result: Result<Prepared, Error>) {
        *self.state.lock().expect("spare lock") = Spare::Ready(result);
        self.ready.notify_all();
    }

    pub fn take(&self) -> Option<Result<Prepared, Error>> {
        let mut state = self.state.lock().expect("spare lock");
        while matches!(*state, Spare::Starting) {
            state = self.ready.wait(state).expect("spare lock");
        }
        match std::mem::take(&mut *state) {
            Spare::Ready(r) => Some(r),
            _ => None,
        }
    }
}
