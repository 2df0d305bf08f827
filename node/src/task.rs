//! The one way node code starts a task.
//!
//! A panic inside a task is caught and reported as
//! [`Event::TaskPanicked`](crate::observe::Event) instead of tearing down the
//! runtime, so the harness can give a verdict (exit code 12) with the panic's
//! message rather than crash itself.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::task::JoinHandle;

use crate::observe::{Event, Reporter};

/// Spawns `fut` as a named task of the node.
#[allow(clippy::disallowed_methods)] // the single sanctioned call of tokio::spawn
pub fn spawn<F>(name: &'static str, reporter: &Reporter, fut: F) -> JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let reporter = reporter.clone();
    tokio::spawn(async move {
        if let Err(payload) = (CatchUnwind {
            inner: Box::pin(fut),
        })
        .await
        {
            let message = panic_message(&*payload);
            reporter.event(Event::TaskPanicked {
                task: name.to_string(),
                message,
            });
        }
    })
}

/// Text of a panic payload (`panic!` gives a `&str` or a `String`).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

struct CatchUnwind<F> {
    inner: Pin<Box<F>>,
}

impl<F: Future<Output = ()>> Future for CatchUnwind<F> {
    type Output = Result<(), Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.inner.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(())) => Poll::Ready(Ok(())),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}
