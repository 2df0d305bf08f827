//! **Agreement**: no two different blocks at one height, across every
//! node's store and every raft commit. The rule itself is
//! [`node::agreement::Agreement`], which the real-mode devnet uses too.

use node::agreement::Agreement;
use node::hooks::observe::Event;

use super::{Property, Violation};
use crate::trace::{Record, What};

#[derive(Debug, Default)]
pub struct AgreementCheck {
    blocks: Agreement,
}

impl AgreementCheck {
    pub fn observe(&mut self, r: &Record) -> Option<Violation> {
        let What::Node(event) = &r.what else {
            return None;
        };
        let (height, hash, who) = match event {
            Event::BlockStored { height, hash } => (height, hash, format!("n{}", r.node)),
            Event::BlockCommitted { height, hash } => {
                (height, hash, format!("raft commit by n{}", r.node))
            }
            _ => return None,
        };
        let fork = self.blocks.record(*height, *hash, &who).err()?;
        Some(Violation::safety(Property::Agreement, fork.to_string()))
    }
}
