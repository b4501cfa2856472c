//! Raw packets for the SYN scan (`--scan syn`): the SYN we send and the answers we read.
//!
//! This module is pure code over bytes: no socket, no clock, no allocation. The SYN scan
//! writes a [`Syn`] with [`Syn::emit`] into a buffer it sends through a raw socket
//! (`IPPROTO_RAW`: we write the whole IP header), and reads what comes back through an
//! `AF_PACKET`/`SOCK_DGRAM` socket, whose buffers start at the IP header, with [`parse`].
//!
//! # Shape
//!
//! As in smoltcp's `wire` module, each protocol file has a parse side and an emit side:
//!
//! | file | RFC | parses | emits |
//! |---|---|---|---|
//! | [`checksum`] | RFC 1071, RFC 9293 §3.1, RFC 8200 §8.1 | | the Internet checksum, pseudo-header sums (public) |
//! | `ipv4.rs` | RFC 791 | a header, whole or quoted; options skipped | a 20-byte header |
//! | `ipv6.rs` | RFC 8200 | a header, whole or quoted; extension headers skipped | a 40-byte header |
//! | `tcp.rs` | RFC 9293 | a header; the 8 bytes an ICMP error quotes | our SYN (MSS option) |
//! | `icmp.rs` | RFC 792, RFC 4443 | an error message and its quote | |
//!
//! # Rules
//!
//! - **Never panics, for any input.** Every length field is checked against the buffer before
//!   it is used; fixed headers are read through `first_chunk` arrays with constant indices,
//!   anything of variable length through `get`. Bad input is a [`ParseError`], a buffer too
//!   small to emit into is an [`EmitError`] (smoltcp panics there; we do not).
//! - **No allocation.** Parsing borrows the input, emitting writes into the caller's buffer
//!   (at most [`SYN_MAX_LEN`] bytes) from headers built on the stack.
//! - **Checksums are computed in full on emit and not verified on receive.** The SYN's IPv4
//!   header checksum and TCP checksum are always written (never left to offload). On receive,
//!   loopback and veth hand the packet socket TCP segments whose checksum is only partial
//!   (checksum offload), so a check would drop every answer there; the IPv4 header and ICMP
//!   checksums are skipped too: an answer is accepted by the scheduler only if it matches the
//!   probe's SYN cookie, which a corrupted packet fails.
//!
//! # Example
//!
//! ```
//! use portscout::packet::{parse, Answer, Syn, TcpFlags, SYN_MAX_LEN};
//!
//! let syn = Syn {
//!     src: "127.0.0.1:40000".parse().unwrap(),
//!     dst: "127.0.0.1:22".parse().unwrap(),
//!     seq: 0x1234_5678,
//!     ip_id: 1,
//! };
//! let mut buf = [0u8; SYN_MAX_LEN];
//! let len = syn.emit(&mut buf)?;
//! assert_eq!(len, 44);
//! // Our own SYN, read back (an AF_PACKET socket sees outgoing packets too).
//! let Ok(Answer::Tcp(tcp)) = parse(&buf[..len]) else { panic!() };
//! assert_eq!((tcp.from, tcp.to, tcp.seq), (syn.src, syn.dst, syn.seq));
//! assert_eq!(tcp.flags, TcpFlags::SYN);
//! # Ok::<(), portscout::packet::EmitError>(())
//! ```

pub mod checksum;
mod icmp;
mod ipv4;
mod ipv6;
mod tcp;

#[cfg(test)]
mod tests;

use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6};

pub use tcp::TcpFlags;

/// How a header's lengths are held to the buffer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Lengths {
    /// A received packet: the total length must fit in the buffer; bytes after it (Ethernet
    /// padding of short frames) are ignored.
    Whole,
    /// A packet quoted by an ICMP error: the quote may stop anywhere after the header, so the
    /// payload is what the quote holds, up to the total length.
    Quoted,
}

/// IP protocol / next header numbers (IANA).
const PROTOCOL_ICMP: u8 = 1;
const PROTOCOL_TCP: u8 = 6;
const PROTOCOL_ICMPV6: u8 = 58;

/// The TTL (IPv4) and hop limit (IPv6) of our SYNs.
const SYN_TTL: u8 = 64;

/// Longest SYN [`Syn::emit`] writes (IPv6 40 + TCP 24 = 64).
pub const SYN_MAX_LEN: usize = ipv6::HEADER_LEN + tcp::SYN_LEN;

/// One SYN probe. `src` and `dst` must be the same family.
///
/// The family is that of the `SocketAddr` variants: two `V6` addresses make an IPv6 packet,
/// even if they are IPv4-mapped. The flow info and scope id of a `SocketAddrV6` are not
/// written (the flow label is 0), and `ip_id` is only used by IPv4.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Syn {
    /// Our address and source port.
    pub src: SocketAddr,
    /// The target address and port.
    pub dst: SocketAddr,
    /// The sequence number: the SYN cookie that the answer acknowledges (`ack = seq + 1`).
    pub seq: u32,
    /// The IPv4 identification field (unused for IPv6).
    pub ip_id: u16,
}

impl Syn {
    /// Writes the IP header and TCP header into `buf`, returns the length written (44 for
    /// IPv4, 64 for IPv6, at most [`SYN_MAX_LEN`]).
    ///
    /// IPv4: IHL 5, TOS 0, identification `ip_id`, no flags, TTL 64, protocol 6, header
    /// checksum. IPv6: traffic class 0, flow label 0, next header 6, hop limit 64. TCP: ack 0,
    /// data offset 6, flags SYN, window 1024, urgent 0, one option MSS 1460; the checksum is
    /// computed over the pseudo-header. Bytes of `buf` past the returned length are untouched.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        let mut segment = [0u8; tcp::SYN_LEN];
        match (self.src, self.dst) {
            (SocketAddr::V4(src), SocketAddr::V4(dst)) => {
                let mut ip = [0u8; ipv4::HEADER_LEN];
                ipv4::Repr {
                    src: *src.ip(),
                    dst: *dst.ip(),
                    protocol: PROTOCOL_TCP,
                    ident: self.ip_id,
                    ttl: SYN_TTL,
                    total_len: (ipv4::HEADER_LEN + tcp::SYN_LEN) as u16,
                }
                .emit(&mut ip);
                let pseudo = checksum::pseudo_header_v4(
                    *src.ip(),
                    *dst.ip(),
                    PROTOCOL_TCP,
                    tcp::SYN_LEN as u16,
                );
                self.segment(src.port(), dst.port())
                    .emit(pseudo, &mut segment);
                write(buf, &ip, &segment)
            }
            (SocketAddr::V6(src), SocketAddr::V6(dst)) => {
                let mut ip = [0u8; ipv6::HEADER_LEN];
                ipv6::Repr {
                    src: *src.ip(),
                    dst: *dst.ip(),
                    next_header: PROTOCOL_TCP,
                    hop_limit: SYN_TTL,
                    payload_len: tcp::SYN_LEN as u16,
                }
                .emit(&mut ip);
                let pseudo = checksum::pseudo_header_v6(
                    *src.ip(),
                    *dst.ip(),
                    PROTOCOL_TCP,
                    tcp::SYN_LEN as u32,
                );
                self.segment(src.port(), dst.port())
                    .emit(pseudo, &mut segment);
                write(buf, &ip, &segment)
            }
            _ => Err(EmitError::MixedFamilies),
        }
    }

    fn segment(&self, src_port: u16, dst_port: u16) -> tcp::SynRepr {
        tcp::SynRepr {
            src_port,
            dst_port,
            seq: self.seq,
        }
    }
}

/// Writes `ip` then `segment` at the start of `buf`; returns their length.
fn write(buf: &mut [u8], ip: &[u8], segment: &[u8]) -> Result<usize, EmitError> {
    let need = ip.len() + segment.len();
    let out = buf
        .get_mut(..need)
        .ok_or(EmitError::BufferTooSmall { need })?;
    // `out` is exactly `need` long: both halves fit their sources.
    let (head, tail) = out.split_at_mut(ip.len());
    head.copy_from_slice(ip);
    tail.copy_from_slice(segment);
    Ok(need)
}

/// Why a [`Syn`] could not be written.
#[derive(Copy, Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum EmitError {
    /// `src` and `dst` are not both IPv4 or both IPv6.
    #[error("the source and destination of a SYN are not the same address family")]
    MixedFamilies,
    /// The buffer is shorter than the packet.
    #[error("buffer too small for the SYN: {need} bytes needed")]
    BufferTooSmall {
        /// The packet's length.
        need: usize,
    },
}

/// What arrived, read from a buffer starting at an IPv4 or IPv6 header.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A TCP segment (any flags: a SYN-ACK, a RST, or our own SYN going out).
    Tcp(TcpAnswer),
    /// An ICMP or ICMPv6 error quoting a TCP segment.
    Icmp(IcmpAnswer),
}

/// A TCP segment: the fields that tell a port's state and match it to its probe.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TcpAnswer {
    /// The sender: the scanned target and port.
    pub from: SocketAddr,
    /// The receiver: our address and source port.
    pub to: SocketAddr,
    /// The control bits.
    pub flags: TcpFlags,
    /// The sequence number.
    pub seq: u32,
    /// The acknowledgment number (meaningful when `flags` has ACK): our cookie plus one.
    pub ack: u32,
}

/// An ICMP or ICMPv6 error about a TCP segment, read from the segment it quotes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct IcmpAnswer {
    /// Source address of the ICMP packet (a router, or the target).
    pub reporter: IpAddr,
    /// The message's type and code.
    pub kind: IcmpKind,
    /// The quoted packet's source: our address and source port.
    pub probe_from: SocketAddr,
    /// The quoted packet's destination: the target and port.
    pub probe_to: SocketAddr,
    /// The quoted TCP sequence number (our SYN cookie).
    pub probe_seq: u32,
}

/// The type and code of an ICMP error, by protocol (the numbers differ: RFC 792, RFC 4443).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum IcmpKind {
    /// ICMP for IPv4: type 3 (destination unreachable), 11 (time exceeded) or 12 (parameter
    /// problem).
    V4 {
        /// The message type.
        ty: u8,
        /// The code within the type (e.g. 3/1 host unreachable, 3/13 administratively
        /// prohibited).
        code: u8,
    },
    /// ICMPv6: type 1 (destination unreachable), 2 (packet too big), 3 (time exceeded) or 4
    /// (parameter problem).
    V6 {
        /// The message type.
        ty: u8,
        /// The code within the type (e.g. 1/3 address unreachable, 1/1 administratively
        /// prohibited).
        code: u8,
    },
}

/// Why a buffer is not an [`Answer`].
#[derive(Copy, Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    /// The buffer ends before a header, or before what a length field says it holds.
    #[error("truncated packet")]
    Truncated,
    /// The version nibble is neither 4 nor 6.
    #[error("not an IP packet (version {0})")]
    NotIp(u8),
    /// A header field that cannot hold (the text says which).
    #[error("bad header: {0}")]
    BadHeader(&'static str),
    /// A fragment (IPv4 More Fragments or offset, an IPv6 Fragment header): our SYNs and their
    /// answers are never fragmented.
    #[error("fragment")]
    Fragment,
    /// Neither TCP nor ICMP of the packet's family: the IP protocol, or the IPv6 next header
    /// that ends the extension header chain (59 for No Next Header).
    #[error("not TCP or ICMP (protocol {0})")]
    OtherProtocol(u8),
    /// An ICMP type that quotes no packet (echo, redirect, neighbour discovery…).
    #[error("ICMP message that quotes no packet")]
    NotAnError,
    /// An ICMP error quoting a packet that is not TCP.
    #[error("ICMP error quoting a packet that is not TCP")]
    QuotedNotTcp,
}

/// Reads an answer. Never panics, for any input.
///
/// `packet` starts at the IPv4 or IPv6 header (an `AF_PACKET`/`SOCK_DGRAM` buffer); bytes
/// after the IP total length (Ethernet padding) are ignored. Any TCP segment is an
/// [`Answer::Tcp`], whatever its flags; an ICMP error is an [`Answer::Icmp`] if it quotes a
/// TCP segment (at least its first 8 bytes, where the ports and sequence number are). No
/// checksum is verified (see the module documentation).
pub fn parse(packet: &[u8]) -> Result<Answer, ParseError> {
    let first = *packet.first().ok_or(ParseError::Truncated)?;
    match first >> 4 {
        4 => {
            let ip = ipv4::Packet::parse(packet, Lengths::Whole)?;
            match ip.protocol {
                PROTOCOL_TCP => tcp_answer(ip.src.into(), ip.dst.into(), ip.payload),
                PROTOCOL_ICMP => {
                    let message = icmp::ErrorMessage::parse_v4(ip.payload)?;
                    let quoted = ipv4::Packet::parse(message.quote, Lengths::Quoted)?;
                    icmp_answer(
                        ip.src.into(),
                        IcmpKind::V4 {
                            ty: message.ty,
                            code: message.code,
                        },
                        (quoted.src.into(), quoted.dst.into()),
                        quoted.protocol,
                        quoted.payload,
                    )
                }
                other => Err(ParseError::OtherProtocol(other)),
            }
        }
        6 => {
            let ip = ipv6::Packet::parse(packet, Lengths::Whole)?;
            match ip.protocol {
                PROTOCOL_TCP => tcp_answer(ip.src.into(), ip.dst.into(), ip.payload),
                PROTOCOL_ICMPV6 => {
                    let message = icmp::ErrorMessage::parse_v6(ip.payload)?;
                    let quoted = ipv6::Packet::parse(message.quote, Lengths::Quoted)?;
                    icmp_answer(
                        ip.src.into(),
                        IcmpKind::V6 {
                            ty: message.ty,
                            code: message.code,
                        },
                        (quoted.src.into(), quoted.dst.into()),
                        quoted.protocol,
                        quoted.payload,
                    )
                }
                other => Err(ParseError::OtherProtocol(other)),
            }
        }
        version => Err(ParseError::NotIp(version)),
    }
}

fn socket(ip: IpAddr, port: u16) -> SocketAddr {
    match ip {
        IpAddr::V4(ip) => SocketAddr::V4(SocketAddrV4::new(ip, port)),
        IpAddr::V6(ip) => SocketAddr::V6(SocketAddrV6::new(ip, port, 0, 0)),
    }
}

fn tcp_answer(src: IpAddr, dst: IpAddr, segment: &[u8]) -> Result<Answer, ParseError> {
    let h = tcp::Header::parse(segment)?;
    Ok(Answer::Tcp(TcpAnswer {
        from: socket(src, h.src_port),
        to: socket(dst, h.dst_port),
        flags: h.flags,
        seq: h.seq,
        ack: h.ack,
    }))
}

fn icmp_answer(
    reporter: IpAddr,
    kind: IcmpKind,
    (probe_src, probe_dst): (IpAddr, IpAddr),
    protocol: u8,
    quoted_segment: &[u8],
) -> Result<Answer, ParseError> {
    if protocol != PROTOCOL_TCP {
        return Err(ParseError::QuotedNotTcp);
    }
    let q = tcp::Quoted::parse(quoted_segment)?;
    Ok(Answer::Icmp(IcmpAnswer {
        reporter,
        kind,
        probe_from: socket(probe_src, q.src_port),
        probe_to: socket(probe_dst, q.dst_port),
        probe_seq: q.seq,
    }))
}
