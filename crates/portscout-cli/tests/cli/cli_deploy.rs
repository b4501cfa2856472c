//! The Kubernetes manifests in `deploy/kubernetes/` (issue 19): they pass `yamllint` with its
//! default rules (`-s`: warnings fail too), and the image they pull is the tag the deploy
//! README builds and pushes, the crate's version. (Their container scripts are run in a
//! namespace by `tests/netns/namespace_deploy.rs`.)

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/kubernetes")
}

fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy_dir())
        .expect("deploy/kubernetes")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    files
}

#[test]
fn the_kubernetes_manifests_pass_yamllint() {
    if !support::require_tool("yamllint", "yamllint") {
        return;
    }
    let out = Command::new("yamllint")
        .arg("-s")
        .args(manifests())
        .output()
        .expect("yamllint");
    assert!(
        out.status.success(),
        "yamllint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The tag after `portscout:` in every `image:` of the manifests and every `docker build`/`docker
/// push` line of the deploy README.
#[test]
fn the_image_tag_is_the_crate_version_everywhere() {
    let version = env!("CARGO_PKG_VERSION");
    let tag_of = |line: &str| -> Option<String> {
        let at = line.find("/portscout:")? + "/portscout:".len();
        Some(
            line[at..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect(),
        )
    };
    let mut seen = 0;
    for file in manifests() {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text
            .lines()
            .filter(|l| l.trim_start().starts_with("image:"))
        {
            assert_eq!(
                tag_of(line).as_deref(),
                Some(version),
                "{}: {line}",
                file.display()
            );
            seen += 1;
        }
    }
    let readme = std::fs::read_to_string(deploy_dir().join("README.md")).unwrap();
    for line in readme.lines().filter(|l| l.starts_with("docker ")) {
        assert_eq!(tag_of(line).as_deref(), Some(version), "README: {line}");
        seen += 1;
    }
    assert_eq!(seen, 4, "two images, docker build and docker push");
}
