//! TCP headers (RFC 9293 §3.1): the SYN we emit, the header of an answer we parse, and the
//! first 8 bytes of a header quoted by an ICMP error.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Source Port          |       Destination Port        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        Sequence Number                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Acknowledgment Number                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Data |       |C|E|U|A|P|R|S|F|                               |
//! | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//! |       |       |R|E|G|K|H|T|N|N|                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Checksum            |         Urgent Pointer        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           [Options]                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The checksum of a received segment is not verified: on loopback and veth the kernel hands
//! the packet socket segments whose checksum is still partial (checksum offload, the sum is
//! never finished because the packet never leaves the host), so a check would drop every
//! answer there. An answer is instead matched to its probe by the SYN cookie: the
//! acknowledgment number (or the quoted sequence number) must be the cookie of the 4-tuple.

use std::fmt;
use std::ops::BitOr;

use super::checksum;
use super::ParseError;

/// Length of a TCP header without options.
pub(crate) const HEADER_LEN: usize = 20;
/// Length of our SYN: the header and one option, MSS (kind 2, length 4).
pub(crate) const SYN_LEN: usize = HEADER_LEN + 4;
/// Bytes of the TCP header an ICMP error is sure to quote (RFC 792: 64 bits of the datagram).
pub(crate) const QUOTED_LEN: usize = 8;

/// The window our SYN advertises (as nmap's SYN scan does).
const SYN_WINDOW: u16 = 1024;
/// The maximum segment size our SYN announces.
const SYN_MSS: u16 = 1460;
/// TCP option kind: maximum segment size (RFC 9293 §3.2).
const OPTION_MSS: u8 = 2;

/// The control bits of a TCP header (RFC 9293 §3.1; ECE and CWR from RFC 3168).
///
/// A newtype over the 13th byte of the header; the NS bit of RFC 3540 (historic) is not kept.
#[derive(Copy, Clone, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(u8);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// Synchronize sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// Push function.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// The acknowledgment number is significant.
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// The urgent pointer is significant.
    pub const URG: TcpFlags = TcpFlags(0x20);
    /// ECN-Echo (RFC 3168).
    pub const ECE: TcpFlags = TcpFlags(0x40);
    /// Congestion Window Reduced (RFC 3168).
    pub const CWR: TcpFlags = TcpFlags(0x80);

    /// No flag set.
    pub const fn empty() -> TcpFlags {
        TcpFlags(0)
    }

    /// The flags of a flags byte, as it is on the wire.
    pub const fn from_bits(bits: u8) -> TcpFlags {
        TcpFlags(bits)
    }

    /// The flags byte, as it is on the wire.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every flag of `other` is set in `self`.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag of `other` is set in `self`.
    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;

    fn bitor(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | other.0)
    }
}

impl fmt::Debug for TcpFlags {
    /// The names of the flags set, `SYN|ACK`; `-` when none is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(TcpFlags, &str); 8] = [
            (TcpFlags::FIN, "FIN"),
            (TcpFlags::SYN, "SYN"),
            (TcpFlags::RST, "RST"),
            (TcpFlags::PSH, "PSH"),
            (TcpFlags::ACK, "ACK"),
            (TcpFlags::URG, "URG"),
            (TcpFlags::ECE, "ECE"),
            (TcpFlags::CWR, "CWR"),
        ];
        if self.0 == 0 {
            return f.write_str("-");
        }
        let mut first = true;
        for (flag, name) in NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// The fields of a TCP header that an answer needs.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
}

impl Header {
    /// Reads a received segment. The data offset must be at least 5 words and fit in
    /// `segment`; options and data are skipped, the checksum is not verified (module doc).
    pub(crate) fn parse(segment: &[u8]) -> Result<Header, ParseError> {
        let h: &[u8; HEADER_LEN] = segment.first_chunk().ok_or(ParseError::Truncated)?;
        let data_offset = usize::from(h[12] >> 4) * 4;
        if data_offset < HEADER_LEN {
            return Err(ParseError::BadHeader("TCP data offset below 5"));
        }
        if data_offset > segment.len() {
            return Err(ParseError::Truncated);
        }
        Ok(Header {
            src_port: u16::from_be_bytes([h[0], h[1]]),
            dst_port: u16::from_be_bytes([h[2], h[3]]),
            seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
            ack: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
            flags: TcpFlags(h[13]),
        })
    }
}

/// The first 8 bytes of a TCP header, as an ICMP error quotes them: ports and sequence.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Quoted {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
}

impl Quoted {
    /// Reads the quoted bytes; anything after the first 8 is ignored.
    pub(crate) fn parse(quote: &[u8]) -> Result<Quoted, ParseError> {
        let h: &[u8; QUOTED_LEN] = quote.first_chunk().ok_or(ParseError::Truncated)?;
        Ok(Quoted {
            src_port: u16::from_be_bytes([h[0], h[1]]),
            dst_port: u16::from_be_bytes([h[2], h[3]]),
            seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        })
    }
}

/// The SYN of a SYN scan: flags SYN only, ack 0, window 1024, one option (MSS 1460).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct SynRepr {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
}

impl SynRepr {
    /// Writes the segment, its checksum computed in full over `pseudo_header` (the folded
    /// sum of the IP pseudo-header, [`checksum::pseudo_header_v4`] or `_v6`) and the segment.
    pub(crate) fn emit(&self, pseudo_header: u16, out: &mut [u8; SYN_LEN]) {
        out[0..2].copy_from_slice(&self.src_port.to_be_bytes());
        out[2..4].copy_from_slice(&self.dst_port.to_be_bytes());
        out[4..8].copy_from_slice(&self.seq.to_be_bytes());
        out[8..12].copy_from_slice(&0u32.to_be_bytes());
        out[12] = ((SYN_LEN / 4) as u8) << 4;
        out[13] = TcpFlags::SYN.bits();
        out[14..16].copy_from_slice(&SYN_WINDOW.to_be_bytes());
        out[16..18].copy_from_slice(&0u16.to_be_bytes());
        out[18..20].copy_from_slice(&0u16.to_be_bytes());
        out[20] = OPTION_MSS;
        out[21] = 4;
        out[22..24].copy_from_slice(&SYN_MSS.to_be_bytes());
        let field = !checksum::add(pseudo_header, checksum::sum(out));
        out[16..18].copy_from_slice(&field.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        let syn_ack = TcpFlags::SYN | TcpFlags::ACK;
        assert_eq!(syn_ack.bits(), 0x12);
        assert!(syn_ack.contains(TcpFlags::SYN));
        assert!(syn_ack.contains(TcpFlags::SYN | TcpFlags::ACK));
        assert!(!syn_ack.contains(TcpFlags::RST));
        assert!(!syn_ack.contains(TcpFlags::SYN | TcpFlags::RST));
        assert!(syn_ack.intersects(TcpFlags::SYN | TcpFlags::RST));
        assert!(syn_ack.contains(TcpFlags::empty()));
        assert_eq!(TcpFlags::from_bits(0x14), TcpFlags::RST | TcpFlags::ACK);
        assert_eq!(format!("{syn_ack:?}"), "SYN|ACK");
        assert_eq!(
            format!("{:?}", TcpFlags::from_bits(0xff)),
            "FIN|SYN|RST|PSH|ACK|URG|ECE|CWR"
        );
        assert_eq!(format!("{:?}", TcpFlags::empty()), "-");
    }

    #[test]
    fn header_lengths() {
        let mut h = [0u8; 24];
        h[12] = 0x60;
        assert!(Header::parse(&h).is_ok());
        assert_eq!(Header::parse(&h[..23]), Err(ParseError::Truncated));
        assert_eq!(Header::parse(&h[..19]), Err(ParseError::Truncated));
        for offset in 0..5u8 {
            h[12] = offset << 4;
            assert_eq!(
                Header::parse(&h),
                Err(ParseError::BadHeader("TCP data offset below 5")),
                "offset {offset}"
            );
        }
        h[12] = 0xf0; // 60 bytes claimed, 24 present
        assert_eq!(Header::parse(&h), Err(ParseError::Truncated));
        assert_eq!(Quoted::parse(&h[..7]), Err(ParseError::Truncated));
        assert!(Quoted::parse(&h[..8]).is_ok());
    }
}
