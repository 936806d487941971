//! The listeners' idle timeout (`DC_API_IDLE_TIMEOUT`, `DC_DISCORD_WEBHOOK_SERVER_IDLE_TIMEOUT`) apart
//! from their header timeout (`*_READ_HEADER_TIMEOUT`), as Go's `http.Server` has them.
//!
//! hyper has one timer for both: it starts when a connection waits for its next request and ends when
//! that request's headers are read. So each connection's stream is wrapped here ([`IdleAcceptor`], outside
//! TLS, on the plain bytes): a request's headers must arrive within the header timeout of its first byte
//! (and of the connection's start, for the first one), and a connection with no traffic for the idle
//! timeout after an answer is closed. hyper's own timer is set to the sum of both, as a backstop.

use axum_server::accept::Accept;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Wraps the streams another acceptor produces in [`IdleIo`].
#[derive(Clone, Debug)]
pub struct IdleAcceptor<A> {
    inner: A,
    idle: Duration,
    header: Duration,
}

impl<A> IdleAcceptor<A> {
    pub fn new(inner: A, idle: Duration, header: Duration) -> Self {
        IdleAcceptor {
            inner,
            idle,
            header,
        }
    }
}

impl<A, I, S> Accept<I, S> for IdleAcceptor<A>
where
    A: Accept<I, S>,
    A::Future: Send + 'static,
    A::Stream: Send + 'static,
    A::Service: Send + 'static,
{
    type Stream = IdleIo<A::Stream>;
    type Service = A::Service;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let accepted = self.inner.accept(stream, service);
        let (idle, header) = (self.idle, self.header);
        Box::pin(async move {
            let (stream, service) = accepted.await?;
            Ok((IdleIo::new(stream, idle, header), service))
        })
    }
}

/// Where a connection is between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading a request's headers: `matched` bytes of the blank line that ends them seen so far.
    Header { matched: u8 },
    /// Headers read; the body, the handler and the answer. `answered`: something was written.
    Busy { answered: bool },
    /// Answered; waiting for the next request (or more of a streamed answer).
    Idle,
}

/// A connection's stream, closed (with `TimedOut`) when the header or idle timeout passes.
pub struct IdleIo<S> {
    inner: S,
    idle: Duration,
    header: Duration,
    phase: Phase,
    deadline: Pin<Box<Sleep>>,
    armed: bool,
}

impl<S> IdleIo<S> {
    fn new(inner: S, idle: Duration, header: Duration) -> Self {
        IdleIo {
            inner,
            idle,
            header,
            // A new connection has the header timeout to send its first request's headers.
            phase: Phase::Header { matched: 0 },
            deadline: Box::pin(tokio::time::sleep(header)),
            armed: true,
        }
    }

    fn arm(&mut self, after: Duration) {
        self.deadline.as_mut().reset(Instant::now() + after);
        self.armed = true;
    }

    /// Follows the bytes read: the first of a request starts its header timeout, the blank line after
    /// its headers ends it.
    fn read(&mut self, bytes: &[u8]) {
        const END: &[u8; 4] = b"\r\n\r\n";
        for &b in bytes {
            self.phase = match self.phase {
                // The rest is the body (or its end): nothing to follow until the answer.
                Phase::Busy { .. } => return,
                Phase::Idle => {
                    self.arm(self.header);
                    Phase::Header {
                        matched: u8::from(b == b'\r'),
                    }
                }
                Phase::Header { matched } => {
                    let matched = if b == END[usize::from(matched)] {
                        matched + 1
                    } else {
                        u8::from(b == b'\r')
                    };
                    if matched == 4 {
                        self.armed = false;
                        Phase::Busy { answered: false }
                    } else {
                        Phase::Header { matched }
                    }
                }
            };
        }
    }

    /// Something was written: an answer (or more of a streamed one) resets the idle time.
    fn wrote(&mut self) {
        match self.phase {
            Phase::Busy { .. } => self.phase = Phase::Busy { answered: true },
            Phase::Idle => self.arm(self.idle),
            Phase::Header { .. } => {}
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                self.read(&buf.filled()[before..]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let this = &mut *self;
                // Answered, and nothing more to read: the connection is idle from now.
                if this.phase == (Phase::Busy { answered: true }) {
                    this.phase = Phase::Idle;
                    this.arm(this.idle);
                }
                if this.armed && this.deadline.as_mut().poll(cx).is_ready() {
                    let what = if this.phase == Phase::Idle {
                        "the connection was idle for longer than the idle timeout"
                    } else {
                        "the request's headers did not arrive within the header timeout"
                    };
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what)));
                }
                Poll::Pending
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.wrote();
        }
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.wrote();
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use crate::settings::HttpTimeouts;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::time::Instant;
    use tokio_util::sync::CancellationToken;

    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n";

    /// A listener answering "ok" with a 300 ms header timeout and a 2 s idle timeout.
    async fn server() -> (std::net::SocketAddr, CancellationToken) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let router = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let timeouts = HttpTimeouts {
            read: Duration::from_secs(5),
            read_header: Duration::from_millis(300),
            write: Duration::from_secs(5),
            idle: Duration::from_secs(2),
        };
        let stop = CancellationToken::new();
        tokio::spawn(crate::server::serve(
            "test",
            listener,
            router,
            None,
            timeouts,
            stop.clone(),
            Duration::from_secs(1),
        ));
        (addr, stop)
    }

    /// Reads one answer (small enough to come whole); empty when the server closed the connection.
    async fn answer(conn: &mut TcpStream) -> String {
        let mut buf = vec![0u8; 4096];
        let n = conn.read(&mut buf).await.unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[tokio::test]
    async fn idle_connections_last_the_idle_timeout_and_headers_the_header_timeout() {
        let (addr, stop) = server().await;

        // Kept alive past the header timeout: the next request, 800 ms later, is answered on the
        // same connection.
        let mut conn = TcpStream::connect(addr).await.unwrap();
        conn.write_all(REQUEST).await.unwrap();
        assert!(answer(&mut conn).await.starts_with("HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_millis(800)).await;
        conn.write_all(REQUEST).await.unwrap();
        assert!(answer(&mut conn).await.starts_with("HTTP/1.1 200"));
        // Then closed after the idle timeout: the read ends (EOF) about 2 s after the answer.
        let idle_from = Instant::now();
        assert_eq!(answer(&mut conn).await, "", "closed");
        let idle = idle_from.elapsed();
        assert!(
            idle >= Duration::from_millis(1800) && idle < Duration::from_secs(4),
            "closed after {idle:?}"
        );

        // Headers that stop coming: closed after the header timeout, long before the idle one.
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nHost: te").await.unwrap();
        let from = Instant::now();
        assert_eq!(answer(&mut slow).await, "", "closed");
        assert!(
            from.elapsed() < Duration::from_millis(1500),
            "{:?}",
            from.elapsed()
        );

        // A connection that sends nothing at all is closed after the header timeout too.
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let from = Instant::now();
        assert_eq!(answer(&mut silent).await, "", "closed");
        assert!(
            from.elapsed() < Duration::from_millis(1500),
            "{:?}",
            from.elapsed()
        );
        stop.cancel();
    }
}
