//! A workshop's changes on the real engine: thousands of them listed with sizes and correct
//! directory flags, quickly, checked against `stat` in the container.

mod engine_cleanup;

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use engine_cleanup::Cleanup;
use slipway_core::{ChangeKindDto, JunkKind};
use slipway_tests::{base_image, connect, run, unique};

/// What `stat` in the container says, path -> (size, is a directory, is a regular file).
async fn stat_in(
    slipway: &slipway_core::Slipway,
    container: &str,
    script: &str,
) -> HashMap<String, (u64, bool, bool)> {
    let (code, stdout, stderr) = slipway
        .engine()
        .exec_collect(container, script)
        .await
        .unwrap();
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&stderr));
    String::from_utf8(stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let mut fields = line.splitn(3, ' ');
            let size = fields.next().unwrap().parse().unwrap();
            let mode = u32::from_str_radix(fields.next().unwrap(), 16).unwrap();
            let path = fields.next().unwrap().to_string();
            (
                path,
                (
                    size,
                    mode & 0o170000 == 0o040000,
                    mode & 0o170000 == 0o100000,
                ),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_changes_are_listed_with_sizes_from_a_few_stat_execs() {
    let data = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let mut cleanup = Cleanup::default();
    let name = unique("workshop-changes-many");
    cleanup.containers.push(name.clone());
    slipway
        .run_workshop(&base_image(), Some(&name))
        .await
        .unwrap();

    // 2,600 files of different sizes in 26 folders, one with a space in its name, and a deletion.
    let make = "for d in $(seq 1 26); do mkdir -p \"/work/dir $d\"; \
                  for f in $(seq 1 100); do head -c $((d * f)) /dev/zero > \"/work/dir $d/f$f\"; done; \
                done; rm /bin/true";
    let (code, _, stderr) = slipway.engine().exec_collect(&name, make).await.unwrap();
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&stderr));

    // The sizes come from `stat` run over many paths at once. What shows it is how many execs
    // the listing made, not how long it took: a time bound failed on a busy machine (3.4 s for
    // what takes 0.5 s alone), and speed is the bench's to measure.
    let since = unix_seconds();
    let started = Instant::now();
    let changes = slipway.changes(&name).await.unwrap();
    let took = started.elapsed();
    assert!(changes.len() >= 2_600, "only {} changes", changes.len());
    let execs = run(
        "docker",
        &[
            "events",
            "--since",
            &since.to_string(),
            "--until",
            &(unix_seconds() + 1).to_string(),
            "--filter",
            &format!("container={name}"),
            "--filter",
            "event=exec_create",
            "--format",
            "{{.Action}}",
        ],
    );
    let execs = execs.lines().filter(|l| l.contains("stat")).count();
    eprintln!(
        "{} changes listed with sizes by {execs} stat execs in {took:?}",
        changes.len()
    );
    // One exec per 96 KiB of paths: one or two here, where one per change would be 2,600.
    assert!(
        (1..=4).contains(&execs),
        "{execs} stat execs for {} changes",
        changes.len()
    );

    let truth = stat_in(
        &slipway,
        &name,
        "find / -xdev \\( -path '/work*' -o -path /etc \\) -exec stat -c '%s %f %n' {} +",
    )
    .await;
    let mut checked = 0;
    for change in &changes {
        if change.kind == ChangeKindDto::Deleted {
            assert!(!change.is_dir && change.size.is_none(), "{change:?}");
            continue;
        }
        let Some(&(size, is_dir, regular)) = truth.get(&change.path) else {
            continue;
        };
        assert_eq!(change.is_dir, is_dir, "{change:?}");
        assert_eq!(change.size, regular.then_some(size), "{change:?}");
        checked += 1;
    }
    assert!(
        checked >= 2_600,
        "only {checked} changes were compared with stat"
    );
    let folder = changes
        .iter()
        .find(|change| change.path == "/work/dir 7")
        .expect("the folder with a space is listed");
    assert!(folder.is_dir);
    let file = changes
        .iter()
        .find(|change| change.path == "/work/dir 7/f3")
        .expect("a file in it is listed");
    assert_eq!(file.size, Some(21));
    assert!(changes
        .iter()
        .any(|change| change.path == "/bin/true" && change.kind == ChangeKindDto::Deleted));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hygiene_finds_apt_lists_and_clean_removes_them() {
    let data = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let mut cleanup = Cleanup::default();
    let name = unique("workshop-changes-apt");
    cleanup.containers.push(name.clone());
    slipway
        .run_workshop(&slipway_tests::debian_image(), Some(&name))
        .await
        .unwrap();
    let (code, _, stderr) = slipway
        .engine()
        .exec_collect(&name, "apt-get update -q && echo hi > /tmp/note")
        .await
        .unwrap();
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&stderr));

    let report = slipway.hygiene(&name, &[]).await.unwrap();
    let lists = report
        .junk
        .iter()
        .find(|junk| junk.kind == JunkKind::AptLists)
        .expect("apt lists are junk");
    // The bytes are those of the files under apt's lists that the docker CLI's own diff lists
    // as added or changed (the base holds lists from debootstrap, and apt gives the files it
    // writes the mirror's dates, so neither age nor presence tells them apart), as `stat` counts.
    let written: Vec<String> = run("docker", &["diff", &name])
        .lines()
        .filter_map(|line| line.strip_prefix("A ").or_else(|| line.strip_prefix("C ")))
        .filter(|path| path.starts_with("/var/lib/apt/lists/"))
        .map(|path| format!("'{path}'"))
        .collect();
    let (_, sizes, _) = slipway
        .engine()
        .exec_collect(
            &name,
            &format!(
                "find {} -maxdepth 0 -type f -exec stat -c %s {{}} + | awk '{{s+=$1}} END {{print s+0}}'",
                written.join(" ")
            ),
        )
        .await
        .unwrap();
    let expected: u64 = String::from_utf8_lossy(&sizes).trim().parse().unwrap();
    assert!(lists.bytes > 1_000_000, "{lists:?}");
    assert_eq!(lists.bytes, expected);
    assert!(lists
        .paths
        .iter()
        .all(|path| path.starts_with("/var/lib/apt/lists/")));
    assert!(report
        .junk
        .iter()
        .any(|junk| junk.kind == JunkKind::Tmp && junk.paths == ["/tmp/note"]));

    let outcome = slipway.clean(&name).await.unwrap();
    assert!(outcome.bytes >= lists.bytes);
    let after = slipway.changes(&name).await.unwrap();
    let left: Vec<_> = after
        .iter()
        .filter(|change| {
            change.kind != ChangeKindDto::Deleted
                && change.path.starts_with("/var/lib/apt/lists/")
                && !change.is_dir
        })
        .collect();
    assert!(left.is_empty(), "still listed after the clean: {left:?}");
    let again = slipway.hygiene(&name, &[]).await.unwrap();
    assert!(again.junk.is_empty(), "{:?}", again.junk);
    // apt still works after the clean.
    let (code, _, stderr) = slipway
        .engine()
        .exec_collect(
            &name,
            "test -d /var/lib/apt/lists/partial || test -d /var/lib/apt/lists",
        )
        .await
        .unwrap();
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hygiene_warns_of_a_planted_key_and_a_token() {
    let data = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let mut cleanup = Cleanup::default();
    let name = unique("workshop-changes-secret");
    cleanup.containers.push(name.clone());
    slipway
        .run_workshop(&base_image(), Some(&name))
        .await
        .unwrap();
    let plant = "mkdir -p /root/.ssh /srv/tls && \
                 printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\\nabc\\n-----END OPENSSH PRIVATE KEY-----\\n' > /root/.ssh/id_rsa && \
                 printf -- '-----BEGIN RSA PRIVATE KEY-----\\nabc\\n' > /srv/tls/server.pem && \
                 printf -- '-----BEGIN CERTIFICATE-----\\nabc\\n' > /srv/tls/ca.pem";
    let (code, _, stderr) = slipway.engine().exec_collect(&name, plant).await.unwrap();
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&stderr));

    let report = slipway
        .hygiene(
            &name,
            &["API_TOKEN=s3cr3t".to_string(), "LANG=C".to_string()],
        )
        .await
        .unwrap();
    let found: Vec<&str> = report.secrets.iter().map(|s| s.what.as_str()).collect();
    assert!(found.contains(&"/root/.ssh/id_rsa"), "{found:?}");
    assert!(found.contains(&"/srv/tls/server.pem"), "{found:?}");
    assert!(!found.contains(&"/srv/tls/ca.pem"), "{found:?}");
    assert!(found.contains(&"ENV API_TOKEN"), "{found:?}");
    assert!(!found.iter().any(|what| what.contains("LANG")));
    assert!(!format!("{report:?}").contains("s3cr3t"));
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs()
}
