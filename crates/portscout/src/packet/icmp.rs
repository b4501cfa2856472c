//! ICMP (RFC 792) and ICMPv6 (RFC 4443) error messages: the ones that quote the packet that
//! caused them, so that a probe can be told unreachable.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Type      |     Code      |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |             unused / MTU / pointer (by type)                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |      Internet Header + 64 bits of Original Data Datagram      |  (ICMP)
//! |      As much of the invoking packet as will fit (ICMPv6)      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Quoting types: ICMP destination unreachable (3), time exceeded (11) and parameter problem
//! (12); ICMPv6 destination unreachable (1), packet too big (2), time exceeded (3) and
//! parameter problem (4). Every other type (echo, redirect, router and neighbour discovery…)
//! is [`ParseError::NotAnError`]. The checksum is not verified: the quoted probe is matched by
//! its SYN cookie, which a corrupted message fails.

use super::ParseError;

/// Length of the ICMP and ICMPv6 header before the quote: type, code, checksum and 4 bytes
/// whose meaning depends on the type.
pub(crate) const HEADER_LEN: usize = 8;

/// ICMP types (RFC 792) that quote the packet that caused them.
const V4_DEST_UNREACHABLE: u8 = 3;
const V4_TIME_EXCEEDED: u8 = 11;
const V4_PARAMETER_PROBLEM: u8 = 12;

/// ICMPv6 types (RFC 4443 §3) that quote the packet that caused them.
const V6_DEST_UNREACHABLE: u8 = 1;
const V6_PACKET_TOO_BIG: u8 = 2;
const V6_TIME_EXCEEDED: u8 = 3;
const V6_PARAMETER_PROBLEM: u8 = 4;

/// An error message: its type, code and the quoted packet (whatever follows the 8-byte header).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct ErrorMessage<'a> {
    pub ty: u8,
    pub code: u8,
    pub quote: &'a [u8],
}

impl<'a> ErrorMessage<'a> {
    /// Reads an ICMP (IPv4) message; only error types that quote a packet are accepted.
    pub(crate) fn parse_v4(message: &'a [u8]) -> Result<ErrorMessage<'a>, ParseError> {
        Self::parse(message, |ty| {
            matches!(
                ty,
                V4_DEST_UNREACHABLE | V4_TIME_EXCEEDED | V4_PARAMETER_PROBLEM
            )
        })
    }

    /// Reads an ICMPv6 message; only error types that quote a packet are accepted.
    pub(crate) fn parse_v6(message: &'a [u8]) -> Result<ErrorMessage<'a>, ParseError> {
        Self::parse(message, |ty| {
            matches!(
                ty,
                V6_DEST_UNREACHABLE | V6_PACKET_TOO_BIG | V6_TIME_EXCEEDED | V6_PARAMETER_PROBLEM
            )
        })
    }

    fn parse(
        message: &'a [u8],
        quotes: impl Fn(u8) -> bool,
    ) -> Result<ErrorMessage<'a>, ParseError> {
        let (h, quote) = message
            .split_first_chunk::<HEADER_LEN>()
            .ok_or(ParseError::Truncated)?;
        if !quotes(h[0]) {
            return Err(ParseError::NotAnError);
        }
        Ok(ErrorMessage {
            ty: h[0],
            code: h[1],
            quote,
        })
    }
}
