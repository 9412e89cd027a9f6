//! A ZMTP peer that can lie: a hololinked-like server written over plain TCP or Unix sockets,
//! byte by byte, so that it can send what no libzmq server would: frame headers that claim more
//! than they carry, endless MORE frames, streams cut inside a frame, undecodable bytes.
//!
//! Each connection follows one entry of a script ([`LyingPeer::start`]): connection `k` tells
//! lie `k`, and every connection past the script behaves. Behaving means the ZMTP 3.0
//! greeting and READY exchange of a ROUTER, then hololinked's reply to each message: a
//! HANDSHAKE answered as a HANDSHAKE, any operation answered with a REPLY that echoes the
//! request's payload. A lie told after the handshake is told at the first operation, so the
//! pool has a request in flight when it comes.
//!
//! Invariants: nothing a connection writes is held in memory beyond one 64 KiB chunk (a lie
//! of N bytes is written from a fixed buffer); every connection thread ends when its peer
//! closes, when the peer is dropped, or after [`LINGER`].

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::config::{sanitized_ipc_filename, Bind};
use crate::error::Error;
use crate::protocol::{parse_request_header, response_header};

/// Longest a connection thread keeps a connection open after its lie, waiting for the pool to
/// close it.
pub const LINGER: Duration = Duration::from_secs(30);

/// What one connection does wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lie {
    /// Nothing: a well-behaved server.
    None,
    /// The greeting's signature carries a length (bytes 1-8, the ZMTP 1.0 length field that
    /// ZMTP 3 keeps as padding) of 1 TiB; the rest of the connection behaves.
    HugeLengthInGreeting,
    /// The first byte of the greeting is not `0xFF`: undecodable from the first byte.
    BadGreeting,
    /// Instead of READY, a command frame header claiming 1 TiB.
    HugeLengthInReady,
    /// At the first operation, a message frame header claiming this many bytes, and nothing
    /// after it.
    HugeLength(u64),
    /// At the first operation, a message frame of this many bytes, header and body, written in
    /// full (as far as the pool reads).
    OversizeFrame(u64),
    /// At the first operation, empty frames with MORE set and never a last one, as many as the
    /// pool reads (at most 2^26).
    EndlessMore,
    /// At the first operation, a frame header of 100 bytes and 10 of them, then the connection
    /// is closed: a server that died mid-write.
    CutMidFrame,
    /// At the first operation, a command frame whose name is longer than the frame: bytes no
    /// ZMTP decoder can make sense of.
    Undecodable,
}

/// A running lying peer; dropping it stops it (and removes its IPC socket file).
pub struct LyingPeer {
    endpoint: String,
    stop: Arc<AtomicBool>,
    counters: Arc<PeerCounters>,
    accept: Option<thread::JoinHandle<()>>,
    _ipc_dir: Option<tempfile::TempDir>,
}

#[derive(Default)]
struct PeerCounters {
    connections: AtomicU64,
    lies: AtomicU64,
    replies: AtomicU64,
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// One accepted connection, TCP or Unix.
trait Stream: Read + Write + Send {
    fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    fn close(&self);
}

impl Stream for TcpStream {
    fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)
    }
    fn close(&self) {
        let _ = self.shutdown(std::net::Shutdown::Both);
    }
}

impl Stream for UnixStream {
    fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)
    }
    fn close(&self) {
        let _ = self.shutdown(std::net::Shutdown::Both);
    }
}

impl LyingPeer {
    /// Starts a peer for the server id `id` (the `senderID` of its replies) that tells
    /// `script[k]` on its `k`-th connection and behaves on every later one. It listens where
    /// `bind` says: `Tcp("tcp://127.0.0.1:0")` (port 0: any free port), `Ipc` (a socket in
    /// a temporary directory) or `IpcAt(path)`.
    pub fn start(id: &str, bind: &Bind, script: &[Lie]) -> Result<LyingPeer, Error> {
        let bind_unix = |path: PathBuf| -> Result<(Listener, String), Error> {
            let listener = UnixListener::bind(&path)?;
            Ok((
                Listener::Unix(listener),
                format!("ipc://{}", path.display()),
            ))
        };
        let (listener, endpoint, ipc_dir) = match bind {
            Bind::Tcp(endpoint) => {
                let address = endpoint
                    .strip_prefix("tcp://")
                    .ok_or_else(|| Error::Config(format!("not a tcp:// endpoint: {endpoint}")))?;
                let listener = TcpListener::bind(address)?;
                let endpoint = format!("tcp://{}", listener.local_addr()?);
                (Listener::Tcp(listener), endpoint, None)
            }
            Bind::Ipc => {
                let dir = tempfile::Builder::new().prefix("pool-testkit-").tempdir()?;
                let (listener, endpoint) = bind_unix(dir.path().join(sanitized_ipc_filename(id)))?;
                (listener, endpoint, Some(dir))
            }
            Bind::IpcAt(path) => {
                let (listener, endpoint) = bind_unix(path.clone())?;
                (listener, endpoint, None)
            }
        };
        match &listener {
            Listener::Tcp(l) => l.set_nonblocking(true)?,
            Listener::Unix(l) => l.set_nonblocking(true)?,
        }
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(PeerCounters::default());
        let accept = {
            let (stop, counters) = (Arc::clone(&stop), Arc::clone(&counters));
            let (id, script) = (id.to_owned(), script.to_vec());
            thread::Builder::new()
                .name(format!("lying-peer-{id}"))
                .spawn(move || accept_loop(&listener, &id, &script, &stop, &counters))?
        };
        Ok(LyingPeer {
            endpoint,
            stop,
            counters,
            accept: Some(accept),
            _ipc_dir: ipc_dir,
        })
    }

    /// The endpoint to give the pool.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.counters.connections.load(Ordering::Relaxed)
    }

    /// Lies told so far (connections that reached their lie).
    pub fn lies(&self) -> u64 {
        self.counters.lies.load(Ordering::Relaxed)
    }

    /// Replies sent by behaving connections (HANDSHAKEs included).
    pub fn replies(&self) -> u64 {
        self.counters.replies.load(Ordering::Relaxed)
    }
}

impl Drop for LyingPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn accept_loop(
    listener: &Listener,
    id: &str,
    script: &[Lie],
    stop: &Arc<AtomicBool>,
    counters: &Arc<PeerCounters>,
) {
    let mut connection = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let accepted: io::Result<Box<dyn Stream>> = match listener {
            Listener::Tcp(l) => l.accept().and_then(|(s, _)| {
                s.set_nonblocking(false)?;
                s.set_nodelay(true)?;
                Ok(Box::new(s) as Box<dyn Stream>)
            }),
            Listener::Unix(l) => l.accept().and_then(|(s, _)| {
                s.set_nonblocking(false)?;
                Ok(Box::new(s) as Box<dyn Stream>)
            }),
        };
        match accepted {
            Ok(stream) => {
                let lie = script.get(connection).copied().unwrap_or(Lie::None);
                connection += 1;
                counters.connections.fetch_add(1, Ordering::Relaxed);
                let (id, stop, counters) = (id.to_owned(), Arc::clone(stop), Arc::clone(counters));
                let _ = thread::Builder::new()
                    .name(format!("lying-peer-conn-{connection}"))
                    .spawn(move || {
                        let mut conn = Connection {
                            stream,
                            id,
                            stop,
                            counters,
                        };
                        let _ = conn.serve(lie);
                        conn.stream.close();
                    });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// ZMTP flag bits.
const MORE: u8 = 0b0000_0001;
const LONG: u8 = 0b0000_0010;
const COMMAND: u8 = 0b0000_0100;

/// A connection's reads wake this often to notice that the peer was dropped.
const POLL: Duration = Duration::from_millis(50);

/// One frame as read.
struct Frame {
    flags: u8,
    body: Vec<u8>,
}

/// Frames larger than this are not read into memory (a well-behaved pool never sends one).
const MAX_READ_FRAME: u64 = 16 << 20;

struct Connection {
    stream: Box<dyn Stream>,
    id: String,
    stop: Arc<AtomicBool>,
    counters: Arc<PeerCounters>,
}

impl Connection {
    fn serve(&mut self, lie: Lie) -> io::Result<()> {
        self.stream.set_timeout(Some(POLL))?;
        self.stream.write_all(&greeting(lie))?;
        if matches!(lie, Lie::BadGreeting | Lie::HugeLengthInGreeting) {
            self.count_lie();
        }
        if lie == Lie::BadGreeting {
            return self.linger();
        }
        let mut peer_greeting = [0u8; 64];
        self.read_exact(&mut peer_greeting)?;
        if lie == Lie::HugeLengthInReady {
            let mut header = vec![COMMAND | LONG];
            header.extend_from_slice(&(1u64 << 40).to_be_bytes());
            self.stream.write_all(&header)?;
            self.count_lie();
            return self.linger();
        }
        self.stream.write_all(&ready_command())?;
        // The peer's READY.
        let _ = self.read_frame()?;
        loop {
            let message = self.read_message()?;
            let header = message.get(1).and_then(|h| parse_request_header(h));
            let Some(header) = header else { continue };
            let is_handshake = header.message_type == "HANDSHAKE";
            if !is_handshake && lie != Lie::None && lie != Lie::HugeLengthInGreeting {
                self.tell(lie)?;
                return self.linger();
            }
            let (kind, payload) = if is_handshake {
                ("HANDSHAKE", b"null".to_vec())
            } else {
                ("REPLY", message.get(2).cloned().unwrap_or_default())
            };
            let reply = response_header(
                kind,
                &header.message_id,
                &header.sender_id,
                &self.id,
                "application/json",
                "text/plain",
            );
            write_message(&mut *self.stream, &[b"", &reply, &payload, b""])?;
            self.counters.replies.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Writes the lie told after the handshake.
    fn tell(&mut self, lie: Lie) -> io::Result<()> {
        self.count_lie();
        match lie {
            Lie::HugeLength(len) => self.stream.write_all(&long_header(0, len)),
            Lie::OversizeFrame(len) => {
                self.stream.write_all(&long_header(0, len))?;
                let chunk = [0x41u8; 64 * 1024];
                let mut left = len;
                while left > 0 && !self.stop.load(Ordering::Relaxed) {
                    let n = usize::try_from(left.min(chunk.len() as u64)).unwrap_or(chunk.len());
                    self.stream.write_all(&chunk[..n])?;
                    left -= n as u64;
                }
                Ok(())
            }
            Lie::EndlessMore => {
                let chunk = [MORE, 0].repeat(32 * 1024);
                for _ in 0..(1u64 << 26) / (32 * 1024) {
                    if self.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    self.stream.write_all(&chunk)?;
                }
                Ok(())
            }
            Lie::CutMidFrame => {
                self.stream.write_all(&[0, 100])?;
                self.stream.write_all(&[0x42; 10])?;
                self.stream.flush()?;
                // Closed at once by the caller: the server died mid-write.
                Err(io::Error::other("cut"))
            }
            Lie::Undecodable => self.stream.write_all(&[COMMAND, 2, 9, b'X']),
            Lie::None | Lie::HugeLengthInGreeting | Lie::BadGreeting | Lie::HugeLengthInReady => {
                Ok(())
            }
        }
    }

    /// Counts a lie told before the handshake completed.
    fn count_lie(&self) {
        self.counters.lies.fetch_add(1, Ordering::Relaxed);
    }

    /// Keeps the connection open (discarding what arrives) until the peer closes it, the lying
    /// peer is dropped, or [`LINGER`] has passed.
    fn linger(&mut self) -> io::Result<()> {
        let until = Instant::now() + LINGER;
        let mut sink = [0u8; 4096];
        while Instant::now() < until && !self.stop.load(Ordering::Relaxed) {
            match self.stream.read(&mut sink) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        let mut filled = 0;
        while filled < buf.len() {
            if self.stop.load(Ordering::Relaxed) {
                return Err(io::Error::other("stopped"));
            }
            match self.stream.read(&mut buf[filled..]) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => filled += n,
                Err(e) if is_timeout(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn read_frame(&mut self) -> io::Result<Frame> {
        let mut flags = [0u8; 1];
        self.read_exact(&mut flags)?;
        let len = if flags[0] & LONG != 0 {
            let mut len = [0u8; 8];
            self.read_exact(&mut len)?;
            u64::from_be_bytes(len)
        } else {
            let mut len = [0u8; 1];
            self.read_exact(&mut len)?;
            u64::from(len[0])
        };
        if len > MAX_READ_FRAME {
            return Err(io::Error::other("frame from the pool too large"));
        }
        let mut body = vec![0u8; len as usize];
        self.read_exact(&mut body)?;
        Ok(Frame {
            flags: flags[0],
            body,
        })
    }

    /// The frames of the next message (commands from the pool are skipped).
    fn read_message(&mut self) -> io::Result<Vec<Vec<u8>>> {
        let mut frames = Vec::new();
        loop {
            let frame = self.read_frame()?;
            if frame.flags & COMMAND != 0 {
                continue;
            }
            let more = frame.flags & MORE != 0;
            frames.push(frame.body);
            if !more {
                return Ok(frames);
            }
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// A ZMTP 3.0 greeting of a NULL-mechanism server, with the lie's signature.
fn greeting(lie: Lie) -> [u8; 64] {
    let mut g = [0u8; 64];
    g[0] = if lie == Lie::BadGreeting { 0x01 } else { 0xFF };
    if lie == Lie::HugeLengthInGreeting {
        g[1..9].copy_from_slice(&(1u64 << 40).to_be_bytes());
    }
    g[9] = 0x7F;
    g[10] = 3;
    g[11] = 0;
    g[12..16].copy_from_slice(b"NULL");
    g
}

/// READY with `Socket-Type: ROUTER`.
fn ready_command() -> Vec<u8> {
    let mut body = vec![5];
    body.extend_from_slice(b"READY");
    body.push(11);
    body.extend_from_slice(b"Socket-Type");
    body.extend_from_slice(&6u32.to_be_bytes());
    body.extend_from_slice(b"ROUTER");
    let mut frame = vec![COMMAND, body.len() as u8];
    frame.extend_from_slice(&body);
    frame
}

fn long_header(flags: u8, len: u64) -> Vec<u8> {
    let mut header = vec![flags | LONG];
    header.extend_from_slice(&len.to_be_bytes());
    header
}

fn write_message(stream: &mut dyn Stream, frames: &[&[u8]]) -> io::Result<()> {
    let mut out = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        let more = if i + 1 < frames.len() { MORE } else { 0 };
        if frame.len() > 255 {
            out.extend_from_slice(&long_header(more, frame.len() as u64));
        } else {
            out.extend_from_slice(&[more, frame.len() as u8]);
        }
        out.extend_from_slice(frame);
    }
    stream.write_all(&out)
}
