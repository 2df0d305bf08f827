//! What a fault acts on ([`Target`]): the simulated cluster as the runner
//! exposes it, so faults and their undos need not know the runner.

use std::time::Duration;

use super::partition::Plane;

/// What a fault acts on: the simulated cluster as the runner exposes it.
pub trait Target {
    /// The nodes a name means now: `all` every node, `crashed` and
    /// `stopped` the nodes the last crash or stop took down, `n3`,
    /// `leader` and `event` one node if any.
    fn resolve_nodes(&self, name: &str) -> Vec<u64>;
    /// The node a name means now, if it means exactly one.
    fn resolve(&self, name: &str) -> Option<u64> {
        match self.resolve_nodes(name)[..] {
            [id] => Some(id),
            _ => None,
        }
    }
    /// kill -9 of each (with `power_loss`, each machine loses power: the
    /// store's unsynced writes go too); they stay down until a fault
    /// starts them again (the name `crashed` means them from now on).
    fn crash(&mut self, ids: &[u64], power_loss: bool);
    /// SIGTERM to each; each stops by itself and stays down once it has
    /// exited, until a fault starts it again (the name `stopped` means
    /// them from now on). Returns remarks for the trace (a node not
    /// running, one already stopping).
    fn stop(&mut self, ids: &[u64]) -> Vec<String>;
    /// Stops the node if it runs (kills it if it is still stopping after
    /// a SIGTERM), wipes its disk (`Wipe::All`) or one of its stores,
    /// starts it; returns a remark for the trace if it had to kill a
    /// stopping node.
    fn restart(&mut self, id: u64, wipe: Option<Wipe>) -> Option<String>;
    /// Whether the node is still stopping after a SIGTERM (its process
    /// runs).
    fn is_stopping(&self, id: u64) -> bool;
    fn set_connect_delay(&mut self, node: u64, peer: u64, delay: Duration);
    fn set_link_latency(&mut self, a: u64, b: u64, latency: Duration);
    /// Drops the messages from `a` to `b`, and from `b` to `a` unless
    /// `oneway`, on `plane` (`None`: on both; see `scenario::partition`).
    fn partition(&mut self, a: u64, b: u64, oneway: bool, plane: Option<Plane>);
    /// Undoes [`Target::partition`] with the same arguments.
    fn repair(&mut self, a: u64, b: u64, oneway: bool, plane: Option<Plane>);
    /// Repairs every link, both ways, on both planes.
    fn heal_all(&mut self);
    fn set_loss(&mut self, rate: f64);
    fn is_running(&mut self, id: u64) -> bool;
    /// Sets the loss rate back to the scenario's `network.loss`; returns it.
    fn reset_loss(&mut self) -> f64;
    /// Sets the link's latency back to the scenario's `network.latency_ms`;
    /// returns that range.
    fn reset_link_latency(&mut self, a: u64, b: u64) -> [u64; 2];
    /// The DA host goes down or stops answering (`Some`), or is back
    /// (`None`); see `scenario::da_fault`.
    fn da_outage(&mut self, mode: Option<crate::scenario::da_fault::DaOutageMode>);
    /// Cuts the links between the node and the DA host (`cut`), or
    /// repairs them.
    fn da_cut(&mut self, node: u64, cut: bool);
    /// Sets the DA links' latency (if given) and the DA inclusion time.
    fn da_slow(&mut self, latency_ms: Option<u64>, inclusion_ms: u64);
    /// Sets both back to the scenario's; returns the DA links' range.
    fn da_slow_reset(&mut self) -> [u64; 2];
    /// The node's execution layer goes down (`down`) or is back up; see
    /// `scenario::el_fault`.
    fn el_down(&mut self, node: u64, down: bool);
    /// Each Engine API call of the node takes `extra` more (zero: back
    /// to normal).
    fn el_slow(&mut self, node: u64, extra: Duration);
    /// The node's wall clock reads `offset_ms` off from now on (0: right
    /// again); see `scenario::clock_fault`.
    fn clock_offset(&mut self, node: u64, offset_ms: i64);
}

/// What a restart loses: the whole disk (a fresh start) or one store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wipe {
    All,
    Only(node::store::StorePart),
}
