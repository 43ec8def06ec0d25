//! Unit tests of the secret sinks: parsing, the pre-flight check, atomic private files,
//! and the exec: contract (stdin only, environment, exit status, timeout).
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;

use super::*;

const SECRET: &str = "cfut_unit0test0secret0value0000000000000000";

fn user() -> Owner {
    Owner::User { id: None }
}

fn delivery<'a>(owner: &'a Owner) -> Delivery<'a> {
    Delivery {
        token_id: "70c1000000000000000000000000000a",
        token_name: "my token",
        owner,
        op: Op::Roll,
        replaces: None,
    }
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn specs_parse_or_name_what_is_wrong() {
    assert_eq!(
        SecretSink::parse("file:/tmp/x", secs(60)).unwrap(),
        SecretSink::File("/tmp/x".into())
    );
    assert_eq!(
        SecretSink::parse("stdout", secs(60)).unwrap(),
        SecretSink::Stdout
    );
    assert!(matches!(
        SecretSink::parse("exec:vault kv put a value=-", secs(5)).unwrap(),
        SecretSink::Exec { timeout, .. } if timeout == secs(5)
    ));
    for bad in ["file:", "exec:  ", "STDOUT", "s3:bucket", ""] {
        let e = SecretSink::parse(bad, secs(60)).unwrap_err().to_string();
        assert!(
            e.contains("--secret-sink") && e.contains("file:DIR"),
            "{bad}: {e}"
        );
    }
    assert!(SecretSink::parse("exec:true", secs(0)).is_err());
}

/// Issue 12: `--sink-timeout 18446744073709551615` overflowed the deadline arithmetic and
/// panicked after the roll. A timeout beyond the bound is refused when parsed; the bound
/// itself is accepted.
#[test]
fn an_exec_timeout_beyond_the_bound_is_refused_when_parsed() {
    for too_long in [MAX_EXEC_TIMEOUT_SECS + 1, u64::MAX] {
        let e = SecretSink::parse("exec:true", secs(too_long)).unwrap_err();
        assert!(e.to_string().contains("at most 3600 seconds"), "{e}");
    }
    assert!(SecretSink::parse("exec:true", secs(MAX_EXEC_TIMEOUT_SECS)).is_ok());
}

#[test]
fn the_exec_command_is_never_described() {
    let s = SecretSink::parse("exec:vault login s.hunter2 && vault kv put", secs(60)).unwrap();
    assert!(!s.describe("t").contains("hunter2"));
}

#[test]
fn file_sink_writes_atomically_a_private_file_in_a_private_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a/b");
    let sink = SecretSink::File(dir.clone());
    sink.check().unwrap();
    assert_eq!(mode(&dir), 0o700, "created 0700");
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 0, "the probe is gone");
    let owner = user();
    let to = sink
        .deliver(&delivery(&owner), &Secret::new(SECRET))
        .unwrap();
    let path = dir.join("70c1000000000000000000000000000a.secret");
    assert_eq!(to, path.display().to_string());
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        SECRET,
        "exactly the secret"
    );
    assert_eq!(mode(&path), 0o600);
    // A second delivery replaces the file whole, even one that was readable by others.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    sink.deliver(&delivery(&owner), &Secret::new("cfut_second"))
        .unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "cfut_second");
    assert_eq!(mode(&path), 0o600);
    let names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec!["70c1000000000000000000000000000a.secret"],
        "no temp file left behind"
    );
}

#[test]
fn file_sink_check_fails_on_a_path_that_cannot_be_a_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("plain");
    fs::write(&file, "x").unwrap();
    let e = SecretSink::File(file.join("sub")).check().unwrap_err();
    assert!(e.to_string().contains("plain"), "{e}");
    let ro = tmp.path().join("ro");
    fs::create_dir(&ro).unwrap();
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o500)).unwrap();
    let writable_anyway = fs::write(ro.join("t"), "x").is_ok(); // running as root
    if !writable_anyway {
        assert!(SecretSink::File(ro.clone()).check().is_err());
    }
}

#[test]
fn escrow_is_a_private_file_in_the_given_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
        .unwrap()
        .to_utc();
    let path = escrow(
        tmp.path(),
        "70c9000000000000000000000000000a",
        &Secret::new(SECRET),
        now,
    )
    .unwrap();
    assert_eq!(path.parent().unwrap(), tmp.path());
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    // Stamped by the run's clock, not the machine's (issue 10).
    assert!(
        name.starts_with("tokenwarden-escrow-70c9000000000000000000000000000a-20261122T100000Z-")
            && name.ends_with(".secret"),
        "{name}"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), SECRET);
    assert_eq!(mode(&path), 0o600);
    // A second escrow at the same instant (a fixed --now) keeps both secrets.
    let again = escrow(
        tmp.path(),
        "70c9000000000000000000000000000a",
        &Secret::new("other"),
        now,
    )
    .unwrap();
    assert_ne!(again, path);
    assert_eq!(fs::read_to_string(&path).unwrap(), SECRET);
}

#[test]
fn exec_sink_gets_the_secret_on_stdin_only_with_the_token_in_its_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("stdin");
    let env = tmp.path().join("env");
    let args = tmp.path().join("args");
    let cmd = format!(
        "cat > {}; env > {}; echo \"$0 $*\" > {}",
        out.display(),
        env.display(),
        args.display()
    );
    let sink = SecretSink::parse(&format!("exec:{cmd}"), secs(20)).unwrap();
    sink.check().unwrap();
    let owner = Owner::Account {
        id: "acc9".into(),
        name: None,
    };
    let mut d = delivery(&owner);
    d.op = Op::Replace;
    d.replaces = Some("old1");
    std::env::set_var("CLOUDFLARE_API_TOKEN", "cfut_the_scanners_own_credential");
    let to = sink.deliver(&d, &Secret::new(SECRET)).unwrap();
    std::env::remove_var("CLOUDFLARE_API_TOKEN");
    assert_eq!(to, "the exec: sink command");
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        SECRET,
        "stdin, no newline added"
    );
    let env = fs::read_to_string(&env).unwrap();
    assert!(!env.contains(SECRET), "never in the environment");
    assert!(
        !env.contains("cfut_the_scanners_own_credential"),
        "nor tokenwarden's credential"
    );
    for line in [
        "TOKENWARDEN_TOKEN_ID=70c1000000000000000000000000000a",
        "TOKENWARDEN_TOKEN_NAME=my token",
        "TOKENWARDEN_OWNER=accounts/acc9",
        "TOKENWARDEN_ACTION=replace",
        "TOKENWARDEN_REPLACES=old1",
    ] {
        assert!(env.lines().any(|l| l == line), "{line} missing:\n{env}");
    }
    assert!(
        !fs::read_to_string(&args).unwrap().contains(SECRET),
        "never in argv"
    );
}

#[test]
fn exec_sink_fails_on_a_nonzero_exit_naming_the_token() {
    let sink = SecretSink::parse("exec:cat >/dev/null; exit 7", secs(20)).unwrap();
    let owner = user();
    let e = sink
        .deliver(&delivery(&owner), &Secret::new(SECRET))
        .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, SinkError::Exit { .. }), "{msg}");
    assert!(
        msg.contains("70c1000000000000000000000000000a")
            && msg.contains('7')
            && !msg.contains(SECRET),
        "{msg}"
    );
}

#[test]
fn exec_sink_is_killed_with_its_children_after_the_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let marker = tmp.path().join("survived");
    // A pipeline: the shell forks; killing only the shell would leave `sleep` running.
    let cmd = format!("sleep 3 | cat; touch {}", marker.display());
    let sink = SecretSink::parse(&format!("exec:{cmd}"), secs(1)).unwrap();
    let owner = user();
    let started = Instant::now();
    let e = sink
        .deliver(&delivery(&owner), &Secret::new(SECRET))
        .unwrap_err();
    assert!(matches!(e, SinkError::Timeout { secs: 1, .. }), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    std::thread::sleep(Duration::from_millis(3_500));
    assert!(!marker.exists(), "the whole process group was killed");
}

#[test]
fn a_command_that_ignores_stdin_is_judged_by_its_exit_status() {
    let sink = SecretSink::parse("exec:exit 0", secs(20)).unwrap();
    let owner = user();
    assert!(sink
        .deliver(&delivery(&owner), &Secret::new(SECRET))
        .is_ok());
}

#[test]
fn escrow_is_created_exclusively_never_through_a_link_and_removed_durably() {
    let tmp = tempfile::tempdir().unwrap();
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
        .unwrap()
        .to_utc();
    // Escrow (and probe) files are opened with O_CREAT|O_EXCL: a link planted at the name
    // is refused, not followed, and an existing file is never overwritten.
    let victim = tmp.path().join("victim");
    fs::write(&victim, "").unwrap();
    let planted = tmp.path().join("planted.secret");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    assert!(private_file(&planted).is_err());
    assert!(private_file(&victim).is_err());
    assert_eq!(
        fs::read_to_string(&victim).unwrap(),
        "",
        "not written through"
    );

    let path = escrow(
        tmp.path(),
        "70c7000000000000000000000000000a",
        &Secret::new(SECRET),
        now,
    )
    .unwrap();
    assert!(path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with(&escrow_prefix("70c7000000000000000000000000000a")));
    assert_eq!(fs::read_to_string(&path).unwrap(), SECRET);
    remove_escrow(&path).unwrap();
    assert!(!path.exists());
}

#[test]
fn the_escrow_directory_is_checked_with_a_real_write_and_refused_when_shared_or_linked() {
    let tmp = tempfile::tempdir().unwrap();
    check_escrow_dir(tmp.path()).unwrap();
    assert_eq!(
        fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "the probe is gone"
    );

    let shared = tmp.path().join("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
    let e = check_escrow_dir(&shared).unwrap_err().to_string();
    assert!(
        e.contains("writable by group or others") && e.contains("0777"),
        "{e}"
    );

    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(tmp.path(), &link).unwrap();
    assert!(check_escrow_dir(&link)
        .unwrap_err()
        .to_string()
        .contains("symbolic link"));

    let e = check_escrow_dir(Path::new("/proc")).unwrap_err();
    assert!(matches!(e, SinkError::Escrow { .. }), "{e}");
    assert!(check_escrow_dir(&tmp.path().join("missing")).is_err());
}

#[test]
fn file_sink_check_refuses_a_shared_or_linked_directory_and_a_linked_target() {
    let tmp = tempfile::tempdir().unwrap();
    let shared = tmp.path().join("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o770)).unwrap();
    assert!(SecretSink::File(shared.clone()).check().is_err());
    let owner = user();
    let e = SecretSink::File(shared)
        .deliver(&delivery(&owner), &Secret::new(SECRET))
        .unwrap_err();
    assert!(e.to_string().contains("writable by group or others"), "{e}");

    let private = tmp.path().join("private");
    let sink = SecretSink::File(private.clone());
    sink.check().unwrap();
    sink.check_target("70c1000000000000000000000000000a")
        .unwrap();
    std::os::unix::fs::symlink(
        "/etc/passwd",
        private.join("70c1000000000000000000000000000a.secret"),
    )
    .unwrap();
    assert!(sink
        .check_target("70c1000000000000000000000000000a")
        .is_err());
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&private, &link).unwrap();
    assert!(SecretSink::File(link).check().is_err());
}

/// Issue 12, item 4: a token id that is not a Cloudflare id never names a file — the
/// secret goes to escrow under a neutral name instead, and nothing leaves the directory.
#[test]
fn an_id_that_is_not_an_id_never_names_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sink");
    let sink = SecretSink::File(dir.clone());
    let owner = user();
    for hostile in [
        "/../../../../tmp/pwned",
        "a/b",
        "x%2Fy",
        "a\nb",
        "a\0b",
        "tok1",
    ] {
        let d = Delivery {
            token_id: hostile,
            ..delivery(&owner)
        };
        let e = sink.deliver(&d, &Secret::new(SECRET)).unwrap_err();
        assert!(matches!(e, SinkError::InvalidId(_)), "{hostile:?}: {e}");
        assert!(sink.check_target(hostile).is_err());
        assert!(!e.to_string().contains(SECRET));
    }
    assert!(!dir.exists() || fs::read_dir(&dir).unwrap().count() == 0);
    let kept = escrow(
        tmp.path(),
        "/../../../../tmp/pwned",
        &Secret::new(SECRET),
        chrono::DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .to_utc(),
    )
    .unwrap();
    assert_eq!(kept.parent().unwrap(), tmp.path());
    assert!(kept
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("tokenwarden-escrow-invalid-id-"));
    assert_eq!(fs::read_to_string(&kept).unwrap(), SECRET);
}
