//! Request/response transport between nodes: length-prefixed JSON frames over
//! TCP, from tokio for real or from turmoil inside the simulation (chosen at
//! run time, so one binary can do both).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use crate::block::Block;
use crate::hooks::faults::{Faults, Plane, Way};
use crate::hooks::observe::Topic;
use crate::types::{NodeId, TypeConfig};

/// Largest frame accepted; a larger length prefix means a corrupt stream.
const MAX_FRAME_BYTES: usize = 16 << 20;

/// Everything one node asks another.
#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    /// P2p handshake: the caller counts the peer as connected once answered.
    Hello {
        from: NodeId,
    },
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    /// RequestVote, with hashicorp's LeadershipTransfer flag (openraft's
    /// request has none).
    Vote {
        rpc: VoteRequest<NodeId>,
        leadership_transfer: bool,
    },
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// hashicorp `RequestPreVote`: would the receiver vote for `from` in
    /// `term`, its log ending at `last_log_id` (`raft::prevote`)?
    PreVote {
        from: NodeId,
        term: u64,
        last_log_id: Option<openraft::LogId<NodeId>>,
    },
    /// hashicorp's heartbeat: an AppendEntries with the leader's term and
    /// id only (`raft::heartbeat`).
    Heartbeat {
        term: u64,
        leader: NodeId,
    },
    /// hashicorp `TimeoutNow` (leadership transfer): the leader of `term`
    /// asks the receiver to stand for election at once.
    TimeoutNow {
        from: NodeId,
        term: u64,
    },
    /// Exchange: "give me the block at this height".
    GetBlock {
        height: u64,
    },
    /// Exchange: "give me your head" (go-header `Head` from trusted peers).
    GetHead,
    /// Exchange: "give me the blocks from `from` on, at most `amount`"
    /// (go-header's range request; the answer may be a shorter prefix).
    GetRange {
        from: u64,
        amount: u64,
    },
    /// Gossip of a new block on a topic.
    Gossip {
        topic: Topic,
        block: Block,
    },
    /// Height and role, for the real-mode devnet check.
    Status,
    /// `fix-rejoin-as-learner`: "what is your raft log's last index?"
    RaftLastIndex,
    /// `fix-rejoin-as-learner`: "re-add me" from a member that lost its
    /// raft directory; `demoted` once the leader answered that it is a
    /// learner (`raft::rejoin`).
    Rejoin {
        from: NodeId,
        demoted: bool,
    },
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Response {
    Ack,
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    InstallSnapshot(
        Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>,
    ),
    /// The receiver stands (or why it cannot: raft stopped).
    TimeoutNow(Result<(), String>),
    /// The receiver's term, and whether it would vote.
    PreVote {
        term: u64,
        granted: bool,
    },
    /// Whether the receiver took the heartbeat, and its term.
    Heartbeat {
        success: bool,
        term: u64,
    },
    /// The block, or why it cannot be served (an empty store answers an error).
    Block(Result<Block, String>),
    /// The blocks of a range request, or why none can be served.
    Blocks(Result<Vec<Block>, String>),
    Status(NodeStatus),
    /// The last index of the receiver's raft log (none if it is empty) and
    /// its current term.
    RaftLastIndex {
        index: Option<u64>,
        term: u64,
    },
    /// Where the rejoin stands, or why the receiver cannot help (not the
    /// leader, a membership call failed).
    Rejoin(Result<RejoinAnswer, String>),
}

/// The leader's answer to [`Request::Rejoin`], with the log index of the
/// configuration it refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RejoinAnswer {
    /// The asker is a learner in the configuration at `at`.
    Learner { at: u64 },
    /// The asker is a voter again in the configuration at `at`.
    Voter { at: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub id: NodeId,
    pub is_leader: bool,
    pub height: u64,
    pub tip_hash: u64,
}

/// A byte stream to or from a peer.
pub trait Conn: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Conn for T {}
pub type BoxConn = Box<dyn Conn>;

/// Opens a connection to `addr` (`host:port`).
pub async fn connect(addr: &str) -> io::Result<BoxConn> {
    #[cfg(feature = "sim")]
    if turmoil::in_simulation() {
        return Ok(Box::new(turmoil::net::TcpStream::connect(addr).await?));
    }
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(Box::new(stream))
}

/// A bound listening socket.
pub enum Listener {
    Real(tokio::net::TcpListener),
    #[cfg(feature = "sim")]
    Sim(turmoil::net::TcpListener),
}

impl Listener {
    pub async fn bind(addr: &str) -> io::Result<Listener> {
        #[cfg(feature = "sim")]
        if turmoil::in_simulation() {
            return Ok(Listener::Sim(turmoil::net::TcpListener::bind(addr).await?));
        }
        Ok(Listener::Real(tokio::net::TcpListener::bind(addr).await?))
    }

    pub async fn accept(&self) -> io::Result<BoxConn> {
        match self {
            Listener::Real(l) => {
                let (stream, _) = l.accept().await?;
                stream.set_nodelay(true)?;
                Ok(Box::new(stream))
            }
            #[cfg(feature = "sim")]
            Listener::Sim(l) => Ok(Box::new(l.accept().await?.0)),
        }
    }
}

pub async fn write_frame<T: Serialize>(conn: &mut BoxConn, msg: &T) -> io::Result<()> {
    // One write per frame: a separate length write would stall on Nagle's
    // algorithm and delayed ACKs (about 40 ms per frame on loopback).
    let mut frame = vec![0u8; 4];
    serde_json::to_writer(&mut frame, msg).map_err(io::Error::other)?;
    let len = (frame.len() - 4) as u32;
    frame[..4].copy_from_slice(&len.to_be_bytes());
    conn.write_all(&frame).await?;
    conn.flush().await
}

/// Reads one frame; `Ok(None)` when the peer closed the stream cleanly.
pub async fn read_frame<T: DeserializeOwned>(conn: &mut BoxConn) -> io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match conn.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes"),
        ));
    }
    let mut bytes = vec![0u8; len];
    conn.read_exact(&mut bytes).await?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// A client of one peer: one connection, reused by sequential calls and
/// dropped on any error (the next call reconnects).
///
/// The connection is set up in its own task: openraft gives a whole RPC one
/// heartbeat (100 ms) and drops it after that, so on a link whose round
/// trip is over 50 ms a connect inside the call (two round trips with the
/// request) never finished, and the peer on that link was never reached
/// again (found by `partition_heal` seed 29: a 40 ms link).
pub struct RpcClient {
    addr: String,
    /// The peer and plane this client talks on, for the harness's cuts
    /// of one plane; none for the command-line tools.
    link: Option<Link>,
    conn: Arc<tokio::sync::Mutex<Option<BoxConn>>>,
    /// When the connection in the slot last finished a call (or was set up).
    last_used: Arc<std::sync::Mutex<Option<tokio::time::Instant>>>,
    connecting: Arc<AtomicBool>,
    connected: Arc<Notify>,
}

/// Bound of one background connection attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The server closes a connection with no request for this long (see
/// `server::serve_connection`).
pub const SERVER_IDLE_CLOSE: Duration = Duration::from_secs(20);
/// The client sets up a new connection instead of reusing one idle this
/// long, well before the server may have closed it. Otherwise the first
/// call after a quiet spell (a leader's first gossip to a peer it did not
/// ask during a 30 s p2p init) met a closed stream and marked a live peer
/// disconnected (swarm seed 88); libp2p keeps an idle connection open.
pub const CLIENT_IDLE_REUSE: Duration = Duration::from_secs(10);

/// Where a node's client leads: the peer, the plane, and the node's fault
/// table that may cut that plane.
///
/// A cut of one plane is emulated here, not in the simulated network:
/// turmoil cuts whole hosts, and the node has one listener for both
/// planes (each plane has its own clients and connections, as the Go
/// node's two transports do). A lost request waits out the call's bound
/// and reaches nobody; a lost response waits it out after the request
/// did its work, as a dropped packet would. A request already written
/// when the cut starts is delivered. Inert in real mode (the table is
/// empty).
#[derive(Clone, Debug)]
pub struct Link {
    pub faults: Faults,
    pub peer: NodeId,
    pub plane: Plane,
}

impl Link {
    fn dropped(&self, way: Way) -> bool {
        self.faults.dropped(self.peer, self.plane, way)
    }
}

impl RpcClient {
    /// A client of `addr` that no fault reaches (the command-line tools).
    pub fn new(addr: String) -> RpcClient {
        RpcClient::with_link(addr, None)
    }

    /// A node's client of one peer on one plane.
    pub fn on_link(addr: String, link: Link) -> RpcClient {
        RpcClient::with_link(addr, Some(link))
    }

    fn with_link(addr: String, link: Option<Link>) -> RpcClient {
        RpcClient {
            addr,
            link,
            conn: Arc::new(tokio::sync::Mutex::new(None)),
            last_used: Arc::default(),
            connecting: Arc::new(AtomicBool::new(false)),
            connected: Arc::new(Notify::new()),
        }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Starts setting up the connection, unless that is under way.
    fn connect_in_background(&self) {
        if self.connecting.swap(true, Ordering::SeqCst) {
            return;
        }
        let (addr, slot) = (self.addr.clone(), Arc::clone(&self.conn));
        let (connecting, connected) = (Arc::clone(&self.connecting), Arc::clone(&self.connected));
        let last_used = Arc::clone(&self.last_used);
        crate::hooks::task::spawn_unguarded(async move {
            if let Ok(Ok(conn)) = tokio::time::timeout(CONNECT_TIMEOUT, connect(&addr)).await {
                let mut slot = slot.lock().await;
                if slot.is_none() {
                    *slot = Some(conn);
                    *last_used.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(tokio::time::Instant::now());
                }
            }
            connecting.store(false, Ordering::SeqCst);
            connected.notify_waiters();
        });
    }

    /// Waits until a connection is in the slot or the attempt ended.
    async fn wait_connected(&self) {
        loop {
            let notified = self.connected.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.conn.lock().await.is_some() || !self.connecting.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }

    fn touch(&self) {
        *self.last_used.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(tokio::time::Instant::now());
    }

    /// Drops a connection idle for [`CLIENT_IDLE_REUSE`] or more.
    async fn drop_if_idle(&self) {
        let last = *self.last_used.lock().unwrap_or_else(|e| e.into_inner());
        let idle = last.is_some_and(|t| t.elapsed() >= CLIENT_IDLE_REUSE);
        if idle {
            *self.conn.lock().await = None;
        }
    }

    /// Sends `req` and waits for its response, all within `timeout`.
    pub async fn call(&self, req: &Request, timeout: Duration) -> io::Result<Response> {
        let deadline = tokio::time::Instant::now() + timeout;
        let lost = || async move {
            tokio::time::sleep_until(deadline).await;
            Err(io::Error::new(io::ErrorKind::TimedOut, "request timed out"))
        };
        if self.link.as_ref().is_some_and(|l| l.dropped(Way::Out)) {
            return lost().await;
        }
        let resp = self.exchange(req, deadline).await?;
        if self.link.as_ref().is_some_and(|l| l.dropped(Way::In)) {
            return lost().await;
        }
        Ok(resp)
    }

    /// [`RpcClient::call`] on the network.
    async fn exchange(
        &self,
        req: &Request,
        deadline: tokio::time::Instant,
    ) -> io::Result<Response> {
        self.drop_if_idle().await;
        if self.conn.lock().await.is_none() {
            self.connect_in_background();
            let _ = tokio::time::timeout_at(deadline, self.wait_connected()).await;
        }
        let mut slot = self.conn.lock().await;
        // The connection is out of the slot while a request is on it: if
        // this future is dropped midway (openraft times its RPCs out
        // itself), the connection goes with it instead of staying behind
        // with an unread response that the next request would take as its
        // own. It goes back only after a whole exchange.
        let Some(mut conn) = slot.take() else {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                format!("not connected to {} yet", self.addr),
            ));
        };
        let attempt = async {
            write_frame(&mut conn, req).await?;
            let resp = read_frame::<Response>(&mut conn)
                .await?
                .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "peer closed"))?;
            Ok((conn, resp))
        };
        match tokio::time::timeout_at(deadline, attempt).await {
            Ok(Ok((conn, resp))) => {
                *slot = Some(conn);
                self.touch();
                Ok(resp)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "request timed out")),
        }
    }
}
