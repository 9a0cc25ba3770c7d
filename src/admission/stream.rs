//! [`AdmittedStream`]: an accepted connection as Pingora's HTTP/1 parser reads it, with the
//! head deadline, the head size cap and the budget charge of [`super`] applied to its bytes.
//!
//! When this layer refuses a head it writes its own S3 answer, then makes Pingora let go of
//! the connection quietly: a read that returns nothing ends a connection that has sent
//! nothing, and a connection that has sent part of a head gets one NUL byte, which no request
//! line or header may hold, so Pingora's parser gives up with a "bad request" (logged at debug
//! level) rather than a read error (logged as an error for every client that goes away).
//! Whatever Pingora writes after that is swallowed: the client already has its answer.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::tls::{SslDigest, TlsRef};
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl, Stream,
    TimingDigest, UniqueID, UniqueIDType, ALPN,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::head::{HeadScan, HeadScanner};
use super::{
    closing_answer, header_too_large, request_timeout, slow_down, Admission, FIRST_HEAD_OVERHEAD,
    PINGORA_HEAD_OVERHEAD,
};
use crate::error::{S3Error, S3ErrorCode};

/// A connection under admission control.
pub struct AdmittedStream {
    inner: Stream,
    admission: Arc<Admission>,
    phase: Phase,
    /// The first head, read by [`AdmittedStream::read_first_head`] before Pingora is involved,
    /// and how much of it Pingora has been given.
    replay: Vec<u8>,
    replayed: usize,
    /// Set once Pingora has started the connection's first request.
    first_request_started: AtomicBool,
    /// Set when Pingora starts reading a later request (see [`AdmittedStream::next_request`]).
    next_request: AtomicBool,
}

/// Where the connection is.
enum Phase {
    /// A request head is arriving.
    Head(HeadState),
    /// The head is in (or the connection is HTTP/2): bytes pass untouched.
    Passing,
    /// A refusal being written; then [`Phase::Ended`].
    Answering {
        answer: Vec<u8>,
        written: usize,
        head_started: bool,
    },
    /// Refused or closed mid-head: Pingora is made to let go (see the module's doc).
    Ended { nul_due: bool },
}

/// One head on its way.
struct HeadState {
    scanner: HeadScanner,
    /// When the head must be whole; `None` until the first byte of a kept-alive
    /// connection's next request.
    deadline: Option<Instant>,
    timer: Option<Pin<Box<Sleep>>>,
    /// Bytes charged to the budget for this head.
    charged: usize,
}

impl HeadState {
    fn new(deadline: Option<Instant>) -> HeadState {
        HeadState {
            scanner: HeadScanner::new(),
            deadline,
            timer: None,
            charged: 0,
        }
    }
}

/// What one step of reading a head decided.
enum HeadStep {
    /// Hand this to Pingora.
    Ready(Poll<io::Result<()>>),
    /// Refuse the head with this answer (`None`: close without one).
    Refuse(Option<S3Error>),
    /// The client closed or failed mid-head.
    Gone,
    /// The head is whole.
    Whole,
}

impl AdmittedStream {
    /// Put `inner`, just accepted, under admission: its first head is timed from now.
    pub fn new(inner: Stream, admission: Arc<Admission>) -> AdmittedStream {
        let phase = if inner.selected_alpn_proto() == Some(ALPN::H2) {
            Phase::Passing
        } else {
            let deadline = Instant::now() + admission.limits().header_timeout;
            Phase::Head(HeadState::new(Some(deadline)))
        };
        AdmittedStream {
            inner,
            admission,
            phase,
            replay: Vec::new(),
            replayed: 0,
            first_request_started: AtomicBool::new(false),
            next_request: AtomicBool::new(false),
        }
    }

    /// Read the connection's first head whole before Pingora sees the connection; `false`
    /// when there is nothing for Pingora (refused and answered, or the client went away).
    ///
    /// Why before: Pingora allocates its session and the state of its whole proxy path
    /// (about 48 KiB, README "Before authentication") as soon as it starts reading a head,
    /// so a connection that trickles its first head would hold that much. Read here, it holds
    /// its bytes and little more. The head is then given to Pingora as if just read from the
    /// socket.
    pub async fn read_first_head(&mut self) -> bool {
        std::future::poll_fn(|cx| self.poll_first_head(cx)).await
    }

    fn poll_first_head(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        let max = self.admission.limits().max_header_size;
        loop {
            match &self.phase {
                Phase::Passing => return Poll::Ready(true),
                Phase::Ended { .. } => return Poll::Ready(false),
                Phase::Answering { .. } => ready!(self.write_answer(cx)),
                Phase::Head(_) => {
                    // Reads of 1 KiB at first, then as large as what came so far (a typical
                    // head takes one or two), never past one byte over the cap.
                    let mut replay = std::mem::take(&mut self.replay);
                    let start = replay.len();
                    let room = (max + 1 - start).min(start.max(1024)).min(16 * 1024);
                    replay.resize(start + room, 0);
                    let capacity = replay.capacity();
                    let mut buf = ReadBuf::new(&mut replay[start..]);
                    let step = self.read_head(cx, &mut buf, capacity);
                    let filled = buf.filled().len();
                    replay.truncate(start + filled);
                    self.replay = replay;
                    match step {
                        HeadStep::Ready(Poll::Ready(Ok(()))) => {}
                        HeadStep::Ready(Poll::Pending) => return Poll::Pending,
                        HeadStep::Ready(Poll::Ready(Err(_))) => return Poll::Ready(false),
                        HeadStep::Whole => self.leave_head(Phase::Passing),
                        HeadStep::Refuse(err) => self.refuse(err),
                        HeadStep::Gone => self.refuse(None),
                    }
                }
            }
        }
    }

    /// Pingora is about to read one of the connection's requests. The first one's head was
    /// read already; a later one's is timed from its first byte (the wait for it is the
    /// keep-alive timeout's) and read by Pingora.
    pub fn next_request(&self) {
        if self.first_request_started.swap(true, Ordering::Relaxed) {
            self.next_request.store(true, Ordering::Relaxed);
        }
    }

    fn header_timeout(&self) -> Duration {
        self.admission.limits().header_timeout
    }

    /// Stop timing and charging the head, and give its charge back.
    fn leave_head(&mut self, next: Phase) {
        if let Phase::Head(head) = &self.phase {
            self.admission.release(head.charged);
        }
        self.phase = next;
    }

    fn refuse(&mut self, err: Option<S3Error>) {
        let head_started = matches!(&self.phase, Phase::Head(h) if h.scanner.received() > 0);
        if let Some(err) = &err {
            self.admission.count_refusal(err.code);
            let received = match &self.phase {
                Phase::Head(h) => h.scanner.received(),
                _ => 0,
            };
            // A full budget refuses many requests at once: those are counted, and warned of
            // once per 10 s (`Admission::try_charge`), not logged one by one.
            if err.code == S3ErrorCode::SlowDown {
                tracing::debug!(
                    received,
                    "request head refused: limits.unauthenticated_memory"
                );
            } else {
                tracing::info!(
                    code = err.code.as_str(),
                    received,
                    "request head refused before authentication"
                );
            }
        }
        let answer = err.map(|e| closing_answer(&e)).unwrap_or_default();
        self.leave_head(Phase::Answering {
            answer,
            written: 0,
            head_started,
        });
    }

    /// Read for Pingora while a head arrives.
    /// `buffer`: the bytes of the buffer the head is read into, when this layer reads it.
    fn read_head(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
        buffer: usize,
    ) -> HeadStep {
        let max = self.admission.limits().max_header_size;
        let timeout = self.header_timeout();
        let Phase::Head(head) = &mut self.phase else {
            unreachable!("read_head is called in the head phase only");
        };
        let now = Instant::now();
        if head.deadline.is_some_and(|d| now >= d) {
            return HeadStep::Refuse((head.scanner.received() > 0).then(request_timeout));
        }
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let fresh = &buf.filled()[before..];
                if fresh.is_empty() {
                    return HeadStep::Gone;
                }
                head.deadline.get_or_insert(now + timeout);
                match head.scanner.feed(fresh, max) {
                    HeadScan::Complete { .. } => HeadStep::Whole,
                    HeadScan::Incomplete => HeadStep::Ready(Poll::Ready(Ok(()))),
                    HeadScan::TooLarge => {
                        // Pingora never sees the bytes that broke the cap.
                        buf.set_filled(before);
                        HeadStep::Refuse(Some(header_too_large()))
                    }
                }
            }
            Poll::Ready(Err(e)) if head.scanner.received() == 0 => {
                HeadStep::Ready(Poll::Ready(Err(e)))
            }
            Poll::Ready(Err(_)) => HeadStep::Gone,
            Poll::Pending => {
                // The head waits for more: what it holds is charged from now on.
                let received = head.scanner.received();
                if received > 0 {
                    // While read here: this layer's buffer; once Pingora reads it (a later
                    // request), Pingora's session and proxy state besides the bytes.
                    let due = if self.first_request_started.load(Ordering::Relaxed) {
                        PINGORA_HEAD_OVERHEAD + received
                    } else {
                        FIRST_HEAD_OVERHEAD + buffer.max(received)
                    };
                    if due > head.charged {
                        if !self.admission.try_charge(due - head.charged) {
                            return HeadStep::Refuse(Some(slow_down()));
                        }
                        head.charged = due;
                    }
                }
                if let Some(deadline) = head.deadline {
                    let timer = head
                        .timer
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                    if timer.as_mut().poll(cx).is_ready() {
                        return HeadStep::Refuse((received > 0).then(request_timeout));
                    }
                }
                HeadStep::Ready(Poll::Pending)
            }
        }
    }

    /// Write the refusal; `Ready` once it is all out (or the client is gone).
    fn write_answer(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Phase::Answering {
            answer,
            written,
            head_started,
        } = &mut self.phase
        else {
            return Poll::Ready(());
        };
        while *written < answer.len() {
            match ready!(Pin::new(&mut self.inner).poll_write(cx, &answer[*written..])) {
                Ok(0) | Err(_) => break,
                Ok(n) => *written += n,
            }
        }
        let _ = ready!(Pin::new(&mut self.inner).poll_flush(cx));
        self.phase = Phase::Ended {
            nul_due: *head_started,
        };
        Poll::Ready(())
    }
}

impl AsyncRead for AdmittedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.replayed < this.replay.len() {
            let n = buf.remaining().min(this.replay.len() - this.replayed);
            buf.put_slice(&this.replay[this.replayed..this.replayed + n]);
            this.replayed += n;
            if this.replayed == this.replay.len() {
                this.replay = Vec::new();
                this.replayed = 0;
            }
            return Poll::Ready(Ok(()));
        }
        if this.next_request.swap(false, Ordering::Relaxed) && matches!(this.phase, Phase::Passing)
        {
            this.phase = Phase::Head(HeadState::new(None));
        }
        loop {
            match &mut this.phase {
                Phase::Passing => return Pin::new(&mut this.inner).poll_read(cx, buf),
                Phase::Head(_) => match this.read_head(cx, buf, 0) {
                    HeadStep::Ready(poll) => return poll,
                    HeadStep::Whole => {
                        this.leave_head(Phase::Passing);
                        return Poll::Ready(Ok(()));
                    }
                    HeadStep::Refuse(err) => this.refuse(err),
                    HeadStep::Gone => this.refuse(None),
                },
                Phase::Answering { .. } => ready!(this.write_answer(cx)),
                Phase::Ended { nul_due } => {
                    if *nul_due && buf.remaining() > 0 {
                        *nul_due = false;
                        buf.put_slice(b"\0");
                    }
                    return Poll::Ready(Ok(()));
                }
            }
        }
    }
}

impl AsyncWrite for AdmittedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.phase {
            Phase::Answering { .. } | Phase::Ended { .. } => Poll::Ready(Ok(buf.len())),
            _ => Pin::new(&mut this.inner).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.phase {
            Phase::Answering { .. } | Phase::Ended { .. } => {
                Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()))
            }
            _ => Pin::new(&mut this.inner).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.phase {
            Phase::Answering { .. } | Phase::Ended { .. } => Poll::Ready(Ok(())),
            _ => Pin::new(&mut this.inner).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl Drop for AdmittedStream {
    fn drop(&mut self) {
        if let Phase::Head(head) = &self.phase {
            self.admission.release(head.charged);
        }
    }
}

impl fmt::Debug for AdmittedStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdmittedStream")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Shutdown for AdmittedStream {
    async fn shutdown(&mut self) {
        self.inner.shutdown().await
    }
}

impl UniqueID for AdmittedStream {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for AdmittedStream {
    fn get_ssl(&self) -> Option<&TlsRef> {
        self.inner.get_ssl()
    }

    fn get_ssl_digest(&self) -> Option<Arc<SslDigest>> {
        self.inner.get_ssl_digest()
    }

    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for AdmittedStream {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }

    fn get_read_pending_time(&self) -> Duration {
        self.inner.get_read_pending_time()
    }

    fn get_write_pending_time(&self) -> Duration {
        self.inner.get_write_pending_time()
    }
}

impl GetProxyDigest for AdmittedStream {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }

    fn set_proxy_digest(&mut self, digest: ProxyDigest) {
        self.inner.set_proxy_digest(digest)
    }
}

impl GetSocketDigest for AdmittedStream {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }

    fn set_socket_digest(&mut self, digest: SocketDigest) {
        self.inner.set_socket_digest(digest)
    }
}

#[async_trait]
impl Peek for AdmittedStream {
    async fn try_peek(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        self.inner.try_peek(buf).await
    }
}
