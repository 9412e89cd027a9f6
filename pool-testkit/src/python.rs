//! Spawn REAL hololinked servers (Python subprocesses) for live-interop tests.
//!
//! ```no_run
//! use pool_testkit::python::{Line, PythonServer};
//! use pool_testkit::Transport;
//! use pool_testkit::raw_client::{RawClient, Request};
//! use std::time::Duration;
//!
//! let mut server = PythonServer::start(Line::V0_4, "srv", &["a", "b"], Transport::Tcp)?;
//! let client = RawClient::connect(server.endpoint(), "harness-client", "srv")?;
//! client.handshake(Duration::from_secs(10))?;
//! let reply = client.request(&Request::read_property("a", "number"))?; // REPLY 1.5
//! server.kill();
//! server.restart()?; // same endpoint
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The venvs come from `bash scripts/python-venvs.sh` (`$MMPOOL_VENV_DIR` or `<workspace>/target/venvs`); the
//! server is `pool-testkit/python/thing_server.py`. Each server gets its own temp HOME (`HOME`, `TEMP_DIR`, `TMPDIR`,
//! XDG dirs), so its ipc socket is `ipc://<tmp>/.hololinked/sockets/<sanitized id>.ipc`. Every Thing has
//! properties `number` (float, 1.5) and `text` (str, "hello"), and actions `echo(value)`, `add(a, b)`,
//! `sleep_for(seconds)`, `fail(message)` (ValueError), `get_bytes()` (`b"\x00\x01\x02"`) and `get_mixed()`
//! (`("foobar", b"foobar")`). For events every Thing also has an observable Number `level` (default 0.0; a
//! write publishes `level_change_event` with the new value as payload), an `Event` `tick`, and actions
//! `push_ticks(count, interval=0.0, pad=0)` (pushes `count` ticks `{"n": i}`, i from 0, `interval` s apart, and
//! replies `count` after the last one is on the PUB socket), `start_ticks(interval=0.0, pad=0)` (ticks until
//! `stop_ticks()`; `interval` 0 = as fast as possible) and `stop_ticks()`; `pad` > 0 adds `"pad": "x"*pad` to
//! each payload. [`PythonServer::event_endpoint`] is the event PUB socket. Set `MMPOOL_PY_VERBOSE=1` to see
//! the servers' stderr live.
//!
//! # What the two hololinked lines do (verified by `tests/tests/python_harness.rs`, tcp and ipc)
//!
//! **Same on 0.4.2 and 0.3.12:**
//! * HANDSHAKE reply: `senderID` = server id, `receiverID` = the client identity, payload `null`, frame 4
//!   empty. REPLY/EXCEPTION headers carry the same ids; `messageID` is echoed.
//! * `readproperty` / `writeproperty` (payload = the JSON value, reply `null`) / `invokeaction` with a kwargs
//!   object. **Positional `__args__` works on both**, alone (`{"__args__":[1,2]}`) or mixed with kwargs
//!   (`{"__args__":[1],"b":2}`). A missing argument is `EXCEPTION TypeError`.
//! * An action that raises: `EXCEPTION` with `{"exception":{"message","type","traceback":[..],"notes"}}`,
//!   `type` = `ValueError`; the Thing keeps working. Unknown property/action name: `EXCEPTION`.
//!   **Unknown `thingID`: `INVALID_MESSAGE`, exception type `KeyError`.**
//! * **Bytes replies:** a `bytes` return value gives payload `null` + frame 4 = the bytes, labelled
//!   `preencodedPayloadContentType: "application/json"` (a mislabel, on both lines); `("foobar", b"foobar")` gives
//!   payload `"foobar"` + frame 4 `foobar`. An ordinary reply has frame 4 empty labelled `text/plain`. A non-empty
//!   request frame 4 is prepended as the first positional argument.
//! * **Several Things on one server work on both lines** (`ZMQServer(id, things=[..])`): one socket, the Thing
//!   is picked by `thingID`, each Thing has its own state, and different Things run concurrently (a 3 s action
//!   on one does not delay a read on another); operations on one Thing are serialised in arrival order. The
//!   server id is not a Thing id unless it is listed (`INVALID_MESSAGE` otherwise).
//! * snake_case timeouts are honoured on both: `execution_timeout` → `TIMEOUT` payload `"execution"` (the Thing
//!   keeps running; its late REPLY is dropped), `invokation_timeout` → `TIMEOUT` payload `"invokation"` and the
//!   job is **never executed** (a timed-out write does not apply). Sending both spellings works on both.
//!   `null` timeouts and an empty `{}` context mean no server timeout.
//! * `oneway: true` gets no reply, **but a firing timeout still sends an unsolicited `TIMEOUT`** for it.
//! * Kill + restart on the same tcp port / ipc path works (libzmq rebinds over the stale ipc file); a DEALER
//!   that stayed connected across the restart reconnects by itself and handshakes again.
//!
//! **Different:**
//!
//! | what | 0.4.2 | 0.3.12 |
//! |---|---|---|
//! | context keys read | `invokation_timeout`/`invokationTimeout`, `execution_timeout`/`executionTimeout`, `fetch_execution_logs`/`fetchExecutionLogs` (snake first), `oneway` | **snake_case only** (+ `oneway`) |
//! | camelCase `executionTimeout: 0.3` on a 1.5 s action | `TIMEOUT "execution"` | `REPLY` after the full 1.5 s |
//! | camelCase `invokationTimeout: 0.2` behind a busy Thing | `TIMEOUT "invokation"`, job dropped | job waits and runs: `REPLY` (after the busy action's REPLY) |
//! | `serverExecutionContext` missing | accepted (`REPLY`; per docs/protocol.md §16 the 5 s/5 s defaults apply) | `INVALID_MESSAGE` |
//! | `thingExecutionContext` missing | accepted (`REPLY`) | `EXCEPTION` (and, per docs/protocol.md §14, if it is the Thing's first operation its executor thread dies: never send this) |
//! | server internals | `hololinked.server.run` starts one `EventLoop` for all Things; one asyncio task per request | `ZMQServer` is an `RPCServer`: one thread per Thing, one listener loop per socket |
//! | pip | `hololinked[zmq]` (pyzmq is an extra) | `hololinked` (pyzmq is a dependency); no pins needed: pyzmq 26.1.1 / libzmq 4.3.5 / msgspec 0.22.0 on both |
//! | time to READY (idle machine) | ~0.3 s after import | ~0.6 s |
//!
//! **Thing Description, execution logs, notes, msgpack, sub-Things** (verified by the `thing_description_*`,
//! `execution_logs_*`, `exception_notes_*`, `msgpack_*`, `read_all_sorted_*` and `sub_things_*` tests):
//!
//! | what | 0.4.2 | 0.3.12 |
//! |---|---|---|
//! | `get_thing_description` `{"protocol":"TCP"}` | TD; properties, actions, events sorted by name; plain properties' `description` is `""`; `state` listed (readOnly, oneOf string/null, observable) | TD; descriptions = the docs; **no `state`** |
//! | no `protocol` | `TypeError` `ThingDescriptionService.generate() missing 1 required positional argument: 'protocol'` | `TypeError` `RPCServer.get_thing_description() missing ...` |
//! | `protocol` `INPROC` | `RuntimeError` `This server cannot generate TD for INPROC protocol, consider using thing model directly.` | REPLY, hrefs `inproc://{server}` / `inproc://{server}/event-publisher` |
//! | `protocol` `FOO` | `ValueError` `Unsupported protocol 'FOO' for ZMQ.` | same |
//! | `protocol` `IPC` on a tcp-only server | `RuntimeError` `This server cannot generate TD for IPC protocol, consider using thing model directly.` | `AttributeError` `'NoneType' object has no attribute 'socket_address'` |
//! | `fetch_execution_logs` | both spellings; `{"return_value":v,"execution_logs":[..]}`, on error `{"exception":{..},"execution_logs":[..]}` (EXCEPTION) | **snake_case only**, and only if the Thing's stdlib logger has a handler (else `EXCEPTION IndexError: list index out of range`: the harness adds a `StreamHandler` to each Thing's logger on 0.3) |
//! | `_set_properties` with a bad value | `notes` = `["number: ...\n"]` (a list of one string) | `notes` = `"number: ...\n"` (the string) |
//!
//! Same on both: log records `{"level","timestamp" (%Y-%m-%dT%H:%M:%S.%f),"thread_id","message" (the formatted
//! line)}`, newest first; a raising action adds `ERROR "error while executing operation - {msg}"` and the
//! `logger.exception` record (line + traceback); `add_note(n)` gives `notes: [n]`; a msgpack request payload
//! (`payloadContentType: application/msgpack`) is accepted for actions and properties; an object with a
//! `MsgpackSerializer` registered (`Serializers.register_for_object_per_thing_instance`) replies
//! `payloadContentType: application/msgpack`; readall/readmultiple with `objekt` null (any payload) give every
//! property sorted by name, `objekt` `"text,number"` those in that order; a sub-Thing passed to `ZMQServer`
//! with id `"{thing}/sensor"` is served under that thingID (a `/` works) with its own TD, and its events are
//! `"{thing}/sensor/{event}"` on the same publisher (a SUB to the parent's prefix `"{thing}/"` hears them too).
//!
//! Consequences for the pool tests: always send both context spellings as objects with explicit numbers or
//! `null` (what [`crate::raw_client::Request`] does), never rely on camelCase-only timeouts against 0.3, expect
//! unsolicited `TIMEOUT`s for oneway requests with timeouts, and own the client-side deadlines.
//!
//! **Events, same on both lines** (verified by `tests/python_events.rs`, tcp and ipc, and captured in
//! `pool-core/tests/data/golden/event_*.json`): the server binds ONE event PUB socket per transport for all its
//! Things, at tcp PORT+1 (hololinked scans 60000.. if taken; the script refuses that with exit 3) and
//! `ipc://<TEMP_DIR>/sockets/<id>.event-publisher.ipc`. An event is 5 frames `[eventID, b"", header, payload,
//! b""]`, topic = `eventID` = `"<thing id>/<event name>"`; header keys in order `messageType` (`"EVENT"`),
//! `messageID` (fresh uuid4), `senderID` (`"<server id>/event-publisher"`), `eventID`, `payloadContentType`
//! (`application/json`), `preencodedPayloadContentType` (`text/plain`). hololinked silently falls back to scanning `0.0.0.0:60000..` when the request
//! port is taken, which the script refuses (exit 3, the harness retries another port).

use std::collections::VecDeque;
use std::fmt;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use serde_json::Value;

use crate::config::sanitized_ipc_filename;
use crate::transport::Transport;

/// How long [`PythonServer::start`] / [`PythonServer::restart`] wait for the `READY` line (hololinked's
/// import alone takes 0.3–1 s on an idle machine, much more on a loaded one).
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How many stderr lines of the child are kept for error messages.
const STDERR_TAIL_LINES: usize = 80;

/// Exit code of `pool-testkit/python/thing_server.py` when its TCP port could not be bound.
const EXIT_BIND_FAILED: i32 = 3;

/// How many fresh ports [`PythonServer::start`] tries, and how many times [`PythonServer::restart`] retries
/// the same port, when the script reports a bind failure.
const BIND_ATTEMPTS: usize = 5;

/// Set this environment variable to echo every child's stderr to the test's stderr as it arrives.
pub const VERBOSE_ENV: &str = "MMPOOL_PY_VERBOSE";

/// Which hololinked line a server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Line {
    /// hololinked 0.4.2 (`hololinked[zmq]==0.4.2`), venv `hololinked-0.4.2`.
    V0_4,
    /// hololinked 0.3.12 (`hololinked==0.3.12`), venv `hololinked-0.3.12`.
    V0_3,
}

impl Line {
    /// Both lines.
    pub const ALL: [Line; 2] = [Line::V0_4, Line::V0_3];

    /// The exact hololinked version installed in this line's venv.
    pub fn version(self) -> &'static str {
        match self {
            Line::V0_4 => "0.4.2",
            Line::V0_3 => "0.3.12",
        }
    }

    /// The venv directory name under the venv root.
    pub fn venv_name(self) -> &'static str {
        match self {
            Line::V0_4 => "hololinked-0.4.2",
            Line::V0_3 => "hololinked-0.3.12",
        }
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hololinked {}", self.version())
    }
}

/// Why the harness could not start (or restart) a server.
#[derive(Debug)]
pub enum HarnessError {
    /// The venv python is missing: run `bash scripts/python-venvs.sh`.
    VenvMissing {
        /// The line whose venv is missing.
        line: Line,
        /// The interpreter path that does not exist.
        python: PathBuf,
    },
    /// The interop script is missing (the crate was moved?).
    ScriptMissing(PathBuf),
    /// Spawning the child, or another OS call, failed.
    Io(std::io::Error),
    /// The child exited before printing `READY`.
    Exited {
        /// Its exit status.
        status: Option<ExitStatus>,
        /// The last lines of its stderr.
        stderr_tail: String,
    },
    /// No `READY` line within [`READY_TIMEOUT`] (the child was killed).
    Timeout {
        /// The last lines of its stderr.
        stderr_tail: String,
    },
    /// The `READY` line was not what the harness expected.
    BadReady(String),
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HarnessError::VenvMissing { line, python } => write!(
                f,
                "no Python venv for {line}: {} does not exist; run `bash scripts/python-venvs.sh` \
                 (venvs go to $MMPOOL_VENV_DIR or <workspace>/target/venvs)",
                python.display()
            ),
            HarnessError::ScriptMissing(p) => write!(f, "interop server script {} is missing", p.display()),
            HarnessError::Io(e) => write!(f, "harness I/O error: {e}"),
            HarnessError::Exited { status, stderr_tail } => write!(
                f,
                "python server exited before READY (status {status:?}); stderr tail:\n{stderr_tail}"
            ),
            HarnessError::Timeout { stderr_tail } => write!(
                f,
                "python server printed no READY line within {READY_TIMEOUT:?}; stderr tail:\n{stderr_tail}"
            ),
            HarnessError::BadReady(what) => write!(f, "unexpected READY line: {what}"),
        }
    }
}

impl std::error::Error for HarnessError {}

impl From<std::io::Error> for HarnessError {
    fn from(e: std::io::Error) -> Self {
        HarnessError::Io(e)
    }
}

/// Whether live hololinked tests are skipped on purpose (`MMPOOL_SKIP_PYTHON_INTEROP` set to
/// anything but `0`); says so on stderr when they are.
pub fn interop_skipped() -> bool {
    let skip =
        std::env::var_os("MMPOOL_SKIP_PYTHON_INTEROP").is_some_and(|v| !v.is_empty() && v != "0");
    if skip {
        eprintln!("MMPOOL_SKIP_PYTHON_INTEROP is set: skipping a live hololinked test");
    }
    skip
}

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The venv root: `$MMPOOL_VENV_DIR`, else `<workspace>/target/venvs` (what `scripts/python-venvs.sh` uses).
pub fn venv_dir() -> PathBuf {
    match std::env::var_os("MMPOOL_VENV_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().join("target").join("venvs"),
    }
}

/// The Python interpreter of `line`'s venv; [`HarnessError::VenvMissing`] (which says to run
/// `scripts/python-venvs.sh`) if it is not there.
pub fn venv_python(line: Line) -> Result<PathBuf, HarnessError> {
    let python = venv_dir().join(line.venv_name()).join("bin").join("python");
    if python.exists() {
        Ok(python)
    } else {
        Err(HarnessError::VenvMissing { line, python })
    }
}

/// The interop server script, `pool-testkit/python/thing_server.py`.
pub fn server_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join("thing_server.py")
}

/// Shared tail of a child's stderr.
type Tail = Arc<Mutex<VecDeque<String>>>;

/// One spawned python process and its reader threads.
struct Running {
    child: Child,
    /// Kept open while the child runs: the script exits (and removes its temp HOME) when its stdin reaches
    /// EOF, so a server whose test process died does not outlive it.
    stdin: Option<ChildStdin>,
    readers: Vec<JoinHandle<()>>,
}

impl Running {
    fn kill(mut self) {
        // SIGKILL (ignore "already exited") and reap, and only then close stdin: a live child that sees EOF
        // assumes the test process died and removes its temp HOME (which a restart still needs).
        let _ = self.child.kill();
        let _ = self.child.wait();
        drop(self.stdin.take());
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

/// What the stdout reader reports.
enum StdoutEvent {
    Ready(String),
    Eof,
}

/// A real hololinked server running as a child process, with its own temp HOME (so its ipc socket and
/// `~/.hololinked` never touch the real home). Killed, reaped and cleaned up on drop, also during a panic.
pub struct PythonServer {
    line: Line,
    id: String,
    things: Vec<String>,
    /// `--sub-things`: every Thing holds a sub-Thing `"{thing}/sensor"`, served too.
    sub_things: bool,
    /// The Thing ids the server reported serving (READY `things`), sub-Things included.
    served: Vec<String>,
    transport: Transport,
    endpoint: String,
    event_endpoint: String,
    version: String,
    tcp_port: Option<u16>,
    running: Option<Running>,
    stderr_tail: Tail,
    // Declared last so it is removed after the child is dead (fields drop in order; Drop kills first anyway).
    home: tempfile::TempDir,
}

impl fmt::Debug for PythonServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PythonServer")
            .field("line", &self.line)
            .field("id", &self.id)
            .field("things", &self.things)
            .field("endpoint", &self.endpoint)
            .field("event_endpoint", &self.event_endpoint)
            .field("version", &self.version)
            .field("pid", &self.running.as_ref().map(|r| r.child.id()))
            .finish()
    }
}

impl PythonServer {
    /// Start a server with id `id` serving the Things `things` (empty = one Thing whose id is `id`) over
    /// `transport`, and wait (up to [`READY_TIMEOUT`]) until it answers a HANDSHAKE on its endpoint.
    pub fn start(
        line: Line,
        id: &str,
        things: &[&str],
        transport: Transport,
    ) -> Result<PythonServer, HarnessError> {
        PythonServer::builder(line, id)
            .things(things)
            .transport(transport)
            .start()
    }

    /// A builder for a server with id `id` on `line` (one Thing named `id`, over tcp, no sub-Things).
    pub fn builder(line: Line, id: &str) -> PythonServerBuilder {
        PythonServerBuilder {
            line,
            id: id.to_owned(),
            things: Vec::new(),
            transport: Transport::Tcp,
            sub_things: false,
        }
    }

    fn start_built(b: PythonServerBuilder) -> Result<PythonServer, HarnessError> {
        let PythonServerBuilder {
            line,
            id,
            things,
            transport,
            sub_things,
        } = b;
        let id = id.as_str();
        venv_python(line)?;
        let script = server_script();
        if !script.exists() {
            return Err(HarnessError::ScriptMissing(script));
        }
        let home = tempfile::Builder::new().prefix("mmpool-py-").tempdir()?;
        let things: Vec<String> = if things.is_empty() {
            vec![id.to_owned()]
        } else {
            things
        };
        let mut server = PythonServer {
            line,
            id: id.to_owned(),
            things,
            sub_things,
            served: Vec::new(),
            transport,
            endpoint: String::new(),
            event_endpoint: String::new(),
            version: String::new(),
            tcp_port: None,
            running: None,
            stderr_tail: Arc::new(Mutex::new(VecDeque::new())),
            home,
        };
        match transport {
            Transport::Ipc => server.spawn_until_ready()?,
            Transport::Tcp => {
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    server.tcp_port = Some(free_tcp_port()?);
                    match server.spawn_until_ready() {
                        Err(e) if is_bind_failure(&e) && attempt < BIND_ATTEMPTS => continue,
                        other => break other?,
                    }
                }
            }
        }
        Ok(server)
    }

    /// The endpoint a client connects to: `tcp://127.0.0.1:PORT` or `ipc:///tmp/.../<id>.ipc`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The endpoint of the server's event PUB socket for its transport, from the `READY` line (field
    /// `event_tcp` / `event_ipc`): `tcp://127.0.0.1:PORT+1` or `ipc:///tmp/.../<id>.event-publisher.ipc`
    /// beside [`endpoint`](Self::endpoint). ONE PUB socket carries the events of all the server's Things; an
    /// event is 5 frames `[event id, b"", header JSON, payload, preserialized payload]` with the SUB topic
    /// (= header `eventID`) `"{thing id}/{event name}"`, e.g. `"a/tick"` or `"a/level_change_event"`.
    /// Checked by `tests/python_events.rs`; see docs/protocol.md §17.
    pub fn event_endpoint(&self) -> &str {
        &self.event_endpoint
    }

    /// The event PUB endpoint for `transport`: `Some(`[`event_endpoint`](Self::event_endpoint)`)` if it is the
    /// server's transport, else `None` (a harness server binds only the transport it was started with).
    pub fn event_endpoint_for(&self, transport: Transport) -> Option<&str> {
        (transport == self.transport).then_some(self.event_endpoint.as_str())
    }

    /// The server id (= the server's ROUTER identity).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The Thing ids this server serves.
    pub fn things(&self) -> &[String] {
        &self.things
    }

    /// The Thing ids the server serves, as its READY line lists them: [`PythonServer::things`] and,
    /// with [`PythonServerBuilder::sub_things`], each one's sub-Thing `"{thing}/sensor"` after it.
    pub fn served_things(&self) -> &[String] {
        &self.served
    }

    /// The hololinked line.
    pub fn line(&self) -> Line {
        self.line
    }

    /// The transport.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The hololinked version the server reported in its `READY` line (e.g. `"0.4.2"`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The temp dir used as the child's HOME.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The child's pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.running.as_ref().map(|r| r.child.id())
    }

    /// Whether the child is running (not killed and not exited).
    pub fn is_running(&mut self) -> bool {
        match self.running.as_mut() {
            Some(r) => matches!(r.child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The last lines the child wrote to stderr (all spawns of this server, oldest first).
    pub fn stderr_tail(&self) -> String {
        tail_text(&self.stderr_tail)
    }

    /// SIGKILL the child and reap it (no-op if it is not running). The temp dir (and a stale ipc file) stay.
    pub fn kill(&mut self) {
        if let Some(running) = self.running.take() {
            running.kill();
        }
    }

    /// Kill (if running) and start again on the same endpoint (same TCP port / same ipc path), waiting for
    /// `READY`. A new DEALER then gets a HANDSHAKE reply; an old socket reconnects by itself (libzmq).
    pub fn restart(&mut self) -> Result<(), HarnessError> {
        self.kill();
        push_line(&self.stderr_tail, "---- harness: restart ----".into());
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.spawn_until_ready() {
                Err(e) if is_bind_failure(&e) && attempt < BIND_ATTEMPTS => {
                    thread::sleep(Duration::from_millis(200));
                    continue;
                }
                other => return other,
            }
        }
    }

    /// Spawn the script with this server's settings and wait for `READY`.
    fn spawn_until_ready(&mut self) -> Result<(), HarnessError> {
        let python = venv_python(self.line)?;
        let home = self.home.path();
        let temp_dir = home.join(".hololinked");
        let tmp = home.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        let mut cmd = Command::new(python);
        cmd.arg("-u")
            .arg(server_script())
            .arg("--id")
            .arg(&self.id)
            .arg("--things")
            .arg(self.things.join(","))
            .env("HOME", home)
            .env("TEMP_DIR", &temp_dir)
            .env("TMPDIR", &tmp)
            .env("TMP", &tmp)
            .env("TEMP", &tmp)
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("PYTHONUNBUFFERED", "1")
            .env("MMPOOL_REMOVE_HOME_ON_EOF", "1")
            .env_remove("PYTHONPATH")
            .env_remove("PYTHONHOME")
            .env_remove("PYTHONSTARTUP")
            .current_dir(home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match self.transport {
            Transport::Tcp => {
                let port = self.tcp_port.expect("a tcp server has a port");
                cmd.arg("--tcp").arg(port.to_string());
            }
            Transport::Ipc => {
                cmd.arg("--ipc");
            }
        }
        if self.sub_things {
            cmd.arg("--sub-things");
        }
        let mut child = cmd.spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");

        let (tx, rx) = mpsc::channel();
        let out_reader = thread::Builder::new()
            .name("py-stdout".into())
            .spawn(move || read_stdout(stdout, tx))?;
        let tail = Arc::clone(&self.stderr_tail);
        let verbose = std::env::var_os(VERBOSE_ENV).is_some();
        let err_reader = thread::Builder::new()
            .name("py-stderr".into())
            .spawn(move || read_stderr(stderr, tail, verbose))?;
        let running = Running {
            child,
            stdin,
            readers: vec![out_reader, err_reader],
        };
        match self.wait_ready(running, &rx) {
            Ok((running, info)) => {
                self.apply_ready(&info)?;
                self.running = Some(running);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Wait for the READY line; on failure the child is killed and reaped before the error is built.
    fn wait_ready(
        &self,
        mut running: Running,
        rx: &Receiver<StdoutEvent>,
    ) -> Result<(Running, Value), HarnessError> {
        match rx.recv_timeout(READY_TIMEOUT) {
            Ok(StdoutEvent::Ready(json)) => match serde_json::from_str::<Value>(&json) {
                Ok(info) => Ok((running, info)),
                Err(e) => {
                    running.kill();
                    Err(HarnessError::BadReady(format!("{e}: {json}")))
                }
            },
            Ok(StdoutEvent::Eof) | Err(RecvTimeoutError::Disconnected) => {
                // stdout closed: the process is exiting; reap it to get the status.
                let status = running.child.wait().ok();
                running.kill();
                Err(HarnessError::Exited {
                    status,
                    stderr_tail: self.stderr_tail(),
                })
            }
            Err(RecvTimeoutError::Timeout) => {
                running.kill();
                Err(HarnessError::Timeout {
                    stderr_tail: self.stderr_tail(),
                })
            }
        }
    }

    /// The `ipc://` endpoint hololinked binds for socket `name` in this server's home.
    fn ipc_endpoint(&self, name: &str) -> String {
        format!(
            "ipc://{}",
            self.home
                .path()
                .join(".hololinked")
                .join("sockets")
                .join(sanitized_ipc_filename(name))
                .display()
        )
    }

    /// Record the endpoint and version of a READY line and check them against what was asked for.
    fn apply_ready(&mut self, info: &Value) -> Result<(), HarnessError> {
        let field = |key: &str| info.get(key).and_then(Value::as_str).map(str::to_owned);
        let version = field("version").ok_or_else(|| HarnessError::BadReady(info.to_string()))?;
        if version != self.line.version() {
            return Err(HarnessError::BadReady(format!(
                "venv {} runs hololinked {version}",
                self.line.venv_name()
            )));
        }
        // Where the server must have bound its request socket and its event publisher: the TCP
        // port asked for and the next one, or hololinked's IPC files in this server's home.
        let (endpoint_key, event_key, want, want_event) = match self.transport {
            Transport::Tcp => {
                let port = self.tcp_port.unwrap_or(0);
                (
                    "tcp",
                    "event_tcp",
                    format!("tcp://127.0.0.1:{port}"),
                    format!("tcp://127.0.0.1:{}", port + 1),
                )
            }
            Transport::Ipc => (
                "ipc",
                "event_ipc",
                self.ipc_endpoint(&self.id),
                self.ipc_endpoint(&format!("{}/event-publisher", self.id)),
            ),
        };
        let bound = |key: &str, want: String, what: &str| {
            let got = field(key).ok_or_else(|| HarnessError::BadReady(info.to_string()))?;
            if got == want {
                Ok(got)
            } else {
                Err(HarnessError::BadReady(format!(
                    "expected {what} at {want}, server bound {got}"
                )))
            }
        };
        let endpoint = bound(endpoint_key, want, "the request socket")?;
        let event_endpoint = bound(event_key, want_event, "the event publisher")?;
        if !self.endpoint.is_empty() && self.endpoint != endpoint {
            return Err(HarnessError::BadReady(format!(
                "restart moved the endpoint from {} to {endpoint}",
                self.endpoint
            )));
        }
        self.endpoint = endpoint;
        self.event_endpoint = event_endpoint;
        self.version = version;
        self.served = match info.get("things").and_then(Value::as_array) {
            Some(list) => list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            None => self.things.clone(),
        };
        Ok(())
    }
}

/// Options of a [`PythonServer`] ([`PythonServer::builder`]).
#[derive(Debug, Clone)]
pub struct PythonServerBuilder {
    line: Line,
    id: String,
    things: Vec<String>,
    transport: Transport,
    sub_things: bool,
}

impl PythonServerBuilder {
    /// The Things served (empty = one Thing whose id is the server id).
    #[must_use]
    pub fn things(mut self, things: &[&str]) -> Self {
        self.things = things.iter().map(|t| (*t).to_owned()).collect();
        self
    }

    /// The transport (default tcp).
    #[must_use]
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// Give every Thing a sub-Thing `"{thing}/sensor"` (class `Sensor`: property `gain`, Number
    /// default 2.0; actions `reset()` and `fire()`, which pushes event `alarm` `{"gain": gain}`), held as its attribute `sensor` and served by the same server
    /// (`--sub-things`); [`PythonServer::served_things`] lists it.
    #[must_use]
    pub fn sub_things(mut self, on: bool) -> Self {
        self.sub_things = on;
        self
    }

    /// Start the server and wait until it is ready (as [`PythonServer::start`]).
    pub fn start(self) -> Result<PythonServer, HarnessError> {
        PythonServer::start_built(self)
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        // Kill and reap first; `home` (the TempDir) is removed afterwards by its own Drop.
        self.kill();
    }
}

/// Whether `e` is the script's "TCP port could not be bound" exit.
fn is_bind_failure(e: &HarnessError) -> bool {
    matches!(e, HarnessError::Exited { status: Some(s), .. } if s.code() == Some(EXIT_BIND_FAILED))
}

/// A TCP port `P` that was free a moment ago, with `P + 1` free too (hololinked binds its event
/// publisher there). Ports handed out stay reserved for the life of the test process, so two
/// servers of one test binary never collide, even on restart.
fn free_tcp_port() -> Result<u16, HarnessError> {
    static RESERVED: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut reserved = RESERVED.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..64 {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let port = listener.local_addr()?.port();
        let Some(next) = port.checked_add(1) else {
            continue;
        };
        if reserved
            .iter()
            .any(|&r| r == port || r == next || r.checked_add(1) == Some(port))
        {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", next)).is_err() {
            continue;
        }
        reserved.push(port);
        return Ok(port);
    }
    Err(HarnessError::Io(std::io::Error::other(
        "no free pair of adjacent TCP ports found",
    )))
}

fn read_stdout(stdout: std::process::ChildStdout, tx: mpsc::Sender<StdoutEvent>) {
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    let mut announced = false;
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if !announced {
                    if let Some(json) = line.trim_end().strip_prefix("READY ") {
                        announced = true;
                        let _ = tx.send(StdoutEvent::Ready(json.to_owned()));
                    }
                }
                // Anything else is drained and ignored so the child can never block on a full pipe.
            }
        }
    }
    let _ = tx.send(StdoutEvent::Eof);
}

fn read_stderr(stderr: std::process::ChildStderr, tail: Tail, verbose: bool) {
    let reader = BufReader::new(stderr);
    for line in reader.split(b'\n') {
        let Ok(bytes) = line else { break };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if verbose {
            eprintln!("[py] {text}");
        }
        push_line(&tail, text);
    }
}

fn push_line(tail: &Tail, line: String) {
    let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
    if t.len() == STDERR_TAIL_LINES {
        t.pop_front();
    }
    t.push_back(line);
}

fn tail_text(tail: &Tail) -> String {
    let t = tail.lock().unwrap_or_else(|p| p.into_inner());
    t.iter().cloned().collect::<Vec<_>>().join("\n")
}
