//! GRUB's menu, as far as choosing the default entry needs it: the `menuentry` and
//! `submenu` tree of a generated grub.cfg (grub-mkconfig's 10_linux), the `linux` and
//! `initrd` lines of each entry, `set default=…` and the environment block (grubenv).
//!
//! This is no GRUB script interpreter. It reads what grub-mkconfig writes (Debian,
//! Ubuntu, RHEL-style `blscfg`) and resolves `default` the way GRUB's menu code does
//! (grub-core/normal/menu.c `grub_menu_get_default_entry_index`): a `>`-separated path,
//! each part an index, a title or a `--id`/`$menuentry_id_option` id. Anything it cannot
//! resolve is reported, never guessed.
//!
//! Pure: text in, menu out.

use std::collections::HashMap;

/// One bootable entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub title: String,
    pub id: Option<String>,
    /// The kernel path on GRUB's root device and its arguments (`linux`, `linuxefi`,
    /// `linux16` lines).
    pub linux: Option<(String, Vec<String>)>,
    /// The `initrd` (`initrdefi`, `initrd16`) line's files.
    pub initrd: Vec<String>,
}

/// A menu item: an entry or a submenu of items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Entry(Entry),
    Submenu {
        title: String,
        id: Option<String>,
        items: Vec<Item>,
    },
}

/// What grub.cfg says about the default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Menu {
    pub items: Vec<Item>,
    /// The values `set default=` takes, in file order (`${saved_entry}`, `0`, ...).
    pub defaults: Vec<String>,
    /// Whether the file loads BLS entries (`blscfg`, RHEL/Fedora).
    pub blscfg: bool,
}

/// Splits a GRUB script line into words: single quotes literal, double quotes and
/// backslashes as in sh; `$`-variables are kept as written.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    cur.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => cur.extend(chars.next()),
                        _ => cur.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.extend(chars.next());
            }
            '#' if !in_word => break,
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// The title and id of a `menuentry`/`submenu` line's words (after the keyword).
fn title_and_id(w: &[String]) -> (String, Option<String>) {
    let title = w.get(1).cloned().unwrap_or_default();
    let id = w.windows(2).find_map(|p| {
        (p[0] == "--id" || p[0] == "$menuentry_id_option" || p[0] == "${menuentry_id_option}")
            .then(|| p[1].clone())
    });
    (title, id)
}

/// Parses a generated grub.cfg.
pub fn parse(text: &str) -> Menu {
    let mut menu = Menu::default();
    // The open blocks: submenus being filled and the entry being read.
    let mut stack: Vec<(String, Option<String>, Vec<Item>)> = Vec::new();
    let mut entry: Option<Entry> = None;
    // Braces of `if`/`function` blocks inside an entry are not entry ends.
    let mut depth_in_entry = 0usize;
    for line in text.lines() {
        let w = words(line);
        let Some(first) = w.first().map(String::as_str) else {
            continue;
        };
        if let Some(e) = entry.as_mut() {
            match first {
                "}" if depth_in_entry == 0 => {
                    let done = Item::Entry(entry.take().unwrap_or_default());
                    match stack.last_mut() {
                        Some((_, _, items)) => items.push(done),
                        None => menu.items.push(done),
                    }
                }
                "}" | "fi" | "done" => depth_in_entry = depth_in_entry.saturating_sub(1),
                "if" | "for" | "while" | "function" => depth_in_entry += 1,
                "linux" | "linuxefi" | "linux16" => {
                    if let Some(path) = w.get(1) {
                        e.linux = Some((path.clone(), w.get(2..).unwrap_or_default().to_vec()));
                    }
                }
                "initrd" | "initrdefi" | "initrd16" => {
                    e.initrd = w.get(1..).unwrap_or_default().to_vec();
                }
                _ => {}
            }
            continue;
        }
        match first {
            "menuentry" => {
                let (title, id) = title_and_id(&w);
                entry = Some(Entry {
                    title,
                    id,
                    ..Entry::default()
                });
                depth_in_entry = 0;
            }
            "submenu" => {
                let (title, id) = title_and_id(&w);
                stack.push((title, id, Vec::new()));
            }
            "}" => {
                if let Some((title, id, items)) = stack.pop() {
                    let sub = Item::Submenu { title, id, items };
                    match stack.last_mut() {
                        Some((_, _, outer)) => outer.push(sub),
                        None => menu.items.push(sub),
                    }
                }
            }
            "set" => {
                if let Some(v) = w.get(1).and_then(|a| a.strip_prefix("default=")) {
                    menu.defaults.push(v.to_string());
                }
            }
            "blscfg" => menu.blscfg = true,
            _ => {}
        }
    }
    menu
}

/// Parses a GRUB environment block (`grubenv`: `# GRUB Environment Block`, `key=value`
/// lines, `#` padding).
pub fn parse_env(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Substitutes `$name` and `${name}` from `env`; an unset variable becomes empty, as in
/// GRUB.
pub fn expand(value: &str, env: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(rest.get(..i).unwrap_or_default());
        let after = rest.get(i + 1..).unwrap_or_default();
        let (name, tail) = match after.strip_prefix('{') {
            Some(b) => match b.split_once('}') {
                Some((n, t)) => (n, t),
                None => (b, ""),
            },
            None => {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (
                    after.get(..end).unwrap_or_default(),
                    after.get(end..).unwrap_or_default(),
                )
            }
        };
        out.push_str(env.get(name).map(String::as_str).unwrap_or_default());
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// Finds the entry `default` names (already expanded; empty means `0`): a `>`-separated
/// path whose parts are an index, a title or an id.
pub fn find<'m>(items: &'m [Item], default: &str) -> Option<&'m Entry> {
    let default = if default.is_empty() { "0" } else { default };
    let (part, rest) = match default.split_once('>') {
        Some((p, r)) => (p, Some(r)),
        None => (default, None),
    };
    let item = match part.parse::<usize>() {
        Ok(i) => items.get(i)?,
        Err(_) => items.iter().find(|it| {
            let (title, id) = match it {
                Item::Entry(e) => (&e.title, &e.id),
                Item::Submenu { title, id, .. } => (title, id),
            };
            title == part || id.as_deref() == Some(part)
        })?,
    };
    match (item, rest) {
        (Item::Entry(e), None) => Some(e),
        (Item::Submenu { items, .. }, Some(r)) => find(items, r),
        // A submenu named as the default boots its first entry; an entry has no children.
        (Item::Submenu { items, .. }, None) => find(items, "0"),
        (Item::Entry(_), Some(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of Debian 12's generated grub.cfg (trimmed), GRUB_DEFAULT=saved.
    const DEBIAN: &str = r#"
if [ -s $prefix/grubenv ]; then
  set have_grubenv=true
  load_env
fi
if [ "${next_entry}" ] ; then
   set default="${next_entry}"
   set next_entry=
   save_env next_entry
   set boot_once=true
else
   set default="${saved_entry}"
fi
menuentry 'Debian GNU/Linux' --class debian --class gnu-linux $menuentry_id_option 'gnulinux-simple-1234' {
	load_video
	if [ x$feature_all_video_module = xy ]; then
	  insmod all_video
	else
	  insmod efi_gop
	fi
	echo	'Loading Linux 6.12.57+deb13-amd64 ...'
	linux	/boot/vmlinuz-6.12.57+deb13-amd64 root=UUID=1234 ro  quiet
	echo	'Loading initial ramdisk ...'
	initrd	/boot/initrd.img-6.12.57+deb13-amd64
}
submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-1234' {
	menuentry 'Debian GNU/Linux, with Linux 6.12.57+deb13-amd64' --class debian $menuentry_id_option 'gnulinux-6.12.57+deb13-amd64-advanced-1234' {
		linux	/boot/vmlinuz-6.12.57+deb13-amd64 root=UUID=1234 ro  quiet
		initrd	/boot/initrd.img-6.12.57+deb13-amd64
	}
	menuentry 'Debian GNU/Linux, with Linux 6.1.0-56-amd64' --class debian $menuentry_id_option 'gnulinux-6.1.0-56-amd64-advanced-1234' {
		linux	/boot/vmlinuz-6.1.0-56-amd64 root=UUID=1234 ro  quiet
		initrd	/boot/initrd.img-6.1.0-56-amd64
	}
}
menuentry 'UEFI Firmware Settings' $menuentry_id_option 'uefi-firmware' {
	fwsetup
}
"#;

    #[test]
    fn the_debian_menu_tree() {
        let m = parse(DEBIAN);
        assert_eq!(m.defaults, vec!["${next_entry}", "${saved_entry}"]);
        assert_eq!(m.items.len(), 3);
        let Item::Entry(first) = &m.items[0] else {
            panic!("{:?}", m.items[0])
        };
        assert_eq!(first.title, "Debian GNU/Linux");
        assert_eq!(first.id.as_deref(), Some("gnulinux-simple-1234"));
        let (path, args) = first.linux.clone().unwrap();
        assert_eq!(path, "/boot/vmlinuz-6.12.57+deb13-amd64");
        assert_eq!(args, vec!["root=UUID=1234", "ro", "quiet"]);
        assert_eq!(first.initrd, vec!["/boot/initrd.img-6.12.57+deb13-amd64"]);
        let Item::Submenu { items, .. } = &m.items[1] else {
            panic!()
        };
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn defaults_resolve_by_index_title_and_id_through_submenus() {
        let m = parse(DEBIAN);
        let linux = |e: Option<&Entry>| e.and_then(|e| e.linux.clone()).map(|l| l.0);
        let old = Some("/boot/vmlinuz-6.1.0-56-amd64".to_string());
        let new = Some("/boot/vmlinuz-6.12.57+deb13-amd64".to_string());
        assert_eq!(linux(find(&m.items, "")), new);
        assert_eq!(linux(find(&m.items, "0")), new);
        assert_eq!(linux(find(&m.items, "1>1")), old);
        assert_eq!(
            linux(find(
                &m.items,
                "Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-56-amd64"
            )),
            old
        );
        assert_eq!(
            linux(find(
                &m.items,
                "gnulinux-advanced-1234>gnulinux-6.1.0-56-amd64-advanced-1234"
            )),
            old
        );
        assert_eq!(find(&m.items, "2").map(|e| e.linux.is_none()), Some(true));
        assert_eq!(find(&m.items, "7"), None);
        assert_eq!(find(&m.items, "no such entry"), None);
        assert_eq!(find(&m.items, "0>1"), None);
    }

    #[test]
    fn environment_blocks_and_variables() {
        let env = parse_env(
            "# GRUB Environment Block\nsaved_entry=gnulinux-advanced-1234>gnulinux-6.1.0-56-amd64-advanced-1234\nkernelopts=root=/dev/sda2 ro\n##########",
        );
        assert_eq!(env["kernelopts"], "root=/dev/sda2 ro");
        assert_eq!(
            expand("${saved_entry}", &env),
            "gnulinux-advanced-1234>gnulinux-6.1.0-56-amd64-advanced-1234"
        );
        assert_eq!(expand("$kernelopts quiet", &env), "root=/dev/sda2 ro quiet");
        assert_eq!(expand("${unset}x$unset", &env), "x");
        assert_eq!(expand("${open", &env), "");
    }

    #[test]
    fn words_follow_grub_quoting() {
        assert_eq!(
            words(r#"menuentry 'A b' --id "c d" x\ y # comment"#),
            vec!["menuentry", "A b", "--id", "c d", "x y"]
        );
        assert_eq!(words("   "), Vec::<String>::new());
        assert!(parse("blscfg\n").blscfg);
    }
}
