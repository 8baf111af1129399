//! Sparse simulated physical memory: a map from page number to page contents.
//!
//! Absent pages read as zero, and pages written with only zeros are dropped, so a 64 MiB
//! kernel segment that is mostly zero-fill costs only its non-zero pages.

use std::collections::BTreeMap;
use warmboot::memmap::PAGE_SIZE;

const PAGE: usize = PAGE_SIZE as usize;

/// Simulated physical memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhysMemory {
    pages: BTreeMap<u64, Box<[u8; PAGE]>>,
}

impl PhysMemory {
    pub fn new() -> PhysMemory {
        PhysMemory::default()
    }

    /// Writes `data` at physical `addr`.
    pub fn write(&mut self, addr: u64, data: &[u8]) {
        let mut done = 0usize;
        while done < data.len() {
            let a = addr + done as u64;
            let page = a / PAGE_SIZE;
            let off = (a % PAGE_SIZE) as usize;
            let n = (PAGE - off).min(data.len() - done);
            let chunk = &data[done..done + n];
            match self.pages.get_mut(&page) {
                Some(p) => p[off..off + n].copy_from_slice(chunk),
                None if chunk.iter().all(|&b| b == 0) => {}
                None => {
                    let mut p = Box::new([0u8; PAGE]);
                    p[off..off + n].copy_from_slice(chunk);
                    self.pages.insert(page, p);
                }
            }
            if self
                .pages
                .get(&page)
                .is_some_and(|p| p.iter().all(|&b| b == 0))
            {
                self.pages.remove(&page);
            }
            done += n;
        }
    }

    /// Sets `len` bytes at `addr` to zero.
    pub fn zero(&mut self, addr: u64, len: u64) {
        let mut a = addr;
        let end = addr.saturating_add(len);
        while a < end {
            let page = a / PAGE_SIZE;
            let off = a % PAGE_SIZE;
            let n = (PAGE_SIZE - off).min(end - a);
            if off == 0 && n == PAGE_SIZE {
                self.pages.remove(&page);
            } else if let Some(p) = self.pages.get_mut(&page) {
                p[off as usize..(off + n) as usize].fill(0);
            }
            a += n;
        }
    }

    /// Reads `len` bytes at `addr`.
    pub fn read(&self, addr: u64, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        let mut done = 0usize;
        while done < len {
            let a = addr + done as u64;
            let page = a / PAGE_SIZE;
            let off = (a % PAGE_SIZE) as usize;
            let n = (PAGE - off).min(len - done);
            if let Some(p) = self.pages.get(&page) {
                out[done..done + n].copy_from_slice(&p[off..off + n]);
            }
            done += n;
        }
        out
    }

    /// Copies every non-zero page of `other` over this memory.
    pub fn overlay(&mut self, other: &PhysMemory) {
        for (k, v) in &other.pages {
            self.pages.insert(*k, v.clone());
        }
    }

    /// Number of non-zero pages held.
    pub fn pages_held(&self) -> usize {
        self.pages.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_zero_across_pages() {
        let mut m = PhysMemory::new();
        m.write(0x1ffe, &[1, 2, 3, 4]);
        assert_eq!(m.read(0x1ffd, 6), vec![0, 1, 2, 3, 4, 0]);
        assert_eq!(m.pages_held(), 2);
        m.zero(0x1fff, 2);
        assert_eq!(m.read(0x1ffe, 4), vec![1, 0, 0, 4]);
        m.zero(0x1000, 0x2000);
        assert_eq!(m.pages_held(), 0);
        m.write(0x5000, &[0; 100]);
        assert_eq!(m.pages_held(), 0);
    }
}
