//! Where connections come from: a TCP listener, or a channel of streams
//! (in-memory connections for tests, a simulated network), and how each
//! refuses a connection that gets no session.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use beckon_core::wire::{refusal_frame, ClearRefusal};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};

/// How long a connection refused without a session (when no handshake can
/// be evicted) that is not TCP may take to receive its Busy frame.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// A source of connections.
pub(super) trait Incoming: Send + 'static {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The next connection; `None` when the source is closed.
    fn accept(
        &mut self,
    ) -> impl Future<Output = Option<io::Result<(Self::Stream, SocketAddr)>>> + Send;
    /// Sends the clear Busy refusal on a connection that gets no session
    /// and closes it, without blocking the accept loop.
    fn refuse_busy(&self, stream: Self::Stream, refusers: &Arc<Semaphore>);
}

impl Incoming for TcpListener {
    type Stream = TcpStream;

    async fn accept(&mut self) -> Option<io::Result<(TcpStream, SocketAddr)>> {
        let accepted = TcpListener::accept(self).await;
        if let Ok((stream, _)) = &accepted {
            let _ = stream.set_nodelay(true);
        }
        Some(accepted)
    }

    /// No task: the four bytes fit any fresh socket buffer. Whatever the
    /// peer already sent (its Hello) is read first and the write side is
    /// shut down before closing, so the peer gets the frame and a clean
    /// end of stream rather than a reset.
    fn refuse_busy(&self, stream: TcpStream, _: &Arc<Semaphore>) {
        let mut scratch = [0u8; 512];
        for _ in 0..4 {
            match stream.try_read(&mut scratch) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
        let _ = stream.try_write(&refusal_frame(ClearRefusal::Busy));
        if let Ok(stream) = stream.into_std() {
            let _ = stream.shutdown(std::net::Shutdown::Write);
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Incoming
    for mpsc::Receiver<(S, SocketAddr)>
{
    type Stream = S;

    async fn accept(&mut self) -> Option<io::Result<(S, SocketAddr)>> {
        self.recv().await.map(Ok)
    }

    fn refuse_busy(&self, mut stream: S, refusers: &Arc<Semaphore>) {
        let Ok(permit) = Arc::clone(refusers).try_acquire_owned() else {
            return;
        };
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tokio::time::timeout(REFUSAL_LINGER, async {
                stream.write_all(&refusal_frame(ClearRefusal::Busy)).await?;
                stream.shutdown().await?;
                let mut sink = [0u8; 512];
                while stream.read(&mut sink).await? > 0 {}
                Ok::<(), io::Error>(())
            })
            .await;
        });
    }
}
