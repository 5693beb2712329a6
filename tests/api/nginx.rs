//! nginx (Debian's, started by the tests) as a reverse proxy in front of greeter or as an
//! upstream greeter calls, and the folders and ports it needs.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `name` on `PATH` or in `/usr/sbin` (where Debian puts nginx).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A loopback port free when asked (the caller binds it soon after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A folder removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new, empty folder under the system's temporary folder, named after `label`.
    pub fn new(label: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let path = std::env::temp_dir().join(format!(
            "greeter-{label}-{}-{}",
            std::process::id(),
            nanos.as_nanos()
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An nginx master process with one worker, its files in a folder of its own, stopped when
/// dropped. Its access log (`access.log`) has one line per request:
/// `connection-serial tls-session-reused("r" or ".") status request`.
pub struct Nginx {
    child: Child,
    pub dir: TempDir,
}

impl Nginx {
    /// Starts `nginx` with `servers` (`server { ... }` blocks, and any other `http` directive)
    /// and waits until each of `ports` accepts connections.
    pub fn start(nginx: &Path, servers: &str, ports: &[u16]) -> Self {
        let dir = TempDir::new("nginx");
        let d = dir.0.display();
        let config = format!(
            "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  log_format tests '$connection $ssl_session_reused $status \"$request\"';\n\
               access_log {d}/access.log tests;\n  client_body_temp_path {d}/body;\n\
               proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
               uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n{servers}\n}}\n"
        );
        let config_path = dir.0.join("nginx.conf");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new(nginx)
            .arg("-c")
            .arg(&config_path)
            .arg("-p")
            .arg(&dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start nginx");
        let mut started = Self { child, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        for &port in ports {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Ok(Some(status)) = started.child.try_wait() {
                    panic!("nginx exited with {status}: {}", started.error_log());
                }
                assert!(
                    Instant::now() < deadline,
                    "nginx did not start listening on {port}: {}",
                    started.error_log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        started
    }

    /// The lines of the access log so far.
    pub fn access_log(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.0.join("access.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The lines of the access log once there are `at_least` (or after 5 s): nginx writes a
    /// line just after its answer, so it may come after the client has read the answer.
    pub fn access_log_of(&self, at_least: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.access_log().len() < at_least && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.access_log()
    }

    /// The error log so far.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its workers too.
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}
