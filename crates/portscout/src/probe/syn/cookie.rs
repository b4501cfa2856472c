//! SYN cookies: the sequence number of every SYN is a keyed hash of its 4-tuple, so an answer
//! proves which probe it answers without the scanner keeping anything per packet sent.
//!
//! An answer to a SYN carries the SYN's sequence number back: a SYN-ACK or a RST acknowledges
//! it plus one (RFC 9293 §3.5, §3.10.7.3: the SYN occupies one sequence number), and an ICMP
//! error quotes the first 8 bytes of the TCP header, which end with it (RFC 792, RFC 4443
//! §2.4). Someone who cannot see the SYN cannot forge an answer that passes, except by a 1 in
//! 2^32 guess. masscan and ZMap validate answers the same way.
//!
//! The hash is SipHash-1-3 (the standard library's keyed hasher) under a 128-bit key drawn
//! from the operating system once per scan, over (source address, source port, destination
//! address, destination port).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::SocketAddr;

/// The key of one scan's cookies. Cloning keeps the key: every worker of a scan makes and
/// checks the same cookies.
#[derive(Clone, Debug)]
pub struct Cookies {
    key: RandomState,
}

impl Cookies {
    /// Cookies under a fresh random key.
    pub fn new() -> Cookies {
        Cookies {
            key: RandomState::new(),
        }
    }

    /// The sequence number of a SYN from `ours` to `target`.
    pub fn cookie(&self, ours: SocketAddr, target: SocketAddr) -> u32 {
        let h = self
            .key
            .hash_one((ours.ip(), ours.port(), target.ip(), target.port()));
        // Both halves, so every bit of the 64-bit hash counts.
        (h ^ (h >> 32)) as u32
    }

    /// Whether a SYN-ACK or RST from `target` to `ours` acknowledges the cookie of the SYN from
    /// `ours` to `target`.
    pub fn acknowledges(&self, ours: SocketAddr, target: SocketAddr, ack: u32) -> bool {
        ack == self.cookie(ours, target).wrapping_add(1)
    }
}

impl Default for Cookies {
    fn default() -> Cookies {
        Cookies::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_answer_acknowledges_its_own_syn_only() {
        let c = Cookies::new();
        let (us, them) = (a("198.18.0.1:61000"), a("198.18.0.2:80"));
        let seq = c.cookie(us, them);
        assert!(c.acknowledges(us, them, seq.wrapping_add(1)));
        assert!(!c.acknowledges(us, them, seq));
        // The same number from any other 4-tuple is refused.
        assert!(!c.acknowledges(a("198.18.0.1:61001"), them, seq.wrapping_add(1)));
        assert!(!c.acknowledges(us, a("198.18.0.2:81"), seq.wrapping_add(1)));
        assert!(!c.acknowledges(us, a("198.18.0.3:80"), seq.wrapping_add(1)));
    }

    #[test]
    fn keys_differ_between_scans_and_agree_between_clones() {
        let (us, them) = (a("[2001:db8::1]:61000"), a("[2001:db8::2]:443"));
        let one = Cookies::new();
        let clone = one.clone();
        assert_eq!(one.cookie(us, them), clone.cookie(us, them));
        // Two fresh keys agreeing on 16 cookies in a row would be a 2^-512 accident.
        let other = Cookies::new();
        let same = (0..16u16).all(|p| {
            let them = SocketAddr::new(them.ip(), p);
            one.cookie(us, them) == other.cookie(us, them)
        });
        assert!(!same);
    }

    #[test]
    fn cookies_spread_over_the_sequence_space() {
        let c = Cookies::new();
        let us = a("127.0.0.1:61000");
        let mut high = 0;
        let mut seen = std::collections::HashSet::new();
        for port in 1..=4096u16 {
            let s = c.cookie(us, SocketAddr::new(us.ip(), port));
            high += usize::from(s >= 1 << 31);
            seen.insert(s);
        }
        assert!(seen.len() >= 4090, "{} distinct of 4096", seen.len());
        assert!(
            (1700..2400).contains(&high),
            "{high} of 4096 in the upper half"
        );
    }
}
