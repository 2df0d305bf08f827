//! A raft group on loopback TCP for the emulation tests (`raft::tests`):
//! each member is a [`RaftNode`] made by [`super::start`] on its own disk,
//! answered by a small server (the raft RPCs and `TimeoutNow` only). A
//! member can be stopped (its raft shut down, its connections dropped) and
//! started again on the same disk. Real time, short timings.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

use super::{members, start, RaftNode};
use crate::block::Block;
use crate::config::{NodeConfig, PeerConfig, Timing};
use crate::hooks::bugs::Bugs;
use crate::hooks::faults::Faults;
use crate::hooks::observe::{Event, Observer, Reporter};
use crate::net::{read_frame, write_frame, BoxConn, Request, Response};
use crate::store::DiskHandle;
use crate::types::NodeId;

/// Timings short enough for tests: heartbeat 300 ms (openraft heartbeats
/// every 30 ms, followers stand after 300..600 ms of silence: shorter made
/// followers of a leader busy snapshotting on a loaded machine stand),
/// lease 100 ms.
pub fn timing() -> Timing {
    let ms = Duration::from_millis;
    Timing {
        raft_heartbeat_timeout: ms(300),
        raft_election_timeout: ms(400),
        raft_leader_lease_timeout: ms(100),
        send_timeout: ms(50),
        snapshot_threshold: 20,
        trailing_logs: 5,
        ..Timing::default()
    }
}

/// Keeps every event a member reports.
#[derive(Default)]
pub struct Recorder(Mutex<Vec<Event>>);

impl Observer for Recorder {
    fn event(&self, _node: u64, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

impl Recorder {
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

pub struct Member {
    pub config: NodeConfig,
    pub disk: DiskHandle,
    pub events: Arc<Recorder>,
    pub node: Option<Arc<RaftNode>>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Member {
    pub fn node(&self) -> &RaftNode {
        self.node.as_ref().expect("member is up")
    }

    /// Starts the member's raft on its disk and answers its RPCs.
    pub async fn up(&mut self) {
        let reporter = Reporter::new(self.config.id, self.events.clone());
        let node = Arc::new(
            start(
                &self.config,
                self.disk.clone(),
                &Faults::default(),
                None,
                &reporter,
            )
            .await
            .unwrap(),
        );
        let listener = tokio::net::TcpListener::bind(&self.config.listen_addr)
            .await
            .unwrap();
        let (served, tasks) = (Arc::clone(&node), Arc::clone(&self.tasks));
        let accept = crate::hooks::task::spawn_unguarded(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let conn: BoxConn = Box::new(conn);
                let node = Arc::clone(&served);
                let task = crate::hooks::task::spawn_unguarded(serve(conn, node));
                tasks.lock().unwrap().push(task);
            }
        });
        self.tasks.lock().unwrap().push(accept);
        self.node = Some(node);
    }

    /// Stops the member: raft shut down, server and connections gone; the
    /// disk stays.
    pub async fn down(&mut self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
        if let Some(node) = self.node.take() {
            let _ = node.raft().shutdown().await;
        }
    }
}

async fn serve(mut conn: BoxConn, node: Arc<RaftNode>) {
    while let Ok(Some(req)) = read_frame::<Request>(&mut conn).await {
        let resp = match req {
            Request::AppendEntries(rpc) => {
                Response::AppendEntries(node.handle_append_entries(rpc).await)
            }
            Request::Vote {
                rpc,
                leadership_transfer,
            } => Response::Vote(node.handle_vote(rpc, leadership_transfer).await),
            Request::InstallSnapshot(rpc) => {
                Response::InstallSnapshot(node.handle_install_snapshot(rpc).await)
            }
            Request::PreVote {
                from,
                term,
                last_log_id,
            } => {
                let (term, granted) = node.handle_pre_vote(from, term, last_log_id);
                Response::PreVote { term, granted }
            }
            Request::Heartbeat { term, leader } => {
                let (success, term) = node.handle_heartbeat(term, leader);
                Response::Heartbeat { success, term }
            }
            Request::TimeoutNow { from, .. } => Response::TimeoutNow(node.timeout_now(from).await),
            _ => Response::Ack,
        };
        if write_frame(&mut conn, &resp).await.is_err() {
            return;
        }
    }
}

/// `n` members on free loopback ports, not yet up.
pub async fn cluster(n: u64) -> Vec<Member> {
    let mut addrs = Vec::new();
    for _ in 0..n {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.push(l.local_addr().unwrap().to_string());
    }
    (1..=n)
        .map(|id| {
            let addr = addrs[(id - 1) as usize].clone();
            let peers = (1..=n)
                .filter(|p| *p != id)
                .map(|p| PeerConfig {
                    id: p,
                    addr: addrs[(p - 1) as usize].clone(),
                })
                .collect();
            Member {
                config: NodeConfig {
                    id,
                    listen_addr: addr.clone(),
                    advertise_addr: addr,
                    peers,
                    timing: timing(),
                    da_addr: None,
                    bugs: Bugs::default(),
                    fixes: Default::default(),
                    seed: id,
                },
                disk: DiskHandle::in_memory(),
                events: Arc::default(),
                node: None,
                tasks: Arc::default(),
            }
        })
        .collect()
}

/// Brings every member up and bootstraps from member 1; returns the leader.
pub async fn elect(group: &mut [Member]) -> NodeId {
    for m in group.iter_mut() {
        m.up().await;
    }
    let all = members(&group[0].config);
    group[0].node().raft().initialize(all).await.unwrap();
    wait_for_leader(group, &[]).await
}

/// Waits (up to 10 s) until some up member, not in `not`, leads.
pub async fn wait_for_leader(members: &[Member], not: &[NodeId]) -> NodeId {
    for _ in 0..1000 {
        for m in members.iter().filter(|m| !not.contains(&m.config.id)) {
            if m.node.as_ref().is_some_and(|n| n.is_leader()) {
                return m.config.id;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no leader within 10 s");
}

/// Waits (up to 10 s) until `check` holds.
pub async fn until(what: &str, check: impl Fn() -> bool) {
    for _ in 0..1000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not within 10 s: {what}");
}

/// The chain of `n` blocks after `prev` (heights from `prev`'s + 1).
pub fn blocks(prev: Option<&Block>, n: u64, proposer: NodeId) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    let (mut height, mut hash) = prev.map_or((0, 0), |b| (b.height, b.hash));
    for _ in 0..n {
        height += 1;
        let b = Block::new(height, height * 10, hash, proposer);
        hash = b.hash;
        out.push(b);
    }
    out
}
