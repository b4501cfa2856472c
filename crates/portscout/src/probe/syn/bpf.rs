//! The kernel filter on the answer socket: a classic BPF program (`SO_ATTACH_FILTER`, see the
//! kernel's `Documentation/networking/filter.rst`) that keeps only what can be an answer to
//! one worker's SYNs, so the rest of the host's traffic never wakes the scanner.
//!
//! The socket is an `AF_PACKET`/`SOCK_DGRAM` socket, so the program sees each packet from its
//! IP header on. It keeps:
//!
//! | packet | kept when |
//! |---|---|
//! | any packet the host sends (`PACKET_OUTGOING`) | never |
//! | IPv4, not a later fragment, TCP | destination port in the worker's block, and RST set or SYN+ACK both set |
//! | IPv6, next header TCP (no extension headers) | the same |
//! | ICMPv4 destination unreachable, time exceeded, parameter problem | the quoted packet is TCP |
//! | ICMPv6 destination unreachable, packet too big, time exceeded, parameter problem | always (the quote is read in user space) |
//!
//! Everything it keeps is still checked in user space (the SYN cookie, the probe in flight):
//! the filter only sheds load, it decides nothing.
//!
//! No crate assembles classic BPF with labels (the `pcap` crate compiles filter expressions
//! through libpcap, a C dependency for 20 instructions), so a small assembler here (`Asm`) does, and
//! [`tests`](self) run the program through a small interpreter on real packets.

/// Bytes of a kept packet passed to user space (answers are at most ~120 bytes).
pub const SNAPLEN: u32 = 512;

// Opcodes from linux/filter.h (the kernel's ABI; stable).
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const ALU: u16 = 0x04;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const W: u16 = 0x00;
const H: u16 = 0x08;
const B: u16 = 0x10;
const IMM: u16 = 0x00;
const ABS: u16 = 0x20;
const IND: u16 = 0x40;
const MSH: u16 = 0xa0;
const AND: u16 = 0x50;
const JEQ: u16 = 0x10;
const JGT: u16 = 0x20;
const JGE: u16 = 0x30;
const JSET: u16 = 0x40;
const K: u16 = 0x00;
/// `SKF_AD_OFF + SKF_AD_PKTTYPE`: loads the packet type (host, broadcast, outgoing, …).
const PKTTYPE: u32 = (-0x1000i32 + 4) as u32;
const PACKET_OUTGOING: u32 = 4;

const TCP: u32 = 6;
const ICMP: u32 = 1;
const ICMPV6: u32 = 58;
const FLAG_RST: u32 = 0x04;
const FLAG_SYN_ACK: u32 = 0x12;

/// One instruction: `(code, jt, jf, k)`, as `struct sock_filter`.
pub type Insn = (u16, u8, u8, u32);

/// A jump target, resolved by [`Asm::finish`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Label(usize);

#[derive(Copy, Clone, Debug)]
enum Item {
    Plain(u16, u32),
    Jump(u16, u32, Label, Label),
    Here(Label),
}

/// A classic BPF assembler with labels (jumps go forward only, at most 255 instructions).
#[derive(Debug, Default)]
struct Asm {
    items: Vec<Item>,
    labels: usize,
}

impl Asm {
    fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }
    fn here(&mut self, l: Label) {
        self.items.push(Item::Here(l));
    }
    fn op(&mut self, code: u16, k: u32) {
        self.items.push(Item::Plain(code, k));
    }
    fn jump(&mut self, cond: u16, k: u32, yes: Label, no: Label) {
        self.items.push(Item::Jump(JMP | cond | K, k, yes, no));
    }
    /// Resolves labels; `None` if a jump goes backwards or farther than 255 instructions.
    fn finish(self) -> Option<Vec<Insn>> {
        let mut at = vec![usize::MAX; self.labels];
        let mut n = 0;
        for item in &self.items {
            match item {
                Item::Here(l) => at[l.0] = n,
                _ => n += 1,
            }
        }
        let mut out = Vec::with_capacity(n);
        for item in &self.items {
            let pc = out.len();
            let rel = |l: Label| -> Option<u8> {
                at[l.0]
                    .checked_sub(pc + 1)
                    .and_then(|d| u8::try_from(d).ok())
            };
            match *item {
                Item::Here(_) => {}
                Item::Plain(code, k) => out.push((code, 0, 0, k)),
                Item::Jump(code, k, yes, no) => out.push((code, rel(yes)?, rel(no)?, k)),
            }
        }
        Some(out)
    }
}

/// The filter for a worker whose SYNs leave from source ports `first..=last`.
pub fn answers_to(first: u16, last: u16) -> Vec<Insn> {
    let mut a = Asm::default();
    let (keep, drop) = (a.label(), a.label());
    let (v4, v6, v4_tcp, v4_icmp, v4_quote) =
        (a.label(), a.label(), a.label(), a.label(), a.label());
    let (v6_tcp, v6_icmp, ports, flags, synack) =
        (a.label(), a.label(), a.label(), a.label(), a.label());
    let next = |a: &mut Asm| a.label();

    // Never what this host sends (our own SYNs, our kernel's RSTs).
    a.op(LD | W | ABS, PKTTYPE);
    let go = next(&mut a);
    a.jump(JEQ, PACKET_OUTGOING, drop, go);
    a.here(go);
    a.op(LD | B | ABS, 0);
    a.op(ALU | AND | K, 0xf0);
    let not4 = next(&mut a);
    a.jump(JEQ, 0x40, v4, not4);
    a.here(not4);
    a.jump(JEQ, 0x60, v6, drop);

    // IPv4: no later fragments (offset ≠ 0 has no TCP header), then by protocol.
    a.here(v4);
    a.op(LD | H | ABS, 6);
    let first_fragment = next(&mut a);
    a.jump(JSET, 0x1fff, drop, first_fragment);
    a.here(first_fragment);
    a.op(LD | B | ABS, 9);
    let not_tcp = next(&mut a);
    a.jump(JEQ, TCP, v4_tcp, not_tcp);
    a.here(not_tcp);
    a.jump(JEQ, ICMP, v4_icmp, drop);
    a.here(v4_tcp);
    a.op(LDX | B | MSH, 0); // X = IPv4 header length
    a.op(LD | H | IND, 2); // TCP destination port
    a.jump(JGE, 0, ports, ports); // always taken: on to the port check
    a.here(v4_icmp);
    a.op(LDX | B | MSH, 0);
    a.op(LD | B | IND, 0); // ICMP type
    let (t3, t11) = (next(&mut a), next(&mut a));
    a.jump(JEQ, 3, v4_quote, t3);
    a.here(t3);
    a.jump(JEQ, 11, v4_quote, t11);
    a.here(t11);
    a.jump(JEQ, 12, v4_quote, drop);
    a.here(v4_quote);
    a.op(LD | B | IND, 8 + 9); // the quoted IPv4 header's protocol
    a.jump(JEQ, TCP, keep, drop);

    // IPv6: TCP or ICMPv6 right after the fixed header.
    a.here(v6);
    a.op(LD | B | ABS, 6);
    let not_tcp6 = next(&mut a);
    a.jump(JEQ, TCP, v6_tcp, not_tcp6);
    a.here(not_tcp6);
    a.jump(JEQ, ICMPV6, v6_icmp, drop);
    a.here(v6_tcp);
    a.op(LDX | IMM, 40); // X = 40, the fixed IPv6 header
    a.op(LD | H | IND, 2);
    a.jump(JGE, 0, ports, ports); // always taken
    a.here(v6_icmp);
    a.op(LD | B | ABS, 40); // ICMPv6 type: 1 unreachable, 2 too big, 3 time exceeded, 4 parameter
    let small = next(&mut a);
    a.jump(JGE, 1, small, drop);
    a.here(small);
    a.jump(JGT, 4, drop, keep);

    // A = TCP destination port, X = offset of the TCP header.
    a.here(ports);
    let in_low = next(&mut a);
    a.jump(JGE, u32::from(first), in_low, drop);
    a.here(in_low);
    a.jump(JGT, u32::from(last), drop, flags);
    a.here(flags);
    a.op(LD | B | IND, 13); // TCP flags
    let not_rst = next(&mut a);
    a.jump(JSET, FLAG_RST, keep, not_rst);
    a.here(not_rst);
    a.op(ALU | AND | K, FLAG_SYN_ACK);
    a.jump(JEQ, FLAG_SYN_ACK, synack, drop);
    a.here(synack);
    a.here(keep);
    a.op(RET | K, SNAPLEN);
    a.here(drop);
    a.op(RET | K, 0);
    a.finish()
        .expect("the filter's jumps are forward and short (checked by a test)")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a classic BPF program the way the kernel does, for the instructions `answers_to`
    /// uses; `pkttype` is what `SKF_AD_PKTTYPE` loads. Returns the bytes kept (0 = dropped).
    pub(crate) fn run(prog: &[Insn], packet: &[u8], pkttype: u32) -> u32 {
        let (mut a, mut x) = (0u32, 0u32);
        let mut pc = 0;
        let load = |off: u32, size: usize| -> Option<u32> {
            if off == PKTTYPE {
                return Some(pkttype);
            }
            let off = usize::try_from(off).ok()?;
            let bytes = packet.get(off..off.checked_add(size)?)?;
            Some(bytes.iter().fold(0, |v, &b| v << 8 | u32::from(b)))
        };
        loop {
            let (code, jt, jf, k) = prog[pc];
            pc += 1;
            let size = match code & 0x18 {
                W => 4,
                H => 2,
                _ => 1,
            };
            match code & 0x07 {
                0x00 => {
                    let off = match code & 0xe0 {
                        ABS => k,
                        IND => x.wrapping_add(k),
                        m => panic!("ld mode {m:#x}"),
                    };
                    // An out-of-bounds load ends the program with 0, as in the kernel.
                    let Some(v) = load(off, size) else { return 0 };
                    a = v;
                }
                0x01 => match code & 0xe0 {
                    MSH => {
                        let Some(v) = load(k, 1) else { return 0 };
                        x = 4 * (v & 0xf);
                    }
                    0x00 => x = k,
                    m => panic!("ldx mode {m:#x}"),
                },
                0x04 => {
                    assert_eq!(code & 0xf0, AND);
                    a &= k;
                }
                0x05 => {
                    let taken = match code & 0xf0 {
                        JEQ => a == k,
                        JGT => a > k,
                        JGE => a >= k,
                        JSET => a & k != 0,
                        c => panic!("jump {c:#x}"),
                    };
                    pc += usize::from(if taken { jt } else { jf });
                }
                0x06 => return k,
                c => panic!("class {c:#x}"),
            }
        }
    }

    const HOST: u32 = 0;

    fn v4_tcp(dport: u16, flags: u8) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&40u16.to_be_bytes());
        p[8] = 64;
        p[9] = 6;
        p[12..16].copy_from_slice(&[198, 18, 0, 2]);
        p[16..20].copy_from_slice(&[198, 18, 0, 1]);
        p[20..22].copy_from_slice(&80u16.to_be_bytes());
        p[22..24].copy_from_slice(&dport.to_be_bytes());
        p[32] = 0x50;
        p[33] = flags;
        p
    }

    fn v6_tcp(dport: u16, flags: u8) -> Vec<u8> {
        let mut p = vec![0u8; 60];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&20u16.to_be_bytes());
        p[6] = 6;
        p[7] = 64;
        p[40..42].copy_from_slice(&443u16.to_be_bytes());
        p[42..44].copy_from_slice(&dport.to_be_bytes());
        p[52] = 0x50;
        p[53] = flags;
        p
    }

    #[test]
    fn assembles() {
        let prog = answers_to(61000, 61015);
        assert!(prog.len() < 64, "{} instructions", prog.len());
    }

    #[test]
    fn keeps_syn_acks_and_rsts_to_the_block_only() {
        let prog = answers_to(61000, 61015);
        for (family, make) in [("v4", v4_tcp as fn(u16, u8) -> Vec<u8>), ("v6", v6_tcp)] {
            let keep = |port, flags| run(&prog, &make(port, flags), HOST) == SNAPLEN;
            assert!(keep(61000, 0x12), "{family} syn-ack, first port");
            assert!(keep(61015, 0x12), "{family} syn-ack, last port");
            assert!(keep(61007, 0x14), "{family} rst-ack");
            assert!(keep(61007, 0x04), "{family} bare rst");
            assert!(!keep(60999, 0x12), "{family} below the block");
            assert!(!keep(61016, 0x14), "{family} above the block");
            assert!(!keep(61003, 0x02), "{family} a SYN (ours, looped back)");
            assert!(!keep(61003, 0x10), "{family} a bare ACK");
            assert!(!keep(61003, 0x18), "{family} data");
            assert_eq!(run(&prog, &make(61000, 0x12), 4), 0, "{family} outgoing");
        }
    }

    #[test]
    fn keeps_v4_with_options() {
        let prog = answers_to(100, 100);
        let mut p = v4_tcp(100, 0x12);
        p.splice(20..20, [1u8, 1, 1, 1]); // four NOP options: IHL 6
        p[0] = 0x46;
        assert_eq!(run(&prog, &p, HOST), SNAPLEN);
    }

    #[test]
    fn drops_later_fragments_and_other_protocols() {
        let prog = answers_to(61000, 61015);
        let mut frag = v4_tcp(61000, 0x12);
        frag[7] = 1; // fragment offset 1
        assert_eq!(run(&prog, &frag, HOST), 0);
        let mut udp = v4_tcp(61000, 0x12);
        udp[9] = 17;
        assert_eq!(run(&prog, &udp, HOST), 0);
        assert_eq!(run(&prog, &[0x20; 40], HOST), 0, "version 2");
        assert_eq!(run(&prog, &[], HOST), 0, "empty");
        assert_eq!(run(&prog, &v4_tcp(61000, 0x12)[..30], HOST), 0, "truncated");
    }

    #[test]
    fn keeps_icmp_errors_quoting_tcp() {
        let prog = answers_to(61000, 61015);
        // IPv4 + ICMP type 3 code 1 + quoted IPv4/TCP header.
        let mut p = vec![0u8; 20 + 8 + 28];
        p[0] = 0x45;
        p[9] = 1;
        p[20] = 3;
        p[21] = 1;
        p[28] = 0x45;
        p[28 + 9] = 6;
        assert_eq!(run(&prog, &p, HOST), SNAPLEN);
        p[28 + 9] = 17;
        assert_eq!(run(&prog, &p, HOST), 0, "quoted UDP");
        p[28 + 9] = 6;
        p[20] = 8;
        assert_eq!(run(&prog, &p, HOST), 0, "echo request");
        let mut q = vec![0u8; 40 + 8 + 48];
        q[0] = 0x60;
        q[6] = 58;
        for (ty, kept) in [
            (1, true),
            (2, true),
            (3, true),
            (4, true),
            (128, false),
            (135, false),
        ] {
            q[40] = ty;
            assert_eq!(run(&prog, &q, HOST) == SNAPLEN, kept, "ICMPv6 type {ty}");
        }
    }
}
