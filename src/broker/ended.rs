//! Why a broker session ended: the one error the consume loop, the publisher
//! and the acks report when the connection or a channel is gone.

/// A session that can no longer be used; the supervisor opens a new one and
/// the broker delivers every unacked job again.
#[derive(Debug, thiserror::Error)]
pub enum SessionEnded {
    /// The connection or a channel failed.
    #[error("the broker channel failed: {0}")]
    Channel(#[from] lapin::Error),
    /// The channel was already closed when an ack or reject was sent.
    #[error("the broker channel was already closed")]
    ChannelGone,
    /// The broker cancelled the consumer (the queue was deleted, say).
    #[error("the broker cancelled the consumer")]
    ConsumerCancelled,
    /// Another part of the session failed first.
    #[error("the session was lost elsewhere")]
    Lost,
    /// The broker did not answer in time.
    #[error("the broker did not answer {0} in time")]
    Unresponsive(&'static str),
}
