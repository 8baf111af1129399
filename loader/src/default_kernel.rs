//! The kernel this machine would boot next, for `warmboot load --default`: after a kernel
//! upgrade that is the new kernel, not the running one.
//!
//! Who decides is the boot loader, so warmboot asks in this order:
//!
//! 1. systemd-boot, when it booted this machine (it sets the `LoaderInfo` EFI variable,
//!    systemd's docs/BOOT_LOADER_INTERFACE.md): the Boot Loader Spec type #1 entries
//!    (`loader/entries/*.conf`) and type #2 entries (unified kernel images,
//!    `EFI/Linux/*.efi`) in the ESP (`/efi`, `/boot/efi`, as bootctl finds it) or /boot
//!    (XBOOTLDR), in systemd-boot's order ([`sd_boot_order`]); the first entry matching
//!    the `LoaderEntryOneShot` EFI variable (`systemctl reboot --boot-loader-entry`), else
//!    `LoaderEntryDefault` (`bootctl set-default`), else `loader.conf`'s `default` — each
//!    a glob matched against the entry's lowercased file name, as systemd-boot's
//!    src/boot/boot.c `config_default_entry_select` does — else the first entry. A UKI
//!    comes with its own `.cmdline` and is loaded by [`crate::commands::load_uki`];
//! 2. GRUB, when `/boot/grub/grub.cfg` (Debian, Ubuntu) or `/boot/grub2/grub.cfg` (RHEL,
//!    Fedora, SUSE) exists: the entry `set default=` names, with `saved_entry` and a
//!    one-time `next_entry` (grub-reboot) from grubenv ([`crate::grub_cfg`]); with
//!    `blscfg` (RHEL-style, as grubby manages it) the BLS entries in /boot/loader/entries,
//!    newest version first, named by their file name, with `$kernelopts` from grubenv;
//! 3. Debian/Ubuntu's `/vmlinuz` and `/initrd.img` links (or their `/boot` twins), which
//!    linux-base points at the newest kernel.
//!
//! The entry's command line comes along (`--reuse-cmdline` keeps the running one instead).
//! When none of them says, the error names everything looked at. Everything is read
//! through [`HostRoot`], so tests use fixture trees.

use crate::boot_files::{parse_bls_entry, BlsEntry};
use crate::error::{Error, Result};
use crate::grub_cfg;
use crate::host::HostRoot;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::PathBuf;

/// The next boot's kernel, as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultKernel {
    pub kernel: PathBuf,
    pub initrd: Option<PathBuf>,
    /// The entry's command line; `None` where the source has none (the /vmlinuz links).
    pub cmdline: Option<String>,
    /// Where it came from, for the administrator ("GRUB's default entry 'Debian …'").
    pub how: String,
}

/// systemd-boot's `LoaderInfo` variable (vendor GUID 4a67b082-0a4c-41cf-b6c7-440b29bb8c4f).
const LOADER_INFO: &str =
    "/sys/firmware/efi/efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f";
/// Where BLS entries and loader.conf live: the ESP mount points and /boot.
const BLS_ROOTS: [&str; 3] = ["/efi", "/boot/efi", "/boot"];
const GRUB_DIRS: [&str; 2] = ["/boot/grub", "/boot/grub2"];
/// linux-base's links: (kernel, initrd).
const LINKS: [(&str, &str); 2] = [
    ("/vmlinuz", "/initrd.img"),
    ("/boot/vmlinuz", "/boot/initrd.img"),
];

/// Finds the next boot's kernel under `host` (see the module doc).
pub fn find_default(host: &HostRoot) -> Result<DefaultKernel> {
    let mut looked: Vec<String> = Vec::new();
    if host.path(LOADER_INFO).exists() {
        if let Some(d) = systemd_boot(host, &mut looked)? {
            return Ok(d);
        }
    } else {
        looked.push("systemd-boot (not the boot loader: no LoaderInfo EFI variable)".into());
    }
    for dir in GRUB_DIRS {
        let cfg = format!("{dir}/grub.cfg");
        if host.path(&cfg).is_file() {
            return grub(host, dir);
        }
        looked.push(cfg);
    }
    for (k, i) in LINKS {
        if host.path(k).is_file() {
            let initrd = host.path(i);
            return Ok(DefaultKernel {
                kernel: host.path(k),
                initrd: initrd.is_file().then_some(initrd),
                cmdline: None,
                how: format!("the {k} link (linux-base points it at the newest kernel)"),
            });
        }
        looked.push(k.to_string());
    }
    Err(Error::Unsupported(format!(
        "cannot tell which kernel {} boots next: looked at {}; give the kernel file instead of --default",
        host.root().display(),
        looked.join(", ")
    )))
}

/// One BLS entry file: its id (the file name without `.conf`), its partition root and
/// what it says.
struct Bls {
    id: String,
    base: String,
    sort_key: Option<String>,
    entry: BlsEntry,
}

/// The BLS entries under every root, in systemd-boot's and grubby's order: entries with
/// a `sort-key` first, by it; then by id, newest version first.
fn bls_entries(host: &HostRoot) -> Result<Vec<Bls>> {
    let mut out = Vec::new();
    for root in BLS_ROOTS {
        let dir = host.path(&format!("{root}/loader/entries"));
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd {
            let e = e.map_err(|e| Error::Io(e).in_file(&dir))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".conf") else {
                continue;
            };
            let text = host.read_string(&format!("{root}/loader/entries/{name}"))?;
            let sort_key = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("sort-key"))
                .map(|v| v.trim().to_string());
            out.push(Bls {
                id: id.to_string(),
                base: root.to_string(),
                sort_key,
                entry: parse_bls_entry(&text),
            });
        }
    }
    out.sort_by(|a, b| match (&a.sort_key, &b.sort_key) {
        (Some(x), Some(y)) => x.cmp(y).then_with(|| version_cmp(&b.id, &a.id)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => version_cmp(&b.id, &a.id),
    });
    Ok(out)
}

/// Compares version-like strings: runs of digits by value, everything else bytewise
/// (the ordering systemd-boot and rpm use for kernel versions, simplified: 6.12 > 6.9).
pub fn version_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let run = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (run(a), run(b));
                let (da, db) = (&a[..na], &b[..nb]);
                let strip = |d: &[u8]| {
                    let z = d.iter().take_while(|c| **c == b'0').count();
                    d.get(z..).unwrap_or_default().to_vec()
                };
                let (sa, sb) = (strip(da), strip(db));
                let o = sa.len().cmp(&sb.len()).then_with(|| sa.cmp(&sb));
                if o != Ordering::Equal {
                    return o;
                }
                a = &a[na..];
                b = &b[nb..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

/// A BLS entry as the next kernel: paths relative to its partition (or to / where /boot
/// is no partition of its own).
fn from_bls(
    host: &HostRoot,
    b: &Bls,
    env: &HashMap<String, String>,
    how: String,
) -> Result<DefaultKernel> {
    let file = host.path(&format!("{}/loader/entries/{}.conf", b.base, b.id));
    let Some(linux) = &b.entry.linux else {
        return Err(Error::Unsupported(format!(
            "the default boot entry {} has no linux line (a UKI or another OS?)",
            file.display()
        )));
    };
    let resolve = |p: &str| {
        let p = p.trim_start_matches('/');
        [b.base.as_str(), ""]
            .into_iter()
            .map(|base| host.path(&format!("{base}/{p}")))
            .find(|c| c.is_file())
    };
    let kernel = resolve(linux).ok_or_else(|| {
        Error::Unsupported(format!(
            "the default boot entry {} names {linux}, which is not there",
            file.display()
        ))
    })?;
    // grubby's entries may carry GRUB variables (`$tuned_initrd`), unset ones vanish.
    let initrds: Vec<String> = b
        .entry
        .initrd
        .iter()
        .flat_map(|l| {
            grub_cfg::expand(l, env)
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    if initrds.len() > 1 {
        return Err(Error::Unsupported(format!(
            "{} lists {} initrds; warmboot loads one (give --initrd with them concatenated)",
            file.display(),
            initrds.len()
        )));
    }
    let initrd = match initrds.first() {
        Some(i) => Some(resolve(i).ok_or_else(|| {
            Error::Unsupported(format!(
                "the default boot entry {} names the initrd {i}, which is not there",
                file.display()
            ))
        })?),
        None => None,
    };
    let options = grub_cfg::expand(&b.entry.options.join(" "), env);
    Ok(DefaultKernel {
        kernel,
        initrd,
        cmdline: Some(options.split_whitespace().collect::<Vec<_>>().join(" ")),
        how,
    })
}

/// systemd-boot's vendor GUID for its EFI variables.
const LOADER_GUID: &str = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f";

/// A systemd-boot EFI variable as efivarfs shows it: 4 bytes of attributes, then the
/// value, here a UTF-16LE string (NUL-terminated or not). None when it is not set or empty.
fn loader_variable(host: &HostRoot, name: &str) -> Result<Option<String>> {
    let rel = format!("/sys/firmware/efi/efivars/{name}-{LOADER_GUID}");
    let path = host.path(&rel);
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = host.read_bytes(&rel)?;
    let units: Vec<u16> = bytes
        .get(4..)
        .unwrap_or_default()
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|u| *u != 0)
        .collect();
    let text = String::from_utf16(&units)
        .map_err(|_| Error::invalid("EFI variable", "not UTF-16").in_file(&path))?;
    Ok(Some(text).filter(|t| !t.is_empty()))
}

/// One systemd-boot menu entry: a type #1 entry file or a type #2 UKI.
enum SdEntry {
    Type1(Bls),
    Type2 {
        /// The UKI's path relative to the root, e.g. "/efi/EFI/Linux/arch-6.12.efi".
        rel: String,
        file_name: String,
        os: crate::image::uki::OsRelease,
        cmdline: Option<String>,
        uname: Option<String>,
    },
}

impl SdEntry {
    /// systemd-boot's entry id: the file name, lowercased (boot.c lowercases ids so that
    /// patterns match case-insensitively, FAT being case-insensitive).
    fn id(&self) -> String {
        match self {
            SdEntry::Type1(b) => format!("{}.conf", b.id).to_lowercase(),
            SdEntry::Type2 { file_name, .. } => file_name.to_lowercase(),
        }
    }

    /// The sort key: type #1 `sort-key`; type #2 .osrel's IMAGE_ID, else ID.
    fn sort_key(&self) -> Option<&str> {
        match self {
            SdEntry::Type1(b) => b.sort_key.as_deref(),
            SdEntry::Type2 { os, .. } => os.image_id.as_deref().or(os.id.as_deref()),
        }
    }

    /// The version: type #1 `version`; type #2 .osrel's IMAGE_VERSION, else VERSION_ID,
    /// else VERSION, else BUILD_ID.
    fn version(&self) -> Option<&str> {
        match self {
            SdEntry::Type1(b) => b.entry.version.as_deref(),
            SdEntry::Type2 { os, .. } => os
                .image_version
                .as_deref()
                .or(os.version_id.as_deref())
                .or(os.version.as_deref())
                .or(os.build_id.as_deref()),
        }
    }

    /// Whether `pattern` (a glob) names this entry: its id, or its id without the
    /// `.conf`/`.efi` suffix (as loader.conf's `default` is often written).
    fn matches(&self, pattern: &glob::Pattern) -> bool {
        let id = self.id();
        let stem = id
            .strip_suffix(".conf")
            .or_else(|| id.strip_suffix(".efi"))
            .unwrap_or(&id);
        pattern.matches(&id) || pattern.matches(stem)
    }
}

/// systemd-boot's menu order (src/boot/boot.c `boot_entry_compare`): entries with a sort
/// key before those without; two with sort keys by the key, then newest version first;
/// then (and for entries without sort keys only) by id, newest version first.
fn sd_boot_order(a: &SdEntry, b: &SdEntry) -> Ordering {
    match (a.sort_key(), b.sort_key()) {
        (Some(_), None) => return Ordering::Less,
        (None, Some(_)) => return Ordering::Greater,
        (Some(x), Some(y)) => {
            let o = x
                .cmp(y)
                .then_with(|| version_cmp(b.version().unwrap_or(""), a.version().unwrap_or("")));
            if o != Ordering::Equal {
                return o;
            }
        }
        (None, None) => {}
    }
    version_cmp(&b.id(), &a.id())
}

/// The UKIs in `EFI/Linux` of the ESP and /boot (type #2 entries), parsed for their
/// `.osrel`, `.cmdline` and `.uname`; files that are no UKI are left out, as
/// systemd-boot leaves them out of its menu.
fn uki_entries(host: &HostRoot) -> Result<Vec<SdEntry>> {
    let mut out = Vec::new();
    for root in BLS_ROOTS {
        let dir_rel = format!("{root}/EFI/Linux");
        let dir = host.path(&dir_rel);
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<String> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.to_lowercase().ends_with(".efi") && !n.starts_with('.'))
            .collect();
        names.sort();
        for name in names {
            let rel = format!("{dir_rel}/{name}");
            let data = host.read_bytes(&rel)?;
            if let Ok(crate::image::KernelImage::Uki(u)) = crate::image::KernelImage::parse(&data) {
                out.push(SdEntry::Type2 {
                    rel,
                    file_name: name,
                    os: u.osrel.clone().unwrap_or_default(),
                    cmdline: u.cmdline.clone(),
                    uname: u.uname.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// systemd-boot's default entry, or `None` when it has no entries.
fn systemd_boot(host: &HostRoot, looked: &mut Vec<String>) -> Result<Option<DefaultKernel>> {
    let mut entries: Vec<SdEntry> = bls_entries(host)?.into_iter().map(SdEntry::Type1).collect();
    entries.extend(uki_entries(host)?);
    if entries.is_empty() {
        looked.push("systemd-boot's loader/entries and EFI/Linux (none)".into());
        return Ok(None);
    }
    entries.sort_by(sd_boot_order);
    // The EFI variables first: a one-shot choice, then `bootctl set-default`'s; one that
    // names no entry is passed over, as systemd-boot passes it over.
    for (var, what) in [
        ("LoaderEntryOneShot", "for one boot"),
        ("LoaderEntryDefault", "set by bootctl set-default"),
    ] {
        if let Some(p) = loader_variable(host, var)? {
            let Ok(glob) = glob::Pattern::new(&p.to_lowercase()) else {
                continue;
            };
            if let Some(e) = entries.iter().find(|e| e.matches(&glob)) {
                let how = format!("systemd-boot's {var} EFI variable ({what}): {}", e.id());
                return sd_entry(host, e, how).map(Some);
            }
        }
    }
    let mut pattern = None;
    for root in BLS_ROOTS {
        if let Some(conf) = host.read_optional(&format!("{root}/loader/loader.conf"))? {
            pattern = conf.lines().find_map(|l| {
                let l = l.trim();
                l.strip_prefix("default")
                    .filter(|v| v.starts_with(char::is_whitespace))
                    .map(|v| v.trim().to_string())
            });
            break;
        }
    }
    let chosen = match &pattern {
        Some(p) => {
            let glob = glob::Pattern::new(p).map_err(|e| {
                Error::Unsupported(format!(
                    "loader.conf's default {p:?} is no valid pattern: {e}"
                ))
            })?;
            let glob = glob::Pattern::new(&glob.as_str().to_lowercase()).unwrap_or(glob);
            entries.iter().find(|e| e.matches(&glob))
        }
        None => entries.first(),
    };
    let Some(b) = chosen else {
        return Err(Error::Unsupported(format!(
            "systemd-boot's default {:?} (loader.conf) matches none of its entries",
            pattern.unwrap_or_default()
        )));
    };
    let how = format!("systemd-boot's default entry {}", b.id());
    sd_entry(host, b, how).map(Some)
}

/// A systemd-boot entry as the next kernel: a type #1 entry's files, or the UKI itself
/// with its `.cmdline`.
fn sd_entry(host: &HostRoot, e: &SdEntry, how: String) -> Result<DefaultKernel> {
    match e {
        SdEntry::Type1(b) => from_bls(host, b, &HashMap::new(), how),
        SdEntry::Type2 {
            rel,
            cmdline,
            uname,
            ..
        } => Ok(DefaultKernel {
            kernel: host.path(rel),
            initrd: None,
            cmdline: cmdline.clone(),
            how: match uname {
                Some(u) => format!("{how} (a unified kernel image, {u})"),
                None => format!("{how} (a unified kernel image)"),
            },
        }),
    }
}

/// GRUB's default entry from `dir`/grub.cfg and `dir`/grubenv.
fn grub(host: &HostRoot, dir: &str) -> Result<DefaultKernel> {
    let cfg_rel = format!("{dir}/grub.cfg");
    let cfg_path = host.path(&cfg_rel);
    let menu = grub_cfg::parse(&host.read_string(&cfg_rel)?);
    let env = match host.read_optional(&format!("{dir}/grubenv"))? {
        Some(t) => grub_cfg::parse_env(&t),
        None => HashMap::new(),
    };
    let next_entry = env.get("next_entry").filter(|v| !v.is_empty());
    let uses_next = menu.defaults.iter().any(|d| d.contains("next_entry"));
    let (default, once) = match next_entry {
        Some(n) if uses_next => (n.clone(), " (grub-reboot's next_entry, for one boot)"),
        _ => (
            menu.defaults
                .iter()
                .rev()
                .find(|d| !d.contains("next_entry"))
                .map(|d| grub_cfg::expand(d, &env))
                .unwrap_or_default(),
            "",
        ),
    };
    if menu.blscfg {
        let entries = bls_entries(host)?;
        let chosen = match default.parse::<usize>() {
            Ok(i) => entries.get(i),
            Err(_) if default.is_empty() => entries.first(),
            Err(_) => entries
                .iter()
                .find(|b| b.id == default || b.entry.title.as_deref() == Some(default.as_str())),
        };
        let b = chosen.ok_or_else(|| {
            Error::Unsupported(format!(
                "GRUB's default {default:?} names none of the {} BLS entries in /boot/loader/entries ({} uses blscfg)",
                entries.len(),
                cfg_path.display()
            ))
        })?;
        let how = format!("GRUB's default BLS entry {}{once}", b.id);
        return from_bls(host, b, &env, how);
    }
    let e = grub_cfg::find(&menu.items, &default).ok_or_else(|| {
        Error::Unsupported(format!(
            "GRUB's default {default:?} names no entry of {}",
            cfg_path.display()
        ))
    })?;
    let Some((linux, args)) = &e.linux else {
        return Err(Error::Unsupported(format!(
            "GRUB's default entry '{}' in {} boots no Linux kernel",
            e.title,
            cfg_path.display()
        )));
    };
    // GRUB's paths are on its root device: / when /boot is part of it, /boot when /boot
    // is a partition of its own.
    let resolve = |p: &str| {
        let p = p.trim_start_matches('/');
        ["", "/boot"]
            .into_iter()
            .map(|base| host.path(&format!("{base}/{p}")))
            .find(|c| c.is_file())
    };
    let kernel = resolve(linux).ok_or_else(|| {
        Error::Unsupported(format!(
            "GRUB's default entry '{}' names {linux}, which is not there",
            e.title
        ))
    })?;
    if e.initrd.len() > 1 {
        return Err(Error::Unsupported(format!(
            "GRUB's default entry '{}' loads {} initrds; warmboot loads one (give --initrd with them concatenated)",
            e.title,
            e.initrd.len()
        )));
    }
    let initrd = match e.initrd.first() {
        Some(i) => Some(resolve(i).ok_or_else(|| {
            Error::Unsupported(format!(
                "GRUB's default entry '{}' names the initrd {i}, which is not there",
                e.title
            ))
        })?),
        None => None,
    };
    let cmdline = args
        .iter()
        .map(|a| grub_cfg::expand(a, &env))
        .filter(|a| !a.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(DefaultKernel {
        kernel,
        initrd,
        cmdline: Some(cmdline),
        how: format!(
            "GRUB's default entry '{}' ({}){once}",
            e.title,
            cfg_path.display()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        for (p, text) in files {
            let p = t.path().join(p.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        t
    }

    const GRUB_CFG: &str = r#"
if [ "${next_entry}" ] ; then
   set default="${next_entry}"
else
   set default="${saved_entry}"
fi
menuentry 'Debian GNU/Linux' $menuentry_id_option 'gnulinux-simple-1' {
	linux	/boot/vmlinuz-6.12.57+deb13-amd64 root=UUID=1 ro  quiet
	initrd	/boot/initrd.img-6.12.57+deb13-amd64
}
submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-1' {
	menuentry 'Debian GNU/Linux, with Linux 6.1.0-56-amd64' $menuentry_id_option 'gnulinux-6.1.0-56-amd64-advanced-1' {
		linux	/boot/vmlinuz-6.1.0-56-amd64 root=UUID=1 ro  quiet $vt_handoff
		initrd	/boot/initrd.img-6.1.0-56-amd64
	}
}
"#;

    fn debian(grubenv: &str) -> tempfile::TempDir {
        tree(&[
            ("/boot/grub/grub.cfg", GRUB_CFG),
            ("/boot/grub/grubenv", grubenv),
            ("/boot/vmlinuz-6.12.57+deb13-amd64", "new"),
            ("/boot/initrd.img-6.12.57+deb13-amd64", "new initrd"),
            ("/boot/vmlinuz-6.1.0-56-amd64", "old"),
            ("/boot/initrd.img-6.1.0-56-amd64", "old initrd"),
            ("/vmlinuz", "link to new"),
        ])
    }

    #[test]
    fn grub_boots_its_first_entry_after_an_upgrade() {
        let t = debian("# GRUB Environment Block\n");
        let d = find_default(&HostRoot::new(t.path())).unwrap();
        assert_eq!(d.kernel, t.path().join("boot/vmlinuz-6.12.57+deb13-amd64"));
        assert_eq!(
            d.initrd,
            Some(t.path().join("boot/initrd.img-6.12.57+deb13-amd64"))
        );
        assert_eq!(d.cmdline.as_deref(), Some("root=UUID=1 ro quiet"));
        assert!(
            d.how.starts_with("GRUB's default entry 'Debian GNU/Linux'"),
            "{}",
            d.how
        );
    }

    #[test]
    fn grub_follows_saved_entry_and_next_entry() {
        let t = debian("saved_entry=gnulinux-advanced-1>gnulinux-6.1.0-56-amd64-advanced-1\n");
        let d = find_default(&HostRoot::new(t.path())).unwrap();
        assert_eq!(d.kernel, t.path().join("boot/vmlinuz-6.1.0-56-amd64"));
        // An unset GRUB variable is dropped from the command line.
        assert_eq!(d.cmdline.as_deref(), Some("root=UUID=1 ro quiet"));
        let t = debian("saved_entry=1>0\nnext_entry=0\n");
        let d = find_default(&HostRoot::new(t.path())).unwrap();
        assert_eq!(d.kernel, t.path().join("boot/vmlinuz-6.12.57+deb13-amd64"));
        assert!(d.how.contains("grub-reboot's next_entry"), "{}", d.how);
        let t = debian("saved_entry=no such entry\n");
        let e = find_default(&HostRoot::new(t.path()))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("GRUB's default \"no such entry\" names no entry of "),
            "{e}"
        );
    }

    #[test]
    fn a_separate_boot_partition_and_missing_files() {
        // /boot is its own partition: GRUB names /vmlinuz-R.
        let cfg = "set default=\"0\"\nmenuentry 'X' {\n linux /vmlinuz-6.1 ro\n initrd /initrd.img-6.1\n}\n";
        let t = tree(&[
            ("/boot/grub/grub.cfg", cfg),
            ("/boot/vmlinuz-6.1", "k"),
            ("/boot/initrd.img-6.1", "i"),
        ]);
        let d = find_default(&HostRoot::new(t.path())).unwrap();
        assert_eq!(d.kernel, t.path().join("boot/vmlinuz-6.1"));
        let t = tree(&[("/boot/grub/grub.cfg", cfg)]);
        let e = find_default(&HostRoot::new(t.path()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("names /vmlinuz-6.1, which is not there"), "{e}");
    }

    #[test]
    fn rhel_style_grub_with_bls_entries_and_kernelopts() {
        let entry = |v: &str| {
            format!("title Red Hat Enterprise Linux ({v})\nversion {v}\nlinux /vmlinuz-{v}\ninitrd /initramfs-{v}.img $tuned_initrd\noptions $kernelopts\n")
        };
        let (a, b) = ("5.14.0-70.el9.x86_64", "5.14.0-427.el9.x86_64");
        let t = tree(&[
            (
                "/boot/grub2/grub.cfg",
                "set default=\"${saved_entry}\"\nblscfg\n",
            ),
            (
                "/boot/grub2/grubenv",
                "kernelopts=root=/dev/vda2 ro crashkernel=1G-4G:192M\n",
            ),
            (&format!("/boot/loader/entries/abc-{a}.conf"), &entry(a)),
            (&format!("/boot/loader/entries/abc-{b}.conf"), &entry(b)),
            (&format!("/boot/vmlinuz-{a}"), "k"),
            (&format!("/boot/vmlinuz-{b}"), "k"),
            (&format!("/boot/initramfs-{a}.img"), "i"),
            (&format!("/boot/initramfs-{b}.img"), "i"),
        ]);
        // No saved_entry: the newest (427 > 70, not bytewise); the unset $tuned_initrd
        // vanishes; the options are grubenv's kernelopts.
        let d = find_default(&HostRoot::new(t.path())).unwrap();
        assert_eq!(d.kernel, t.path().join(format!("boot/vmlinuz-{b}")));
        assert_eq!(
            d.initrd,
            Some(t.path().join(format!("boot/initramfs-{b}.img")))
        );
        assert_eq!(
            d.cmdline.as_deref(),
            Some("root=/dev/vda2 ro crashkernel=1G-4G:192M")
        );
        assert!(
            d.how
                .starts_with(&format!("GRUB's default BLS entry abc-{b}")),
            "{}",
            d.how
        );
        // grub2-set-default writes the entry's id.
        std::fs::write(
            t.path().join("boot/grub2/grubenv"),
            format!("saved_entry=abc-{a}\nkernelopts=ro\n"),
        )
        .unwrap();
        let d = find_default(&HostRoot::new(t.path())).unwrap();
        assert_eq!(d.kernel, t.path().join(format!("boot/vmlinuz-{a}")));
        assert_eq!(d.cmdline.as_deref(), Some("ro"));
    }

    #[test]
    fn versions_compare_by_number() {
        assert_eq!(version_cmp("6.12.1", "6.9.9"), Ordering::Greater);
        assert_eq!(
            version_cmp("5.14.0-427.el9", "5.14.0-70.el9"),
            Ordering::Greater
        );
        assert_eq!(version_cmp("a-01", "a-1"), Ordering::Equal);
        assert_eq!(version_cmp("6.1", "6.1.0"), Ordering::Less);
    }

    #[test]
    fn the_links_and_then_a_clear_error() {
        let t = tree(&[("/vmlinuz", "k"), ("/initrd.img", "i")]);
        let d = find_default(&HostRoot::new(t.path())).unwrap();
        assert_eq!(d.kernel, t.path().join("vmlinuz"));
        assert_eq!(d.initrd, Some(t.path().join("initrd.img")));
        assert_eq!(d.cmdline, None);
        let t = tree(&[]);
        let e = find_default(&HostRoot::new(t.path()))
            .unwrap_err()
            .to_string();
        for looked in [
            "LoaderInfo",
            "/boot/grub/grub.cfg",
            "/boot/grub2/grub.cfg",
            "/vmlinuz",
            "/boot/vmlinuz",
        ] {
            assert!(e.contains(looked), "{looked} not in {e}");
        }
        assert_eq!(e.lines().count(), 1);
    }

    #[test]
    fn systemd_boot_takes_loader_conf_default_or_the_newest() {
        let entry = |v: &str| {
            format!(
                "title Arch ({v})\nversion {v}\nlinux /vmlinuz-{v}\noptions root=/dev/vda2 rw\n"
            )
        };
        let files = |conf: &'static str| {
            tree(&[
                (LOADER_INFO, "x"),
                ("/efi/loader/loader.conf", conf),
                ("/efi/loader/entries/arch-6.9.1.conf", &entry("6.9.1")),
                ("/efi/loader/entries/arch-6.12.3.conf", &entry("6.12.3")),
                ("/efi/vmlinuz-6.9.1", "k"),
                ("/efi/vmlinuz-6.12.3", "k"),
            ])
        };
        let t = files("timeout 3\n");
        let d = find_default(&HostRoot::new(t.path())).unwrap();
        assert_eq!(d.kernel, t.path().join("efi/vmlinuz-6.12.3"));
        assert_eq!(d.cmdline.as_deref(), Some("root=/dev/vda2 rw"));
        let t = files("default arch-6.9*\n");
        let d = find_default(&HostRoot::new(t.path())).unwrap();
        assert_eq!(d.kernel, t.path().join("efi/vmlinuz-6.9.1"));
        let t = files("default fedora-*\n");
        let e = find_default(&HostRoot::new(t.path()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("matches none of its entries"), "{e}");
    }

    /// A copy of the systemd-boot fixture tree with two Debian UKIs in the ESP.
    fn sd_uki_tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/boot/systemd-boot-uki");
        copy(&from, t.path());
        for (release, cmdline) in [
            ("6.1.0-56-amd64", "root=/dev/vda1 ro old"),
            ("6.12.38-amd64", "root=/dev/vda1 ro new"),
        ] {
            let mut b = crate::synth::uki::UkiBuilder::new(
                crate::image::pe::MACHINE_X86_64,
                crate::synth::x86::BzImageBuilder::new().build(),
            );
            b.osrel = Some(
                "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nID=debian\nVERSION_ID=\"13\"\n"
                    .into(),
            );
            b.cmdline = Some(format!("{cmdline}\n"));
            b.uname = Some(release.to_string());
            let p = t.path().join(format!("efi/EFI/Linux/debian-{release}.efi"));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b.build()).unwrap();
        }
        t
    }

    fn copy(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &to.join(e.file_name()));
            } else {
                std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
    }

    /// An EFI variable as efivarfs shows it: attributes, UTF-16LE, NUL.
    fn efivar(text: &str) -> Vec<u8> {
        let mut v = 6u32.to_le_bytes().to_vec();
        for u in text.encode_utf16().chain([0]) {
            v.extend_from_slice(&u.to_le_bytes());
        }
        v
    }

    fn var_path(t: &tempfile::TempDir, name: &str) -> std::path::PathBuf {
        t.path()
            .join(format!("sys/firmware/efi/efivars/{name}-{LOADER_GUID}"))
    }

    #[test]
    fn systemd_boot_efi_variables_come_before_loader_conf_and_ukis_are_entries() {
        let t = sd_uki_tree();
        let host = HostRoot::new(t.path());
        let uki = |r: &str| t.path().join(format!("efi/EFI/Linux/debian-{r}.efi"));
        // LoaderEntryDefault (bootctl set-default debian-6.12.*) over loader.conf's
        // DEBIAN-6.1.*; the UKI itself is the kernel, with its .cmdline.
        let d = find_default(&host).unwrap();
        assert_eq!(d.kernel, uki("6.12.38-amd64"));
        assert_eq!(
            (d.initrd, d.cmdline.as_deref()),
            (None, Some("root=/dev/vda1 ro new"))
        );
        assert_eq!(d.how, "systemd-boot's LoaderEntryDefault EFI variable (set by bootctl set-default): debian-6.12.38-amd64.efi (a unified kernel image, 6.12.38-amd64)");
        // A one-shot choice wins over both (a type #1 entry here).
        std::fs::write(
            var_path(&t, "LoaderEntryOneShot"),
            efivar("arch-6.9.1.conf"),
        )
        .unwrap();
        let d = find_default(&host).unwrap();
        assert_eq!(d.kernel, t.path().join("efi/vmlinuz-6.9.1"));
        assert!(
            d.how.starts_with(
                "systemd-boot's LoaderEntryOneShot EFI variable (for one boot): arch-6.9.1.conf"
            ),
            "{}",
            d.how
        );
        // Variables that name no entry are passed over: loader.conf's default, matched
        // case-insensitively, picks the 6.1 UKI.
        std::fs::write(var_path(&t, "LoaderEntryOneShot"), efivar("gone.conf")).unwrap();
        std::fs::write(var_path(&t, "LoaderEntryDefault"), efivar("")).unwrap();
        let d = find_default(&host).unwrap();
        assert_eq!(d.kernel, uki("6.1.0-56-amd64"));
        assert_eq!(d.cmdline.as_deref(), Some("root=/dev/vda1 ro old"));
        // Without any default: the first entry in systemd-boot's order, the UKIs (sort key
        // "debian" from .osrel's ID) before the type #1 entry without one, newest first.
        std::fs::write(t.path().join("efi/loader/loader.conf"), "timeout 3\n").unwrap();
        let d = find_default(&host).unwrap();
        assert_eq!(d.kernel, uki("6.12.38-amd64"));
        assert!(
            d.how
                .starts_with("systemd-boot's default entry debian-6.12.38-amd64.efi"),
            "{}",
            d.how
        );
    }

    #[test]
    fn systemd_boot_order_sort_key_then_version_then_id() {
        let t1 = |id: &str, key: Option<&str>, version: Option<&str>| {
            let mut text = String::new();
            if let Some(v) = version {
                text.push_str(&format!("version {v}\n"));
            }
            SdEntry::Type1(Bls {
                id: id.to_string(),
                base: "/efi".into(),
                sort_key: key.map(str::to_string),
                entry: parse_bls_entry(&text),
            })
        };
        let mut v = [
            t1("zzz", None, None),
            t1("b-old", Some("fedora"), Some("6.9")),
            t1("a-new", Some("fedora"), Some("6.12")),
            t1("arch", Some("arch"), Some("1")),
            t1("aaa", None, None),
        ];
        v.sort_by(sd_boot_order);
        let ids: Vec<String> = v.iter().map(SdEntry::id).collect();
        assert_eq!(
            ids,
            [
                "arch.conf",
                "a-new.conf",
                "b-old.conf",
                "zzz.conf",
                "aaa.conf"
            ]
        );
    }

    #[test]
    fn efi_variables_decode_utf16_after_the_attributes() {
        let t = tree(&[]);
        let p = var_path(&t, "LoaderEntryDefault");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, efivar("Fedora-*.conf")).unwrap();
        let host = HostRoot::new(t.path());
        assert_eq!(
            loader_variable(&host, "LoaderEntryDefault")
                .unwrap()
                .as_deref(),
            Some("Fedora-*.conf")
        );
        // Without the NUL too; an unpaired surrogate is an error naming the file.
        let mut raw = 6u32.to_le_bytes().to_vec();
        raw.extend_from_slice(&[b'a', 0]);
        std::fs::write(&p, &raw).unwrap();
        assert_eq!(
            loader_variable(&host, "LoaderEntryDefault")
                .unwrap()
                .as_deref(),
            Some("a")
        );
        raw.extend_from_slice(&[0x00, 0xd8]);
        std::fs::write(&p, &raw).unwrap();
        let e = loader_variable(&host, "LoaderEntryDefault")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("LoaderEntryDefault") && e.contains("not UTF-16"),
            "{e}"
        );
        assert_eq!(loader_variable(&host, "LoaderEntryOneShot").unwrap(), None);
    }
}
