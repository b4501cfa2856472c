//! Fuzzes `portscout::packet::parse` on arbitrary bytes, and the emit/parse round trip of a
//! `Syn` whose fields are taken from the input.
#![no_main]

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use libfuzzer_sys::fuzz_target;
use portscout::packet::{parse, Answer, EmitError, Syn, TcpAnswer, TcpFlags, SYN_MAX_LEN};

/// Bytes a `Syn` is built from: a selector, two IPv6 addresses' worth (IPv4 uses the first 4
/// bytes of each), two ports, the sequence number and the IP id.
const SYN_INPUT: usize = 1 + 16 + 16 + 2 + 2 + 4 + 2;

fn syn_from(bytes: &[u8; SYN_INPUT]) -> (Syn, usize) {
    let b = |at: usize| bytes[at];
    let mut src = [0u8; 16];
    src.copy_from_slice(&bytes[1..17]);
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&bytes[17..33]);
    let src_port = u16::from_be_bytes([b(33), b(34)]);
    let dst_port = u16::from_be_bytes([b(35), b(36)]);
    let seq = u32::from_be_bytes([b(37), b(38), b(39), b(40)]);
    let ip_id = u16::from_be_bytes([b(41), b(42)]);
    let selector = b(0);
    let v4 = |a: [u8; 16], port| {
        SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(a[0], a[1], a[2], a[3]),
            port,
        ))
    };
    let v6 = |a: [u8; 16], port| SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(a), port, 0, 0));
    // Bits 0-1: the families (mixed ones must be refused); bits 2-7: a buffer length.
    let (src, dst) = match selector & 3 {
        0 => (v4(src, src_port), v4(dst, dst_port)),
        1 => (v6(src, src_port), v6(dst, dst_port)),
        2 => (v4(src, src_port), v6(dst, dst_port)),
        _ => (v6(src, src_port), v4(dst, dst_port)),
    };
    let buf_len = usize::from(selector >> 2) + 10; // 10..=73: around both SYN lengths
    (
        Syn {
            src,
            dst,
            seq,
            ip_id,
        },
        buf_len,
    )
}

fuzz_target!(|data: &[u8]| {
    let _ = parse(data);

    let Some(head) = data.first_chunk::<SYN_INPUT>() else {
        return;
    };
    let (syn, buf_len) = syn_from(head);
    let mut buf = [0u8; SYN_MAX_LEN + 16];
    let buf = &mut buf[..buf_len];
    let need = if syn.src.is_ipv4() { 44 } else { 64 };
    match syn.emit(buf) {
        Ok(len) => {
            assert_eq!(syn.src.is_ipv4(), syn.dst.is_ipv4());
            assert_eq!(len, need);
            assert!(buf_len >= need);
            let expected = Answer::Tcp(TcpAnswer {
                from: syn.src,
                to: syn.dst,
                flags: TcpFlags::SYN,
                seq: syn.seq,
                ack: 0,
            });
            assert_eq!(parse(&buf[..len]), Ok(expected));
            // Whatever follows the packet in the buffer is padding to parse.
            assert_eq!(parse(buf), Ok(expected));
        }
        Err(EmitError::MixedFamilies) => assert_ne!(syn.src.is_ipv4(), syn.dst.is_ipv4()),
        Err(EmitError::BufferTooSmall { need: n }) => {
            assert_eq!(syn.src.is_ipv4(), syn.dst.is_ipv4());
            assert_eq!(n, need);
            assert!(buf_len < need);
        }
    }
});
