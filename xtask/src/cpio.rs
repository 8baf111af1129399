//! A small writer for the "newc" cpio format the kernel unpacks as initramfs
//! (Documentation/driver-api/early-userspace/buffer-format.rst).
//!
//! Written here rather than shelling out to cpio(1) once per file: the guest initramfs is
//! assembled in memory from files of several Debian packages and our own binaries, and
//! its entries must be in a stable order so the image is reproducible.

use std::collections::BTreeSet;

/// File type bits of `st_mode` (include/uapi/linux/stat.h).
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;

/// An in-memory newc archive under construction.
#[derive(Debug, Default)]
pub struct Archive {
    out: Vec<u8>,
    ino: u32,
    dirs: BTreeSet<String>,
}

impl Archive {
    pub fn new() -> Archive {
        Archive::default()
    }

    /// Adds a directory (and its missing parents).
    pub fn dir(&mut self, path: &str) {
        let path = path.trim_matches('/');
        if path.is_empty() || self.dirs.contains(path) {
            return;
        }
        if let Some((parent, _)) = path.rsplit_once('/') {
            self.dir(parent);
        }
        self.dirs.insert(path.to_string());
        self.entry(path, S_IFDIR | 0o755, &[]);
    }

    /// Adds a regular file with permission bits `perm` (e.g. 0o755), creating parents.
    pub fn file(&mut self, path: &str, perm: u32, data: &[u8]) {
        let path = path.trim_matches('/');
        self.parents(path);
        self.entry(path, S_IFREG | (perm & 0o7777), data);
    }

    /// Adds a symbolic link `path` -> `target`, creating parents.
    pub fn symlink(&mut self, path: &str, target: &str) {
        let path = path.trim_matches('/');
        self.parents(path);
        self.entry(path, S_IFLNK | 0o777, target.as_bytes());
    }

    fn parents(&mut self, path: &str) {
        if let Some((parent, _)) = path.rsplit_once('/') {
            self.dir(parent);
        }
    }

    fn entry(&mut self, name: &str, mode: u32, data: &[u8]) {
        self.ino += 1;
        let nlink = if mode & S_IFDIR != 0 { 2 } else { 1 };
        self.header(self.ino, mode, nlink, data.len() as u32, name);
        self.out.extend_from_slice(data);
        self.pad();
    }

    fn header(&mut self, ino: u32, mode: u32, nlink: u32, filesize: u32, name: &str) {
        let namesize = name.len() as u32 + 1;
        // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
        // rdevmajor, rdevminor, namesize, check — each 8 hex digits.
        let fields = [ino, mode, 0, 0, nlink, 0, filesize, 0, 0, 0, 0, namesize, 0];
        self.out.extend_from_slice(b"070701");
        for f in fields {
            self.out.extend_from_slice(format!("{f:08X}").as_bytes());
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }

    /// Ends the archive with the TRAILER!!! entry and returns its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.header(0, 0, 1, 0, "TRAILER!!!");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal newc reader, enough to check what the writer wrote.
    fn read(mut data: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
        let mut entries = Vec::new();
        let align = |n: usize| n.next_multiple_of(4);
        let start_len = data.len();
        loop {
            assert_eq!(&data[..6], b"070701");
            let field = |i: usize| {
                u32::from_str_radix(
                    std::str::from_utf8(&data[6 + i * 8..14 + i * 8]).unwrap(),
                    16,
                )
                .unwrap()
            };
            let (mode, filesize, namesize) = (field(1), field(6) as usize, field(11) as usize);
            let consumed = start_len - data.len();
            let name_end = 110 + namesize;
            let name = std::str::from_utf8(&data[110..name_end - 1])
                .unwrap()
                .to_string();
            let data_start = align(consumed + name_end) - consumed;
            let body = data[data_start..data_start + filesize].to_vec();
            let next = align(consumed + data_start + filesize) - consumed;
            data = &data[next..];
            if name == "TRAILER!!!" {
                assert!(data.is_empty());
                return entries;
            }
            entries.push((name, mode, body));
        }
    }

    #[test]
    fn round_trip_keeps_names_modes_and_contents_in_order() {
        let mut a = Archive::new();
        a.file("bin/busybox", 0o755, b"\x7fELF...");
        a.symlink("bin/sh", "busybox");
        a.file("init", 0o755, b"#!/bin/sh\necho hi\n");
        a.dir("proc");
        a.file("boot/next/vmlinuz", 0o644, &[0xaa; 4097]);
        let bytes = a.finish();
        assert_eq!(bytes.len() % 4, 0);
        let entries = read(&bytes);
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "bin",
                "bin/busybox",
                "bin/sh",
                "init",
                "proc",
                "boot",
                "boot/next",
                "boot/next/vmlinuz"
            ]
        );
        assert_eq!(entries[1].1, S_IFREG | 0o755);
        assert_eq!(entries[1].2, b"\x7fELF...");
        assert_eq!(entries[2].1, S_IFLNK | 0o777);
        assert_eq!(entries[2].2, b"busybox");
        assert_eq!(entries[7].2.len(), 4097);
        assert_eq!(entries[0].1, S_IFDIR | 0o755);
    }

    #[test]
    fn host_cpio_lists_what_we_wrote() {
        // Cross-check against GNU cpio where it is installed (it is, in CI, via .ci/run).
        let Ok(out) = std::process::Command::new("cpio").arg("--version").output() else {
            eprintln!("NOTICE: cpio(1) not installed; cross-check skipped");
            return;
        };
        assert!(out.status.success());
        let mut a = Archive::new();
        a.file("etc/hostname", 0o644, b"guest\n");
        a.symlink("sbin/init", "/init");
        let bytes = a.finish();
        let mut child = std::process::Command::new("cpio")
            .args(["-t", "--quiet"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&bytes).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            "etc\netc/hostname\nsbin\nsbin/init\n"
        );
    }
}
