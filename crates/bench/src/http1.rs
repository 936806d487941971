//! A minimal HTTP/1.1 client for the load generator: prepared request bytes written on kept-alive
//! connections, responses read with `httparse`.
//!
//! Written by hand because the load generator must cost far less than the bot it measures, and on this
//! 2-core machine it shares the cores with it: with `reqwest` (a URL parsed, a header map built, a pool
//! checked out and a body copied per request) the open loop's thread alone used a third of a core at
//! 2,000 requests a second (`perf record -a` during the burst), time taken from the bot and, whenever that
//! thread was busy, added to the latencies it measured. Here a request is built once, when its interaction
//! is prepared, and sending it is one write and a read.

use std::io;
use std::net::SocketAddr;
use std::sync::Mutex;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Kept-alive connections to one server.
pub struct Http1 {
    addr: SocketAddr,
    idle: Mutex<Vec<TcpStream>>,
}

/// A response: status, body.
pub type Response = (u16, String);

impl Http1 {
    pub fn new(addr: SocketAddr) -> Http1 {
        Http1 {
            addr,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The bytes of a `POST` of a JSON `body` to `path` with these extra headers.
    pub fn post_request(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
        use std::fmt::Write as _;
        let mut head = format!(
            "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        head.push_str("\r\n");
        let mut request = head.into_bytes();
        request.extend_from_slice(body.as_bytes());
        request
    }

    /// Sends prepared request bytes and reads the response, on an idle connection if there is one (a
    /// kept-alive connection the server closed meanwhile is replaced once) or a new one.
    pub async fn send(&self, request: &[u8]) -> io::Result<Response> {
        let reused = self.idle.lock().expect("idle connections").pop();
        if let Some(mut stream) = reused {
            match exchange(&mut stream, request).await {
                Ok((response, keep_alive)) => {
                    self.release(stream, keep_alive);
                    return Ok(response);
                }
                Err(e) if e.kind() != io::ErrorKind::InvalidData => {}
                Err(e) => return Err(e),
            }
        }
        let mut stream = TcpStream::connect(self.addr).await?;
        stream.set_nodelay(true)?;
        let (response, keep_alive) = exchange(&mut stream, request).await?;
        self.release(stream, keep_alive);
        Ok(response)
    }

    fn release(&self, stream: TcpStream, keep_alive: bool) {
        if keep_alive {
            self.idle.lock().expect("idle connections").push(stream);
        }
    }
}

/// Writes one request and reads its response (a `Content-Length` body); the response and whether the
/// connection may be used again.
async fn exchange(stream: &mut TcpStream, request: &[u8]) -> io::Result<(Response, bool)> {
    stream.write_all(request).await?;
    let mut buf = Vec::with_capacity(512);
    loop {
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        let head_len = match response.parse(&buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => continue,
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        };
        let status = response.code.unwrap_or(0);
        let header = |name: &str| {
            response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .and_then(|h| std::str::from_utf8(h.value).ok())
        };
        let length: usize = header("content-length")
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a response without Content-Length",
                )
            })?;
        let keep_alive = !header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        while buf.len() < head_len + length {
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        let body = String::from_utf8_lossy(&buf[head_len..head_len + length]).into_owned();
        return Ok(((status, body), keep_alive));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::net::TcpListener;

    /// A server that answers each request with a numbered body, closing each connection after
    /// `per_connection` answers; and how many connections it accepted.
    async fn server(per_connection: usize) -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let answered = Arc::new(AtomicUsize::new(0));
        let counted = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                counted.fetch_add(1, Ordering::SeqCst);
                let answered = answered.clone();
                tokio::spawn(async move {
                    for _ in 0..per_connection {
                        let mut buf = Vec::new();
                        // Reads one whole request (head and its 2-byte body).
                        while !buf.ends_with(b"\r\n\r\n{}") {
                            if stream.read_buf(&mut buf).await.unwrap() == 0 {
                                return;
                            }
                        }
                        let n = answered.fetch_add(1, Ordering::SeqCst) + 1;
                        let body = format!("{{\"n\":{n}}}");
                        // Head and body in two writes, to exercise partial reads.
                        let head = format!(
                            "HTTP/1.1 201 Created\r\ncontent-length: {}\r\n\r\n",
                            body.len()
                        );
                        stream.write_all(head.as_bytes()).await.unwrap();
                        stream.write_all(body.as_bytes()).await.unwrap();
                    }
                });
            }
        });
        (addr, accepted)
    }

    #[tokio::test]
    async fn requests_reuse_a_connection_and_survive_its_close() {
        let (addr, accepted) = server(2).await;
        let http = Http1::new(addr);
        let request = http.post_request("/x", &[("x-a", "b")], "{}");
        let text = String::from_utf8(request.clone()).unwrap();
        assert!(text.starts_with("POST /x HTTP/1.1\r\n"), "{text}");
        assert!(
            text.contains("content-length: 2\r\nx-a: b\r\n\r\n{}"),
            "{text}"
        );
        // Two answers per connection: the third finds its kept-alive connection closed and retries.
        for n in 1..=5 {
            assert_eq!(
                http.send(&request).await.unwrap(),
                (201, format!("{{\"n\":{n}}}"))
            );
        }
        // Each connection served its two requests before a new one was opened: 2 + 2 + 1.
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }
}
