//! The container scripts of the Kubernetes manifests (`deploy/kubernetes/`), taken from the
//! YAML as they are, run as the pods would run them: each shard Job pod's script with its
//! `JOB_COMPLETION_INDEX`, then the merge Job's script, with `/results` a temporary directory
//! and targets on the loopback of a namespace made for the test (with listeners it holds).
//! The merged shards equal one full scan of the same targets and ports.
//!
//! Needs root (a namespace); skips with a message otherwise, fails under CI.

use std::path::Path;

use crate::support::{require_root, Netns, TempDir, BIN};

/// The `args:` block script (`- |`) of the manifest's only container.
fn script_of(manifest: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/kubernetes")
        .join(manifest);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines().skip_while(|l| l.trim() != "args:");
    lines.next().expect("args:");
    let start = lines.next().expect("- |");
    assert_eq!(start.trim(), "- |", "{manifest}");
    let indent = start.find('-').unwrap() + 2;
    let script: Vec<&str> = lines
        .take_while(|l| l.trim().is_empty() || l.len() > indent && l[..indent].trim().is_empty())
        .map(|l| if l.len() > indent { &l[indent..] } else { "" })
        .collect();
    assert!(script.len() > 3, "{manifest}: {script:?}");
    script.join("\n") + "\n"
}

/// Run `script` in `ns` with `portscout` on the PATH and `env`; panics unless it exits 0.
fn run(ns: &Netns, dir: &TempDir, script: &str, env: &[(&str, String)]) -> String {
    let script = script.replace("/results", &dir.file("results"));
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let mut cmd = ns.exec(["sh", "-c", &script]);
    cmd.env("PATH", path)
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script}\nexit {:?}: {stderr}",
        out.status
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_kubernetes_jobs_scripts_merge_to_one_full_scan() {
    if !require_root() {
        return;
    }
    let ns = Netns::new("deploy");
    let _listeners = ns.listen("127.0.0.1", &[22, 80, 443, 8080]);
    let dir = TempDir::new("deploy");
    let env = |i: usize| {
        vec![
            ("SHARDS", "3".to_owned()),
            ("SEED", "20261203".to_owned()),
            ("TARGETS", "127.0.0.1 127.0.0.2".to_owned()),
            ("PORTS", "1-1024,8080".to_owned()),
            ("SCAN", "scan-1".to_owned()),
            ("JOB_COMPLETION_INDEX", i.to_string()),
        ]
    };
    let shard = script_of("portscout-shards.yaml");
    for i in 0..3 {
        run(&ns, &dir, &shard, &env(i));
    }
    let shown = run(&ns, &dir, &script_of("portscout-merge.yaml"), &env(0));
    for port in ["22/tcp", "80/tcp", "443/tcp", "8080/tcp"] {
        assert!(
            shown.contains(port),
            "merge Job's log lacks {port}:\n{shown}"
        );
    }

    // One full scan of the same targets and ports, as one would run it without Kubernetes.
    let full = dir.file("full.ndjson");
    let args = [
        "127.0.0.1",
        "127.0.0.2",
        "-p",
        "1-1024,8080",
        "--format",
        "ndjson",
        "--show",
        "all",
        "-o",
        &full,
    ];
    ns.scan(&args).assert_success();
    let grep = |file: &str| {
        let out = ns
            .exec([BIN, "merge", file, "--format", "grep", "--show", "all"])
            .output()
            .expect("portscout merge");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let merged = dir.file("results/scan-1/merged.ndjson");
    assert_eq!(grep(&merged), grep(&full), "merged pods != one full scan");
}
