//! What a node reports against itself: its own invariant checks
//! (**Node invariant**) and a panic in one of its tasks.

use node::hooks::observe::Event;

use super::{Property, Violation};
use crate::trace::{Record, What};

pub fn observe(r: &Record) -> Option<Violation> {
    match &r.what {
        What::Node(Event::Violation { what }) => Some(Violation::safety(
            Property::NodeInvariant,
            format!("n{}: {what}", r.node),
        )),
        What::Node(Event::TaskPanicked { task, message }) => Some(Violation::Panic {
            node: r.node,
            task: task.clone(),
            message: message.clone(),
        }),
        _ => None,
    }
}
