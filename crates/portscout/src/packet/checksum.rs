//! The Internet checksum (RFC 1071) and the pseudo-header sums of TCP over IPv4
//! (RFC 9293 §3.1) and over IPv6 (RFC 8200 §8.1).
//!
//! The checksum is the ones' complement of the ones' complement sum of the data taken as
//! big-endian 16-bit words, an odd last byte padded on the right with a zero byte
//! (RFC 1071 §1). The functions here return the *folded sum* (not complemented) so that sums
//! of separate pieces (a pseudo-header, a header, a payload) can be added with [`add`]; the
//! value to write in a checksum field is `!sum`, which [`checksum`] gives for one buffer.
//! A buffer whose checksum field is right sums to `0xffff` ([`verify`]).
//!
//! Nothing here allocates or panics, for any input.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Folds a wide accumulator of 16-bit words into 16 bits, adding the carries back in
/// (the end-around carry of RFC 1071 §2(A)).
fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    // The loop leaves acc ≤ 0xffff.
    acc as u16
}

/// The ones' complement sum of `data` as big-endian 16-bit words, folded to 16 bits (RFC 1071).
///
/// An odd last byte counts as the high byte of a word whose low byte is zero. The sum is not
/// complemented: add several with [`add`], complement the total for a checksum field.
///
/// ```
/// use portscout::packet::checksum;
/// // RFC 1071 §3's example: the words 0001 f203 f4f5 f6f7 sum to ddf2.
/// assert_eq!(checksum::sum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0xddf2);
/// ```
pub fn sum(data: &[u8]) -> u16 {
    // A u64 holds 2^48 words of 0xffff before it could overflow: more than any slice.
    let mut acc = 0u64;
    let mut words = data.chunks_exact(2);
    for word in &mut words {
        if let [hi, lo] = *word {
            acc += u64::from(u16::from_be_bytes([hi, lo]));
        }
    }
    if let [last] = *words.remainder() {
        acc += u64::from(u16::from_be_bytes([last, 0]));
    }
    fold(acc)
}

/// Ones' complement addition of two folded sums.
///
/// Because the ones' complement sum is associative and commutative (RFC 1071 §2), the sum of
/// a buffer is the [`add`] of the sums of its pieces, provided every piece but the last has
/// an even length.
pub fn add(a: u16, b: u16) -> u16 {
    fold(u64::from(a) + u64::from(b))
}

/// The value to write into a zeroed checksum field covering `data`: `!sum(data)`.
pub fn checksum(data: &[u8]) -> u16 {
    !sum(data)
}

/// Whether `sum`, the folded sum of everything a checksum covers *including* the checksum
/// field, says the checksum is right: it is right when the sum is `0xffff` (negative zero).
pub fn verify(sum: u16) -> bool {
    sum == 0xffff
}

/// The folded sum of the IPv4 pseudo-header of RFC 9293 §3.1: source, destination, a zero
/// byte, the protocol and the upper-layer length (TCP header plus data, in bytes).
///
/// ```
/// use std::net::Ipv4Addr;
/// use portscout::packet::checksum;
/// let mut segment = [0u8; 20]; // a TCP header, its checksum field (16..18) zero
/// segment[12] = 0x50;
/// let pseudo = checksum::pseudo_header_v4(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, 6, 20);
/// let field = !checksum::add(pseudo, checksum::sum(&segment));
/// segment[16..18].copy_from_slice(&field.to_be_bytes());
/// assert!(checksum::verify(checksum::add(pseudo, checksum::sum(&segment))));
/// ```
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u16) -> u16 {
    let [s0, s1, s2, s3] = src.octets();
    let [d0, d1, d2, d3] = dst.octets();
    let [l0, l1] = length.to_be_bytes();
    sum(&[s0, s1, s2, s3, d0, d1, d2, d3, 0, protocol, l0, l1])
}

/// The folded sum of the IPv6 pseudo-header of RFC 8200 §8.1: source, destination, the
/// upper-layer packet length as 32 bits, three zero bytes and the next header value of the
/// upper layer (6 for TCP, 58 for ICMPv6), whatever extension headers come before it.
pub fn pseudo_header_v6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, length: u32) -> u16 {
    let [l0, l1, l2, l3] = length.to_be_bytes();
    let tail = sum(&[l0, l1, l2, l3, 0, 0, 0, next_header]);
    add(add(sum(&src.octets()), sum(&dst.octets())), tail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The textbook definition, word by word with the carry added back at each step.
    fn reference(data: &[u8]) -> u16 {
        let mut acc: u32 = 0;
        let mut i = 0;
        while i < data.len() {
            let hi = u32::from(data[i]);
            let lo = data.get(i + 1).copied().map_or(0, u32::from);
            acc += (hi << 8) | lo;
            if acc > 0xffff {
                acc = (acc & 0xffff) + 1;
            }
            i += 2;
        }
        acc as u16
    }

    #[test]
    fn rfc_1071_example() {
        // RFC 1071 §3: 0001 + f203 + f4f5 + f6f7 = 2ddf0, folded ddf2, checksum 220d.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&data), 0xddf2);
        assert_eq!(checksum(&data), 0x220d);
        // The checksum written after the data makes the whole sum to 0xffff.
        let mut with = data.to_vec();
        with.extend_from_slice(&0x220du16.to_be_bytes());
        assert!(verify(sum(&with)));
    }

    #[test]
    fn empty_and_odd_lengths() {
        assert_eq!(sum(&[]), 0);
        assert_eq!(checksum(&[]), 0xffff);
        // An odd last byte is the high byte of a word.
        assert_eq!(sum(&[0xab]), 0xab00);
        assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
        // 0001 + f203 + f400 = 1e604, folded e605.
        assert_eq!(sum(&[0x00, 0x01, 0xf2, 0x03, 0xf4]), 0xe605);
    }

    #[test]
    fn carries() {
        // ffff + 0001 = 1_0000, folded to 0001.
        assert_eq!(sum(&[0xff, 0xff, 0x00, 0x01]), 0x0001);
        // All ones: every partial sum carries; the result is negative zero. With an odd
        // last byte: ffff + ff00 = 1feff, folded ff00.
        assert_eq!(sum(&[0xff; 1500]), 0xffff);
        assert_eq!(sum(&[0xff; 1501]), 0xff00);
        // 4096 words of fffe: fffe000, folded e000 + fff = efff.
        let heavy = [0xff, 0xfe].repeat(4096);
        assert_eq!(sum(&heavy), 0xefff);
        assert_eq!(reference(&heavy), 0xefff);
        // Many words near ffff: the accumulator carries into its third byte.
        let mixed: Vec<u8> = (0..2000u32)
            .map(|i| if i % 3 == 0 { 0x7f } else { 0xff })
            .collect();
        assert_eq!(sum(&mixed), reference(&mixed));
        assert_eq!(add(0xffff, 0xffff), 0xffff);
        assert_eq!(add(0xfffe, 0x0002), 0x0001);
    }

    #[test]
    fn pseudo_headers_by_hand() {
        // c000 + 0201 + c633 + 6407 + 0006 + 0018 = 1ec59, folded ec5a.
        let v4 = pseudo_header_v4(
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(198, 51, 100, 7),
            6,
            24,
        );
        assert_eq!(v4, 0xec5a);
        // 2001 + 0db8 + 0001 + 2001 + 0db8 + 0002 + 0018 + 0006 = 5b93.
        let v6 = pseudo_header_v6(
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
            6,
            24,
        );
        assert_eq!(v6, 0x5b93);
    }

    proptest! {
        #[test]
        fn matches_the_reference(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            prop_assert_eq!(sum(&data), reference(&data));
        }

        #[test]
        fn pieces_add_up(data in proptest::collection::vec(any::<u8>(), 0..300), cut in 0usize..150) {
            let cut = (cut * 2).min(data.len() & !1);
            let (a, b) = data.split_at(cut);
            prop_assert_eq!(add(sum(a), sum(b)), sum(&data));
        }
    }
}
