//! Real mode: three node processes on 127.0.0.1 over TCP with on-disk stores.
//! `node devnet` starts them, checks that a leader produced blocks and that
//! the followers hold the same blocks, and kills every child it started.

use std::process::Command;

#[test]
fn a_real_three_node_cluster_produces_and_agrees() {
    // A port range per test process, so parallel CI jobs do not collide.
    let base_port = 20_000 + (std::process::id() % 2_000) * 8;
    let dir = std::env::temp_dir().join(format!("node-devnet-test-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_node"))
        .args(["devnet", "--nodes", "3", "--duration-s", "6"])
        .args(["--base-port", &base_port.to_string()])
        .args(["--dir", dir.to_str().expect("utf-8 temp dir")])
        .output()
        .expect("node devnet runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("PASS"), "{stdout}");
    std::fs::remove_dir_all(&dir).ok();
}
