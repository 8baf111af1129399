//! The host's view of a guest's service: a fresh TCP connection to the forwarded SSH port,
//! answered when the server's banner (`SSH-2.0-`, RFC 4253 section 4.2: the server sends
//! its identification string first) arrives. QEMU's user-mode network accepts the host's
//! connection itself even while the guest is down, so a connection alone proves nothing;
//! only the banner does.
//!
//! [`attempt`] does I/O; [`answered_again`] and [`last_answer_before`] are pure, so the
//! timing logic is tested on saved attempts.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// What an SSH server sends first (RFC 4253 section 4.2, protocol version 2.0).
pub const SSH_BANNER: &str = "SSH-2.0-";
/// How long one attempt waits to connect: QEMU's user network accepts at once, so this
/// only bounds a host that does not answer at all.
pub const CONNECT_WAIT: Duration = Duration::from_millis(1000);
/// How long one attempt then waits for the banner. Long on purpose: sshd under TCG can
/// take seconds to send it on a busy host (it re-executes itself per connection), and an
/// attempt abandoned early leaves sshd working on it while the next one comes in (sshd's
/// MaxStartups then drops connections): one connection at a time, held until the banner,
/// disturbs the service least. While the guest's port is closed QEMU's user network
/// closes the connection at once (the guest answers RST), so the probe still polls every
/// [`INTERVAL`]; the banner's arrival is stamped when it arrives however long it took.
pub const BANNER_WAIT: Duration = Duration::from_secs(10);
/// The pause between attempts: the probe's resolution when the service is refused fast.
pub const INTERVAL: Duration = Duration::from_millis(100);

/// One attempt, stamped on the serial log's clock (guest.rs `Guest::now`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attempt {
    /// When the connection was opened.
    pub start: Duration,
    /// When the banner arrived, or when the attempt gave up.
    pub end: Duration,
    pub answered: bool,
}

/// One connection to `port` on 127.0.0.1: answered when the first bytes are an SSH
/// banner. `clock` is the serial log's time zero.
pub fn attempt(port: u16, now: impl Fn() -> Duration) -> Attempt {
    let start = now();
    let answered = banner(port).is_some_and(|b| b.starts_with(SSH_BANNER));
    Attempt {
        start,
        end: now(),
        answered,
    }
}

fn banner(port: u16) -> Option<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, CONNECT_WAIT).ok()?;
    let until = Instant::now() + BANNER_WAIT;
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while got.len() < SSH_BANNER.len() {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        s.set_read_timeout(Some(left)).ok()?;
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    Some(String::from_utf8_lossy(&got).into_owned())
}

/// Probes `port` on its own thread, one attempt after another [`INTERVAL`] apart, stamped
/// from `zero` (a guest's serial clock: `Instant::now() - guest.now()`), into `into`
/// until `stop` is set. For callers that run other work meanwhile (the fleet runs Ansible
/// while it probes two guests).
pub fn spawn_poller(
    port: u16,
    zero: Instant,
    into: std::sync::Arc<std::sync::Mutex<Vec<Attempt>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let a = attempt(port, || zero.elapsed());
            if let Ok(mut v) = into.lock() {
                v.push(a);
            }
            std::thread::sleep(INTERVAL);
        }
    })
}

/// When the service answered again after a reboot: the end of the first answered attempt
/// that started after `new_kernel` (the new kernel's first console line; answers before it
/// came from the old system, still shutting down). `None` if it never did.
pub fn answered_again(attempts: &[Attempt], new_kernel: Duration) -> Option<Duration> {
    attempts
        .iter()
        .find(|a| a.answered && a.start >= new_kernel)
        .map(|a| a.end)
}

/// The last answer the old system gave: the end of the last answered attempt that ended
/// before `new_kernel`. With [`answered_again`], what a client polling the service saw of
/// the outage.
pub fn last_answer_before(attempts: &[Attempt], new_kernel: Duration) -> Option<Duration> {
    attempts
        .iter()
        .filter(|a| a.answered && a.end < new_kernel)
        .map(|a| a.end)
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(start: f64, end: f64, answered: bool) -> Attempt {
        Attempt {
            start: Duration::from_secs_f64(start),
            end: Duration::from_secs_f64(end),
            answered,
        }
    }

    #[test]
    fn answers_of_the_old_system_do_not_count_as_the_service_coming_back() {
        let attempts = [
            a(10.0, 10.2, true),
            // sshd still answers while systemd stops other units.
            a(10.3, 10.5, true),
            a(10.6, 11.6, false),
            a(11.7, 12.7, false),
            // Started before the new kernel's first line: the old system's.
            a(19.5, 19.6, true),
            a(20.1, 21.1, false),
            a(21.2, 22.2, false),
            // The banner arrived late in a slow attempt: its arrival counts.
            a(22.3, 23.05, true),
            a(23.2, 23.3, true),
        ];
        let new_kernel = Duration::from_secs(20);
        assert_eq!(
            answered_again(&attempts, new_kernel),
            Some(Duration::from_secs_f64(23.05))
        );
        assert_eq!(
            last_answer_before(&attempts, new_kernel),
            Some(Duration::from_secs_f64(19.6))
        );
        assert_eq!(answered_again(&attempts[..7], new_kernel), None);
        assert_eq!(last_answer_before(&attempts[5..], new_kernel), None);
    }

    #[test]
    fn only_an_ssh_banner_answers() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let clock = Instant::now();
        let serve = |reply: &'static [u8]| {
            let l = listener.try_clone().unwrap();
            std::thread::spawn(move || {
                let (mut s, _) = l.accept().unwrap();
                std::io::Write::write_all(&mut s, reply).unwrap();
            })
        };
        let t = serve(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n");
        let ok = attempt(port, || clock.elapsed());
        t.join().unwrap();
        assert!(ok.answered && ok.end >= ok.start, "{ok:?}");
        // What QEMU's user network does while the guest is down: accept, then close.
        let t = serve(b"");
        assert!(!attempt(port, || clock.elapsed()).answered);
        t.join().unwrap();
        let t = serve(b"HTTP/1.1 400 Bad Request\r\n");
        assert!(!attempt(port, || clock.elapsed()).answered);
        t.join().unwrap();
        drop(listener);
        assert!(!attempt(port, || clock.elapsed()).answered);
    }
}
