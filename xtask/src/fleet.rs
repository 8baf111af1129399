//! `cargo xtask fleet`: a rolling reboot of a fleet driven by a real orchestration tool
//! (issue 19 item 2). Two guests of the service image (bench/service: the e2e's Debian
//! tree with sshd and python3, two disk copies, two forwarded ports on 127.0.0.1) form an
//! Ansible inventory; ansible-core, pinned and installed from PyPI into a venv under the
//! cache by this command, runs dist/ansible/warmboot-rolling-reboot.yml (`serial: 1`,
//! `ansible.builtin.reboot` with `reboot_command: warmboot reboot` after `warmboot load
//! --default`), then again with `warmboot reboot --cold` for comparison. Meanwhile the
//! host probes both guests' sshd (bench/service/probe.rs). The output puts Ansible's
//! `elapsed` beside the probe's view of the same reboot; [`judge_host`] fails a host that
//! did not come back through the kind of reboot asked for (its serial console: the old
//! kernel's kexec or restart line and a new kernel's banner; its boot id), whatever
//! Ansible says, and [`judge_rolling`] fails a run where both hosts were down at once.

use crate::bench::phases::NEW_KERNEL_BANNER;
use crate::bench::service::phases::{KEXEC_LINE, RESTART_LINE};
use crate::bench::service::probe::{self, Attempt};
use crate::bench::service::{self as service, ServiceImage};
use crate::cache::Cache;
use crate::cmd::Cmd;
use crate::error::{Error, Result};
use crate::guest::{Ending, Guest};
use crate::qemu::{Accel, Firmware, GuestArch, GuestConfig};
use crate::serial::Stamped;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The ansible-core release installed from PyPI (pip, in a venv under the cache).
pub const ANSIBLE_CORE: &str = "2.19.15";
/// The playbook, as committed for real fleets.
pub const PLAYBOOK: &str = "dist/ansible/warmboot-rolling-reboot.yml";
/// The line the playbook's last task prints per host.
const REPORT_LINE: &str = "warmboot-rolling-reboot host=";
/// The two guests.
const HOSTS: [&str; 2] = ["guest1", "guest2"];
/// One playbook run over both guests under TCG: two reboots of a minute or two each, with
/// room to spare.
const PLAYBOOK_TIMEOUT: Duration = Duration::from_secs(25 * 60);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where report.md and results.json go (default: target/fleet).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// How the playbook reboots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `warmboot reboot` after `warmboot load --default`.
    Warm,
    /// `warmboot reboot --cold`.
    Cold,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Warm => "warm",
            Mode::Cold => "cold",
        }
    }
}

/// What Ansible reported for one host's reboot (the playbook's report line).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnsibleHost {
    pub elapsed_s: u64,
    pub rebooted: bool,
}

/// Reads the playbook's `warmboot-rolling-reboot host=H elapsed=S rebooted=B` lines
/// (the default callback prints them quoted in `"msg": …`).
pub fn parse_ansible(output: &str) -> BTreeMap<String, AnsibleHost> {
    let mut out = BTreeMap::new();
    for line in output.lines() {
        let Some(at) = line.find(REPORT_LINE) else {
            continue;
        };
        let text = line[at..].trim_end_matches(['"', ' ', ',']);
        let field = |k: &str| {
            text.split_whitespace()
                .find_map(|w| w.strip_prefix(k))
                .map(|v| v.trim_matches('"').to_string())
        };
        if let (Some(host), Some(elapsed)) = (field("host="), field("elapsed=")) {
            if let Ok(elapsed_s) = elapsed.parse() {
                out.insert(
                    host,
                    AnsibleHost {
                        elapsed_s,
                        rebooted: field("rebooted=").is_some_and(|r| r == "True" || r == "true"),
                    },
                );
            }
        }
    }
    out
}

/// One host's reboot in one run, and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostOutcome {
    pub host: String,
    pub mode: Mode,
    pub ansible: Option<AnsibleHost>,
    /// The probe's view: its last SSH banner from the old system to its first from the
    /// new one, seconds.
    pub probe_outage_s: Option<f64>,
    /// The new kernel's first line and the service's first answer after it, on the
    /// fleet's common clock (seconds since the command started), for the rolling check.
    pub down_at_s: Option<f64>,
    pub back_at_s: Option<f64>,
    pub boot_id_before: Option<String>,
    pub boot_id_after: Option<String>,
    /// `None` when it passed.
    pub failure: Option<String>,
}

/// Judges one host: `segment` is its serial log from the run's start marker on, stamped
/// on its own clock, `offset` that clock's start on the common clock.
pub fn judge_host(
    host: &str,
    mode: Mode,
    segment: &[Stamped],
    offset: Duration,
    ansible: Option<&AnsibleHost>,
    boot_ids: (Option<String>, Option<String>),
    attempts: &[Attempt],
) -> HostOutcome {
    let mut o = HostOutcome {
        host: host.into(),
        mode,
        ansible: ansible.cloned(),
        probe_outage_s: None,
        down_at_s: None,
        back_at_s: None,
        boot_id_before: boot_ids.0.clone(),
        boot_id_after: boot_ids.1.clone(),
        failure: None,
    };
    let banners: Vec<&Stamped> = segment
        .iter()
        .filter(|s| s.line.contains(NEW_KERNEL_BANNER))
        .collect();
    let new_kernel = banners.first().map(|s| s.t);
    if let Some(t) = new_kernel {
        o.down_at_s = Some((t + offset).as_secs_f64());
        let back = probe::answered_again(attempts, t);
        o.back_at_s = back.map(|b| (b + offset).as_secs_f64());
        o.probe_outage_s = back
            .zip(probe::last_answer_before(attempts, t))
            .map(|(b, l)| b.saturating_sub(l).as_secs_f64());
    }
    let old: &[Stamped] = match banners.first() {
        Some(b) => {
            let i = segment
                .iter()
                .position(|s| std::ptr::eq(s, *b))
                .unwrap_or(0);
            &segment[..i]
        }
        None => segment,
    };
    let kexec = old.iter().any(|s| s.line.contains(KEXEC_LINE));
    let restart = old.iter().any(|s| s.line.contains(RESTART_LINE));
    o.failure = (|| {
        let a = ansible.ok_or(format!("Ansible reported no reboot of {host}"))?;
        if !a.rebooted {
            return Err(format!("Ansible says {host} did not reboot"));
        }
        if banners.len() != 1 {
            return Err(format!(
                "{host}'s console shows {} kernels booting during the run, not one",
                banners.len()
            ));
        }
        match mode {
            Mode::Warm if !kexec || restart => {
                return Err(format!(
                    "{host} did not come back through a warm reboot: its old kernel {}",
                    if restart {
                        format!("printed \"{RESTART_LINE}\" (through the firmware)")
                    } else {
                        format!("never printed \"{KEXEC_LINE}\"")
                    }
                ))
            }
            Mode::Cold if kexec || !restart => {
                return Err(format!(
                    "{host} did not reboot through the firmware: {}",
                    if kexec {
                        format!("its old kernel printed \"{KEXEC_LINE}\"")
                    } else {
                        format!("no \"{RESTART_LINE}\"")
                    }
                ))
            }
            _ => {}
        }
        match &boot_ids {
            (Some(a), Some(b)) if a != b => {}
            (a, b) => {
                return Err(format!(
                    "{host}'s boot ids {a:?} before and {b:?} after are not two boots"
                ))
            }
        }
        if o.back_at_s.is_none() {
            return Err(format!(
                "the host probe never saw {host}'s sshd answer from the new kernel"
            ));
        }
        Ok(())
    })()
    .err();
    o
}

/// `serial: 1`: each host went down only after the one before it answered again.
pub fn judge_rolling(hosts: &[HostOutcome]) -> std::result::Result<(), String> {
    let mut order: Vec<&HostOutcome> = hosts.iter().collect();
    order.sort_by(|a, b| {
        a.down_at_s
            .unwrap_or(0.0)
            .total_cmp(&b.down_at_s.unwrap_or(0.0))
    });
    for pair in order.windows(2) {
        if let (Some(back), Some(down)) = (pair[0].back_at_s, pair[1].down_at_s) {
            if down < back {
                return Err(format!(
                    "{} went down at {down:.2}s before {} answered again at {back:.2}s: not one host at a time",
                    pair[1].host, pair[0].host
                ));
            }
        }
    }
    Ok(())
}

/// The table of one run.
pub fn render(
    mode: Mode,
    hosts: &[HostOutcome],
    rolling: &std::result::Result<(), String>,
) -> String {
    let mut t = format!(
        "### {} reboot (`{}`)\n\n| host | Ansible elapsed s | host probe: outage s | boot id before → after | verdict |\n|---|---|---|---|---|\n",
        mode.name(),
        match mode {
            Mode::Warm => "warmboot reboot",
            Mode::Cold => "warmboot reboot --cold",
        }
    );
    let short = |s: &Option<String>| {
        s.as_deref()
            .map(|s| s.chars().take(8).collect::<String>())
            .unwrap_or_else(|| "?".into())
    };
    for h in hosts {
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} → {} | {} |",
            h.host,
            h.ansible
                .as_ref()
                .map(|a| a.elapsed_s.to_string())
                .unwrap_or_else(|| "-".into()),
            h.probe_outage_s
                .map(|x| format!("{x:.2}"))
                .unwrap_or_else(|| "-".into()),
            short(&h.boot_id_before),
            short(&h.boot_id_after),
            match &h.failure {
                None => "PASS".to_string(),
                Some(f) => format!("FAIL: {f}"),
            }
        );
    }
    let _ = writeln!(
        t,
        "\nOne host at a time: {}\n",
        match rolling {
            Ok(()) => "yes".to_string(),
            Err(e) => format!("NO: {e}"),
        }
    );
    t
}

/// ansible-playbook from a venv under the cache with [`ANSIBLE_CORE`] installed by pip.
fn ansible_playbook(cache: &Cache) -> Result<PathBuf> {
    let venv = cache
        .root()
        .join("ansible")
        .join(format!("venv-ansible-core-{ANSIBLE_CORE}"));
    let bin = venv.join("bin/ansible-playbook");
    if bin.exists() {
        return Ok(bin);
    }
    // Debian's python3 makes venvs only with python3-venv (ensurepip) installed.
    crate::host::ensure_packages(&["python3-venv"])?;
    Cmd::new("python3").args(["-m", "venv"]).arg(&venv).run()?;
    Cmd::new(venv.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            &format!("ansible-core=={ANSIBLE_CORE}"),
        ])
        .run()?;
    Ok(bin)
}

/// One guest of the fleet.
struct Member {
    name: &'static str,
    port: u16,
    guest: Guest,
    /// The guest's clock start on the fleet's common clock.
    offset: Duration,
}

fn start_member(
    name: &'static str,
    image: &ServiceImage,
    disk: PathBuf,
    dir: &Path,
    zero: Instant,
) -> Result<Member> {
    let port = service::free_port()?;
    let config = GuestConfig {
        arch: GuestArch::X86_64,
        firmware: Firmware::Bios,
        accel: Accel::Tcg,
        memory_mib: crate::e2e::MEMORY_MIB,
        kernel: image.kernel.clone(),
        initrd: image.initrd.clone(),
        append: service::append(),
        no_reboot: false,
        drive: Some(disk),
        seed: None,
        secure_boot: None,
        ssh_port: Some(port),
    };
    let run_dir = dir.join(name);
    let offset = zero.elapsed();
    let guest = Guest::start(&config, &run_dir).map_err(Error::io(&run_dir))?;
    Ok(Member {
        name,
        port,
        guest,
        offset,
    })
}

fn fail(reason: String) -> Error {
    Error::Boot {
        reason: format!("fleet: {reason}"),
    }
}

pub fn run(root: &Path, args: &Args) -> Result<()> {
    let cache = Cache::from_env()?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let dir = root
        .join("target/xtask/runs")
        .join(format!("{stamp}-fleet"));
    let image = service::build_image(root, &dir)?;
    let playbook_bin = ansible_playbook(&cache)?;
    let zero = Instant::now();
    let mut members = Vec::new();
    for name in HOSTS {
        let disk = dir.join(format!("{name}.img"));
        Cmd::new("cp")
            .args(["--sparse=always"])
            .arg(&image.disk)
            .arg(&disk)
            .run()?;
        members.push(start_member(name, &image, disk, &dir, zero)?);
    }
    for m in members.iter_mut() {
        let mut attempts = Vec::new();
        service::wait_for_service(
            &mut m.guest,
            m.port,
            Duration::ZERO,
            Duration::from_secs(10 * 60),
            &mut attempts,
        )
        .map_err(|e| fail(format!("{}: first boot: {e}", m.name)))?;
    }
    for m in members.iter_mut() {
        service::ssh_run(
            &image.key,
            m.port,
            "systemctl is-system-running --wait || true",
            Duration::from_secs(8 * 60),
        )?;
        m.guest.pump(Duration::ZERO);
    }
    let inventory = dir.join("inventory.ini");
    let mut inv = String::from("[fleet]\n");
    for m in &members {
        let _ = writeln!(
            inv,
            "{} ansible_host=127.0.0.1 ansible_port={}",
            m.name, m.port
        );
    }
    let _ = write!(
        inv,
        "\n[fleet:vars]\nansible_user=root\nansible_ssh_private_key_file={}\n\
         ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
         -o ServerAliveInterval=5 -o ServerAliveCountMax=3'\n\
         # ServerAlive: after a cold reset QEMU's user network keeps the host side of the\n\
         # old SSH connection open, and Ansible's ControlMaster then waited on it for good\n\
         # (seen: the cold run hung after guest1 answered again); keepalives end it.\n\
         ansible_python_interpreter=/usr/bin/python3\n\
         # The guests have no sudo: Ansible logs in as root, so the playbook's become is\n\
         # switched off here (a variable overrides the play's keyword).\n\
         ansible_become=false\n",
        image.key.display()
    );
    std::fs::write(&inventory, inv).map_err(Error::io(&inventory))?;
    let mut report = format!(
        "# Rolling reboot of two guests with Ansible\n\n`ansible-playbook {PLAYBOOK}` \
         (ansible-core {ANSIBLE_CORE}, `serial: 1`, `ansible.builtin.reboot`) against two \
         Debian bookworm systemd guests in QEMU (TCG), sshd forwarded to 127.0.0.1. \
         Ansible elapsed = the reboot module's `elapsed` (seconds it waited, whole \
         seconds). Host probe outage = the host's own probe of each guest's sshd (a fresh \
         connection every {:.1} s, the `SSH-2.0-` banner): its last answer from the old \
         system to its first from the new one. A host passes only if its serial console \
         shows the reboot asked for (warm: \"{KEXEC_LINE}\" and no firmware restart; \
         cold: \"{RESTART_LINE}\"), exactly one new kernel, a new boot id, and the probe saw \
         it come back.\n\n",
        probe::INTERVAL.as_secs_f64()
    );
    let mut all: Vec<HostOutcome> = Vec::new();
    let mut ok = true;
    for mode in [Mode::Warm, Mode::Cold] {
        let mut before = Vec::new();
        let mut starts = Vec::new();
        for m in members.iter_mut() {
            let id = service::ssh_run(
                &image.key,
                m.port,
                &format!(
                    "echo '@@WB fleet-run mode={}' > /dev/ttyS0; cat /proc/sys/kernel/random/boot_id",
                    mode.name()
                ),
                Duration::from_secs(120),
            )?;
            m.guest.pump(Duration::from_millis(300));
            before.push(id);
            starts.push(m.guest.log().len());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let shared: Vec<Arc<Mutex<Vec<Attempt>>>> = members
            .iter()
            .map(|_| Arc::new(Mutex::new(Vec::new())))
            .collect();
        let pollers: Vec<_> = members
            .iter()
            .zip(&shared)
            .map(|(m, into)| {
                probe::spawn_poller(
                    m.port,
                    Instant::now() - m.guest.now(),
                    into.clone(),
                    stop.clone(),
                )
            })
            .collect();
        let out_file = dir.join(format!("ansible-{}.log", mode.name()));
        let log = std::fs::File::create(&out_file).map_err(Error::io(&out_file))?;
        let log2 = log.try_clone().map_err(Error::io(&out_file))?;
        let mut child = std::process::Command::new(&playbook_bin)
            .arg("-i")
            .arg(&inventory)
            .arg(root.join(PLAYBOOK))
            .arg("-e")
            .arg(format!("{{\"warmboot_cold\": {}}}", mode == Mode::Cold))
            .env("ANSIBLE_HOST_KEY_CHECKING", "False")
            .env("ANSIBLE_NOCOLOR", "1")
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|source| Error::Spawn {
                cmd: playbook_bin.display().to_string(),
                source,
            })?;
        let until = Instant::now() + PLAYBOOK_TIMEOUT;
        let status = loop {
            for m in members.iter_mut() {
                if let Some(Ending::Exited(code)) = m.guest.pump(Duration::from_millis(100)) {
                    let _ = child.kill();
                    return Err(fail(format!("{}: QEMU exited ({code:?})", m.name)));
                }
            }
            if let Ok(Some(s)) = child.try_wait() {
                break Some(s);
            }
            if Instant::now() >= until {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        };
        // Ansible saw both hosts back; give the probes up to a minute to see each new
        // system's sshd too (an attempt started while the guest was down may still wait).
        let seen = Instant::now() + Duration::from_secs(60);
        loop {
            let mut all_back = true;
            for (i, m) in members.iter_mut().enumerate() {
                m.guest.pump(Duration::from_millis(100));
                let banner = m.guest.log()[starts[i]..]
                    .iter()
                    .find(|s| s.line.contains(NEW_KERNEL_BANNER))
                    .map(|s| s.t);
                let attempts = shared[i].lock().map(|a| a.clone()).unwrap_or_default();
                all_back &= banner.is_some_and(|t| probe::answered_again(&attempts, t).is_some());
            }
            if all_back || Instant::now() >= seen {
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        for p in pollers {
            let _ = p.join();
        }
        let attempts: Vec<Vec<Attempt>> = shared
            .iter()
            .map(|a| a.lock().map(|a| a.clone()).unwrap_or_default())
            .collect();
        let output = std::fs::read_to_string(&out_file).map_err(Error::io(&out_file))?;
        let ansible = parse_ansible(&output);
        let mut hosts = Vec::new();
        for (i, m) in members.iter_mut().enumerate() {
            let after = service::ssh_run(
                &image.key,
                m.port,
                "cat /proc/sys/kernel/random/boot_id",
                Duration::from_secs(120),
            )
            .ok();
            m.guest.pump(Duration::from_millis(200));
            hosts.push(judge_host(
                m.name,
                mode,
                &m.guest.log()[starts[i]..],
                m.offset,
                ansible.get(m.name),
                (Some(before[i].clone()), after),
                &attempts[i],
            ));
        }
        let rolling = judge_rolling(&hosts);
        let table = render(mode, &hosts, &rolling);
        println!(
            "{table}ansible-playbook: {} (output {})\n",
            match status {
                Some(s) => s.to_string(),
                None => format!("timed out after {}s", PLAYBOOK_TIMEOUT.as_secs()),
            },
            out_file.display()
        );
        report += &table;
        if !status.is_some_and(|s| s.success()) {
            ok = false;
            let _ = writeln!(
                report,
                "ansible-playbook did not succeed ({status:?}); its output: `{}`\n",
                out_file.display()
            );
        }
        ok &= rolling.is_ok() && hosts.iter().all(|h| h.failure.is_none());
        all.extend(hosts);
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| root.join("target/fleet"));
    std::fs::create_dir_all(&out).map_err(Error::io(&out))?;
    let p = out.join("report.md");
    std::fs::write(&p, &report).map_err(Error::io(&p))?;
    let p = out.join("results.json");
    let json = serde_json::to_string_pretty(&all).map_err(|source| Error::Json {
        path: p.clone(),
        source,
    })?;
    std::fs::write(&p, json + "\n").map_err(Error::io(&p))?;
    println!(
        "fleet: wrote {} (serial logs in {})",
        out.display(),
        dir.display()
    );
    if ok {
        Ok(())
    } else {
        Err(fail(format!(
            "a host failed its verdict; see {}",
            out.join("report.md").display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::bench::service::phases::tests::{attempt as a, stamped};

    /// What ansible-core's default callback prints for the playbook's report task.
    const OUTPUT: &str = r#"
TASK [Report how long Ansible waited] ******************************************
ok: [guest1] => {
    "msg": "warmboot-rolling-reboot host=guest1 elapsed=41 rebooted=True"
}

PLAY [Rolling warm reboot with warmboot] ***************************************
ok: [guest2] => {
    "msg": "warmboot-rolling-reboot host=guest2 elapsed=39 rebooted=True"
}
PLAY RECAP *********************************************************************
guest1                     : ok=3    changed=2    unreachable=0    failed=0
"#;

    fn warm_segment() -> Vec<Stamped> {
        stamped(&[
            (100.0, "@@WB fleet-run mode=warm"),
            (
                110.0,
                "[  200.000000] systemd-shutdown[1]: Rebooting with kexec.",
            ),
            (110.5, "[  200.500000] kexec_core: Starting new kernel"),
            (112.0, "[    0.000000] Linux version 6.1.0-50-amd64"),
            (118.0, "[    5.000000] Run /init as init process"),
        ])
    }

    fn attempts() -> Vec<Attempt> {
        vec![
            a(100.0, 100.1, true),
            a(110.4, 110.45, true),
            a(110.6, 111.6, false),
            a(130.0, 131.0, false),
            a(131.1, 131.4, true),
        ]
    }

    fn judge(
        seg: &[Stamped],
        mode: Mode,
        ansible: Option<&AnsibleHost>,
        after: &str,
    ) -> HostOutcome {
        judge_host(
            "guest1",
            mode,
            seg,
            Duration::from_secs(5),
            ansible,
            (Some("a".into()), Some(after.into())),
            &attempts(),
        )
    }

    #[test]
    fn ansible_s_elapsed_is_read_per_host() {
        let m = parse_ansible(OUTPUT);
        assert_eq!(
            m.get("guest1"),
            Some(&AnsibleHost {
                elapsed_s: 41,
                rebooted: true
            })
        );
        assert_eq!(m.get("guest2").map(|h| h.elapsed_s), Some(39));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn a_warm_reboot_passes_with_the_probe_s_outage_beside_ansible_s() {
        let ans = parse_ansible(OUTPUT);
        let o = judge(&warm_segment(), Mode::Warm, ans.get("guest1"), "b");
        assert_eq!(o.failure, None);
        // Last answer 110.45, first from the new system 131.4.
        assert!((o.probe_outage_s.unwrap() - 20.95).abs() < 1e-9, "{o:?}");
        assert!((o.down_at_s.unwrap() - 117.0).abs() < 1e-9, "{o:?}");
        assert!((o.back_at_s.unwrap() - 136.4).abs() < 1e-9, "{o:?}");
        assert!(
            render(Mode::Warm, &[o], &Ok(())).contains("| guest1 | 41 | 20.95 | a → b | PASS |")
        );
    }

    #[test]
    fn each_verdict_fails_on_its_own_evidence_even_when_ansible_says_ok() {
        let ans = parse_ansible(OUTPUT);
        let ok = ans.get("guest1");
        let why = |o: HostOutcome| o.failure.unwrap_or_default();
        // Ansible says ok, but the machine went through the firmware.
        let cold: Vec<Stamped> = warm_segment()
            .into_iter()
            .map(|mut s| {
                s.line = s.line.replace(KEXEC_LINE, RESTART_LINE);
                s
            })
            .collect();
        assert!(why(judge(&cold, Mode::Warm, ok, "b"))
            .contains("did not come back through a warm reboot"));
        assert_eq!(judge(&cold, Mode::Cold, ok, "b").failure, None);
        assert!(why(judge(&warm_segment(), Mode::Cold, ok, "b"))
            .contains("did not reboot through the firmware"));
        assert!(why(judge(&warm_segment(), Mode::Warm, ok, "a")).contains("are not two boots"));
        assert!(why(judge(&warm_segment(), Mode::Warm, None, "b"))
            .contains("Ansible reported no reboot"));
        let no = AnsibleHost {
            elapsed_s: 3,
            rebooted: false,
        };
        assert!(why(judge(&warm_segment(), Mode::Warm, Some(&no), "b")).contains("did not reboot"));
        let quiet: Vec<Stamped> = warm_segment()
            .into_iter()
            .filter(|s| !s.line.contains("Linux version"))
            .collect();
        assert!(why(judge(&quiet, Mode::Warm, ok, "b")).contains("0 kernels booting"));
        let mut twice = warm_segment();
        twice.push(stamped(&[(125.0, "[    0.000000] Linux version 6.1.0-50-amd64")])[0].clone());
        assert!(why(judge(&twice, Mode::Warm, ok, "b")).contains("2 kernels booting"));
        let o = judge_host(
            "guest1",
            Mode::Warm,
            &warm_segment(),
            Duration::ZERO,
            ok,
            (Some("a".into()), Some("b".into())),
            &attempts()[..4],
        );
        assert!(why(o).contains("never saw guest1's sshd answer"));
    }

    #[test]
    fn two_hosts_down_at_once_are_not_a_rolling_reboot() {
        let host = |name: &str, down: f64, back: f64| HostOutcome {
            host: name.into(),
            mode: Mode::Warm,
            ansible: None,
            probe_outage_s: None,
            down_at_s: Some(down),
            back_at_s: Some(back),
            boot_id_before: None,
            boot_id_after: None,
            failure: None,
        };
        assert_eq!(
            judge_rolling(&[host("guest2", 200.0, 230.0), host("guest1", 100.0, 130.0)]),
            Ok(())
        );
        let e = judge_rolling(&[host("guest1", 100.0, 130.0), host("guest2", 120.0, 150.0)])
            .unwrap_err();
        assert!(
            e.contains("guest2 went down at 120.00s before guest1 answered again"),
            "{e}"
        );
    }
}
