//! Checkers of the p2p layer, in the liveness phase (after the last fault
//! healed): every running node reconnects to every running peer
//! ([`reconnect`]), and a block a leader commits reaches every node that
//! runs ([`gossip`]). Both wait for something, so both have a time bound
//! from the scenario's timing (`Bounds`).
//!
//! A node going down ends its connections. Records a node still emits
//! after that (its other tasks may run to the end of the simulation tick
//! in which its main future returned) describe a dead process: these
//! checkers ignore them until the node comes back up.

pub mod gossip;
pub mod reconnect;

use super::{Bounds, Checker};

/// Every checker of this layer, for a run of `nodes` nodes.
pub fn checkers(nodes: u32, bounds: Bounds) -> Vec<Box<dyn Checker>> {
    let mut checkers: Vec<Box<dyn Checker>> = vec![Box::new(reconnect::ReconnectCheck::new(
        nodes,
        bounds.reconnect,
    ))];
    if !bounds.lossy {
        checkers.push(Box::new(gossip::GossipCheck::new(nodes, bounds)));
    }
    checkers
}
