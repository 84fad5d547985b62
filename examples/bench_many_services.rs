//! 1000 `ClientService`s connecting to one server: how long until all are connected, and
//! how much memory each one holds.
//!
//! The server is a plain blocking listener thread (backlog 1024) that keeps the accepted
//! sockets in a preallocated vector, so the heap figures are the clients' alone. Heap use
//! is counted by a `#[global_allocator]` wrapper around the system allocator; the RSS
//! delta is printed too. Printed side by side with Twisted's `ClientService`.
//!
//! ```text
//! cargo run --release --example bench_many_services
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};
use testrig::service::{ClientService, TcpConnector};

const SERVICES: usize = 1000;
const TWISTED_TIME: Duration = Duration::from_millis(122);
const TWISTED_BYTES_PER_SERVICE: f64 = 5.6 * 1000.0;
const TARGET_TIME: Duration = Duration::from_millis(50);
const TARGET_BYTES_PER_SERVICE: f64 = 4096.0;

/// Counts the bytes allocated and still live.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are
// only bookkeeping. `GlobalAlloc` is an unsafe trait, hence the unsafe here.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same layout contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        ALLOCATED.fetch_add(new_size, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let address = serve()?;
    let current_thread = std::env::args().any(|arg| arg == "--current-thread");
    let runtime = if current_thread {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?
    };
    let flavor = if current_thread {
        "current-thread runtime"
    } else {
        "multi-thread runtime, 2 workers"
    };
    runtime.block_on(async {
        // The first round pays for process and kernel warm-up (heap growth, socket
        // slabs); it is printed, and the second round is the steady-state figure.
        let cold = connect_all(address).await?;
        let warm = connect_all(address).await?;
        let plain = plain_tokio_connects(address).await?;

        println!("{SERVICES} ClientServices connecting to one server ({flavor})");
        println!("{:<36}{:>12}{:>12}", "", "testrig", "Twisted");
        println!(
            "{:<36}{:>12}{:>12}",
            "time until all connected",
            millis(warm.elapsed),
            millis(TWISTED_TIME)
        );
        println!(
            "{:<36}{:>12}",
            "  same, first (cold) round",
            millis(cold.elapsed)
        );
        println!(
            "{:<36}{:>12}",
            "  plain tokio connects, same run",
            millis(plain)
        );
        println!(
            "{:<36}{:>12}{:>12}",
            "heap live per connected service",
            format!("{:.0} B", warm.live_per_service),
            format!("~{TWISTED_BYTES_PER_SERVICE:.0} B")
        );
        println!(
            "{:<36}{:>12}",
            "heap allocated per service (total)",
            format!("{:.0} B", warm.allocated_per_service)
        );
        println!(
            "{:<36}{:>12}",
            "RSS delta per service (cold round)",
            format!("{:.0} B", cold.rss_per_service)
        );
        println!("{:<36}{:>12}", "stopping all", millis(warm.stop));
        println!(
            "targets: all connected < {} ms → {}; < {TARGET_BYTES_PER_SERVICE} B each → {}",
            TARGET_TIME.as_millis(),
            if warm.elapsed < TARGET_TIME {
                "met"
            } else {
                "NOT met"
            },
            if warm.live_per_service < TARGET_BYTES_PER_SERVICE {
                "met"
            } else {
                "NOT met"
            }
        );
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

struct Round {
    elapsed: Duration,
    live_per_service: f64,
    allocated_per_service: f64,
    rss_per_service: f64,
    stop: Duration,
}

/// Start `SERVICES` services, wait until every one is connected, measure, stop them.
async fn connect_all(address: SocketAddr) -> Result<Round, Box<dyn std::error::Error>> {
    let rss_before = rss_bytes();
    let live_before = LIVE.load(Ordering::Relaxed);
    let allocated_before = ALLOCATED.load(Ordering::Relaxed);
    let started = Instant::now();
    let services: Vec<_> = (0..SERVICES)
        .map(|_| ClientService::builder(TcpConnector::new(address)).start())
        .collect();
    let waiters: Vec<_> = services.iter().map(|s| s.when_connected(None)).collect();
    for waiter in waiters {
        waiter.await?;
    }
    let elapsed = started.elapsed();
    let live = LIVE.load(Ordering::Relaxed).saturating_sub(live_before);
    let allocated = ALLOCATED.load(Ordering::Relaxed) - allocated_before;
    let rss = rss_bytes().saturating_sub(rss_before);

    let stopping = Instant::now();
    let stops: Vec<_> = services.iter().map(|s| s.stop()).collect();
    for stop in stops {
        stop.await;
    }
    let stop = stopping.elapsed();
    let per = |bytes: usize| bytes as f64 / SERVICES as f64;
    Ok(Round {
        elapsed,
        live_per_service: per(live),
        allocated_per_service: per(allocated),
        rss_per_service: per(rss),
        stop,
    })
}

/// The same number of bare `tokio::net::TcpStream::connect`s, one task each.
async fn plain_tokio_connects(address: SocketAddr) -> Result<Duration, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let tasks: Vec<_> = (0..SERVICES)
        .map(|_| {
            tokio::spawn(async move {
                let stream = tokio::net::TcpStream::connect(address).await?;
                stream.set_nodelay(true)?;
                Ok::<_, std::io::Error>(stream)
            })
        })
        .collect();
    let mut streams = Vec::with_capacity(SERVICES);
    for task in tasks {
        streams.push(task.await??);
    }
    Ok(started.elapsed())
}

fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1e3)
}

/// A blocking listener thread that keeps every accepted socket open.
fn serve() -> std::io::Result<SocketAddr> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
    socket.listen(1024)?;
    let listener: std::net::TcpListener = socket.into();
    let address = listener.local_addr()?;
    std::thread::spawn(move || {
        let mut accepted: Vec<TcpStream> = Vec::with_capacity(3 * SERVICES);
        while let Ok((stream, _)) = listener.accept() {
            accepted.push(stream);
        }
    });
    Ok(address)
}

/// Resident set size, from `/proc/self/statm`.
fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * usize::try_from(page).unwrap_or(4096)
}
