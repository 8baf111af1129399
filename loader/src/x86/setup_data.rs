//! The x86 setup_data linked list: extra boot data the zero page points to.
//!
//! Each node is `struct setup_data {u64 next; u32 type; u32 len; u8 data[len]}`
//! (arch/x86/include/uapi/asm/setup_data.h); `next` is the physical address of the next
//! node, 0 ends the list, and the head is hdr.setup_data at zero-page offset 0x250
//! (Documentation/arch/x86/boot.rst, "setup_data"). The kernel maps each node by its
//! physical address, so the builder needs the address the bytes will be loaded at.

use crate::error::{Error, Result};
use crate::fields;

/// SETUP_NONE.
pub const SETUP_NONE: u32 = 0;
/// SETUP_E820_EXT: e820 entries beyond the zero page's 128 (20-byte records).
pub const SETUP_E820_EXT: u32 = 1;
/// SETUP_DTB.
pub const SETUP_DTB: u32 = 2;
/// SETUP_PCI: PCI ROM images.
pub const SETUP_PCI: u32 = 3;
/// SETUP_EFI: `struct efi_setup_data` (arch/x86/include/asm/setup_data.h, see [`crate::x86::efi`]).
pub const SETUP_EFI: u32 = 4;
/// SETUP_APPLE_PROPERTIES.
pub const SETUP_APPLE_PROPERTIES: u32 = 5;
/// SETUP_JAILHOUSE.
pub const SETUP_JAILHOUSE: u32 = 6;
/// SETUP_CC_BLOB (confidential computing).
pub const SETUP_CC_BLOB: u32 = 7;
/// SETUP_IMA: {u64 addr, u64 size} of the IMA measurement log.
pub const SETUP_IMA: u32 = 8;
/// SETUP_RNG_SEED: raw seed bytes, zeroed by the kernel after use.
pub const SETUP_RNG_SEED: u32 = 9;
/// SETUP_INDIRECT flag (bit 31): data is {u32 type, u32 reserved, u64 len, u64 addr}.
pub const SETUP_INDIRECT: u32 = 1 << 31;

/// Size of the node header {u64 next, u32 type, u32 len}.
pub const SETUP_DATA_HEADER: usize = 16;
/// Alignment of every node (the struct's u64 `next` wants 8).
pub const SETUP_DATA_ALIGN: u64 = 8;
/// [`SETUP_DATA_ALIGN`] as a byte count, for padding the buffer.
const SETUP_DATA_ALIGN_BYTES: usize = 8;
const _: () = assert!(SETUP_DATA_ALIGN_BYTES as u64 == SETUP_DATA_ALIGN);

/// A setup_data list laid out for one physical base address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupDataChain;

impl SetupDataChain {
    /// Lays out `nodes` (type, data) one after another from physical `base`, each 8-byte
    /// aligned, every `next` absolute; the last `next` is 0. Returns the bytes to load at
    /// `base` and the first node's address (the value for hdr.setup_data; 0 when `nodes` is
    /// empty). Errors when `base` is not 8-byte aligned, a node's data exceeds u32 length,
    /// or the addresses overflow.
    pub fn build(base: u64, nodes: Vec<(u32, Vec<u8>)>) -> Result<(Vec<u8>, u64)> {
        if !base.is_multiple_of(SETUP_DATA_ALIGN) {
            return Err(Error::invalid(
                "setup_data base",
                format!("{base:#x} is not {SETUP_DATA_ALIGN}-byte aligned"),
            ));
        }
        if nodes.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let mut out: Vec<u8> = Vec::new();
        let count = nodes.len();
        for (i, (kind, data)) in nodes.into_iter().enumerate() {
            let len = u32::try_from(data.len()).map_err(|_| {
                Error::invalid(
                    "setup_data node",
                    format!("{} bytes of data do not fit its u32 length", data.len()),
                )
            })?;
            let node_len =
                fields::add(SETUP_DATA_HEADER as u64, u64::from(len), "setup_data node")?;
            let padded = node_len.next_multiple_of(SETUP_DATA_ALIGN);
            let here = fields::add(base, out.len() as u64, "setup_data address")?;
            let next = if i.checked_add(1) == Some(count) {
                0
            } else {
                fields::add(here, padded, "setup_data address")?
            };
            out.extend_from_slice(&next.to_le_bytes());
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&data);
            out.resize(out.len().next_multiple_of(SETUP_DATA_ALIGN_BYTES), 0);
        }
        Ok((out, base))
    }
}

/// One node read back from a chain: its physical address, type and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupDataNode {
    pub addr: u64,
    pub kind: u32,
    pub data: Vec<u8>,
}

/// Walks a chain whose bytes `bytes` are loaded at physical `base`, starting at `first`
/// (0 = empty), as the kernel does (arch/x86/kernel/setup.c parse_setup_data). Every
/// `next` must point inside `bytes`; a loop or a pointer outside is an error. For checking
/// plans and round-trip tests.
pub fn parse_chain(bytes: &[u8], base: u64, first: u64) -> Result<Vec<SetupDataNode>> {
    let mut out = Vec::new();
    let mut addr = first;
    let max_nodes = bytes.len() / SETUP_DATA_HEADER;
    while addr != 0 {
        if out.len() >= max_nodes {
            return Err(Error::invalid(
                "setup_data list",
                "more nodes than the data can hold (a loop?)",
            ));
        }
        let off = addr.checked_sub(base).ok_or_else(|| {
            Error::invalid(
                "setup_data list",
                format!("node address {addr:#x} is below the chain's base {base:#x}"),
            )
        })?;
        let next = fields::le_u64(bytes, off, "setup_data next")?;
        let kind = fields::le_u32(bytes, fields::add(off, 8, "setup_data")?, "setup_data type")?;
        let len = fields::le_u32(bytes, fields::add(off, 12, "setup_data")?, "setup_data len")?;
        let data = fields::slice(
            bytes,
            fields::add(off, SETUP_DATA_HEADER as u64, "setup_data")?,
            u64::from(len),
            "setup_data data",
        )?;
        out.push(SetupDataNode {
            addr,
            kind,
            data: data.to_vec(),
        });
        addr = next;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_aligned_and_linked_by_absolute_addresses() {
        let base = 0x1_2345_6780;
        let (bytes, first) = SetupDataChain::build(
            base,
            vec![
                (SETUP_E820_EXT, vec![0xaa; 20]),
                (SETUP_EFI, vec![0xbb; 96]),
                (SETUP_RNG_SEED, vec![0xcc; 3]),
            ],
        )
        .unwrap();
        assert_eq!(first, base);
        // node 0: 16 + 20 = 36 → 40; node 1 at +40: 16 + 96 = 112; node 2 at +152: 16 + 3 → 24.
        assert_eq!(bytes.len(), 40 + 112 + 24);
        assert_eq!(
            u64::from_le_bytes(bytes[0..8].try_into().unwrap()),
            base + 40
        );
        assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()), 1);
        assert_eq!(u32::from_le_bytes(bytes[12..16].try_into().unwrap()), 20);
        assert_eq!(
            u64::from_le_bytes(bytes[40..48].try_into().unwrap()),
            base + 152
        );
        assert_eq!(u64::from_le_bytes(bytes[152..160].try_into().unwrap()), 0);
        assert_eq!(&bytes[168..171], &[0xcc; 3]);
        assert_eq!(&bytes[171..176], &[0; 5]);
        let nodes = parse_chain(&bytes, base, first).unwrap();
        let addrs: Vec<u64> = nodes.iter().map(|n| n.addr).collect();
        assert_eq!(addrs, vec![base, base + 40, base + 152]);
        assert!(addrs.iter().all(|a| a % 8 == 0));
        assert_eq!(nodes[1].kind, SETUP_EFI);
        assert_eq!(nodes[1].data, vec![0xbb; 96]);
    }

    #[test]
    fn empty_chain_and_bad_input() {
        assert_eq!(
            SetupDataChain::build(0x1000, Vec::new()).unwrap(),
            (Vec::new(), 0)
        );
        let e = SetupDataChain::build(0x1004, vec![(1, vec![])]).unwrap_err();
        assert!(e.to_string().contains("not 8-byte aligned"), "{e}");
        assert!(SetupDataChain::build(u64::MAX - 7, vec![(1, vec![]), (2, vec![])]).is_err());
        // A self-loop and a pointer below the base are refused, not followed forever.
        let mut looped = SetupDataChain::build(0x1000, vec![(1, vec![1])]).unwrap().0;
        looped[0..8].copy_from_slice(&0x1000u64.to_le_bytes());
        assert!(parse_chain(&looped, 0x1000, 0x1000).is_err());
        assert!(parse_chain(&looped, 0x1000, 0x800).is_err());
        assert!(parse_chain(&looped, 0x1000, 0x2000).is_err());
    }

    proptest::proptest! {
        #[test]
        fn chains_parse_back_to_their_nodes(
            base in proptest::strategy::Strategy::prop_map(0u64..(1 << 48), |b| b * 8),
            nodes in proptest::collection::vec((proptest::prelude::any::<u32>(), proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)), 0..8),
        ) {
            let (bytes, first) = SetupDataChain::build(base, nodes.clone())
                .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            proptest::prop_assert_eq!(first == 0, nodes.is_empty());
            let back = parse_chain(&bytes, base, first)
                .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            proptest::prop_assert!(back.iter().all(|n| n.addr % 8 == 0));
            let pairs: Vec<(u32, Vec<u8>)> = back.into_iter().map(|n| (n.kind, n.data)).collect();
            proptest::prop_assert_eq!(pairs, nodes);
        }

        #[test]
        fn parsing_arbitrary_bytes_never_panics(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..128),
            first in 0u64..0x1100,
        ) {
            let _ = parse_chain(&bytes, 0x1000, first);
        }
    }
}
