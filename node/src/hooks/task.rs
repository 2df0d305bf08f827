//! The one way node code starts a task.
//!
//! Every task runs inside a [`Guarded`] future, which does two things:
//! - a panic inside the task is caught and reported as
//!   [`Event::TaskPanicked`](super::observe::Event) instead of tearing down
//!   the runtime, so the harness can give a verdict (exit code 12) with the
//!   panic's message rather than crash itself;
//! - in the simulation, a poll sometimes yields back to the scheduler
//!   instead of running on ([`chaos::should_yield`]), so the order in which
//!   a node's ready tasks run differs per seed (task-order exploration).

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::task::JoinHandle;

use super::chaos;
use super::observe::{Event, Reporter};

/// Spawns `fut` as a named task of the node.
pub fn spawn<F>(name: &'static str, reporter: &Reporter, fut: F) -> JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let reporter = reporter.clone();
    spawn_unguarded(async move {
        let _ = guarded(name, &reporter, fut).await;
    })
}

/// Spawns `fut` on the current runtime, without the guard (for openraft's
/// own tasks).
///
/// In the simulation the task goes to the host's `LocalSet`: when turmoil
/// crashes a host, the runtime's own task list drops its tasks in an order
/// that depends on the process-wide tokio task ids (it is sharded by id),
/// so the sockets of a crashed node would close in an order that depends
/// on what ran before in the process. The `LocalSet` drops its tasks in
/// spawn order, so a seed replays the same alone, after other runs, or in
/// parallel with them.
#[allow(clippy::disallowed_methods)] // the single sanctioned call of tokio::spawn
pub fn spawn_unguarded<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    #[cfg(feature = "sim")]
    if turmoil::in_simulation() {
        return tokio::task::spawn_local(fut);
    }
    tokio::spawn(fut)
}

/// Runs `fut` in place with the same guard as a spawned task: its panic is
/// reported (and returned as its message), its polls are explored.
pub async fn guarded<F: Future>(
    name: &'static str,
    reporter: &Reporter,
    fut: F,
) -> Result<F::Output, String> {
    let result = Guarded {
        inner: Box::pin(fut),
        yields_in_a_row: 0,
    }
    .await;
    result.map_err(|payload| {
        let message = panic_message(&*payload);
        reporter.event(Event::TaskPanicked {
            task: name.to_string(),
            message: message.clone(),
        });
        message
    })
}

/// Text of a panic payload (`panic!` gives a `&str` or a `String`), with
/// where it panicked if [`record_panic_locations`] is on.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = panic_text(payload);
    match LAST_PANIC_AT.with(|l| l.take()) {
        Some(at) => format!("{text} (at {at})"),
        None => text,
    }
}

fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

thread_local! {
    /// Where the last panic on this thread happened (see below).
    static LAST_PANIC_AT: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
    /// The first panic outside any node task (see below).
    static FIRST_UNCAUGHT: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
    /// Inside a [`Guarded`] poll, whose panics are caught and reported.
    static CATCHING: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// For the harness, which reports caught node panics in its verdict: a
/// panic inside a node task only records where it happened, for
/// [`panic_message`], instead of printing itself (and maybe a backtrace) to
/// stderr. Any other panic goes to the default hook.
pub fn record_panic_locations() {
    std::panic::set_hook(Box::new(move |info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()));
        if CATCHING.with(|c| c.get()) > 0 {
            LAST_PANIC_AT.with(|l| *l.borrow_mut() = at);
            return;
        }
        // Outside a node task (openraft's own tasks, or the harness): one
        // line, and the first such panic is kept for the verdict.
        let text = format!(
            "{} (at {})",
            panic_text(info.payload()),
            at.unwrap_or_else(|| "unknown place".to_string())
        );
        eprintln!("panic: {text}");
        FIRST_UNCAUGHT.with(|f| {
            f.borrow_mut().get_or_insert(text);
        });
    }));
}

/// The first panic outside a node task since the last call, with its place
/// (the runtime that caught it reports only that "a task panicked").
pub fn take_first_uncaught_panic() -> Option<String> {
    FIRST_UNCAUGHT.with(|f| f.borrow_mut().take())
}

struct Guarded<F> {
    inner: Pin<Box<F>>,
    yields_in_a_row: u32,
}

impl<F: Future> Future for Guarded<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.yields_in_a_row < chaos::max_consecutive_yields() && chaos::should_yield() {
            self.yields_in_a_row += 1;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.yields_in_a_row = 0;
        let inner = self.inner.as_mut();
        CATCHING.with(|c| c.set(c.get() + 1));
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx)));
        CATCHING.with(|c| c.set(c.get() - 1));
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}
