//! `cargo xtask bench --suite service`: how long a real service is down across a reboot,
//! as its clients feel it (issue 19 item 1). The e2e's Debian bookworm systemd tree (one
//! tree for both: e2e.rs `DEBOOTSTRAP_INCLUDE` has openssh-server) boots as an x86_64
//! guest under TCG with its own kernel and initrd, its port 22 forwarded to a free port on
//! 127.0.0.1; the host probes sshd there (probe.rs) from the reboot request until the new
//! system answers, and phases.rs splits the downtime at the console's lines. Variants:
//! cold reboots through SeaBIOS and OVMF (`systemctl reboot`), `systemctl kexec` after
//! kexec-tools' own `kexec -l`, and `warmboot reboot` with the kernel warmboot-load.service
//! loaded at boot (the README's way). Writes `service/report.md`, `results.json` and
//! `downtime.svg` under the bench's output directory (report.rs).

pub mod phases;
pub mod probe;
pub mod report;

use crate::bench::report::{Environment, CHART, REPORT, RESULTS};
use crate::cache::Cache;
use crate::cmd::Cmd;
use crate::error::{Error, Result};
use crate::guest::{Ending, Guest};
use crate::qemu::{Accel, Firmware, GuestArch, GuestConfig};
use phases::{Evidence, Expect};
use report::{ServiceResults, ServiceSample};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One way of rebooting the service's machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceVariant {
    pub id: &'static str,
    pub scenario: &'static str,
    pub loader: &'static str,
    pub firmware: Firmware,
    pub expect: Expect,
    /// Run over SSH before the request, outside the downtime ("loaded ahead").
    pub ahead: Option<&'static str>,
    /// The reboot command, run over SSH right after the request marker.
    pub request: &'static str,
}

/// The variants, in report order.
pub fn variants() -> Vec<ServiceVariant> {
    vec![
        ServiceVariant {
            id: "cold-bios",
            scenario: "cold",
            loader: "firmware",
            firmware: Firmware::Bios,
            expect: Expect::Cold,
            ahead: None,
            request: "systemctl reboot",
        },
        ServiceVariant {
            id: "cold-uefi",
            scenario: "cold",
            loader: "firmware",
            firmware: Firmware::Uefi,
            expect: Expect::Cold,
            ahead: None,
            request: "systemctl reboot",
        },
        ServiceVariant {
            id: "warm-kexec-tools",
            scenario: "warm",
            loader: "kexec-tools",
            firmware: Firmware::Bios,
            expect: Expect::Warm,
            // kexec-tools' own binary: `install-units --kexec-symlink` diverted it
            // (dpkg-divert --rename) so that /usr/sbin/kexec is warmboot; dpkg-divert
            // names where it went.
            ahead: Some(
                "\"$(dpkg-divert --truename /usr/sbin/kexec)\" -l /vmlinuz --initrd=/initrd.img --reuse-cmdline",
            ),
            request: "systemctl kexec",
        },
        ServiceVariant {
            id: "warm-warmboot",
            scenario: "warm",
            loader: "warmboot",
            firmware: Firmware::Bios,
            expect: Expect::Warm,
            // warmboot-load.service loaded it at boot; the run fails early if not.
            ahead: Some("test \"$(cat /sys/kernel/kexec_loaded)\" = 1 || { warmboot status; exit 1; }"),
            request: "warmboot reboot",
        },
    ]
}

/// The guest's command line: the e2e's, with an early console so that the new kernel's
/// first lines are stamped when it prints them (the phases are cut there).
pub fn append() -> String {
    format!("{} earlycon=uart8250,io,0x3f8", crate::e2e::APPEND)
}

/// How long a boot of the systemd guest may take to answer under TCG (typically about a
/// minute; generous for the 2-core host).
const BOOT_TIMEOUT: Duration = Duration::from_secs(8 * 60);
/// How long a reboot may take until the service answers again.
const REBOOT_TIMEOUT: Duration = Duration::from_secs(8 * 60);

/// The guest image the suite and the fleet boot: the cached tree prepared as an
/// administrator's machine with sshd reachable by the host's key.
pub struct ServiceImage {
    pub disk: PathBuf,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub release: String,
    pub key: PathBuf,
}

/// The host's SSH key for the guests, made once under the cache (never committed).
pub fn ssh_key(cache: &Cache) -> Result<PathBuf> {
    let dir = cache.root().join("service");
    std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
    let key = dir.join("id_ed25519");
    if !key.exists() {
        Cmd::new("ssh-keygen")
            .args([
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "warmboot-bench",
                "-f",
            ])
            .arg(&key)
            .run()?;
    }
    Ok(key)
}

/// Builds the image into `dir/disk.img` from the cached tree (made on first use, as the
/// e2e makes it): warmboot and its units (e2e.rs `prepare_admin_tree`), no e2e steps,
/// systemd-networkd with DHCP on the virtio NIC (QEMU's user network), sshd enabled and
/// the host's public key in /root/.ssh/authorized_keys.
pub fn build_image(root: &Path, dir: &Path) -> Result<ServiceImage> {
    if !crate::host::is_root()? {
        return Err(Error::Bench {
            reason: "service suite: debootstrap and the image need root".into(),
        });
    }
    // openssh-client: the probe's key (ssh-keygen) and the commands run in the guests (ssh).
    crate::host::ensure_packages(&[
        "debootstrap",
        "e2fsprogs",
        "qemu-system-x86",
        "ovmf",
        "openssh-client",
    ])?;
    let cache = Cache::from_env()?;
    let tree = crate::e2e::cached_tree(&cache)?;
    let warmboot = crate::initramfs::build_guest_warmboot(root, GuestArch::X86_64)?;
    crate::e2e::prepare_admin_tree(&tree, &warmboot)?;
    // The e2e's step service reboots the machine on its own: not in this image.
    let steps = tree.join("etc/systemd/system/multi-user.target.wants/e2e.service");
    match std::fs::remove_file(&steps) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&steps)(e)),
    }
    let key = ssh_key(&cache)?;
    let public = key.with_extension("pub");
    let ssh_dir = tree.join("root/.ssh");
    std::fs::create_dir_all(&ssh_dir).map_err(Error::io(&ssh_dir))?;
    let authorized = ssh_dir.join("authorized_keys");
    std::fs::copy(&public, &authorized).map_err(Error::io(&authorized))?;
    use std::os::unix::fs::PermissionsExt as _;
    for (p, mode) in [(&ssh_dir, 0o700), (&authorized, 0o600)] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).map_err(Error::io(p))?;
    }
    let network = tree.join("etc/systemd/network/20-wired.network");
    if let Some(p) = network.parent() {
        std::fs::create_dir_all(p).map_err(Error::io(p))?;
    }
    std::fs::write(&network, "[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\n")
        .map_err(Error::io(&network))?;
    Cmd::new("chroot")
        .arg(&tree)
        .args([
            "systemctl",
            "enable",
            "systemd-networkd.service",
            "ssh.service",
        ])
        .run()?;
    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    let disk = dir.join("disk.img");
    let made = Cmd::new("mkfs.ext4")
        .args(["-q", "-F", "-L", "root", "-d"])
        .arg(&tree)
        .arg(&disk)
        .arg("3G")
        .run();
    // The cached tree is the e2e's too, whose guests have no NIC: take the network and
    // the key back out (the e2e puts its step service back itself), so that neither
    // command's result depends on which ran before.
    Cmd::new("chroot")
        .arg(&tree)
        .args(["systemctl", "disable", "systemd-networkd.service"])
        .run()?;
    for f in [&network, &authorized] {
        std::fs::remove_file(f).map_err(Error::io(f))?;
    }
    made?;
    let (kernel, initrd, release) = crate::e2e::tree_kernel(&tree)?;
    Ok(ServiceImage {
        disk,
        kernel,
        initrd,
        release,
        key,
    })
}

/// A free TCP port on 127.0.0.1 (bound, then released for QEMU to take).
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(Error::io("127.0.0.1:0"))?;
    let port = l.local_addr().map_err(Error::io("127.0.0.1:0"))?.port();
    Ok(port)
}

/// `ssh root@127.0.0.1 -p PORT` with the suite's key, never asking anything.
pub fn ssh(key: &Path, port: u16) -> Command {
    let mut c = Command::new("ssh");
    c.arg("-i")
        .arg(key)
        .args(["-p", &port.to_string()])
        .args([
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "ConnectTimeout=30",
            "root@127.0.0.1",
        ])
        .stdin(Stdio::null());
    c
}

/// Runs `script` in the guest over SSH, bounded by `limit`: its stdout, or an error with
/// its stderr.
pub fn ssh_run(key: &Path, port: u16, script: &str, limit: Duration) -> Result<String> {
    let mut c = ssh(key, port);
    c.arg(script).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = c.spawn().map_err(|source| Error::Spawn {
        cmd: format!("ssh … {script}"),
        source,
    })?;
    let out = wait_bounded(child, limit).map_err(|reason| Error::Bench {
        reason: format!("guest command `{script}`: {reason}"),
    })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(Error::Bench {
            reason: format!(
                "guest command `{script}` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}

fn wait_bounded(
    mut child: Child,
    limit: Duration,
) -> std::result::Result<std::process::Output, String> {
    let until = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().map_err(|e| e.to_string()),
            Ok(None) if Instant::now() >= until => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no answer within {}s", limit.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Pumps the guest's console and probes its service until it answers; `since`: only
/// attempts that start at or after it count. Every attempt goes into `attempts`.
pub fn wait_for_service(
    guest: &mut Guest,
    port: u16,
    since: Duration,
    limit: Duration,
    attempts: &mut Vec<probe::Attempt>,
) -> std::result::Result<(), String> {
    let until = Instant::now() + limit;
    loop {
        if let Some(Ending::Exited(code)) = guest.pump(probe::INTERVAL) {
            return Err(format!("QEMU exited ({code:?})"));
        }
        let a = probe::attempt(port, || guest.now());
        let done = a.answered && a.start >= since;
        attempts.push(a);
        if done {
            return Ok(());
        }
        if Instant::now() >= until {
            return Err(format!(
                "the service did not answer within {}s",
                limit.as_secs()
            ));
        }
    }
}

/// The stamp of the new kernel's "Linux version" line after the request marker, if the
/// console has shown it yet.
fn new_kernel_seen(guest: &Guest) -> Option<Duration> {
    let log = guest.log();
    let req = log
        .iter()
        .position(|s| s.line.contains("@@WB reboot-request"))?;
    log[req..]
        .iter()
        .find(|s| s.line.contains(crate::bench::phases::NEW_KERNEL_BANNER))
        .map(|s| s.t)
}

/// One measured reboot of `v`: boot, wait for sshd and a settled system, load ahead,
/// request, probe until the new system answers, judge.
fn measure(
    image: &ServiceImage,
    v: &ServiceVariant,
    run_dir: &Path,
    sample: &mut ServiceSample,
) -> std::result::Result<(), String> {
    let port = free_port().map_err(|e| e.to_string())?;
    let config = GuestConfig {
        arch: GuestArch::X86_64,
        firmware: v.firmware,
        accel: Accel::Tcg,
        memory_mib: crate::e2e::MEMORY_MIB,
        kernel: image.kernel.clone(),
        initrd: image.initrd.clone(),
        append: append(),
        // A cold reboot resets and boots -kernel again.
        no_reboot: false,
        drive: Some(image.disk.clone()),
        seed: None,
        secure_boot: None,
        ssh_port: Some(port),
    };
    let mut guest = Guest::start(&config, run_dir).map_err(|e| e.to_string())?;
    let mut boot_attempts = Vec::new();
    wait_for_service(
        &mut guest,
        port,
        Duration::ZERO,
        BOOT_TIMEOUT,
        &mut boot_attempts,
    )
    .map_err(|e| format!("first boot: {e}"))?;
    let key = &image.key;
    let quick = Duration::from_secs(120);
    // Every unit started (warmboot-load.service among them); `degraded` still counts.
    let state = ssh_run(
        key,
        port,
        "systemctl is-system-running --wait || true",
        BOOT_TIMEOUT,
    )
    .map_err(|e| e.to_string())?;
    guest.pump(Duration::ZERO);
    if !(state.ends_with("running") || state.ends_with("degraded")) {
        return Err(format!("the first boot did not settle: {state}"));
    }
    let before = ssh_run(key, port, "cat /proc/sys/kernel/random/boot_id", quick)
        .map_err(|e| e.to_string())?;
    if let Some(cmd) = v.ahead {
        ssh_run(key, port, cmd, quick).map_err(|e| format!("loading ahead: {e}"))?;
    }
    guest.pump(Duration::ZERO);
    let how = if v.expect == Expect::Warm {
        "kexec"
    } else {
        "firmware"
    };
    let script = format!(
        "echo '@@WB reboot-request how={how} id={}' > /dev/ttyS0; {}",
        v.id, v.request
    );
    let request = ssh(key, port)
        .arg(&script)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("ssh: {e}"))?;
    let mut attempts = Vec::new();
    let until = Instant::now() + REBOOT_TIMEOUT;
    let answered = loop {
        if let Some(Ending::Exited(code)) = guest.pump(probe::INTERVAL) {
            break Err(format!("QEMU exited ({code:?}) during the reboot"));
        }
        let a = probe::attempt(port, || guest.now());
        attempts.push(a.clone());
        if a.answered && new_kernel_seen(&guest).is_some_and(|t| a.start >= t) {
            break Ok(());
        }
        if Instant::now() >= until {
            break Err(format!(
                "timed out after {}s waiting for the service to answer again",
                REBOOT_TIMEOUT.as_secs()
            ));
        }
    };
    let _ = wait_bounded(request, Duration::from_secs(5));
    sample.probe_attempts = attempts.len();
    answered?;
    let after = ssh_run(key, port, "cat /proc/sys/kernel/random/boot_id", quick).ok();
    guest.pump(Duration::from_millis(200));
    sample.boot_id_before = Some(before.clone());
    sample.boot_id_after = after.clone();
    let ev = Evidence {
        boot_id_before: Some(before),
        boot_id_after: after,
        attempts,
    };
    let probe_log = run_dir.join("probe.json");
    if let Ok(text) = serde_json::to_string(&ev.attempts) {
        let _ = std::fs::write(&probe_log, text);
    }
    let p = phases::judge(guest.log(), &ev, v.expect)?;
    let outage = guest
        .log()
        .iter()
        .position(|s| s.line.contains("@@WB reboot-request"))
        .and_then(|_| {
            let new = new_kernel_seen(&guest)?;
            let last = probe::last_answer_before(&ev.attempts, new)?;
            Some(probe::answered_again(&ev.attempts, new)?.saturating_sub(last))
        });
    sample.downtime_s = Some(p.downtime.as_secs_f64());
    sample.shutdown_s = Some(p.shutdown.as_secs_f64());
    sample.handoff_s = Some(p.handoff.as_secs_f64());
    sample.kernel_s = Some(p.kernel.as_secs_f64());
    sample.userspace_s = Some(p.userspace.as_secs_f64());
    sample.client_outage_s = outage.map(|d| d.as_secs_f64());
    Ok(())
}

/// The suite's selection: every variant, or those `variants` names (ids, or
/// `x86_64/<id>`); an error says why the suite cannot run with the bench's arguments
/// (`kernel_file`: `--kernel` was given; `x86_64`: `--arch` includes it).
pub fn selected(
    kernel_file: bool,
    x86_64: bool,
    variants: &[String],
) -> std::result::Result<Vec<ServiceVariant>, String> {
    if kernel_file {
        return Err(
            "the service suite boots the e2e tree's own kernel; --kernel is not for it".into(),
        );
    }
    if !x86_64 {
        return Err("the service suite's tree is x86_64 only".into());
    }
    let all = self::variants();
    if variants.is_empty() {
        return Ok(all);
    }
    let picked: Vec<ServiceVariant> = all
        .into_iter()
        .filter(|v| {
            variants
                .iter()
                .any(|w| w == v.id || w == &format!("x86_64/{}", v.id))
        })
        .collect();
    if picked.is_empty() {
        return Err(format!(
            "no service variant among --variants {} (service variants: {})",
            variants.join(","),
            self::variants()
                .iter()
                .map(|v| v.id)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(picked)
}

/// Makes the run's environment from the kernels measured (`arch/series` -> release) and
/// the host load.
pub type EnvironmentOf = Box<dyn Fn(BTreeMap<String, String>, String) -> Result<Environment>>;

/// What the suite takes from the bench's arguments (bench/mod.rs fills it; this module
/// does not import that one, so the layers point one way).
pub struct Options {
    pub runs: u32,
    pub warmup: u32,
    /// The bench's output directory; the suite writes into `<out>/service`.
    pub out: PathBuf,
    pub kernel_series: Vec<String>,
    pub check: bool,
    /// The host's load averages, read at the start and the end.
    pub load_average: fn() -> String,
    /// The run's environment from the kernels measured (`arch/series` -> release) and
    /// the host load; the suite sets QEMU, the accelerator and the command itself.
    pub environment: EnvironmentOf,
    /// The command line that reproduces the run.
    pub command: String,
}

/// Runs the suite: builds the image, measures every variant round by round (rotated, as
/// the kernel suite does), writes the three files into `<out>/service`, checks them with
/// `--check`.
pub fn run(root: &Path, args: &Options, list: &[ServiceVariant]) -> Result<()> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let base = root
        .join("target/xtask/runs")
        .join(format!("{stamp}-service"));
    let image = build_image(root, &base)?;
    let series = crate::index::series_of(&image.release).unwrap_or_else(|| "custom".into());
    let mut not_covered = Vec::new();
    if !args.kernel_series.is_empty() && !args.kernel_series.contains(&series) {
        return Err(Error::Bench {
            reason: format!(
                "the service suite boots the tree's own kernel {} (series {series}), not --kernel-series {}",
                image.release,
                args.kernel_series.join(",")
            ),
        });
    }
    let cache = Cache::from_env()?;
    match crate::matrix::Pinned::load(&cache) {
        Ok(pinned) => {
            for s in pinned.of(GuestArch::X86_64) {
                if s != &series {
                    not_covered.push(format!(
                        "x86_64 {s} (pinned): the suite boots the tree's own kernel ({}) only; \
                         booting the pinned {s} package in the bookworm tree is not done yet",
                        image.release
                    ));
                }
            }
        }
        Err(e) => not_covered.push(format!("the pinned series could not be read: {e}")),
    }
    let out = args.out.join("service");
    let load_at_start = (args.load_average)();
    let rounds = args.warmup + args.runs;
    let mut samples = Vec::new();
    for round in 0..rounds {
        let warmup = round < args.warmup;
        let n = list.len();
        for k in 0..n {
            let v = &list[(k + round as usize) % n];
            let run_dir = base.join(format!("{}-{round}", v.id));
            let mut s = ServiceSample {
                arch: "x86_64".into(),
                series: series.clone(),
                kernel: image.release.clone(),
                id: v.id.into(),
                scenario: v.scenario.into(),
                loader: v.loader.into(),
                firmware: match v.firmware {
                    Firmware::Uefi => "uefi",
                    _ => "bios",
                }
                .into(),
                request: v.request.into(),
                run: round,
                warmup,
                ok: false,
                failure: None,
                downtime_s: None,
                shutdown_s: None,
                handoff_s: None,
                kernel_s: None,
                userspace_s: None,
                client_outage_s: None,
                boot_id_before: None,
                boot_id_after: None,
                probe_attempts: 0,
                log: {
                    let l = run_dir.join(crate::guest::SERIAL_LOG);
                    l.strip_prefix(root).unwrap_or(&l).display().to_string()
                },
            };
            match measure(&image, v, &run_dir, &mut s) {
                Ok(()) => s.ok = true,
                Err(e) => s.failure = Some(e),
            }
            println!(
                "{} x86_64/{series}/{} run {round}{}: {}",
                if s.ok { "ok    " } else { "FAILED" },
                v.id,
                if warmup { " (warm-up)" } else { "" },
                match (s.ok, s.downtime_s) {
                    (true, Some(d)) => format!(
                        "service downtime {d:.2}s (shutdown {:.2}, handoff {:.2}, kernel {:.2}, userspace {:.2})",
                        s.shutdown_s.unwrap_or(0.0),
                        s.handoff_s.unwrap_or(0.0),
                        s.kernel_s.unwrap_or(0.0),
                        s.userspace_s.unwrap_or(0.0)
                    ),
                    _ => format!(
                        "{} (log {})",
                        s.failure.as_deref().unwrap_or("failed"),
                        s.log
                    ),
                }
            );
            samples.push(s);
        }
    }
    let host_load = format!("start {load_at_start}, end {}", (args.load_average)());
    let kernels =
        std::collections::BTreeMap::from([(format!("x86_64/{series}"), image.release.clone())]);
    let mut environment = (args.environment)(kernels, host_load)?;
    let bin = GuestArch::X86_64.qemu_binary();
    let version = Cmd::new(bin)
        .arg("--version")
        .try_read()?
        .and_then(|t| t.lines().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    environment.qemu.insert(bin.to_string(), version);
    environment.accel = vec!["tcg".into()];
    environment.command = args.command.clone();
    let results = ServiceResults {
        environment,
        goals: report::goals(&samples),
        samples,
        not_covered,
    };
    write_outputs(&out, &results)?;
    println!("\n{}", report::table(&results.samples, "x86_64", &series));
    println!("{}", report::render_goals(&results.goals));
    println!("bench: wrote {}", out.display());
    if args.check {
        let expected: Vec<(String, String, String)> = list
            .iter()
            .map(|v| ("x86_64".to_string(), series.clone(), v.id.to_string()))
            .collect();
        report::check_outputs(&out, &expected)?;
        println!(
            "bench: service check passed: every variant has a passing sample with all four \
             phases adding up to its downtime"
        );
    }
    Ok(())
}

fn write_outputs(out: &Path, r: &ServiceResults) -> Result<()> {
    std::fs::create_dir_all(out).map_err(Error::io(out))?;
    let write = |name: &str, text: String| {
        let p = out.join(name);
        std::fs::write(&p, text).map_err(Error::io(&p))
    };
    write(REPORT, report::render(r))?;
    let json = serde_json::to_string_pretty(r).map_err(|source| Error::Json {
        path: out.join(RESULTS),
        source,
    })?;
    write(RESULTS, json + "\n")?;
    let svg = report::chart(&r.samples).map_err(|reason| Error::Bench {
        reason: format!("drawing service {}: {reason}", CHART),
    })?;
    write(CHART, svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_variants_cold_on_both_firmwares_and_warm_with_each_loader() {
        let ids: Vec<&str> = variants().iter().map(|v| v.id).collect();
        assert_eq!(
            ids,
            [
                "cold-bios",
                "cold-uefi",
                "warm-kexec-tools",
                "warm-warmboot"
            ]
        );
        let w = variants()[3];
        // The README's way: `warmboot reboot`, the kernel loaded ahead at boot.
        assert_eq!((w.request, w.expect), ("warmboot reboot", Expect::Warm));
        let k = variants()[2];
        assert!(
            k.ahead
                .unwrap()
                .starts_with("\"$(dpkg-divert --truename /usr/sbin/kexec)\" -l "),
            "{k:?}"
        );
        assert_eq!(k.request, "systemctl kexec");
        assert!(append().ends_with("crashkernel=256M earlycon=uart8250,io,0x3f8"));
    }
}
