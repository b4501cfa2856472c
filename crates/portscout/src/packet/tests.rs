//! Byte-level tests of the packet module: the SYN against bytes computed elsewhere, answers
//! parsed field by field, every prefix and a catalogue of malformed packets, properties over
//! arbitrary bytes, and the fuzz target's seed corpus kept equal to the vectors.

mod vectors;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use proptest::prelude::*;

use super::*;
use vectors::*;

fn v4(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn syn_v4() -> Syn {
    Syn {
        src: v4("192.0.2.1:40000"),
        dst: v4("198.51.100.7:443"),
        seq: 0x1234_5678,
        ip_id: 0xbeef,
    }
}

fn syn_v6() -> Syn {
    Syn {
        src: v4("[2001:db8::1]:40000"),
        dst: v4("[2001:db8::2]:22"),
        seq: 0xdead_beef,
        ip_id: 0xbeef,
    }
}

fn emit(syn: &Syn) -> Vec<u8> {
    let mut buf = [0u8; SYN_MAX_LEN];
    let len = syn.emit(&mut buf).unwrap();
    buf[..len].to_vec()
}

/// The TCP checksum of `packet` (an IPv4 packet without options or an IPv6 packet without
/// extension headers) re-summed over the pseudo-header: right if 0xffff.
fn tcp_sum(packet: &[u8]) -> u16 {
    match packet[0] >> 4 {
        4 => {
            let src = Ipv4Addr::from(<[u8; 4]>::try_from(&packet[12..16]).unwrap());
            let dst = Ipv4Addr::from(<[u8; 4]>::try_from(&packet[16..20]).unwrap());
            let segment = &packet[20..];
            let pseudo = checksum::pseudo_header_v4(src, dst, 6, segment.len() as u16);
            checksum::add(pseudo, checksum::sum(segment))
        }
        _ => {
            let src = Ipv6Addr::from(<[u8; 16]>::try_from(&packet[8..24]).unwrap());
            let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&packet[24..40]).unwrap());
            let segment = &packet[40..];
            let pseudo = checksum::pseudo_header_v6(src, dst, 6, segment.len() as u32);
            checksum::add(pseudo, checksum::sum(segment))
        }
    }
}

// ---- emit ----

#[test]
fn syn_v4_bytes() {
    let packet = emit(&syn_v4());
    assert_eq!(packet, SYN_V4);
    assert_eq!(checksum::sum(&packet[..20]), 0xffff, "IPv4 header checksum");
    assert_eq!(tcp_sum(&packet), 0xffff, "TCP checksum");
    // Field by field, as the brief says nmap -sS sends it.
    assert_eq!(packet[0], 0x45);
    assert_eq!(packet[1], 0, "TOS");
    assert_eq!(&packet[2..4], &[0, 44], "total length");
    assert_eq!(&packet[4..6], &[0xbe, 0xef], "identification");
    assert_eq!(&packet[6..8], &[0, 0], "no flags, offset 0");
    assert_eq!(packet[8], 64, "TTL");
    assert_eq!(packet[9], 6, "protocol");
    assert_eq!(&packet[28..32], &[0; 4], "ack");
    assert_eq!(packet[32], 0x60, "data offset 6");
    assert_eq!(packet[33], 0x02, "SYN only");
    assert_eq!(&packet[34..36], &1024u16.to_be_bytes(), "window");
    assert_eq!(&packet[38..40], &[0, 0], "urgent");
    assert_eq!(&packet[40..44], &[2, 4, 0x05, 0xb4], "MSS 1460");
}

#[test]
fn syn_v6_bytes() {
    let packet = emit(&syn_v6());
    assert_eq!(packet, SYN_V6);
    assert_eq!(tcp_sum(&packet), 0xffff, "TCP checksum");
    assert_eq!(
        &packet[0..4],
        &[0x60, 0, 0, 0],
        "version, class, flow label"
    );
    assert_eq!(&packet[4..6], &[0, 24], "payload length");
    assert_eq!(packet[6], 6, "next header");
    assert_eq!(packet[7], 64, "hop limit");
}

#[test]
fn syn_v6_ignores_flow_info_and_scope() {
    let mut syn = syn_v6();
    syn.src = SocketAddr::V6(SocketAddrV6::new(
        "2001:db8::1".parse().unwrap(),
        40000,
        7,
        3,
    ));
    assert_eq!(emit(&syn), SYN_V6);
}

#[test]
fn emit_errors() {
    let mut mixed = syn_v4();
    mixed.dst = v4("[2001:db8::2]:22");
    let mut buf = [0u8; SYN_MAX_LEN];
    assert_eq!(mixed.emit(&mut buf), Err(EmitError::MixedFamilies));
    mixed = syn_v6();
    mixed.dst = v4("198.51.100.7:443");
    assert_eq!(mixed.emit(&mut buf), Err(EmitError::MixedFamilies));

    for len in 0..44 {
        let mut small = vec![0u8; len];
        assert_eq!(
            syn_v4().emit(&mut small),
            Err(EmitError::BufferTooSmall { need: 44 })
        );
        assert!(
            small.iter().all(|&b| b == 0),
            "nothing written into a short buffer"
        );
    }
    for len in 0..64 {
        let mut small = vec![0u8; len];
        assert_eq!(
            syn_v6().emit(&mut small),
            Err(EmitError::BufferTooSmall { need: 64 })
        );
    }
    // Exactly long enough, and longer: the bytes after the packet are untouched.
    let mut exact = [0u8; 44];
    assert_eq!(syn_v4().emit(&mut exact), Ok(44));
    let mut long = [0xaau8; 100];
    assert_eq!(syn_v6().emit(&mut long), Ok(64));
    assert_eq!(&long[..64], &SYN_V6);
    assert!(long[64..].iter().all(|&b| b == 0xaa));
}

// ---- parse: valid answers ----

fn tcp(from: &str, to: &str, flags: TcpFlags, seq: u32, ack: u32) -> Answer {
    Answer::Tcp(TcpAnswer {
        from: v4(from),
        to: v4(to),
        flags,
        seq,
        ack,
    })
}

#[test]
fn syn_ack_and_rst_ack() {
    let syn_ack = TcpFlags::SYN | TcpFlags::ACK;
    let rst_ack = TcpFlags::RST | TcpFlags::ACK;
    let (target4, us4) = ("198.51.100.7:443", "192.0.2.1:40000");
    let (target6, us6) = ("[2001:db8::2]:22", "[2001:db8::1]:40000");
    assert_eq!(
        parse(&SYN_ACK_V4),
        Ok(tcp(target4, us4, syn_ack, 0xa1b2_c3d4, 0x1234_5679))
    );
    assert_eq!(
        parse(&RST_ACK_V4),
        Ok(tcp(target4, us4, rst_ack, 0, 0x1234_5679))
    );
    assert_eq!(
        parse(&SYN_ACK_V6),
        Ok(tcp(target6, us6, syn_ack, 0x0bad_f00d, 0xdead_bef0))
    );
    assert_eq!(
        parse(&RST_ACK_V6),
        Ok(tcp(target6, us6, rst_ack, 0, 0xdead_bef0))
    );
    // Our own SYNs, as the packet socket also sees them going out.
    assert_eq!(
        parse(&SYN_V4),
        Ok(tcp(us4, target4, TcpFlags::SYN, 0x1234_5678, 0))
    );
    assert_eq!(
        parse(&SYN_V6),
        Ok(tcp(us6, target6, TcpFlags::SYN, 0xdead_beef, 0))
    );
}

#[test]
fn ipv4_options_and_ipv6_hop_by_hop_are_skipped() {
    assert_eq!(RST_ACK_V4_OPTIONS[0], 0x46);
    assert_eq!(parse(&RST_ACK_V4_OPTIONS), parse(&RST_ACK_V4));
    assert_eq!(SYN_ACK_V6_HOP_BY_HOP[6], 0);
    assert_eq!(parse(&SYN_ACK_V6_HOP_BY_HOP), parse(&SYN_ACK_V6));
}

/// `SYN_ACK_V6` with an extension header of type `ty` (whose own next header byte is set to
/// TCP here) inserted after the fixed header.
fn with_extension(ty: u8, ext: &[u8]) -> Vec<u8> {
    let mut packet = SYN_ACK_V6[..40].to_vec();
    packet[6] = ty;
    let payload_len = (SYN_ACK_V6.len() - 40 + ext.len()) as u16;
    packet[4..6].copy_from_slice(&payload_len.to_be_bytes());
    packet.extend_from_slice(ext);
    if !ext.is_empty() {
        packet[40] = 6;
    }
    packet.extend_from_slice(&SYN_ACK_V6[40..]);
    packet
}

#[test]
fn ipv6_extension_chains() {
    let expected = parse(&SYN_ACK_V6);
    // Routing (43) and Destination Options (60), 16 bytes each (length field 1).
    let mut ext = [0u8; 16];
    ext[1] = 1;
    assert_eq!(parse(&with_extension(43, &ext)), expected);
    assert_eq!(parse(&with_extension(60, &ext)), expected);
    // A chain: Hop-by-Hop -> Destination Options -> TCP.
    let mut chain = SYN_ACK_V6[..40].to_vec();
    chain[6] = 0;
    chain[4..6].copy_from_slice(&(24u16 + 16).to_be_bytes());
    chain.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
    chain.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
    chain.extend_from_slice(&SYN_ACK_V6[40..]);
    assert_eq!(parse(&chain), expected);
    // A length field that points past the packet.
    let mut long = [0u8; 16];
    long[1] = 200;
    assert_eq!(
        parse(&with_extension(60, &long)),
        Err(ParseError::Truncated)
    );
    // Fragment header (44), No Next Header (59), another protocol (17).
    assert_eq!(
        parse(&with_extension(44, &[0; 8])),
        Err(ParseError::Fragment)
    );
    assert_eq!(
        parse(&with_extension(59, &[])),
        Err(ParseError::OtherProtocol(59))
    );
    assert_eq!(
        parse(&with_extension(17, &[])),
        Err(ParseError::OtherProtocol(17))
    );
    // Hop-by-Hop whose next header is No Next Header.
    let mut hbh = [0u8; 8];
    hbh[1] = 0;
    let mut none = with_extension(0, &hbh);
    none[40] = 59;
    assert_eq!(parse(&none), Err(ParseError::OtherProtocol(59)));
}

#[test]
fn icmp_errors_quoting_our_syn() {
    let router4: IpAddr = "203.0.113.9".parse().unwrap();
    let router6: IpAddr = "2001:db8:ffff::9".parse().unwrap();
    assert_eq!(
        parse(&ICMP4_HOST_UNREACHABLE),
        Ok(Answer::Icmp(IcmpAnswer {
            reporter: router4,
            kind: IcmpKind::V4 { ty: 3, code: 1 },
            probe_from: v4("192.0.2.1:40000"),
            probe_to: v4("198.51.100.7:443"),
            probe_seq: 0x1234_5678,
        }))
    );
    // Quoted IP header + exactly 8 TCP bytes; the quoted total length says 44.
    assert_eq!(
        u16::from_be_bytes([ICMP4_QUOTE_8[30], ICMP4_QUOTE_8[31]]),
        44
    );
    assert_eq!(ICMP4_QUOTE_8.len(), 20 + 8 + 20 + 8);
    assert_eq!(
        parse(&ICMP4_QUOTE_8),
        Ok(Answer::Icmp(IcmpAnswer {
            reporter: router4,
            kind: IcmpKind::V4 { ty: 11, code: 0 },
            probe_from: v4("192.0.2.1:40000"),
            probe_to: v4("198.51.100.7:443"),
            probe_seq: 0x1234_5678,
        }))
    );
    assert_eq!(
        parse(&ICMP6_ADDR_UNREACHABLE),
        Ok(Answer::Icmp(IcmpAnswer {
            reporter: router6,
            kind: IcmpKind::V6 { ty: 1, code: 3 },
            probe_from: v4("[2001:db8::1]:40000"),
            probe_to: v4("[2001:db8::2]:22"),
            probe_seq: 0xdead_beef,
        }))
    );
}

/// An ICMPv4 3/1 from the router quoting `quote` (checksums left zero: not verified).
fn icmp4_quoting(quote: &[u8]) -> Vec<u8> {
    let mut packet = ICMP4_HOST_UNREACHABLE[..28].to_vec();
    packet.extend_from_slice(quote);
    let total = packet.len() as u16;
    packet[2..4].copy_from_slice(&total.to_be_bytes());
    packet
}

/// An ICMPv6 1/3 from the router quoting `quote`.
fn icmp6_quoting(quote: &[u8]) -> Vec<u8> {
    let mut packet = ICMP6_ADDR_UNREACHABLE[..48].to_vec();
    packet.extend_from_slice(quote);
    let payload = (packet.len() - 40) as u16;
    packet[4..6].copy_from_slice(&payload.to_be_bytes());
    packet
}

#[test]
fn icmp_quotes_cut_anywhere() {
    // Every cut of the quoted SYN: Truncated before the 8 TCP bytes, the answer from then on.
    let whole = parse(&ICMP4_HOST_UNREACHABLE);
    for cut in 0..=SYN_V4.len() {
        let got = parse(&icmp4_quoting(&SYN_V4[..cut]));
        if cut < 28 {
            assert_eq!(got, Err(ParseError::Truncated), "v4 quote of {cut} bytes");
        } else {
            assert_eq!(
                got.map(kind_free),
                whole.map(kind_free),
                "v4 quote of {cut} bytes"
            );
        }
    }
    let whole = parse(&ICMP6_ADDR_UNREACHABLE);
    for cut in 0..=SYN_V6.len() {
        let got = parse(&icmp6_quoting(&SYN_V6[..cut]));
        if cut < 48 {
            assert_eq!(got, Err(ParseError::Truncated), "v6 quote of {cut} bytes");
        } else {
            assert_eq!(got, whole, "v6 quote of {cut} bytes");
        }
    }
    // The quoted IPv6 packet may carry extension headers too.
    let mut quoted = SYN_V6[..40].to_vec();
    quoted[6] = 0;
    quoted[4..6].copy_from_slice(&32u16.to_be_bytes());
    quoted.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
    quoted.extend_from_slice(&SYN_V6[40..]);
    assert_eq!(parse(&icmp6_quoting(&quoted)), whole);
    // ... cut inside the extension header: Truncated.
    assert_eq!(
        parse(&icmp6_quoting(&quoted[..44])),
        Err(ParseError::Truncated)
    );
    // Quoted IPv4 options cut off by the end of the quote.
    let mut with_options = vec![0x46];
    with_options.extend_from_slice(&SYN_V4[1..20]);
    with_options.extend_from_slice(&[0x94, 4]);
    assert_eq!(
        parse(&icmp4_quoting(&with_options)),
        Err(ParseError::Truncated)
    );
}

/// The answer with its ICMP kind blanked (the helper above quotes under type 3/1 always).
fn kind_free(answer: Answer) -> Answer {
    match answer {
        Answer::Icmp(mut icmp) => {
            icmp.kind = IcmpKind::V4 { ty: 0, code: 0 };
            Answer::Icmp(icmp)
        }
        tcp => tcp,
    }
}

#[test]
fn every_icmp_error_type() {
    for ty in 0..=255u8 {
        let mut packet = ICMP4_HOST_UNREACHABLE.to_vec();
        packet[20] = ty;
        let got = parse(&packet);
        if matches!(ty, 3 | 11 | 12) {
            assert!(matches!(got, Ok(Answer::Icmp(a)) if a.kind == IcmpKind::V4 { ty, code: 1 }));
        } else {
            assert_eq!(got, Err(ParseError::NotAnError), "ICMP type {ty}");
        }
        let mut packet = ICMP6_ADDR_UNREACHABLE.to_vec();
        packet[40] = ty;
        let got = parse(&packet);
        if matches!(ty, 1..=4) {
            assert!(matches!(got, Ok(Answer::Icmp(a)) if a.kind == IcmpKind::V6 { ty, code: 3 }));
        } else {
            assert_eq!(got, Err(ParseError::NotAnError), "ICMPv6 type {ty}");
        }
    }
}

#[test]
fn ethernet_padding_is_ignored() {
    assert_eq!(RST_ACK_V4_PADDED.len(), 46);
    assert_eq!(parse(&RST_ACK_V4_PADDED), parse(&RST_ACK_V4));
    let mut padded = SYN_ACK_V6.to_vec();
    padded.extend_from_slice(&[0xff; 10]);
    assert_eq!(parse(&padded), parse(&SYN_ACK_V6));
    let mut padded = ICMP4_QUOTE_8.to_vec();
    padded.extend_from_slice(&[0; 10]);
    assert_eq!(parse(&padded), parse(&ICMP4_QUOTE_8));
}

// ---- parse: malformed ----

/// Every packet of the vectors that parses, with the length of the packet proper (before
/// padding).
fn valid() -> [(&'static str, &'static [u8], usize); 12] {
    [
        ("SYN_V4", &SYN_V4, 44),
        ("SYN_V6", &SYN_V6, 64),
        ("SYN_ACK_V4", &SYN_ACK_V4, 44),
        ("RST_ACK_V4", &RST_ACK_V4, 40),
        ("SYN_ACK_V6", &SYN_ACK_V6, 64),
        ("RST_ACK_V6", &RST_ACK_V6, 60),
        ("RST_ACK_V4_OPTIONS", &RST_ACK_V4_OPTIONS, 44),
        ("SYN_ACK_V6_HOP_BY_HOP", &SYN_ACK_V6_HOP_BY_HOP, 72),
        ("ICMP4_HOST_UNREACHABLE", &ICMP4_HOST_UNREACHABLE, 72),
        ("ICMP4_QUOTE_8", &ICMP4_QUOTE_8, 56),
        ("ICMP6_ADDR_UNREACHABLE", &ICMP6_ADDR_UNREACHABLE, 112),
        ("RST_ACK_V4_PADDED", &RST_ACK_V4_PADDED, 40),
    ]
}

#[test]
fn every_prefix_is_an_error() {
    for (name, packet, len) in valid() {
        assert!(parse(packet).is_ok(), "{name}");
        for cut in 0..packet.len() {
            let got = parse(&packet[..cut]);
            if cut < len {
                assert_eq!(got, Err(ParseError::Truncated), "{name}[..{cut}]");
            } else {
                assert_eq!(got, parse(packet), "{name}[..{cut}] (padding)");
            }
        }
    }
}

#[test]
fn bad_versions() {
    for version in (0..16u8).filter(|v| *v != 4 && *v != 6) {
        let mut packet = SYN_ACK_V4;
        packet[0] = (version << 4) | 5;
        assert_eq!(parse(&packet), Err(ParseError::NotIp(version)));
    }
    // An IPv4 header under the IPv6 version (payload length 0 from the identification field,
    // next header 0x40 from the flags byte) and the other way round.
    let mut packet = SYN_ACK_V4;
    packet[0] = 0x65;
    assert_eq!(parse(&packet), Err(ParseError::OtherProtocol(0x40)));
    let mut packet = SYN_ACK_V6;
    packet[0] = 0x40;
    assert_eq!(
        parse(&packet),
        Err(ParseError::BadHeader("IPv4 header length (IHL) below 5"))
    );
    // An ICMPv4 error quoting an IPv6 packet, and the other way round.
    assert_eq!(
        parse(&icmp4_quoting(&SYN_V6)),
        Err(ParseError::BadHeader(
            "ICMP quotes a packet that is not IPv4"
        ))
    );
    assert_eq!(
        parse(&icmp6_quoting(&SYN_V4)),
        Err(ParseError::BadHeader(
            "ICMPv6 quotes a packet that is not IPv6"
        ))
    );
}

#[test]
fn bad_ipv4_lengths() {
    for ihl in 0..5u8 {
        let mut packet = SYN_ACK_V4;
        packet[0] = 0x40 | ihl;
        assert_eq!(
            parse(&packet),
            Err(ParseError::BadHeader("IPv4 header length (IHL) below 5")),
            "IHL {ihl}"
        );
    }
    // IHL 15 (60 bytes) in a 44-byte packet whose total length says 44: the header passes
    // the TCP segment's end.
    let mut packet = SYN_ACK_V4;
    packet[0] = 0x4f;
    assert_eq!(
        parse(&packet),
        Err(ParseError::BadHeader(
            "IPv4 total length below the header length"
        ))
    );
    // Total length past the buffer, and below the header.
    for total in [45u16, 1500, 65535] {
        let mut packet = SYN_ACK_V4;
        packet[2..4].copy_from_slice(&total.to_be_bytes());
        assert_eq!(parse(&packet), Err(ParseError::Truncated), "total {total}");
    }
    for total in [0u16, 19] {
        let mut packet = SYN_ACK_V4;
        packet[2..4].copy_from_slice(&total.to_be_bytes());
        assert_eq!(
            parse(&packet),
            Err(ParseError::BadHeader(
                "IPv4 total length below the header length"
            ))
        );
    }
    // Total length that leaves the TCP header short.
    let mut packet = SYN_ACK_V4;
    packet[2..4].copy_from_slice(&39u16.to_be_bytes());
    assert_eq!(parse(&packet), Err(ParseError::Truncated));
    // IPv6 payload length past the buffer.
    let mut packet = SYN_ACK_V6;
    packet[4..6].copy_from_slice(&25u16.to_be_bytes());
    assert_eq!(parse(&packet), Err(ParseError::Truncated));
}

#[test]
fn bad_tcp_data_offset() {
    for offset in 0..5u8 {
        for base in [&SYN_ACK_V4[..], &SYN_ACK_V6[..]] {
            let mut packet = base.to_vec();
            let at = if base[0] >> 4 == 4 { 32 } else { 52 };
            packet[at] = offset << 4;
            assert_eq!(
                parse(&packet),
                Err(ParseError::BadHeader("TCP data offset below 5"))
            );
        }
    }
    // Data offset past the segment (7 words, 24 bytes present).
    let mut packet = SYN_ACK_V4;
    packet[32] = 0x70;
    assert_eq!(parse(&packet), Err(ParseError::Truncated));
}

#[test]
fn fragments() {
    assert_eq!(parse(&FRAGMENT_V4), Err(ParseError::Fragment));
    for field in [0x2000u16, 0x0001, 0x1fff, 0x4001, 0x6000] {
        let mut packet = SYN_ACK_V4;
        packet[6..8].copy_from_slice(&field.to_be_bytes());
        assert_eq!(parse(&packet), Err(ParseError::Fragment), "{field:#06x}");
    }
    // DF and the reserved bit do not make a fragment.
    for field in [0x4000u16, 0x8000] {
        let mut packet = SYN_ACK_V4;
        packet[6..8].copy_from_slice(&field.to_be_bytes());
        assert!(parse(&packet).is_ok(), "{field:#06x}");
    }
    // A quoted fragment.
    let mut quoted = SYN_V4;
    quoted[6] = 0x20;
    assert_eq!(parse(&icmp4_quoting(&quoted)), Err(ParseError::Fragment));
}

#[test]
fn not_answers() {
    assert_eq!(parse(&ICMP4_ECHO), Err(ParseError::NotAnError));
    assert_eq!(parse(&ICMP6_ECHO), Err(ParseError::NotAnError));
    assert_eq!(parse(&ICMP4_QUOTES_UDP), Err(ParseError::QuotedNotTcp));
    let mut quoted = SYN_V6;
    quoted[6] = 17;
    assert_eq!(
        parse(&icmp6_quoting(&quoted)),
        Err(ParseError::QuotedNotTcp)
    );
    // Other protocols: UDP over IPv4, ICMPv6's number over IPv4, ICMP's over IPv6.
    let mut packet = SYN_ACK_V4;
    packet[9] = 17;
    assert_eq!(parse(&packet), Err(ParseError::OtherProtocol(17)));
    packet[9] = 58;
    assert_eq!(parse(&packet), Err(ParseError::OtherProtocol(58)));
    let mut packet = SYN_ACK_V6;
    packet[6] = 1;
    assert_eq!(parse(&packet), Err(ParseError::OtherProtocol(1)));
    // An ICMP message shorter than its 8-byte header.
    let mut short = ICMP4_ECHO[..24].to_vec();
    short[2..4].copy_from_slice(&24u16.to_be_bytes());
    assert_eq!(parse(&short), Err(ParseError::Truncated));
    assert_eq!(parse(&[]), Err(ParseError::Truncated));
}

#[test]
fn errors_display() {
    assert_eq!(
        ParseError::NotIp(5).to_string(),
        "not an IP packet (version 5)"
    );
    assert_eq!(
        EmitError::BufferTooSmall { need: 64 }.to_string(),
        "buffer too small for the SYN: 64 bytes needed"
    );
}

// ---- properties ----

fn any_syn_v4() -> impl Strategy<Value = Syn> {
    (
        any::<[u8; 4]>(),
        any::<u16>(),
        any::<[u8; 4]>(),
        any::<u16>(),
        any::<u32>(),
        any::<u16>(),
    )
        .prop_map(|(s, sp, d, dp, seq, ip_id)| Syn {
            src: SocketAddr::V4(SocketAddrV4::new(s.into(), sp)),
            dst: SocketAddr::V4(SocketAddrV4::new(d.into(), dp)),
            seq,
            ip_id,
        })
}

fn any_syn_v6() -> impl Strategy<Value = Syn> {
    (
        any::<[u8; 16]>(),
        any::<u16>(),
        any::<[u8; 16]>(),
        any::<u16>(),
        any::<u32>(),
        any::<u16>(),
    )
        .prop_map(|(s, sp, d, dp, seq, ip_id)| Syn {
            src: SocketAddr::V6(SocketAddrV6::new(s.into(), sp, 0, 0)),
            dst: SocketAddr::V6(SocketAddrV6::new(d.into(), dp, 0, 0)),
            seq,
            ip_id,
        })
}

/// Arbitrary bytes behind a header that passes the first checks: the right version, a
/// plausible IHL and length fields, so that the parser gets past the IP layer.
fn plausible() -> impl Strategy<Value = Vec<u8>> {
    let v4 = (
        5u8..=15,
        any::<bool>(),
        prop::sample::select(vec![1u8, 6, 17]),
        prop::collection::vec(any::<u8>(), 0..180),
    )
        .prop_map(|(ihl, exact, protocol, mut rest)| {
            let mut packet = vec![0x40 | ihl, 0, 0, 0, 0, 0, 0, 0, 64, protocol, 0, 0];
            packet.extend_from_slice(&[192, 0, 2, 1, 192, 0, 2, 2]);
            packet.append(&mut rest);
            let total = if exact {
                packet.len() as u16
            } else {
                packet.len() as u16 / 2 + 10
            };
            packet[2..4].copy_from_slice(&total.to_be_bytes());
            packet
        });
    let v6 = (
        any::<bool>(),
        prop::sample::select(vec![0u8, 6, 43, 44, 58, 60]),
        prop::collection::vec(any::<u8>(), 0..160),
    )
        .prop_map(|(exact, next, mut rest)| {
            let mut packet = vec![0x60, 0, 0, 0, 0, 0, next, 64];
            packet.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
            packet.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
            packet.append(&mut rest);
            let payload = packet.len() - 40;
            let payload = if exact { payload } else { payload / 2 + 3 } as u16;
            packet[4..6].copy_from_slice(&payload.to_be_bytes());
            packet
        });
    prop_oneof![v4, v6]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..=200)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn parse_never_panics_past_the_ip_header(bytes in plausible()) {
        let _ = parse(&bytes);
    }

    #[test]
    fn parse_never_panics_on_mutated_answers(
        which in 0..12usize,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let (_, packet, _) = valid()[which];
        let mut packet = packet.to_vec();
        for (at, value) in flips {
            let at = at.index(packet.len());
            packet[at] = value;
        }
        let cut = cut.index(packet.len() + 1);
        let _ = parse(&packet[..cut]);
    }

    #[test]
    fn syn_round_trip(syn in prop_oneof![any_syn_v4(), any_syn_v6()]) {
        let mut buf = [0u8; SYN_MAX_LEN];
        let len = syn.emit(&mut buf).unwrap();
        prop_assert_eq!(len, if syn.src.is_ipv4() { 44 } else { 64 });
        let packet = &buf[..len];
        prop_assert_eq!(tcp_sum(packet), 0xffff);
        if syn.src.is_ipv4() {
            prop_assert_eq!(checksum::sum(&packet[..20]), 0xffff);
        }
        prop_assert_eq!(
            parse(packet),
            Ok(Answer::Tcp(TcpAnswer {
                from: syn.src,
                to: syn.dst,
                flags: TcpFlags::SYN,
                seq: syn.seq,
                ack: 0,
            }))
        );
        // Quoted by an ICMP error, it reads back as the probe.
        let quoted = if syn.src.is_ipv4() { icmp4_quoting(packet) } else { icmp6_quoting(packet) };
        let Ok(Answer::Icmp(icmp)) = parse(&quoted) else {
            return Err(TestCaseError::fail("quoted SYN not read back"));
        };
        prop_assert_eq!((icmp.probe_from, icmp.probe_to, icmp.probe_seq), (syn.src, syn.dst, syn.seq));
    }
}

// ---- the fuzz target's seed corpus ----

/// The seeds of `fuzz/corpus/parse/`: every vector, under its name in lower case.
fn seeds() -> [(&'static str, &'static [u8]); 16] {
    [
        ("syn_v4", &SYN_V4),
        ("syn_v6", &SYN_V6),
        ("syn_ack_v4", &SYN_ACK_V4),
        ("rst_ack_v4", &RST_ACK_V4),
        ("syn_ack_v6", &SYN_ACK_V6),
        ("rst_ack_v6", &RST_ACK_V6),
        ("rst_ack_v4_options", &RST_ACK_V4_OPTIONS),
        ("syn_ack_v6_hop_by_hop", &SYN_ACK_V6_HOP_BY_HOP),
        ("icmp4_host_unreachable", &ICMP4_HOST_UNREACHABLE),
        ("icmp4_quote_8", &ICMP4_QUOTE_8),
        ("icmp6_addr_unreachable", &ICMP6_ADDR_UNREACHABLE),
        ("rst_ack_v4_padded", &RST_ACK_V4_PADDED),
        ("icmp4_echo", &ICMP4_ECHO),
        ("icmp4_quotes_udp", &ICMP4_QUOTES_UDP),
        ("icmp6_echo", &ICMP6_ECHO),
        ("fragment_v4", &FRAGMENT_V4),
    ]
}

/// The seed files are these vectors, byte for byte. `PORTSCOUT_WRITE_SEEDS=1 cargo test -p
/// portscout packet::tests::seed_corpus` (re)writes them.
#[test]
fn seed_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/parse");
    let write = std::env::var_os("PORTSCOUT_WRITE_SEEDS").is_some();
    if write {
        std::fs::create_dir_all(&dir).unwrap();
    }
    for (name, bytes) in seeds() {
        let path = dir.join(name);
        if write {
            std::fs::write(&path, bytes).unwrap();
        }
        let on_disk = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (PORTSCOUT_WRITE_SEEDS=1 writes it)",
                path.display()
            )
        });
        assert_eq!(on_disk, bytes, "{}", path.display());
    }
}
