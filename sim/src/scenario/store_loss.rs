//! The loss of one store (`store_loss`): the node is killed, one of its
//! machine's stores is emptied, and the node starts again with the others
//! as they were. A Go node keeps three: its own store (badger: blocks,
//! state, DA and execution metadata, the pending block, the sequencer's
//! queue), its raft directory (`raft_dir`), and the EL's database (reth's
//! datadir). A disk replaced under one of them, or an operator who clears
//! one to "resync", loses that one only.
//!
//! - `store = "blocks"`: raft and the EL are ahead of an empty store.
//! - `store = "el"`: the store is ahead of an empty EL, which the
//!   replayer fills from the store.
//! - `store = "raft"`: the member forgets its log and vote (amnesia, as a
//!   fresh start does to raft), with its blocks kept.

use node::store::StorePart;

use super::fault::{Applied, FaultKind, Target};
use super::target::Wipe;

/// The names a scenario gives the stores.
pub const STORES: [&str; 3] = ["blocks", "raft", "el"];

/// The store `name` names (validated).
fn part(name: &str) -> Option<StorePart> {
    match name {
        "blocks" => Some(StorePart::Blocks),
        "raft" => Some(StorePart::Raft),
        "el" => Some(StorePart::El),
        _ => None,
    }
}

/// The fault's own fields; `node_ok` checks a node name.
pub fn validate(
    kind: &FaultKind,
    at: &str,
    node_ok: &dyn Fn(&str, &str) -> Result<(), String>,
) -> Result<(), String> {
    let FaultKind::StoreLoss { node, store } = kind else {
        return Ok(());
    };
    node_ok("node", node)?;
    if part(store).is_none() {
        return Err(format!(
            "{at}.store: `{store}` is not a store: \"blocks\", \"raft\" or \"el\""
        ));
    }
    Ok(())
}

/// Kills the node, empties the store, starts the node.
pub fn apply(kind: &FaultKind, t: &mut dyn Target) -> Applied {
    let FaultKind::StoreLoss { node, store } = kind else {
        return Applied::skipped(format!("{} is no store loss", kind.name()));
    };
    let (Some(id), Some(part)) = (t.resolve(node), part(store)) else {
        return Applied::skipped(format!(
            "store loss ({store}) of {node}: no such node now, skipped"
        ));
    };
    let mut text = format!("store loss of n{id}: its {store} store emptied, the node restarted");
    if let Some(remark) = t.restart(id, Some(Wipe::Only(part))) {
        text = format!("{text}; {remark}");
    }
    Applied::done(text, vec![id])
}

#[cfg(test)]
mod tests {
    use crate::scenario::Scenario;

    #[test]
    fn store_losses_load_and_round_trip() {
        let mut text = String::from("duration_s = 40\n");
        for (i, store) in super::STORES.iter().enumerate() {
            text.push_str(&format!(
                "[[fault]]\nat_s = {}\nkind = \"store_loss\"\nnode = \"n2\"\nstore = \"{store}\"\n",
                5 + i
            ));
        }
        let s = Scenario::parse(&text).unwrap_or_else(|e| panic!("{e}"));
        let back = Scenario::parse(&toml::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        assert!(!s.leaves_a_fault_in_force());
    }

    #[test]
    fn a_bad_store_names_the_field() {
        let text = "duration_s = 40\n[[fault]]\nat_s = 1\nkind = \"store_loss\"\nnode = \"n1\"\nstore = \"disk\"\n";
        let e = Scenario::parse(text).expect_err("refused");
        assert!(e.contains("fault[0].store") && e.contains("disk"), "{e}");
    }
}
