//! The emulations of `raft` on a live openraft group (`test_cluster`:
//! loopback TCP, real time, short timings): restart, lease step-down,
//! leadership transfer, snapshots with InstallSnapshot.

use std::time::Duration;

use openraft::{ServerState, Vote};

use super::node::{BroadcastError, TransferError};
use super::test_cluster::{blocks, cluster, elect, until, wait_for_leader, Member};
use crate::hooks::observe::Event;
use crate::types::NodeId;

fn at(group: &[Member], id: NodeId) -> usize {
    group.iter().position(|m| m.config.id == id).unwrap()
}

/// Proposes `n` blocks on `leader`, each acknowledged.
async fn produce(m: &Member, n: u64) {
    let node = m.node();
    let last = node.get_state().block;
    for b in blocks(last.as_ref(), n, m.config.id) {
        node.broadcast(&crate::block::RaftBlock::bare(b.clone()))
            .await
            .unwrap();
    }
}

/// hashicorp `NewRaft`: a restarted leader is a follower in its old term
/// (it voted for itself there), restores the newest snapshot with
/// lastApplied = its index and commit index 0, applies nothing more until
/// it learns a commit index, and leads again only by winning a new term.
#[tokio::test]
async fn a_restarted_leader_restores_its_snapshot_and_follows() {
    let mut group = cluster(3).await;
    let leader = elect(&mut group).await;
    let l = at(&group, leader);
    produce(&group[l], 10).await;
    let raft = group[l].node().raft().clone();
    raft.trigger().snapshot().await.unwrap();
    let snap = raft
        .wait(Some(Duration::from_secs(5)))
        .metrics(|m| m.snapshot.is_some(), "snapshot")
        .await
        .unwrap()
        .snapshot
        .unwrap();
    produce(&group[l], 5).await;
    let term = raft.metrics().borrow().current_term;
    for m in group.iter_mut() {
        m.down().await;
    }
    group[l].events.clear();
    group[l].up().await;
    let node = group[l].node();
    let (state, vote, committed) = node
        .raft()
        .with_raft_state(|s| (s.server_state, *s.vote_ref(), s.committed))
        .await
        .unwrap();
    assert_eq!(state, ServerState::Follower);
    assert_eq!(vote, Vote::new(term, group[l].config.id));
    assert_eq!(committed, Some(snap));
    assert_eq!((node.applied_index(), node.commit_index()), (snap.index, 0));
    assert_eq!(node.get_state().height, 10);
    assert!(group[l].events.events().iter().any(
        |e| matches!(e, Event::SnapshotInstalled { last: Some(id) } if id.index == snap.index)
    ));
    // Alone it loses every pre-vote, so it never stands (its term stays),
    // and it learns no commit index.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(node.raft().metrics().borrow().current_term, term);
    assert!(!node.is_leader());
    assert_eq!(
        (node.applied_index(), node.get_state().height),
        (snap.index, 10)
    );
    // With a peer back, a leader is elected and the rest is applied.
    let other = (l + 1) % 3;
    group[other].up().await;
    wait_for_leader(&group, &[]).await;
    let node = group[l].node();
    until("applied", || node.get_state().height == 15).await;
    for m in group.iter_mut() {
        m.down().await;
    }
}

/// hashicorp `checkLeaderLease`: without a quorum within the lease the
/// leader steps down (fenced: openraft still leads), refuses applies and
/// barriers, and takes part again once another node leads.
#[tokio::test]
async fn a_leader_without_a_quorum_steps_down_after_the_lease() {
    let mut group = cluster(3).await;
    let leader = elect(&mut group).await;
    let l = at(&group, leader);
    produce(&group[l], 3).await;
    let leader_ch = group[l].node().leader_ch();
    assert!(*leader_ch.borrow());
    for f in (0..3).filter(|&i| i != l) {
        group[f].down().await;
    }
    let node = group[l].node();
    until("stepped down", || !node.is_leader()).await;
    assert!(!*leader_ch.borrow());
    assert_eq!(node.raft().metrics().borrow().state, ServerState::Leader);
    assert_eq!(node.leader_id(), None);
    let stepped = group[l].events.events().into_iter().find_map(|e| match e {
        Event::LeaseSteppedDown { since_quorum_ms } => Some(since_quorum_ms),
        _ => None,
    });
    assert!(stepped.is_some_and(|ms| ms >= 100), "{stepped:?}");
    let b = blocks(node.get_state().block.as_ref(), 1, 1).remove(0);
    assert_eq!(
        node.broadcast(&crate::block::RaftBlock::bare(b.clone()))
            .await,
        Err(BroadcastError::NotLeader)
    );
    assert!(!node.has_quorum().await);
    // A follower comes back and wins: the old leader follows it.
    let f = (l + 1) % 3;
    group[f].up().await;
    let new = wait_for_leader(&group, &[group[l].config.id]).await;
    let node = group[l].node();
    until("follows", || node.leader_id() == Some(new)).await;
    assert_eq!(node.raft().metrics().borrow().state, ServerState::Follower);
    for m in group.iter_mut() {
        m.down().await;
    }
}

/// hashicorp `LeadershipTransfer`: the first other voter in configuration
/// order on a tie; applies refused meanwhile; the old leader steps down
/// and the target takes over.
#[tokio::test]
async fn a_transfer_hands_over_to_the_first_caught_up_voter() {
    let mut group = cluster(3).await;
    let leader = elect(&mut group).await;
    let l = at(&group, leader);
    produce(&group[l], 3).await;
    let node = group[l].node();
    let last = node.raft().metrics().borrow().last_log_index;
    until("replicated", || {
        let m = node.raft().metrics().borrow().clone();
        let r = m.replication.unwrap_or_default();
        r.values().all(|matched| matched.map(|l| l.index) == last)
    })
    .await;
    let target = group[l].config.peers[0].id;
    let b = blocks(node.get_state().block.as_ref(), 1, 1).remove(0);
    let (transferred, refused) = tokio::join!(node.leadership_transfer(), async {
        tokio::task::yield_now().await;
        (
            node.broadcast(&crate::block::RaftBlock::bare(b.clone()))
                .await,
            node.has_quorum().await,
        )
    });
    assert_eq!(transferred, Ok(()));
    assert_eq!(refused, (Err(BroadcastError::TransferInProgress), false));
    assert!(!node.is_leader());
    let events = group[l].events.events();
    assert!(events.contains(&Event::TransferStarted { target }));
    assert!(events.iter().any(
        |e| matches!(e, Event::TransferEnded { target: Some(t), ok: true, .. } if *t == target)
    ));
    let t = at(&group, target);
    until("target leads", || group[t].node().is_leader()).await;
    for m in group.iter_mut() {
        m.down().await;
    }
}

/// Reachable or not, a tie goes to the first voter: a transfer to a
/// member that is down fails, and the leader stays leader.
#[tokio::test]
async fn a_transfer_to_a_member_that_is_down_fails() {
    let mut group = cluster(3).await;
    let leader = elect(&mut group).await;
    let l = at(&group, leader);
    produce(&group[l], 2).await;
    let target = group[l].config.peers[0].id;
    let t = at(&group, target);
    group[t].down().await;
    let node = group[l].node();
    let result = node.leadership_transfer().await;
    assert!(
        matches!(
            result,
            Err(TransferError::Failed(_)) | Err(TransferError::Timeout { .. })
        ),
        "{result:?}"
    );
    assert!(node.is_leader());
    let other = group
        .iter()
        .find(|m| m.config.id != target && m.node.is_some());
    assert!(other.is_some());
    for m in group.iter_mut() {
        m.down().await;
    }
}

/// A non-leader fails at once.
#[tokio::test]
async fn a_follower_cannot_transfer() {
    let mut group = cluster(3).await;
    let leader = elect(&mut group).await;
    let l = at(&group, leader);
    let f = (l + 1) % 3;
    let result = group[f].node().leadership_transfer().await;
    assert_eq!(result, Err(TransferError::NotLeader));
    for m in group.iter_mut() {
        m.down().await;
    }
}

/// hashicorp `runSnapshots` and InstallSnapshot: the leader snapshots and
/// compacts behind `TrailingLogs`; a follower that missed the compacted
/// entries gets the snapshot: its FSM jumps (no apply for the skipped
/// heights), the snapshot is on its disk.
#[tokio::test]
async fn a_follower_behind_the_compacted_log_installs_the_snapshot() {
    let mut group = cluster(3).await;
    let leader = elect(&mut group).await;
    let l = at(&group, leader);
    let f = (l + 1) % 3;
    group[f].down().await;
    produce(&group[l], 40).await;
    let raft = group[l].node().raft().clone();
    let (threshold, trailing) = (20, 5);
    let driver = crate::hooks::task::spawn_unguarded(super::snapshot::run(
        raft.clone(),
        threshold,
        trailing,
        Duration::from_millis(50),
    ));
    let purged = raft
        .wait(Some(Duration::from_secs(10)))
        .metrics(|m| m.purged.is_some(), "compacted")
        .await
        .unwrap()
        .purged
        .unwrap();
    driver.abort();
    let last = raft.metrics().borrow().last_log_index.unwrap();
    assert_eq!(purged.index, last - trailing);
    assert!(!group[l].disk.lock().raft.snapshots.is_empty());
    group[f].events.clear();
    // Its catch-up (a conflicting probe, then the snapshot) must not race
    // its own heartbeat timer on a loaded machine: a stand would depose
    // the leader that holds the compacted log.
    group[f].config.timing.raft_heartbeat_timeout = Duration::from_secs(2);
    group[f].up().await;
    let node = group[f].node();
    until("caught up", || node.get_state().height == 40).await;
    let events = group[f].events.events();
    let installed = events.iter().find_map(|e| match e {
        Event::SnapshotInstalled { last: Some(id) } => Some(id.index),
        _ => None,
    });
    assert!(
        installed.is_some_and(|i| i >= purged.index),
        "{installed:?}"
    );
    let first_applied = events.iter().find_map(|e| match e {
        Event::RaftBlockApplied { height, .. } => Some(*height),
        _ => None,
    });
    assert!(first_applied.is_none_or(|h| h > 30), "{first_applied:?}");
    assert!(!group[f].disk.lock().raft.snapshots.is_empty());
    for m in group.iter_mut() {
        m.down().await;
    }
}

/// hashicorp `requestVote`: a voter that knows a leader refuses another
/// candidate and keeps its term; with the LeadershipTransfer flag it
/// grants, once openraft's short voter lease has run out.
#[tokio::test]
async fn a_voter_that_knows_a_leader_grants_only_a_transfer_candidate() {
    let mut group = cluster(3).await;
    let leader = elect(&mut group).await;
    let l = at(&group, leader);
    produce(&group[l], 2).await;
    let follower = group[l].config.peers[0].id;
    let candidate = group[l].config.peers[1].id;
    let f = at(&group, follower);
    let voter = group[f].node();
    until("the follower heard the leader", || {
        voter.raft().metrics().borrow().current_leader == Some(leader)
    })
    .await;
    let term = voter.raft().metrics().borrow().current_term;
    let last_log_id = openraft::LogId::new(openraft::CommittedLeaderId::new(term, leader), 1_000);
    let request =
        openraft::raft::VoteRequest::new(Vote::new(term + 1, candidate), Some(last_log_id));
    let refused = voter.handle_vote(request.clone(), false).await.unwrap();
    assert!(!refused.vote_granted);
    assert_eq!(voter.raft().metrics().borrow().current_term, term);
    // The transferring leader stops heartbeating (`raft::transfer`).
    group[l].node().raft().runtime_config().heartbeat(false);
    tokio::time::sleep(Duration::from_millis(
        2 * voter.raft().config().election_timeout_max,
    ))
    .await;
    let granted = voter.handle_vote(request, true).await.unwrap();
    assert!(granted.vote_granted, "{granted:?}");
    assert_eq!(voter.raft().metrics().borrow().current_term, term + 1);
    for m in group.iter_mut() {
        m.down().await;
    }
}

/// With one of three members down, the transfer target needs the old
/// leader's vote: the LeadershipTransfer flag gets it, and the target
/// wins its first candidacy.
#[tokio::test]
async fn a_transfer_wins_with_the_old_leaders_vote() {
    let mut group = cluster(3).await;
    let leader = elect(&mut group).await;
    let l = at(&group, leader);
    let down = group[l].config.peers[1].id;
    let d = at(&group, down);
    group[d].down().await;
    produce(&group[l], 3).await;
    let target = group[l].config.peers[0].id;
    let term = group[l].node().raft().metrics().borrow().current_term;
    assert_eq!(group[l].node().leadership_transfer().await, Ok(()));
    let t = at(&group, target);
    until("target leads", || group[t].node().is_leader()).await;
    // Its first candidacy won: no election timeout, no second round.
    assert_eq!(
        group[t].node().raft().metrics().borrow().current_term,
        term + 1
    );
    for m in group.iter_mut() {
        m.down().await;
    }
}
