//! `redflag run --cluster df://...` against a scheduler and an executor started as separate
//! `redflag cluster` processes on loopback: outputs byte-identical to a local run, the forest
//! scored on the cluster. Built only with the `distributed` feature (`.ci/run` runs it).

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{ok, redflag, sample, test_home};

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A `redflag cluster` process, stopped when the test ends however it ends.
struct Process(Child);

impl Process {
    fn start(args: &[&str]) -> Process {
        let child = Command::new(env!("CARGO_BIN_EXE_redflag"))
            .args(args)
            .env("REDFLAG_HOME", test_home())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redflag cluster");
        Process(child)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something accepts connections on `port`.
fn wait_for(port: u16) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "nothing listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn run(out: &Path, extra: &[&str]) -> String {
    let root = sample("population");
    let out = out.display().to_string();
    let mut args = vec![
        "run".to_owned(),
        format!("{root}/transactions.csv.gz"),
        "--rates".into(),
        format!("{root}/rates.csv"),
        "--reference-dir".into(),
        format!("{root}/reference"),
        "--out".into(),
        out,
        "--seed".into(),
        "3".into(),
        "--no-progress".into(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&redflag(&args))
}

#[test]
fn a_run_on_redflag_cluster_processes_gives_the_local_outputs_byte_for_byte() {
    let (scheduler, flight, grpc) = (free_port(), free_port(), free_port());
    let bind = format!("127.0.0.1:{scheduler}");
    let _scheduler = Process::start(&[
        "cluster",
        "scheduler",
        "--bind",
        &bind,
        "--external-host",
        "127.0.0.1",
    ]);
    wait_for(scheduler);
    let work = tempfile::tempdir().expect("tmp");
    let (flight, grpc) = (flight.to_string(), grpc.to_string());
    let _executor = Process::start(&[
        "cluster",
        "executor",
        "--scheduler",
        &bind,
        "--bind",
        "127.0.0.1",
        "--external-host",
        "127.0.0.1",
        "--port",
        &flight,
        "--grpc-port",
        &grpc,
        "--concurrency",
        "2",
        "--work-dir",
        &work.path().display().to_string(),
    ]);
    wait_for(flight.parse().expect("port"));

    let dir = tempfile::tempdir().expect("tmp");
    let (local, remote) = (dir.path().join("local"), dir.path().join("remote"));
    run(&local, &[]);
    let url = format!("df://127.0.0.1:{scheduler}");
    run(&remote, &["--cluster", &url]);

    for name in ["alerts.jsonl", "scores.csv", "alerts.csv", "alerts.parquet"] {
        let read = |d: &Path| std::fs::read(d.join(name)).expect(name);
        assert!(
            read(&local) == read(&remote),
            "{name} differs between the local and the cluster run"
        );
    }
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(remote.join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["config"]["cluster"], url.as_str());
    assert_eq!(manifest["config"]["cluster_forest"], "cluster");
}
