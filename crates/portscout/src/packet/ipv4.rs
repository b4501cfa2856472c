//! IPv4 headers (RFC 791 §3.1): the header of our SYN, and the header of a received packet or
//! of the packet an ICMP error quotes.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version|  IHL  |Type of Service|          Total Length         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Identification        |Flags|      Fragment Offset    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Time to Live |    Protocol   |         Header Checksum       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Source Address                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Destination Address                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Options                    |    Padding    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! On receive the header checksum is not verified: the kernel has checked it before the packet
//! socket sees the packet on a real interface, and whatever reaches us is matched to a probe by
//! its SYN cookie anyway (a corrupted header fails that match). Options are skipped by IHL.

use std::net::Ipv4Addr;

use super::checksum;
use super::{Lengths, ParseError};

/// Length of an IPv4 header without options.
pub(crate) const HEADER_LEN: usize = 20;

/// The flags and fragment offset bits that mark a fragment: More Fragments and the offset
/// (Don't Fragment and the reserved bit are not).
const FRAGMENT_MASK: u16 = 0x3fff;

/// A parsed IPv4 packet: the fields an answer needs and the payload.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Packet<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub payload: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Reads the header at the start of `buf` and finds its payload.
    ///
    /// Errors: a buffer shorter than the header or than the total length (for
    /// [`Lengths::Whole`]) is [`ParseError::Truncated`]; a version other than 4 is
    /// [`ParseError::NotIp`] for a whole packet and [`ParseError::BadHeader`] for a quote;
    /// IHL below 5 or a total length below the header is [`ParseError::BadHeader`]; More
    /// Fragments or a fragment offset is [`ParseError::Fragment`].
    pub(crate) fn parse(buf: &'a [u8], lengths: Lengths) -> Result<Packet<'a>, ParseError> {
        let h: &[u8; HEADER_LEN] = buf.first_chunk().ok_or(ParseError::Truncated)?;
        let version = h[0] >> 4;
        if version != 4 {
            return Err(match lengths {
                Lengths::Whole => ParseError::NotIp(version),
                Lengths::Quoted => ParseError::BadHeader("ICMP quotes a packet that is not IPv4"),
            });
        }
        let header_len = usize::from(h[0] & 0x0f) * 4;
        if header_len < HEADER_LEN {
            return Err(ParseError::BadHeader("IPv4 header length (IHL) below 5"));
        }
        let total_len = usize::from(u16::from_be_bytes([h[2], h[3]]));
        if total_len < header_len {
            return Err(ParseError::BadHeader(
                "IPv4 total length below the header length",
            ));
        }
        let end = match lengths {
            Lengths::Whole if total_len > buf.len() => return Err(ParseError::Truncated),
            Lengths::Whole => total_len,
            Lengths::Quoted => total_len.min(buf.len()),
        };
        if u16::from_be_bytes([h[6], h[7]]) & FRAGMENT_MASK != 0 {
            return Err(ParseError::Fragment);
        }
        // header_len > end: options cut off by the end of a quote.
        let payload = buf.get(header_len..end).ok_or(ParseError::Truncated)?;
        Ok(Packet {
            src: Ipv4Addr::new(h[12], h[13], h[14], h[15]),
            dst: Ipv4Addr::new(h[16], h[17], h[18], h[19]),
            protocol: h[9],
            payload,
        })
    }
}

/// An IPv4 header without options, to emit.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ident: u16,
    pub ttl: u8,
    /// Header and payload, in bytes.
    pub total_len: u16,
}

impl Repr {
    /// Writes the header: version 4, IHL 5, TOS 0, no flags, offset 0, the header checksum
    /// computed.
    pub(crate) fn emit(&self, out: &mut [u8; HEADER_LEN]) {
        out[0] = 0x45;
        out[1] = 0;
        out[2..4].copy_from_slice(&self.total_len.to_be_bytes());
        out[4..6].copy_from_slice(&self.ident.to_be_bytes());
        out[6..8].copy_from_slice(&0u16.to_be_bytes());
        out[8] = self.ttl;
        out[9] = self.protocol;
        out[10..12].copy_from_slice(&0u16.to_be_bytes());
        out[12..16].copy_from_slice(&self.src.octets());
        out[16..20].copy_from_slice(&self.dst.octets());
        let field = checksum::checksum(out);
        out[10..12].copy_from_slice(&field.to_be_bytes());
    }
}
