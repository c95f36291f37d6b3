//! Time limits on reading a request: the head within [`HEAD_TIMEOUT`] (actix-web's client
//! request timeout, set by `web::serve`) and the body within [`BODY_DEADLINE`] of the
//! request's arrival (the [`add`] middleware). A client that declares a body and sends it
//! slowly, or not at all, gets an error and the connection is closed, so slow clients
//! cannot hold connections and memory open.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use futures_util::Stream;

/// Time a client has to send a request's head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Time a client has to send a request's whole body, from the request's arrival.
pub const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// Put the body deadline on the request's payload (requests without a body pass as they are).
pub async fn add(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let has_body = req
        .headers()
        .contains_key(actix_web::http::header::CONTENT_LENGTH)
        || req
            .headers()
            .contains_key(actix_web::http::header::TRANSFER_ENCODING);
    if has_body {
        let inner = req.take_payload();
        let timed = Deadline {
            inner,
            sleep: Box::pin(tokio::time::sleep(BODY_DEADLINE)),
        };
        req.set_payload(Payload::from(
            Box::pin(timed) as Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>
        ));
    }
    next.call(req).await
}

/// A payload that fails once its deadline has passed.
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            )))));
        }
        Pin::new(&mut self.inner).poll_next(cx)
    }
}
