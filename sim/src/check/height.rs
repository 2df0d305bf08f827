//! **Monotonic height**: within one incarnation, a node's store height only
//! grows, one block at a time. It also keeps each node's height in the
//! cluster view (the liveness checker and the report read it).

use node::hooks::observe::Event;

use super::view::ClusterView;
use super::{Property, Violation};
use crate::trace::{Record, What};

pub fn observe(r: &Record, view: &mut ClusterView) -> Option<Violation> {
    let What::Node(Event::BlockStored { height, .. }) = &r.what else {
        return None;
    };
    let n = r.node;
    let node = view.node(n);
    let before = node.height;
    node.height = *height;
    (*height != before + 1).then(|| {
        Violation::safety(
            Property::MonotonicHeight,
            format!("n{n} stored height {height} on top of height {before}"),
        )
    })
}
