//! The memory budget of upstream bodies (`--upstream-body-budget`): the bytes of every body
//! read for an aggregate are held against one budget that all workers share, from the moment
//! they are read until the aggregate's answer has been sent (or the client went away). A call
//! that would pass it fails at once as `overloaded` (a declared length is taken before reading
//! anything; a chunked body as it arrives), so many slow clients cannot make the process hold
//! more than the budget in bodies, however large each upstream answers.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use actix_web::web::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{Failure, SourceErrorType};

/// The budget, one per server.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    bytes_left: Arc<Semaphore>,
    bytes: usize,
}

/// Bytes held against the budget, given back when dropped.
#[derive(Debug, Default)]
pub struct Held(Option<OwnedSemaphorePermit>);

impl Held {
    /// Holds `other`'s bytes too.
    pub fn merge(&mut self, other: Held) {
        match (&mut self.0, other.0) {
            (Some(mine), Some(theirs)) => mine.merge(theirs),
            (mine @ None, theirs) => *mine = theirs,
            (Some(_), None) => {}
        }
    }

    /// How many bytes are held.
    pub fn bytes(&self) -> usize {
        self.0.as_ref().map_or(0, OwnedSemaphorePermit::num_permits)
    }
}

impl BodyBudget {
    /// A budget of `bytes` (at most what a semaphore counts, `usize::MAX >> 3`).
    pub fn new(bytes: usize) -> Self {
        let bytes = bytes.min(Semaphore::MAX_PERMITS);
        Self {
            bytes_left: Arc::new(Semaphore::new(bytes)),
            bytes,
        }
    }

    /// Adds `more` bytes to `held`, or fails as `overloaded` when the budget has not that many
    /// left (taking none of them).
    pub(super) fn take(&self, held: &mut Held, more: usize) -> Result<(), Failure> {
        if more == 0 {
            return Ok(());
        }
        let taken = u32::try_from(more)
            .ok()
            .and_then(|more| {
                Arc::clone(&self.bytes_left)
                    .try_acquire_many_owned(more)
                    .ok()
            })
            .ok_or_else(|| {
                let held_now = self.bytes - self.bytes_left.available_permits();
                Failure::new(
                    SourceErrorType::Overloaded,
                    format!(
                        "{more} more bytes would pass the budget of {} (--upstream-body-budget; \
                         {held_now} held now): this body was not read whole",
                        self.bytes
                    ),
                )
            })?;
        held.merge(Held(Some(taken)));
        Ok(())
    }
}

/// An answer's body that holds its aggregate's bytes until it has been sent or dropped. It is
/// handed to actix-http [`HeldBody::CHUNK`] bytes at a time, which takes the next only once its
/// write buffer has room: to a client that reads slowly, the answer waits here, counted in the
/// budget, not in the connection's write buffer, uncounted.
pub struct HeldBody {
    unsent: Bytes,
    _held: Held,
}

impl HeldBody {
    /// The most bytes handed over at a time.
    pub const CHUNK: usize = 16 * 1024;

    /// `bytes`, holding `held` until they are sent.
    pub fn new(bytes: Vec<u8>, held: Held) -> Self {
        Self {
            unsent: Bytes::from(bytes),
            _held: held,
        }
    }
}

impl MessageBody for HeldBody {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        BodySize::Sized(self.unsent.len() as u64)
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        if self.unsent.is_empty() {
            return Poll::Ready(None);
        }
        let next = Self::CHUNK.min(self.unsent.len());
        Poll::Ready(Some(Ok(self.unsent.split_to(next))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_taken_until_the_budget_is_spent_and_given_back_when_dropped() {
        let budget = BodyBudget::new(100);
        let mut first = Held::default();
        budget.take(&mut first, 60).unwrap();
        budget.take(&mut first, 30).unwrap();
        assert_eq!(first.bytes(), 90);
        let mut second = Held::default();
        let refused = budget.take(&mut second, 11).unwrap_err();
        assert_eq!(refused.kind, SourceErrorType::Overloaded);
        assert_eq!(second.bytes(), 0, "none taken by a refusal");
        budget.take(&mut second, 10).unwrap();
        drop(first);
        budget.take(&mut second, 90).unwrap();
        assert_eq!(second.bytes(), 100);
    }

    #[actix_web::test]
    async fn an_answer_is_handed_over_a_chunk_at_a_time() {
        let body = HeldBody::new(vec![b'x'; HeldBody::CHUNK * 2 + 1], Held::default());
        assert_eq!(body.size(), BodySize::Sized(HeldBody::CHUNK as u64 * 2 + 1));
        let bytes = actix_web::body::to_bytes(body).await.unwrap();
        assert_eq!(bytes.len(), HeldBody::CHUNK * 2 + 1);
        let mut body = std::pin::pin!(HeldBody::new(
            vec![b'x'; HeldBody::CHUNK + 1],
            Held::default()
        ));
        let chunk = std::future::poll_fn(|cx| body.as_mut().poll_next(cx)).await;
        assert_eq!(chunk.unwrap().unwrap().len(), HeldBody::CHUNK);
    }

    #[test]
    fn more_than_a_semaphore_takes_at_once_is_refused_not_wrapped() {
        let budget = BodyBudget::new(usize::MAX);
        let mut held = Held::default();
        assert!(budget.take(&mut held, 1 << 33).is_err());
    }
}
