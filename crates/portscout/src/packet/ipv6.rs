//! IPv6 headers (RFC 8200 §3, §4): the header of our SYN, and the header of a received packet
//! or of the packet an ICMPv6 error quotes, with its extension headers skipped.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Traffic Class |           Flow Label                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Payload Length        |  Next Header  |   Hop Limit   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                         Source Address (128 bits)             +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                      Destination Address (128 bits)           +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Hop-by-Hop Options (0), Routing (43) and Destination Options (60) headers are skipped by
//! their length field (`(Hdr Ext Len + 1) * 8` bytes, RFC 8200 §4.3, §4.4, §4.6); a Fragment
//! header (44) makes the packet a fragment; any other value (including No Next Header, 59) ends
//! the chain and is the upper-layer protocol.

use std::net::Ipv6Addr;

use super::{Lengths, ParseError};

/// Length of the fixed IPv6 header.
pub(crate) const HEADER_LEN: usize = 40;

/// Next header values of the extension headers that are skipped.
const HOP_BY_HOP: u8 = 0;
const ROUTING: u8 = 43;
const DESTINATION_OPTIONS: u8 = 60;
/// Next header value of the Fragment header.
const FRAGMENT: u8 = 44;

/// A parsed IPv6 packet: the fields an answer needs, the upper-layer protocol after the
/// extension headers and its payload.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Packet<'a> {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    /// The next header value that ended the extension header chain.
    pub protocol: u8,
    /// What follows the last extension header.
    pub payload: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Reads the header at the start of `buf`, skips the extension headers and finds the
    /// upper-layer payload.
    ///
    /// Errors: a buffer shorter than the fixed header, than the payload length (for
    /// [`Lengths::Whole`]) or than an extension header's length is [`ParseError::Truncated`];
    /// a version other than 6 is [`ParseError::NotIp`] for a whole packet and
    /// [`ParseError::BadHeader`] for a quote; a Fragment header is [`ParseError::Fragment`].
    pub(crate) fn parse(buf: &'a [u8], lengths: Lengths) -> Result<Packet<'a>, ParseError> {
        let h: &[u8; HEADER_LEN] = buf.first_chunk().ok_or(ParseError::Truncated)?;
        let version = h[0] >> 4;
        if version != 6 {
            return Err(match lengths {
                Lengths::Whole => ParseError::NotIp(version),
                Lengths::Quoted => ParseError::BadHeader("ICMPv6 quotes a packet that is not IPv6"),
            });
        }
        let payload_len = usize::from(u16::from_be_bytes([h[4], h[5]]));
        let end = HEADER_LEN + payload_len;
        let end = match lengths {
            Lengths::Whole if end > buf.len() => return Err(ParseError::Truncated),
            Lengths::Whole => end,
            Lengths::Quoted => end.min(buf.len()),
        };
        let mut rest = buf.get(HEADER_LEN..end).ok_or(ParseError::Truncated)?;
        let mut protocol = h[6];
        // Each turn consumes at least 8 bytes of `rest`, so the loop ends.
        loop {
            match protocol {
                HOP_BY_HOP | ROUTING | DESTINATION_OPTIONS => {
                    let [next, ext_len] = *rest.first_chunk().ok_or(ParseError::Truncated)?;
                    let len = (usize::from(ext_len) + 1) * 8;
                    rest = rest.get(len..).ok_or(ParseError::Truncated)?;
                    protocol = next;
                }
                FRAGMENT => return Err(ParseError::Fragment),
                _ => break,
            }
        }
        let mut src = [0u8; 16];
        src.copy_from_slice(&h[8..24]);
        let mut dst = [0u8; 16];
        dst.copy_from_slice(&h[24..40]);
        Ok(Packet {
            src: Ipv6Addr::from(src),
            dst: Ipv6Addr::from(dst),
            protocol,
            payload: rest,
        })
    }
}

/// A fixed IPv6 header with no extension headers, to emit.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Repr {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub next_header: u8,
    pub hop_limit: u8,
    pub payload_len: u16,
}

impl Repr {
    /// Writes the header: version 6, traffic class 0, flow label 0.
    pub(crate) fn emit(&self, out: &mut [u8; HEADER_LEN]) {
        out[0..4].copy_from_slice(&(6u32 << 28).to_be_bytes());
        out[4..6].copy_from_slice(&self.payload_len.to_be_bytes());
        out[6] = self.next_header;
        out[7] = self.hop_limit;
        out[8..24].copy_from_slice(&self.src.octets());
        out[24..40].copy_from_slice(&self.dst.octets());
    }
}
