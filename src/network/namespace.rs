//! A network namespace that exists only while this process holds it: created by a thread of
//! its own (`unshare(CLONE_NEWNET)`), which then runs closures inside it; plus a file
//! descriptor of it, to move interfaces there and to `setns` spawned processes into it.
//! No name in /run/netns: when the process dies, even SIGKILLed, the kernel drops the thread
//! and the descriptor, and with them the namespace and every interface in it.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Debug)]
pub(crate) struct Namespace {
    label: String,
    inode: u64,
    /// `None` once closed: the thread was told to end and the descriptor dropped.
    open: Mutex<Option<Open>>,
}

#[derive(Debug)]
struct Open {
    jobs: mpsc::Sender<Job>,
    fd: Arc<OwnedFd>,
    /// Dropped by the thread when it ends.
    ended: oneshot::Receiver<()>,
    /// The thread's id: its `/proc/self/task/TID` goes only once the thread has left the
    /// namespace for good.
    thread: libc::pid_t,
}

/// The namespace was closed (its network stopped).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Closed;

impl Namespace {
    /// A new namespace, held by a new thread named after `label` (the host or switch).
    pub(crate) async fn create(label: &str) -> io::Result<Namespace> {
        let (ready_tx, ready_rx) = oneshot::channel::<io::Result<(OwnedFd, u64, libc::pid_t)>>();
        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
        let (ended_tx, ended_rx) = oneshot::channel::<()>();
        thread::Builder::new()
            .name(format!("netns {label}"))
            .spawn(move || {
                let _ended = ended_tx;
                match enter_new_namespace() {
                    Ok((fd, inode)) => {
                        // SAFETY: gettid has no preconditions.
                        let thread = unsafe { libc::gettid() };
                        if ready_tx.send(Ok((fd, inode, thread))).is_err() {
                            return;
                        }
                    }
                    Err(error) => {
                        let _ = ready_tx.send(Err(error));
                        return;
                    }
                }
                // Until every sender is gone: the network closed this namespace.
                while let Ok(job) = jobs_rx.recv() {
                    // A job that panics drops its answer (its caller hears of it); the
                    // namespace's thread, which holds the namespace, carries on.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            })?;
        let (fd, inode, thread) = ready_rx
            .await
            .map_err(|_| io::Error::other("the namespace thread ended before it was ready"))??;
        Ok(Namespace {
            label: label.to_owned(),
            inode,
            open: Mutex::new(Some(Open {
                jobs: jobs_tx,
                fd: Arc::new(fd),
                ended: ended_rx,
                thread,
            })),
        })
    }

    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// The namespace's inode: `/proc/PID/task/TID/ns/net` links to `net:[INODE]`.
    pub(crate) fn inode(&self) -> u64 {
        self.inode
    }

    /// The namespace's descriptor, while open.
    pub(crate) fn fd(&self) -> Result<Arc<OwnedFd>, Closed> {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.as_ref().map(|open| open.fd.clone()).ok_or(Closed)
    }

    /// Runs `job` on the namespace's thread; its answer comes back through the future.
    pub(crate) fn run<F, R>(&self, job: F) -> Result<oneshot::Receiver<R>, Closed>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (answer_tx, answer_rx) = oneshot::channel();
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let open = open.as_ref().ok_or(Closed)?;
        open.jobs
            .send(Box::new(move || {
                let _ = answer_tx.send(job());
            }))
            .map_err(|_| Closed)?;
        Ok(answer_rx)
    }

    /// Lets go of the namespace: the thread ends once its current job is done, the descriptor
    /// is closed (unless a `Command` prepared for it still holds a copy). Waits at most
    /// `deadline` until the thread is gone (its `/proc/self/task` entry too); `false` if it
    /// was not gone in time.
    pub(crate) async fn close(&self, deadline: Duration) -> bool {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner()).take();
        match open {
            None => true,
            Some(Open {
                jobs,
                fd,
                ended,
                thread,
            }) => {
                drop(jobs);
                drop(fd);
                tokio::time::timeout(deadline, async {
                    let _ = ended.await;
                    // The thread's last job is done; the kernel takes it out of the
                    // namespace as it exits, a moment later.
                    let task = format!("/proc/self/task/{thread}");
                    while std::path::Path::new(&task).exists() {
                        tokio::time::sleep(Duration::from_micros(100)).await;
                    }
                })
                .await
                .is_ok()
            }
        }
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // Synchronous and safe: closing the channel ends the thread after its current job.
        drop(self.open.get_mut().map(Option::take));
    }
}

/// Moves the calling thread into a new network namespace; returns a descriptor of it and
/// its inode.
fn enter_new_namespace() -> io::Result<(OwnedFd, u64)> {
    // SAFETY: unshare only changes the calling thread's namespaces; CLONE_NEWNET is allowed
    // in a multithreaded process (CLONE_NEWUSER is not, see enter_user_namespace).
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let file = File::open("/proc/thread-self/ns/net")?;
    let inode = file.metadata()?.ino();
    let fd = OwnedFd::from(file);
    bring_loopback_up()?;
    // IPv6 drops an interface's addresses when it goes down unless told to keep them; a
    // link taken down as a fault must come back as it was.
    for path in [
        "/proc/sys/net/ipv6/conf/all/keep_addr_on_down",
        "/proc/sys/net/ipv6/conf/default/keep_addr_on_down",
    ] {
        std::fs::write(path, "1")?;
    }
    Ok((fd, inode))
}

/// `lo` comes down in a new namespace; a host's own services expect it up. An ioctl on a
/// socket of the thread's namespace (one syscall, cheaper than a netlink exchange).
fn bring_loopback_up() -> io::Result<()> {
    // SAFETY: a plain socket, closed below; the ifreq is zeroed and its name NUL-terminated.
    unsafe {
        let socket = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if socket < 0 {
            return Err(io::Error::last_os_error());
        }
        let socket = OwnedFd::from_raw_fd(socket);
        let mut request: libc::ifreq = std::mem::zeroed();
        request.ifr_name[0] = b'l' as libc::c_char;
        request.ifr_name[1] = b'o' as libc::c_char;
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) != 0 {
            return Err(io::Error::last_os_error());
        }
        request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Moves the calling process (a child between fork and exec) into the namespace of `fd`.
pub(crate) fn setns(fd: i32) -> io::Result<()> {
    // SAFETY: setns on a descriptor we hold; async-signal-safe, fit for pre_exec.
    if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
