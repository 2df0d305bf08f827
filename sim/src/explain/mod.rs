//! A run in words, for people: the context of a failure ([`context`]) and
//! the trace as filtered text or JSON lines ([`filter`]). Nothing here
//! changes a run or its trace hash.

pub mod context;
pub mod filter;
