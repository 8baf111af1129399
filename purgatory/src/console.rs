//! The console the purgatory prints its refusal on: which UART (the parameter block's
//! console fields, filled by the loader from the new kernel's command line and device
//! tree, loader/src/console.rs) and the two polled transmit loops it needs.
//!
//! Nothing is initialised: the old kernel's console driver left the UART set up (baud
//! rate, line control, enabled) and the line goes out the way it did. (kexec-tools' x86
//! purgatory, purgatory/arch/i386/console-x86.c, rewrites LCR, IER, FCR and MCR first but
//! keeps the baud rate; warmboot touches no setting.) Each byte waits for the transmitter, at most
//! [`POLL_LIMIT`] polls, so a UART that never becomes ready (absent, or switched off)
//! costs a bounded wait and the purgatory still halts.
//!
//! - 8250/16550 on x86 I/O ports: wait for LSR.THRE, write THR (include/uapi/linux/serial_reg.h:
//!   UART_TX 0, UART_LSR 5, UART_LSR_THRE 0x20), with `in`/`out`.
//! - PL011: wait while UARTFR.TXFF, write UARTDR (ARM PrimeCell UART (PL011) TRM, DDI 0183;
//!   include/linux/amba/serial.h: UART01x_DR 0x00, UART01x_FR 0x18, UART01x_FR_TXFF 0x20),
//!   32-bit volatile accesses. On arm64 the purgatory runs with the MMU off, where every
//!   data access is Device-nGnRnE (Arm ARM, DDI 0487, "The effects of disabling an address
//!   translation stage"), so plain volatile accesses reach the device in order.

/// A UART the loader described in the parameter block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Console {
    /// No serial console on the new kernel's command line (or none warmboot can drive):
    /// the purgatory halts without printing.
    None,
    /// A 8250-compatible UART at this I/O port base (x86_64).
    Uart8250Io(u16),
    /// A PL011 at this physical MMIO address (arm64).
    Pl011(u64),
}

/// Kind values of the block's console field.
pub const KIND_NONE: u64 = 0;
pub const KIND_8250_IO: u64 = 1;
pub const KIND_PL011: u64 = 2;

/// Polls of the transmitter's status per byte before the purgatory gives up the line
/// (a 16550 at 9600 baud needs about 1 ms per byte; a poll takes at least ~100 ns).
pub const POLL_LIMIT: u32 = 1 << 20;

impl Console {
    /// The block's (kind, base) fields.
    pub fn encode(self) -> [u64; 2] {
        match self {
            Console::None => [KIND_NONE, 0],
            Console::Uart8250Io(port) => [KIND_8250_IO, u64::from(port)],
            Console::Pl011(addr) => [KIND_PL011, addr],
        }
    }

    /// The console the fields describe; anything the purgatory could not drive safely (an
    /// unknown kind, port 0 or a port range past 0xffff, MMIO at 0 or not 4-byte aligned)
    /// is [`Console::None`].
    pub fn decode(kind: u64, base: u64) -> Console {
        match kind {
            KIND_8250_IO if base != 0 && base <= 0xffff - 7 => Console::Uart8250Io(base as u16),
            KIND_PL011 if base != 0 && base.is_multiple_of(4) => Console::Pl011(base),
            _ => Console::None,
        }
    }
}

/// One UART's transmitter, so that [`write_line`] is tested on the host.
pub trait Uart {
    /// True when the transmitter takes another byte.
    fn can_send(&mut self) -> bool;
    fn send(&mut self, byte: u8);
}

/// Writes `text` and CR LF; false if the UART stayed busy for [`POLL_LIMIT`] polls (the
/// rest of the line is dropped).
pub fn write_line(uart: &mut impl Uart, text: &[u8]) -> bool {
    for &b in text.iter().chain(b"\r\n") {
        let mut polls = 0;
        while !uart.can_send() {
            polls += 1;
            if polls >= POLL_LIMIT {
                return false;
            }
            core::hint::spin_loop();
        }
        uart.send(b);
    }
    true
}

/// A PL011 at a physical address.
pub struct Pl011(*mut u32);

const PL011_DR: usize = 0x00;
const PL011_FR: usize = 0x18;
const PL011_FR_TXFF: u32 = 1 << 5;

impl Pl011 {
    /// # Safety
    /// `base` must be the register block of a PL011 (or 0x1c bytes of writable memory).
    pub unsafe fn new(base: *mut u32) -> Pl011 {
        Pl011(base)
    }
}

impl Uart for Pl011 {
    fn can_send(&mut self) -> bool {
        // SAFETY: UARTFR is inside the register block `new` was given; aligned.
        let fr = unsafe { core::ptr::read_volatile(self.0.add(PL011_FR / 4)) };
        fr & PL011_FR_TXFF == 0
    }

    fn send(&mut self, byte: u8) {
        // SAFETY: UARTDR is inside the register block `new` was given; aligned.
        unsafe { core::ptr::write_volatile(self.0.add(PL011_DR / 4), u32::from(byte)) }
    }
}

/// A 8250/16550 on x86 I/O ports.
#[cfg(target_arch = "x86_64")]
pub struct Uart8250Io(u16);

#[cfg(target_arch = "x86_64")]
const UART_TX: u16 = 0;
#[cfg(target_arch = "x86_64")]
const UART_LSR: u16 = 5;
#[cfg(target_arch = "x86_64")]
const UART_LSR_THRE: u8 = 0x20;

#[cfg(target_arch = "x86_64")]
impl Uart8250Io {
    /// # Safety
    /// `port..port + 8` must be a 8250-compatible UART (or unused ports), and the CPU must
    /// be allowed to use them (CPL 0 on the kexec path).
    pub unsafe fn new(port: u16) -> Uart8250Io {
        Uart8250Io(port)
    }
}

#[cfg(target_arch = "x86_64")]
impl Uart for Uart8250Io {
    fn can_send(&mut self) -> bool {
        let lsr: u8;
        // SAFETY: reading LSR of the UART `new` was given has no side effect on memory.
        unsafe {
            core::arch::asm!("in al, dx", out("al") lsr, in("dx") self.0 + UART_LSR,
                options(nomem, nostack, preserves_flags));
        }
        lsr & UART_LSR_THRE != 0
    }

    fn send(&mut self, byte: u8) {
        // SAFETY: writing THR of the UART `new` was given only transmits the byte.
        unsafe {
            core::arch::asm!("out dx, al", in("dx") self.0 + UART_TX, in("al") byte,
                options(nomem, nostack, preserves_flags));
        }
    }
}

/// Prints `text` as one line on `console`, if this architecture's purgatory drives that
/// kind of UART (x86_64: 8250 on I/O ports; arm64: PL011); false if nothing was printed.
///
/// # Safety
/// `console` must describe a UART of the machine (the loader found it in the new kernel's
/// command line and device tree), reachable as the purgatory runs (I/O ports at CPL 0;
/// MMIO with the MMU off).
pub unsafe fn write(console: Console, text: &[u8]) -> bool {
    match console {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller vouches for the UART.
        Console::Uart8250Io(port) => write_line(&mut unsafe { Uart8250Io::new(port) }, text),
        #[cfg(target_arch = "aarch64")]
        // SAFETY: the caller vouches for the UART; the MMU is off, so the address is physical.
        Console::Pl011(addr) => {
            write_line(&mut unsafe { Pl011::new(addr as usize as *mut u32) }, text)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// A UART that is busy for `busy` polls before each byte.
    struct Fake {
        busy: u32,
        left: u32,
        polls: u32,
        sent: Vec<u8>,
    }

    impl Uart for Fake {
        fn can_send(&mut self) -> bool {
            self.polls += 1;
            if self.left == 0 {
                return true;
            }
            self.left -= 1;
            false
        }
        fn send(&mut self, byte: u8) {
            self.sent.push(byte);
            self.left = self.busy;
        }
    }

    fn fake(busy: u32) -> Fake {
        Fake {
            busy,
            left: busy,
            polls: 0,
            sent: Vec::new(),
        }
    }

    #[test]
    fn each_byte_waits_for_the_transmitter_and_the_line_ends_with_cr_lf() {
        let mut u = fake(3);
        assert!(write_line(&mut u, b"hi"));
        assert_eq!(u.sent, b"hi\r\n");
        assert_eq!(u.polls, 4 * 4, "3 busy polls and 1 ready poll per byte");
    }

    #[test]
    fn a_uart_that_never_gets_ready_is_given_up() {
        // Busy for u32::MAX polls after the first byte: the rest is dropped after the limit.
        let mut u = fake(0);
        u.busy = u32::MAX;
        assert!(!write_line(&mut u, b"xy"));
        assert_eq!(u.sent, b"x");
        assert_eq!(u.polls, 1 + POLL_LIMIT);
    }

    #[test]
    fn pl011_polls_fr_txff_and_writes_dr() {
        // The register block as memory: UARTDR at word 0, UARTFR at word 6.
        let mut regs = [0u32; 8];
        // SAFETY: 32 bytes of writable, aligned memory stand in for the registers.
        let mut u = unsafe { Pl011::new(regs.as_mut_ptr()) };
        assert!(write_line(&mut u, b"ok"));
        assert_eq!(regs[0], u32::from(b'\n'));
        // UARTFR.TXFF is bit 5 (PL011 TRM 3.3.3), spelled out, not the constant under test.
        regs[6] = 0x20;
        regs[0] = 0;
        // SAFETY: as above.
        let mut u = unsafe { Pl011::new(regs.as_mut_ptr()) };
        assert!(!write_line(&mut u, b"full"));
        assert_eq!(regs[0], 0, "nothing written while the FIFO is full");
        // Other flags (BUSY, bit 3; RXFE, bit 4) do not hold the transmitter back.
        regs[6] = 0x18;
        // SAFETY: as above.
        let mut u = unsafe { Pl011::new(regs.as_mut_ptr()) };
        assert!(write_line(&mut u, b"go"));
        assert_eq!(regs[0], u32::from(b'\n'));
    }

    #[test]
    fn the_block_fields_round_trip_and_unsafe_values_mean_no_console() {
        for c in [
            Console::None,
            Console::Uart8250Io(0x3f8),
            Console::Uart8250Io(0x2e8),
            Console::Pl011(0x900_0000),
        ] {
            let [kind, base] = c.encode();
            assert_eq!(Console::decode(kind, base), c);
        }
        for (kind, base) in [
            (KIND_8250_IO, 0),
            (KIND_8250_IO, 0xfff9),
            (KIND_8250_IO, 0x1_03f8),
            (KIND_PL011, 0),
            (KIND_PL011, 0x900_0002),
            (3, 0x3f8),
        ] {
            assert_eq!(
                Console::decode(kind, base),
                Console::None,
                "{kind} {base:#x}"
            );
        }
    }
}
