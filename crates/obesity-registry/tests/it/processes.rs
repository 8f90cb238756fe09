//! Several processes registering versions in one local store: numbers stay unique and
//! gap-free. The test re-executes its own binary, running only `child_registers_versions`.

use std::process::{Command, Stdio};

use obesity_registry::{CreateModelVersion, LocalStore, Store};

const STORE_ENV: &str = "OBESITY_REGISTRY_TEST_CHILD_STORE";
const RUN_ENV: &str = "OBESITY_REGISTRY_TEST_CHILD_RUN";
const PER_CHILD: u64 = 8;

/// The child's body: only does something when the parent set the env vars.
#[test]
fn child_registers_versions() {
    let (Ok(root), Ok(run_id)) = (std::env::var(STORE_ENV), std::env::var(RUN_ENV)) else {
        println!("not a child process ({STORE_ENV} unset): nothing to do");
        return;
    };
    let store = LocalStore::open(&root).expect("open");
    for _ in 0..PER_CHILD {
        store
            .create_model_version(&CreateModelVersion {
                name: "shared".into(),
                source: "s".into(),
                run_id: Some(run_id.clone()),
                ..CreateModelVersion::default()
            })
            .expect("version");
    }
}

#[test]
fn processes_register_gap_free_versions() {
    if std::env::var(STORE_ENV).is_ok() {
        return; // we are a child; do not recurse
    }
    let (_dir, _store, local) = crate::temp_store();
    let (_, run_id) = crate::conformance::new_run(&local, "procs");
    local
        .create_registered_model("shared", &[], None)
        .expect("model");
    let exe = std::env::current_exe().expect("current exe");
    let children = 4;
    let handles: Vec<_> = (0..children)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "processes::child_registers_versions",
                    "--exact",
                    "--test-threads=1",
                ])
                .env(STORE_ENV, local.root())
                .env(RUN_ENV, &run_id)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn child")
        })
        .collect();
    for h in handles {
        let out = h.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "child failed: {}\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The child really ran the registering test (not zero tests).
        assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
    }
    let versions: Vec<u64> = local
        .search_model_versions("shared")
        .expect("list")
        .iter()
        .map(|v| v.version)
        .collect();
    let expected: Vec<u64> = (1..=children * PER_CHILD).collect();
    assert_eq!(versions, expected);
}

const KILL_ENV: &str = "OBESITY_REGISTRY_TEST_KILL_STORE";

/// The child's body for the kill test: registers versions until it is killed.
#[test]
fn child_registers_until_killed() {
    let (Ok(root), Ok(run_id)) = (std::env::var(KILL_ENV), std::env::var(RUN_ENV)) else {
        println!("not a child process ({KILL_ENV} unset): nothing to do");
        return;
    };
    let store = LocalStore::open(&root).expect("open");
    for _ in 0..100_000 {
        store
            .create_model_version(&CreateModelVersion {
                name: "victim".into(),
                source: "s".into(),
                run_id: Some(run_id.clone()),
                tags: vec![obesity_registry::Tag::new("payload", "x".repeat(4096))],
                ..CreateModelVersion::default()
            })
            .expect("version");
    }
}

#[test]
fn a_process_killed_mid_registration_leaves_a_readable_gap_free_store() {
    if std::env::var(STORE_ENV).is_ok() || std::env::var(KILL_ENV).is_ok() {
        return;
    }
    let (_dir, _store, local) = crate::temp_store();
    let (_, run_id) = crate::conformance::new_run(&local, "kill");
    local
        .create_registered_model("victim", &[], None)
        .expect("model");
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(&exe)
        .args([
            "processes::child_registers_until_killed",
            "--exact",
            "--test-threads=1",
        ])
        .env(KILL_ENV, local.root())
        .env(RUN_ENV, &run_id)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    // Wait until the child has registered a few versions, then SIGKILL it mid-stream.
    let mut seen = 0;
    for _ in 0..2_000 {
        seen = local
            .search_model_versions("victim")
            .map(|v| v.len())
            .unwrap_or(0);
        if seen >= 5 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().expect("kill");
    child.wait().expect("reap");
    assert!(seen >= 5, "the child never registered anything");
    let versions: Vec<u64> = local
        .search_model_versions("victim")
        .expect("store still readable")
        .iter()
        .map(|v| v.version)
        .collect();
    let n = versions.len() as u64;
    assert_eq!(
        versions,
        (1..=n).collect::<Vec<_>>(),
        "gap-free after the kill"
    );
    for v in &versions {
        let mv = local
            .get_model_version("victim", *v)
            .expect("complete version");
        assert_eq!(
            mv.tags.get("payload").map(String::len),
            Some(4096),
            "v{v} is whole"
        );
    }
    // The lock died with the process: the next writer gets the next number.
    let next = local
        .create_model_version(&CreateModelVersion {
            name: "victim".into(),
            source: "s".into(),
            run_id: Some(run_id),
            ..CreateModelVersion::default()
        })
        .expect("register after the kill");
    assert_eq!(next.version, n + 1);
}
