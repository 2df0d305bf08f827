//! Malformed or meaningless scenarios get one clear error naming the file and
//! the field or line, and `sim run` exits 2, never panics.

use sim::scenario::Scenario;

const GOOD: &str = r#"
duration_s = 20
[cluster]
nodes = 3
"#;

fn error_of(text: &str) -> String {
    match Scenario::parse(text) {
        Ok(_) => panic!("scenario was accepted:\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn a_minimal_scenario_loads_with_defaults() {
    let s = Scenario::parse(GOOD).expect("valid");
    assert_eq!(s.cluster.nodes, 3);
    assert_eq!(s.node_names(), ["n1", "n2", "n3"]);
}

#[test]
fn unknown_key_is_named_with_its_line() {
    let e = error_of("duration_s = 20\n[cluster]\nnodez = 3\n");
    assert!(e.contains("nodez"), "{e}");
    assert!(e.contains("line 3"), "{e}");
}

#[test]
fn wrong_type_is_named_with_its_line() {
    let e = error_of("duration_s = \"long\"\n");
    assert!(e.contains("line 1"), "{e}");
    assert!(
        e.contains("duration_s") || e.contains("invalid type"),
        "{e}"
    );
}

#[test]
fn zero_or_negative_durations_are_refused() {
    assert!(error_of("duration_s = 0\n").contains("duration_s"));
    assert!(error_of("duration_s = -5\n").contains("duration_s"));
    let e = error_of("duration_s = 20\n[cluster]\nblock_time_ms = 0\n");
    assert!(e.contains("cluster.block_time_ms"), "{e}");
    let e = error_of("duration_s = 20\n[[fault]]\nat_s = -1\nkind = \"crash\"\nnode = \"n1\"\n");
    assert!(e.contains("fault[0].at_s"), "{e}");
}

#[test]
fn unknown_node_is_named() {
    let e = error_of("duration_s = 30\n[[fault]]\nat_s = 5\nkind = \"crash\"\nnode = \"n7\"\n");
    assert!(e.contains("fault[0].node") && e.contains("n7"), "{e}");
}

#[test]
fn fault_after_the_end_is_refused() {
    let e = error_of("duration_s = 10\n[[fault]]\nat_s = 12\nkind = \"crash\"\nnode = \"n1\"\n");
    assert!(
        e.contains("fault[0].at_s") && e.contains("end of the run"),
        "{e}"
    );
}

#[test]
fn no_room_for_the_liveness_phase_is_refused() {
    let e = error_of(
        "duration_s = 10\ngrace_s = 8\n[[fault]]\nat_s = 5\nkind = \"crash\"\nnode = \"n1\"\n",
    );
    assert!(e.contains("liveness"), "{e}");
}

#[test]
fn unknown_bug_switch_is_refused_with_the_known_ones() {
    let e = error_of("duration_s = 20\nbugs = [\"height2-deadlock\"]\n");
    assert!(
        e.contains("height2-deadlock") && e.contains("height1-deadlock"),
        "{e}"
    );
    let e = error_of("duration_s = 20\n[expect]\nwith_bug = { nope = \"pass\" }\n");
    assert!(e.contains("expect.with_bug"), "{e}");
}

#[test]
fn unknown_fault_kind_is_refused() {
    let e = error_of("duration_s = 20\n[[fault]]\nat_s = 1\nkind = \"meteor\"\n");
    assert!(e.contains("meteor"), "{e}");
}

#[test]
fn bad_ranges_are_refused() {
    let e = error_of("duration_s = 20\n[network]\nlatency_ms = [9, 3]\n");
    assert!(e.contains("network.latency_ms"), "{e}");
    let e = error_of("duration_s = 20\n[network]\nloss = 1.5\n");
    assert!(e.contains("network.loss"), "{e}");
    let e = error_of("duration_s = 20\n[cluster]\nelection_timeout_ms = 500\n");
    assert!(
        e.contains("cluster.election_timeout_ms") && e.contains("cluster.heartbeat_timeout_ms"),
        "{e}"
    );
}

/// `[cluster]` with these lines.
fn cluster(lines: &str) -> String {
    format!("duration_s = 20\n[cluster]\n{lines}")
}

#[test]
fn the_raft_timings_default_to_the_go_e2e_values_and_load_by_their_go_names() {
    let c = Scenario::parse(GOOD).expect("valid").cluster;
    assert_eq!(
        (
            c.heartbeat_timeout_ms,
            c.election_timeout_ms,
            c.leader_lease_timeout_ms,
            c.send_timeout_ms,
            c.snapshot_threshold,
            c.trailing_logs,
            c.block_time_ms,
        ),
        (1000, 1000, 500, 100, 500, 200, 100)
    );
    let c = Scenario::parse(&cluster(
        "heartbeat_timeout_ms = 350\nelection_timeout_ms = 1000\nleader_lease_timeout_ms = 175\n\
         send_timeout_ms = 200\nsnapshot_threshold = 50\ntrailing_logs = 20\n",
    ))
    .expect("the Go defaults are valid")
    .cluster;
    assert_eq!(
        (
            c.heartbeat_timeout_ms,
            c.election_timeout_ms,
            c.leader_lease_timeout_ms,
            c.snapshot_threshold,
            c.trailing_logs
        ),
        (350, 1000, 175, 50, 20)
    );
    // Equal timeouts are allowed (lease <= heartbeat <= election).
    Scenario::parse(&cluster(
        "heartbeat_timeout_ms = 500\nelection_timeout_ms = 500\nleader_lease_timeout_ms = 500\n",
    ))
    .expect("equal timeouts are valid");
}

#[test]
fn a_retired_timing_key_names_the_key_that_replaced_it() {
    let e = error_of(&cluster("raft_heartbeat_ms = 100\n"));
    assert!(
        e.contains("cluster.raft_heartbeat_ms")
            && e.contains("heartbeat_timeout_ms")
            && e.contains("line 3"),
        "{e}"
    );
    let e = error_of(&cluster("election_timeout_ms = [1000, 2000]\n"));
    assert!(
        e.contains("cluster.election_timeout_ms")
            && e.contains("heartbeat_timeout_ms = 1000")
            && e.contains("line 3"),
        "{e}"
    );
}

#[test]
fn a_timing_of_the_wrong_type_is_named_with_its_line() {
    for (line, field) in [
        ("heartbeat_timeout_ms = \"fast\"\n", "heartbeat_timeout_ms"),
        ("election_timeout_ms = \"x\"\n", "election_timeout_ms"),
        ("election_timeout_ms = -5\n", "election_timeout_ms"),
        ("leader_lease_timeout_ms = 1.5\n", "leader_lease_timeout_ms"),
        ("snapshot_threshold = -1\n", "snapshot_threshold"),
        ("trailing_logs = true\n", "trailing_logs"),
    ] {
        let e = error_of(&cluster(line));
        assert!(e.contains("line 3") && e.contains(field), "{line}: {e}");
    }
}

/// hashicorp/raft `ValidateConfig`: HeartbeatTimeout, ElectionTimeout and
/// LeaderLeaseTimeout at least 5 ms, lease <= heartbeat <= election; and
/// what the node and ev-node need besides.
#[test]
fn invalid_timing_relations_are_refused_naming_the_fields() {
    for (lines, names) in [
        (
            "heartbeat_timeout_ms = 4\nleader_lease_timeout_ms = 4\n",
            &["cluster.heartbeat_timeout_ms", "HeartbeatTimeout", "5 ms"][..],
        ),
        (
            "election_timeout_ms = 4\n",
            &["cluster.election_timeout_ms", "ElectionTimeout"][..],
        ),
        (
            "leader_lease_timeout_ms = 3\n",
            &["cluster.leader_lease_timeout_ms", "LeaderLeaseTimeout"][..],
        ),
        (
            "heartbeat_timeout_ms = 1000\nleader_lease_timeout_ms = 1001\n",
            &[
                "cluster.leader_lease_timeout_ms = 1001",
                "cluster.heartbeat_timeout_ms = 1000",
            ][..],
        ),
        (
            "heartbeat_timeout_ms = 1500\nelection_timeout_ms = 1000\n",
            &[
                "cluster.election_timeout_ms = 1000",
                "cluster.heartbeat_timeout_ms = 1500",
            ][..],
        ),
        (
            "heartbeat_timeout_ms = 8\nleader_lease_timeout_ms = 5\n",
            &["cluster.heartbeat_timeout_ms = 8", "tenth"][..],
        ),
        (
            "snapshot_threshold = 0\n",
            &["cluster.snapshot_threshold"][..],
        ),
        ("trailing_logs = 0\n", &["cluster.trailing_logs"][..]),
        (
            "snapshot_interval_ms = 0\n",
            &["cluster.snapshot_interval_ms"][..],
        ),
        ("send_timeout_ms = 0\n", &["cluster.send_timeout_ms"][..]),
    ] {
        let e = error_of(&cluster(lines));
        for name in names {
            assert!(e.contains(name), "{lines}: `{name}` not in: {e}");
        }
    }
}

/// One timed fault of `kind` with these field lines, in a 3-node run of 20 s.
fn fault(at_s: f64, kind: &str, lines: &str) -> String {
    format!("duration_s = 20\n[[fault]]\nat_s = {at_s}\nkind = \"{kind}\"\n{lines}")
}

#[test]
fn stop_and_all_load_where_they_belong() {
    for kind in ["crash", "stop", "restart"] {
        let s = Scenario::parse(&fault(5.0, kind, "node = \"all\"\n"))
            .unwrap_or_else(|e| panic!("{kind} all: {e}"));
        assert_eq!(s.faults.len(), 1);
    }
    Scenario::parse(&fault(5.0, "stop", "node = \"leader\"\nfor_s = 2\n")).expect("stop undoes");
    Scenario::parse(&fault(5.0, "restart", "node = \"stopped\"\n")).expect("stopped names");
}

#[test]
fn a_stop_of_an_unknown_node_or_past_the_end_is_refused() {
    let e = error_of(&fault(5.0, "stop", "node = \"n7\"\n"));
    assert!(
        e.contains("fault[0].node") && e.contains("n7") && e.contains("`all`"),
        "{e}"
    );
    let e = error_of(&fault(25.0, "stop", "node = \"n1\"\n"));
    assert!(
        e.contains("fault[0].at_s") && e.contains("end of the run"),
        "{e}"
    );
    let e = error_of(&fault(5.0, "stop", ""));
    assert!(e.contains("node") && e.contains("line"), "{e}");
    let e = error_of(&fault(5.0, "stop", "node = 3\n"));
    assert!(e.contains("line") && e.contains("invalid type"), "{e}");
}

#[test]
fn all_is_refused_where_a_fault_does_not_act_on_every_node() {
    for (kind, lines, field) in [
        ("fresh_start", "node = \"all\"\n", "fault[0].node"),
        ("partition", "a = [\"all\"]\nb = [\"n1\"]\n", "fault[0].a"),
        (
            "partition_oneway",
            "from = [\"n1\"]\nto = [\"all\"]\n",
            "fault[0].to",
        ),
        (
            "link_latency",
            "a = \"all\"\nb = \"n2\"\nlatency_ms = 30\n",
            "fault[0].a",
        ),
        (
            "delay_connect",
            "node = \"n1\"\npeer = \"all\"\ndelay_ms = 300\n",
            "fault[0].peer",
        ),
    ] {
        let e = error_of(&fault(5.0, kind, lines));
        assert!(
            e.contains(field) && e.contains("`all`") && e.contains(kind),
            "{kind}: {e}"
        );
    }
    // A triggered crash of `all` is fine; `event` stays a triggered fault's.
    Scenario::parse(
        "duration_s = 40\n[[fault]]\nkind = \"crash\"\nnode = \"all\"\non = \"became_leader\"\nbefore_s = 10\nfor_s = 2\n",
    )
    .expect("valid");
}

#[test]
fn a_missing_file_names_the_file() {
    let e = Scenario::load(std::path::Path::new("no/such/file.toml")).unwrap_err();
    assert!(
        e.to_string().starts_with("no/such/file.toml: cannot read"),
        "{e}"
    );
}

/// A triggered fault: `kind`, then the lines given (`on`, window, ...).
fn triggered(lines: &str) -> String {
    format!("duration_s = 40\n[[fault]]\nkind = \"crash\"\nnode = \"event\"\n{lines}")
}

#[test]
fn a_triggered_fault_loads() {
    let s = Scenario::parse(&triggered(
        "on = \"became_candidate\"\non_node = \"n2\"\noccurrence = 2\nafter_s = 5\nbefore_s = 20\nfor_s = 2\n",
    ))
    .expect("valid");
    let t = s.faults[0].on.as_ref().unwrap();
    assert_eq!((t.occurrence, t.after_s, t.before_s), (2, 5.0, 20.0));
    // The liveness phase opens after before_s + for_s + grace_s.
    assert_eq!(s.liveness_from_s(), 20.0 + 2.0 + 8.0);
}

#[test]
fn an_unknown_trigger_is_refused_with_the_known_ones() {
    let e = error_of(&triggered("on = \"became_king\"\nbefore_s = 20\n"));
    assert!(
        e.contains("became_king") && e.contains("became_candidate") && e.contains("line"),
        "{e}"
    );
}

#[test]
fn event_is_only_a_node_of_a_triggered_fault() {
    let e = error_of("duration_s = 20\n[[fault]]\nat_s = 5\nkind = \"crash\"\nnode = \"event\"\n");
    assert!(e.contains("fault[0].node") && e.contains("`event`"), "{e}");
}

#[test]
fn occurrence_zero_is_refused() {
    let e = error_of(&triggered(
        "on = \"granted_vote\"\noccurrence = 0\nbefore_s = 20\n",
    ));
    assert!(e.contains("fault[0].occurrence"), "{e}");
}

#[test]
fn a_trigger_window_must_close_before_the_end_and_after_it_opens() {
    let e = error_of(&triggered("on = \"sync_started\"\nbefore_s = 45\n"));
    assert!(
        e.contains("fault[0].before_s") && e.contains("end of the run"),
        "{e}"
    );
    let e = error_of(&triggered(
        "on = \"sync_started\"\nafter_s = 10\nbefore_s = 10\n",
    ));
    assert!(
        e.contains("fault[0].before_s") && e.contains("after_s"),
        "{e}"
    );
    let e = error_of(&triggered("on = \"sync_started\"\n"));
    assert!(e.contains("before_s"), "{e}");
}

#[test]
fn a_fault_fires_at_a_time_or_on_an_event_not_both_nor_neither() {
    let e = error_of(&triggered(
        "at_s = 5\non = \"first_append\"\nbefore_s = 20\n",
    ));
    assert!(
        e.contains("at_s") && e.contains("on") && e.contains("both"),
        "{e}"
    );
    let e = error_of(&triggered(""));
    assert!(e.contains("at_s") && e.contains("on"), "{e}");
    let e = error_of("duration_s = 20\n[[fault]]\nat_s = 5\nkind = \"heal\"\nbefore_s = 9\n");
    assert!(e.contains("before_s") && e.contains("on"), "{e}");
}

#[test]
fn a_bad_trigger_node_or_for_s_is_refused() {
    let e = error_of(&triggered(
        "on = \"became_leader\"\non_node = \"n7\"\nbefore_s = 20\n",
    ));
    assert!(e.contains("fault[0].on_node") && e.contains("n7"), "{e}");
    let e = error_of(
        "duration_s = 20\n[[fault]]\nat_s = 5\nkind = \"restart\"\nnode = \"n1\"\nfor_s = 2\n",
    );
    assert!(e.contains("fault[0].for_s"), "{e}");
    let e = error_of(&triggered(
        "on = \"became_leader\"\nbefore_s = 30\nfor_s = 5\n",
    ));
    assert!(e.contains("liveness"), "{e}");
}

#[test]
fn a_one_way_partition_is_checked_like_a_partition() {
    let ok = "duration_s = 20\n[[fault]]\nat_s = 5\nkind = \"partition_oneway\"\nfrom = [\"leader\"]\nto = [\"n1\", \"n2\", \"n3\"]\n";
    Scenario::parse(ok).expect("valid");
    let e = error_of("duration_s = 20\n[[fault]]\nat_s = 5\nkind = \"partition_oneway\"\nfrom = [\"n1\"]\nto = []\n");
    assert!(e.contains("fault[0]") && e.contains("both"), "{e}");
    let e = error_of("duration_s = 20\n[[fault]]\nat_s = 5\nkind = \"partition_oneway\"\nfrom = [\"n1\"]\nto = [\"n8\"]\n");
    assert!(e.contains("fault[0].to") && e.contains("n8"), "{e}");
}

#[test]
fn a_partition_names_a_plane_or_none() {
    let part = |plane: &str| {
        format!("duration_s = 20\n[[fault]]\nat_s = 5\nkind = \"partition\"\na = [\"n1\"]\nb = [\"n2\"]\n{plane}")
    };
    for plane in [
        "",
        "plane = \"raft\"\n",
        "plane = \"p2p\"\n",
        "plane = \"both\"\n",
    ] {
        Scenario::parse(&part(plane)).unwrap_or_else(|e| panic!("{plane}: {e}"));
    }
    let e = error_of(&part("plane = \"disk\"\n"));
    assert!(
        e.contains("fault[0].plane") && e.contains("`disk`") && e.contains("\"p2p\""),
        "{e}"
    );
    let e = error_of(&part("plane = 2\n"));
    assert!(e.contains("plane") || e.contains("line"), "{e}");
}

#[cfg(feature = "sim")]
mod cli {
    use std::process::Command;

    fn sim(args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_sim"))
            .args(args)
            .output()
            .expect("sim runs")
    }

    #[test]
    fn bad_scenario_file_exits_2_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("sim-bad-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bad.toml");
        std::fs::write(
            &file,
            "duration_s = 20\n[[fault]]\nat_s = 5\nkind = \"crash\"\nnode = \"n9\"\n",
        )
        .unwrap();
        let out = sim(&["run", file.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("bad.toml") && stderr.contains("fault[0].node"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn bad_trigger_exits_2_naming_the_file_and_field() {
        let dir = std::env::temp_dir().join(format!("sim-bad-trigger-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("trigger.toml");
        std::fs::write(
            &file,
            "duration_s = 30\n[[fault]]\nkind = \"crash\"\nnode = \"event\"\non = \"became_candidate\"\noccurrence = 0\nbefore_s = 9\n",
        )
        .unwrap();
        let out = sim(&["run", file.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("trigger.toml") && stderr.contains("fault[0].occurrence"),
            "{stderr}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    /// Writes `text` to a scenario file, runs it, and returns its stderr
    /// after checking it exits 2 naming the file.
    fn refused(name: &str, text: &str) -> String {
        let dir = std::env::temp_dir().join(format!("sim-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, text).unwrap();
        let out = sim(&["run", file.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(&format!("{name}.toml")), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        std::fs::remove_dir_all(&dir).ok();
        stderr
    }

    #[test]
    fn old_timing_keys_and_bad_timings_exit_2_naming_the_file_and_field() {
        let e = refused(
            "old-keys",
            "duration_s = 20\n[cluster]\nraft_heartbeat_ms = 100\nelection_timeout_ms = [1000, 2000]\n",
        );
        assert!(
            e.contains("cluster.raft_heartbeat_ms") && e.contains("heartbeat_timeout_ms"),
            "{e}"
        );
        let e = refused(
            "lease",
            "duration_s = 20\n[cluster]\nheartbeat_timeout_ms = 300\nleader_lease_timeout_ms = 400\n",
        );
        assert!(e.contains("cluster.leader_lease_timeout_ms"), "{e}");
        let e = refused(
            "all-fresh",
            "duration_s = 20\n[[fault]]\nat_s = 5\nkind = \"fresh_start\"\nnode = \"all\"\n",
        );
        assert!(e.contains("fault[0].node") && e.contains("`all`"), "{e}");
        let e = refused(
            "stop-n9",
            "duration_s = 20\n[[fault]]\nat_s = 5\nkind = \"stop\"\nnode = \"n9\"\n",
        );
        assert!(e.contains("fault[0].node") && e.contains("n9"), "{e}");
    }

    /// A DA fault needs the DA layer: one error naming the file and the
    /// fault's field, exit 2; its durations and latencies must be positive.
    #[test]
    fn a_da_fault_without_the_da_or_with_bad_durations_exits_2() {
        let e = refused(
            "da-off",
            "duration_s = 30\n[da]\nenabled = false\n[[fault]]\nat_s = 5\nkind = \"da_outage\"\nfor_s = 4\n",
        );
        assert!(
            e.contains("fault[0].kind = \"da_outage\"") && e.contains("[da] enabled = false"),
            "{e}"
        );
        assert_eq!(e.matches("error").count(), 1, "one error: {e}");
        let e = refused(
            "da-swarm-off",
            "duration_s = 30\n[da]\nenabled = false\n[swarm]\nfault_kinds = [\"crash\", \"da_slow\"]\n",
        );
        assert!(e.contains("swarm.fault_kinds: `da_slow`"), "{e}");
        let e = refused(
            "da-for-zero",
            "duration_s = 30\n[[fault]]\nat_s = 5\nkind = \"da_outage\"\nfor_s = 0\n",
        );
        assert!(e.contains("fault[0].for_s"), "{e}");
        let e = refused(
            "da-for-negative",
            "duration_s = 30\n[[fault]]\nat_s = 5\nkind = \"da_slow\"\nlatency_ms = 100\nfor_s = -2\n",
        );
        assert!(e.contains("fault[0].for_s"), "{e}");
        let e = refused(
            "da-no-for",
            "duration_s = 30\n[[fault]]\nat_s = 5\nkind = \"da_slow\"\nlatency_ms = 100\n",
        );
        assert!(e.contains("fault[0].for_s is missing"), "{e}");
        let e = refused(
            "da-zero-latency",
            "duration_s = 30\n[[fault]]\nat_s = 5\nkind = \"da_slow\"\nlatency_ms = 0\nfor_s = 2\n",
        );
        assert!(e.contains("fault[0].latency_ms"), "{e}");
        let e = refused(
            "da-negative-inclusion",
            "duration_s = 30\n[[fault]]\nat_s = 5\nkind = \"da_slow\"\ninclusion_ms = -300\nfor_s = 2\n",
        );
        assert!(
            e.contains("fault[0].inclusion_ms = -300 must be greater than 0"),
            "{e}"
        );
        let e = refused(
            "da-bad-mode",
            "duration_s = 30\n[[fault]]\nat_s = 5\nkind = \"da_outage\"\nmode = \"sleepy\"\nfor_s = 2\n",
        );
        assert!(e.contains("sleepy") && e.contains("unresponsive"), "{e}");
    }

    #[test]
    fn unknown_bug_flag_and_usage_errors_exit_2() {
        let out = sim(&[
            "run",
            "../scenarios/fresh_start_height1.toml",
            "--bug",
            "nope",
        ]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("unknown bug switch `nope`"));
        assert_eq!(sim(&["run"]).status.code(), Some(2));
        assert_eq!(
            sim(&["run", "x.toml", "--seed", "-3"]).status.code(),
            Some(2)
        );
        assert_eq!(sim(&["frobnicate"]).status.code(), Some(2));
    }

    #[test]
    fn bugs_lists_the_switches() {
        let out = sim(&["bugs"]);
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stdout).contains("height1-deadlock"));
    }

    #[test]
    fn a_bad_workload_exits_2_naming_the_file_and_field() {
        let e = refused(
            "unknown",
            "duration_s = 30\n[workload]\nrate_per_s = 2\nburst = 3\n",
        );
        assert!(e.contains("unknown field `burst`"), "{e}");
        let e = refused("negative", "duration_s = 30\n[workload]\nrate_per_s = -1\n");
        assert!(e.contains("workload.rate_per_s = -1"), "{e}");
        let e = refused("zero", "duration_s = 30\n[workload]\nrate_per_s = 0\n");
        assert!(e.contains("workload.rate_per_s = 0"), "{e}");
        assert_eq!(e.matches("error").count(), 1, "one error: {e}");
        let e = refused(
            "swarm-rate",
            "duration_s = 30\n[swarm]\ntx_rate_per_s = [-1, 5]\n",
        );
        assert!(e.contains("swarm.tx_rate_per_s"), "{e}");
    }
}
