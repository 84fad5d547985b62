//! A real `sshd` as a remote host, for tests of SSH hosts.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::Host;
use crate::host::ssh::SshBuilder;
use crate::network::{Link, Network, Switch};
use crate::process::{Command, Pattern, Process};

/// How long [`Sshd`]'s waits that end on an event may take: generous, so a busy machine only
/// makes a test slower, never wrong.
pub const SSHD_PATIENCE: Duration = Duration::from_secs(20);
const PATIENCE: Duration = SSHD_PATIENCE;

/// The sshd binary, or why the tests cannot run.
fn sshd_binary() -> Result<PathBuf, String> {
    if unsafe { libc::geteuid() } != 0 {
        return Err("the sshd fixture needs root (sshd logs in the user it runs as)".into());
    }
    let availability = crate::network::availability();
    if let Some(missing) = availability.missing() {
        return Err(missing.to_string());
    }
    ["/usr/sbin/sshd", "/usr/local/sbin/sshd"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
        .ok_or_else(|| "no sshd (scripts/setup installs openssh-server)".to_owned())
}

/// A real `sshd` as a remote host: inside host `remote` of an emulated network of its own, its
/// own host key, user key, config, authorized keys, known hosts and PID file in a temporary
/// directory (nothing in `/etc` touched); the SSH connection is made from host `client` of the
/// same network, so the remote is at its own address across a veth link.
///
/// Needs root, network namespaces and OpenSSH's `sshd`: [`Sshd::start`] prints a skip line
/// where one is missing, and panics when `CI` is set. Test machinery: it panics on failures.
#[derive(Debug)]
pub struct Sshd {
    /// The network holding hosts `client` and `remote`.
    pub network: Network,
    /// The temporary directory of keys, config and known hosts.
    pub dir: PathBuf,
    /// Host `client`, where connections to the sshd are made from.
    pub client: Host,
    /// The remote host's (and sshd's) address.
    pub address: IpAddr,
    /// sshd's port.
    pub port: u16,
    /// The sshd process, on host `remote`.
    pub process: Process,
}

/// The remote cache of every [`Sshd`] (`$XDG_CACHE_HOME` of its sessions), shared by the
/// fixtures of a test run; files installed there over an hour ago are removed, so builds of
/// the past do not pile up.
fn install_cache() -> PathBuf {
    let cache = std::env::temp_dir().join("testrig-sshd-cache");
    let bin = cache.join("testrig").join("bin");
    let _ = std::fs::create_dir_all(&bin);
    let stale = std::time::SystemTime::now() - Duration::from_secs(3600);
    for entry in std::fs::read_dir(&bin).into_iter().flatten().flatten() {
        let old = entry
            .metadata()
            .and_then(|metadata| metadata.modified())
            .is_ok_and(|modified| modified < stale);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    cache
}

fn keygen(path: &Path) {
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", ""])
        .arg("-f")
        .arg(path)
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success(), "ssh-keygen {}", path.display());
}

impl Sshd {
    /// Starts an sshd for test `name` on subnet `10.<subnet>.0.0/24`; `None` (after a skip line)
    /// where it cannot run, a panic when `CI` is set.
    pub async fn start(name: &str, subnet: u8) -> Option<Sshd> {
        let sshd = sshd_or_skip()?;
        let network = Network::builder(name)
            .host("client")
            .host("remote")
            .link(Link::new("client", "remote").subnet(format!("10.{subnet}.0.0/24")))
            .build()
            .unwrap();
        network.start().await.unwrap();
        let client = network.host("client").unwrap();
        let remote = network.host("remote").unwrap();
        let one = RemoteSshd::spawn(&sshd, name, "remote", remote, client.clone()).await;
        Some(Sshd {
            network,
            dir: one.dir,
            client,
            address: one.address,
            port: one.port,
            process: one.process,
        })
    }

    /// Several sshd hosts in one network for test `name`: a switch on subnet
    /// `10.<subnet>.0.0/24` joining host `client` (where connections are made from) and one
    /// host per name of `remotes`, each running an sshd of its own (its own keys and
    /// directory). `None` (after a skip line) where it cannot run, a panic when `CI` is set.
    pub async fn start_hosts(name: &str, subnet: u8, remotes: &[&str]) -> Option<SshdHosts> {
        let sshd = sshd_or_skip()?;
        let mut hosts = vec!["client"];
        hosts.extend_from_slice(remotes);
        let mut builder = Network::builder(name);
        for host in &hosts {
            builder = builder.host(*host);
        }
        let network = builder
            .switch(
                Switch::new("lan")
                    .hosts(hosts.iter().copied())
                    .subnet(format!("10.{subnet}.0.0/24")),
            )
            .build()
            .unwrap();
        network.start().await.unwrap();
        let client = network.host("client").unwrap();
        let mut started = Vec::new();
        for remote in remotes {
            let host = network.host(remote).unwrap();
            started.push(RemoteSshd::spawn(&sshd, name, remote, host, client.clone()).await);
        }
        Some(SshdHosts {
            network,
            client,
            remotes: started,
        })
    }

    fn remote(&self) -> RemoteRef<'_> {
        RemoteRef {
            name: "remote",
            dir: &self.dir,
            address: self.address,
            port: self.port,
            client: &self.client,
        }
    }

    /// An SSH host to this sshd, connected from host `client`, keys checked strictly.
    pub fn host(&self) -> SshBuilder {
        self.remote().host()
    }

    /// `ssh` to this sshd with its keys, from host `client`, on a connection of its own (not
    /// a host's master): add the remote command and run it.
    pub fn fresh_ssh(&self) -> std::process::Command {
        self.remote().fresh_ssh()
    }

    /// The command lines of the processes (on the remote host: same machine) holding `marker`,
    /// asked through a fresh ssh connection (not the host's master), from host `client`.
    pub async fn remote_processes_with(&self, marker: &str) -> Vec<String> {
        self.remote().processes_with(marker).await
    }

    /// Waits until no process on this machine (the remote host shares it) holds `marker`,
    /// within `within`; then confirms it through a fresh ssh connection.
    pub async fn assert_nothing_left_with(&self, marker: &str, within: Duration) {
        self.remote().assert_nothing_left_with(marker, within).await;
    }

    /// Stops sshd and the network and removes the temporary directory.
    pub async fn stop(self) {
        let _ = self.process.stop(PATIENCE).await;
        self.network.stop().await.unwrap();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Several real sshd hosts on one switch, made by [`Sshd::start_hosts`]: host `client`, where
/// the SSH connections are made from, and the remote hosts, each with an sshd of its own.
#[derive(Debug)]
pub struct SshdHosts {
    /// The network holding `client` and the remote hosts.
    pub network: Network,
    /// Host `client`, where connections to the sshds are made from.
    pub client: Host,
    /// The remote hosts, in the order they were named.
    pub remotes: Vec<RemoteSshd>,
}

impl SshdHosts {
    /// The remote host named `name`; panics on another name.
    pub fn remote(&self, name: &str) -> &RemoteSshd {
        self.remotes
            .iter()
            .find(|remote| remote.name == name)
            .unwrap_or_else(|| panic!("no sshd host `{name}` (have {:?})", self.names()))
    }

    fn names(&self) -> Vec<&str> {
        self.remotes.iter().map(|r| r.name.as_str()).collect()
    }

    /// [`RemoteSshd::assert_nothing_left_with`] on every remote host.
    pub async fn assert_nothing_left_with(&self, marker: &str, within: Duration) {
        for remote in &self.remotes {
            remote.assert_nothing_left_with(marker, within).await;
        }
    }

    /// Stops every sshd and the network and removes the temporary directories.
    pub async fn stop(self) {
        for remote in &self.remotes {
            let _ = remote.process.stop(PATIENCE).await;
            let _ = std::fs::remove_dir_all(&remote.dir);
        }
        self.network.stop().await.unwrap();
    }
}

/// One sshd of [`SshdHosts`]: a remote host with its own keys, config and known hosts.
#[derive(Debug)]
pub struct RemoteSshd {
    /// The host's name in the network.
    pub name: String,
    /// The temporary directory of keys, config and known hosts.
    pub dir: PathBuf,
    /// The host's (and sshd's) address.
    pub address: IpAddr,
    /// sshd's port.
    pub port: u16,
    /// The sshd process, on the host.
    pub process: Process,
    client: Host,
}

impl RemoteSshd {
    /// Makes the directory, keys and config for `name`'s sshd on `remote`, and starts it.
    async fn spawn(sshd: &Path, test: &str, name: &str, remote: Host, client: Host) -> RemoteSshd {
        let dir =
            std::env::temp_dir().join(format!("testrig-sshd-{test}-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        keygen(&dir.join("host_key"));
        keygen(&dir.join("user_key"));
        std::fs::copy(dir.join("user_key.pub"), dir.join("authorized_keys")).unwrap();
        // sshd refuses to start without its privilege separation directory; the package
        // creates it at boot, a container may lack it.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let address = remote.address();
        let port = 2222;
        // Files installed on the remote host (`Host::install`) go to a cache the fixtures of
        // a test run share, not the user's: the testrig binary is copied once per build.
        let cache = install_cache();
        // Sessions get a home of their own: the user's shell start-up files (a `.bashrc`
        // that bash reads for every ssh command) stay out of the tests, their time and their
        // locks too.
        std::fs::create_dir_all(dir.join("home")).unwrap();
        let config = format!(
            "ListenAddress {address}\nPort {port}\nHostKey {dir}/host_key\n\
             AuthorizedKeysFile {dir}/authorized_keys\nStrictModes no\nUsePAM no\n\
             PidFile {dir}/sshd.pid\nPermitRootLogin prohibit-password\n\
             SetEnv XDG_CACHE_HOME={cache} HOME={dir}/home\n",
            dir = dir.display(),
            cache = cache.display()
        );
        std::fs::write(dir.join("sshd_config"), config).unwrap();
        let host_key = std::fs::read_to_string(dir.join("host_key.pub")).unwrap();
        std::fs::write(
            dir.join("known_hosts"),
            format!("[{address}]:{port} {host_key}"),
        )
        .unwrap();
        let command = Command::new(sshd)
            .arg("-f")
            .arg(dir.join("sshd_config"))
            .args(["-D", "-e"])
            .name("sshd")
            .daemon()
            .ready_when(Pattern::stderr("Server listening on").unwrap())
            .host(remote);
        let process = Process::spawn(command, &dir).await.unwrap();
        process.ready(PATIENCE).await.unwrap();
        RemoteSshd {
            name: name.to_owned(),
            dir,
            address,
            port,
            process,
            client,
        }
    }

    fn remote(&self) -> RemoteRef<'_> {
        RemoteRef {
            name: &self.name,
            dir: &self.dir,
            address: self.address,
            port: self.port,
            client: &self.client,
        }
    }

    /// An SSH host (named as the host) to this sshd, connected from host `client`, keys
    /// checked strictly.
    pub fn host(&self) -> SshBuilder {
        self.remote().host()
    }

    /// `ssh` to this sshd with its keys, from host `client`, on a connection of its own (not
    /// a host's master): add the remote command and run it.
    pub fn fresh_ssh(&self) -> std::process::Command {
        self.remote().fresh_ssh()
    }

    /// The command lines of the processes holding `marker`, asked through a fresh ssh
    /// connection (not the host's master), from host `client`.
    pub async fn remote_processes_with(&self, marker: &str) -> Vec<String> {
        self.remote().processes_with(marker).await
    }

    /// Waits until no process on this machine (the remote host shares it) holds `marker`,
    /// within `within`; then confirms it through a fresh ssh connection.
    pub async fn assert_nothing_left_with(&self, marker: &str, within: Duration) {
        self.remote().assert_nothing_left_with(marker, within).await;
    }
}

/// What the checks on an sshd host need.
struct RemoteRef<'a> {
    name: &'a str,
    dir: &'a Path,
    address: IpAddr,
    port: u16,
    client: &'a Host,
}

impl RemoteRef<'_> {
    fn host(&self) -> SshBuilder {
        Host::ssh(format!("root@{}", self.address))
            .name(self.name)
            .port(self.port)
            .identity(self.dir.join("user_key"))
            .known_hosts(self.dir.join("known_hosts"))
            .via(self.client.clone())
    }

    fn fresh_ssh(&self) -> std::process::Command {
        let mut ssh = self.client.command("ssh").expect("host `client` is up");
        ssh.arg("-i")
            .arg(self.dir.join("user_key"))
            .arg("-o")
            .arg(format!(
                "UserKnownHostsFile={}",
                self.dir.join("known_hosts").display()
            ))
            .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-p"])
            .arg(self.port.to_string())
            .arg(format!("root@{}", self.address));
        ssh
    }

    async fn processes_with(&self, marker: &str) -> Vec<String> {
        let mut ssh = self.fresh_ssh();
        // The brackets keep pgrep from matching its own shell.
        ssh.arg(format!(
            "pgrep -af '[{}]{}' || true",
            &marker[..1],
            &marker[1..]
        ));
        let output = tokio::process::Command::from(ssh)
            .output()
            .await
            .expect("ssh runs");
        assert!(
            output.status.success(),
            "a fresh ssh to the remote host `{}` works",
            self.name
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    async fn assert_nothing_left_with(&self, marker: &str, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = local_processes_with(marker);
            if left.is_empty() {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still running on the remote host `{}` after {within:?}: {left:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let left = self.processes_with(marker).await;
        assert!(
            left.is_empty(),
            "the remote host `{}` still runs {left:?}",
            self.name
        );
    }
}

/// The sshd binary, or `None` after a skip line; a panic when `CI` is set.
fn sshd_or_skip() -> Option<PathBuf> {
    match sshd_binary() {
        Ok(sshd) => Some(sshd),
        Err(missing) if std::env::var_os("CI").is_some() => {
            panic!("CI is set and the sshd tests cannot run here: {missing}")
        }
        Err(missing) => {
            eprintln!("skip: {missing}");
            None
        }
    }
}

/// Whether `text` has ssh's words for a connection the server's end closed: "closed by remote
/// host" after a FIN, "Connection reset by peer" when the killed session still had unread
/// bytes (a keepalive, say) and the kernel answered with a reset.
pub fn says_the_connection_ended(text: &str) -> bool {
    text.contains("closed by remote host") || text.contains("Connection reset by peer")
}

/// The command lines of this machine's processes (an [`Sshd`]'s remote host's too: it shares
/// the machine) holding `marker`, local `ssh` clients left out (they carry the remote command
/// line too).
pub fn local_processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(line) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let line = String::from_utf8_lossy(&line).replace('\0', " ");
        let local_client = line.starts_with("ssh ") || line.contains("testrig-ssh ");
        if line.contains(marker) && !local_client {
            found.push(line);
        }
    }
    found
}
