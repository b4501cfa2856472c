//! The SYN scan's sockets: raw sockets that send whole IP packets in batches (`sendmmsg(2)`),
//! a packet socket that reads answers in batches (`recvmmsg(2)`) through the filter of
//! [`super::bpf`], the source ports held for the scan, and the route lookup that picks the
//! source address of each SYN.
//!
//! # Source ports: why the kernel never takes an answer for its own
//!
//! Answers come back to the SYN's source port, and the kernel's TCP stack sees them too (a
//! raw socket reads a copy; it does not take the packet away). If a socket of this host used
//! the same port for a connection to the same target, the kernel would take the SYN-ACK as part
//! of that connection. So each worker holds a block of ports for the whole scan, by binding a
//! TCP socket (dual-stack, never listening) to each: no other socket can bind or connect from
//! them meanwhile, and the blocks lie above `net.ipv4.ip_local_port_range` (below it if there
//! is no room), where the kernel never picks ports on its own.
//!
//! A bound socket that does not listen is not a socket any packet is delivered to, so the
//! kernel answers a SYN-ACK to these ports with a RST (RFC 9293 §3.10.7.1), exactly as it
//! does for nmap's `-sS`: the RST frees the half-open connection on the target and changes no
//! result (the answer was read already). No firewall rule is added, so nothing is left behind
//! when the scanner crashes.

use std::io;
use std::mem;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::bpf;
use crate::packet::SYN_MAX_LEN;

/// Packets handed to the kernel in one `sendmmsg(2)` call.
pub const SEND_BATCH: usize = 64;
/// Packets read in one `recvmmsg(2)` call.
const RECV_BATCH: usize = 64;
/// Receive buffer asked for the packet socket: room for ~30 000 answers while the worker
/// is busy sending.
const RECV_BUFFER: usize = 16 << 20;

/// Whether this process may open raw sockets (root or `CAP_NET_RAW`). Opens one and closes it.
pub fn raw_sockets_allowed() -> io::Result<()> {
    Socket::new(
        Domain::IPV4,
        Type::RAW,
        Some(Protocol::from(libc::IPPROTO_RAW)),
    )
    .map(drop)
}

/// Source ports held for the scan: one bound socket per port.
#[derive(Debug)]
pub struct PortBlock {
    /// The first port of the block.
    pub first: u16,
    /// The last port of the block.
    pub last: u16,
    _held: Vec<Socket>,
}

/// Holds `blocks` blocks of `per_block` consecutive ports each, above the kernel's ephemeral
/// range (or below it). Fails when no such block is free.
pub fn hold_ports(blocks: usize, per_block: u16) -> io::Result<Vec<PortBlock>> {
    let (lo, hi) = ephemeral_range();
    let need = per_block.max(1);
    // Candidate starts, above the ephemeral range first, then below it (never under 1024).
    let above = (u32::from(hi) + 1..=65536 - u32::from(need)).step_by(usize::from(need));
    let below =
        (1024..u32::from(lo).saturating_sub(u32::from(need)) + 1).step_by(usize::from(need));
    let starts: Vec<u16> = above
        .chain(below)
        .filter_map(|p| u16::try_from(p).ok())
        .collect();
    if starts.is_empty() {
        return Err(io::Error::other(
            "no room for source ports outside the ephemeral range",
        ));
    }
    // Begin at a random place, so that two scans at once rarely try the same ports first.
    let offset = usize::try_from(
        std::hash::BuildHasher::hash_one(
            &std::collections::hash_map::RandomState::new(),
            std::process::id(),
        ) % starts.len() as u64,
    )
    .unwrap_or(0);
    let mut held = Vec::with_capacity(blocks);
    for k in 0..starts.len() {
        if held.len() == blocks {
            break;
        }
        let first = starts[(offset + k) % starts.len()];
        if let Ok(block) = hold_block(first, need) {
            held.push(block);
        }
    }
    if held.len() < blocks {
        return Err(io::Error::other(format!(
            "found only {} free blocks of {need} source ports outside the ephemeral range {lo}-{hi}",
            held.len()
        )));
    }
    Ok(held)
}

fn hold_block(first: u16, count: u16) -> io::Result<PortBlock> {
    let last = first
        .checked_add(count - 1)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut held = Vec::with_capacity(usize::from(count));
    for port in first..=last {
        held.push(hold_port(port)?);
    }
    Ok(PortBlock {
        first,
        last,
        _held: held,
    })
}

/// Binds a TCP socket to `port` on every address, IPv4 and IPv6 (IPv4 only where the host has
/// no IPv6). Without `SO_REUSEADDR`: a port anyone uses, even in `TIME_WAIT`, is refused.
fn hold_port(port: u16) -> io::Result<Socket> {
    match Socket::new(Domain::IPV6, Type::STREAM.cloexec(), Some(Protocol::TCP)) {
        Ok(s) => {
            s.set_only_v6(false)?;
            s.bind(&SockAddr::from(SocketAddr::from((
                std::net::Ipv6Addr::UNSPECIFIED,
                port,
            ))))?;
            Ok(s)
        }
        Err(e) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) => {
            let s = Socket::new(Domain::IPV4, Type::STREAM.cloexec(), Some(Protocol::TCP))?;
            s.bind(&SockAddr::from(SocketAddr::from((
                std::net::Ipv4Addr::UNSPECIFIED,
                port,
            ))))?;
            Ok(s)
        }
        Err(e) => Err(e),
    }
}

/// `net.ipv4.ip_local_port_range` (which IPv6 shares), or Linux's default.
fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|t| t.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999))
}

/// One worker's sockets, opened (while the process still has its privileges) before the
/// worker starts.
#[derive(Debug)]
pub struct WorkerSockets {
    pub(super) send4: Socket,
    /// `None` where the host has no IPv6.
    pub(super) send6: Option<Socket>,
    pub(super) answers: Socket,
    pub(super) ports: PortBlock,
}

impl WorkerSockets {
    /// Opens the raw sockets and the filtered packet socket for SYNs from `ports`.
    pub fn open(ports: PortBlock) -> io::Result<WorkerSockets> {
        // IPPROTO_RAW: send-only, the IP header is ours (IP_HDRINCL / IPV6_HDRINCL implied).
        let raw = Protocol::from(libc::IPPROTO_RAW);
        let send4 = Socket::new(Domain::IPV4, Type::RAW.cloexec(), Some(raw))?;
        let send6 = match Socket::new(Domain::IPV6, Type::RAW.cloexec(), Some(raw)) {
            Ok(s) => {
                // Kernels since 4.5 imply it for IPPROTO_RAW; say it anyway.
                set_int(&s, libc::IPPROTO_IPV6, libc::IPV6_HDRINCL, 1)?;
                Some(s)
            }
            Err(e) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) => None,
            Err(e) => return Err(e),
        };
        for s in std::iter::once(&send4).chain(&send6) {
            send_buffer(s)?;
        }
        let answers = packet_socket(ports.first, ports.last)?;
        Ok(WorkerSockets {
            send4,
            send6,
            answers,
            ports,
        })
    }
}

/// Send buffer asked for each raw socket. A SYN to an address whose link-layer address is
/// still being resolved (ARP, NDP) waits in the kernel's neighbour queue (up to
/// `unres_qlen_bytes`, 208 KiB by default, per address) and is charged to the socket that sent
/// it until it leaves or is dropped, for up to 3 s when nobody answers. With the default
/// buffer (208 KiB, shared by every probe of the worker) one absent host on the link filled
/// it, and every send then blocked until the resolution failed: S5 (254 hosts and two that
/// answer no ARP) took 4.3 s instead of 1 s.
const SEND_BUFFER: usize = 64 << 20;

/// Sizes a raw socket's send buffer (see [`SEND_BUFFER`]) and makes it non-blocking: a full
/// buffer is back-pressure (`EAGAIN`), handed to the scheduler, never a blocked worker.
fn send_buffer(socket: &Socket) -> io::Result<()> {
    let size = i32::try_from(SEND_BUFFER).unwrap_or(i32::MAX);
    if set_int(socket, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, size).is_err() {
        // Without CAP_NET_ADMIN: as much as net.core.wmem_max allows.
        let _ = socket.set_send_buffer_size(SEND_BUFFER);
    }
    socket.set_nonblocking(true)
}

/// An `AF_PACKET`/`SOCK_DGRAM` socket on every interface, filtered to answers to SYNs from
/// `first..=last`, non-blocking.
fn packet_socket(first: u16, last: u16) -> io::Result<Socket> {
    let all = (libc::ETH_P_ALL as u16).to_be();
    let socket = Socket::new(
        Domain::PACKET,
        Type::DGRAM.cloexec().nonblocking(),
        Some(Protocol::from(i32::from(all))),
    )?;
    // Never see what this host sends (Linux 4.20+; the filter drops it too).
    let _ = set_int(&socket, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, 1);
    let prog: Vec<libc::sock_filter> = bpf::answers_to(first, last)
        .into_iter()
        .map(|(code, jt, jf, k)| libc::sock_filter { code, jt, jf, k })
        .collect();
    let fprog = libc::sock_fprog {
        len: u16::try_from(prog.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?,
        filter: prog.as_ptr().cast_mut(),
    };
    // SAFETY: fprog points at `prog`, alive for the call; the kernel copies the program.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&fprog as *const libc::sock_fprog).cast(),
            mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // Packets that arrived between socket() and the filter: drop them, unfiltered.
    let mut junk = [0u8; 1];
    while socket.recv(unsafe_uninit(&mut junk)).is_ok() {}
    let size = i32::try_from(RECV_BUFFER).unwrap_or(i32::MAX);
    if set_int(&socket, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, size).is_err() {
        // Without CAP_NET_ADMIN: as much as net.core.rmem_max allows.
        let _ = socket.set_recv_buffer_size(RECV_BUFFER);
    }
    Ok(socket)
}

fn unsafe_uninit(buf: &mut [u8]) -> &mut [mem::MaybeUninit<u8>] {
    // SAFETY: u8 and MaybeUninit<u8> have the same layout, and recv only writes.
    unsafe { &mut *(buf as *mut [u8] as *mut [mem::MaybeUninit<u8>]) }
}

fn set_int(socket: &Socket, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: the option value is an int we own, for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&value as *const i32).cast(),
            mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// SYNs waiting to be sent through one raw socket.
pub struct Batch {
    packets: Box<[[u8; SYN_MAX_LEN]; SEND_BATCH]>,
    lens: [usize; SEND_BATCH],
    to: [SocketAddr; SEND_BATCH],
    n: usize,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch {
            packets: Box::new([[0; SYN_MAX_LEN]; SEND_BATCH]),
            lens: [0; SEND_BATCH],
            to: [SocketAddr::from(([0, 0, 0, 0], 0)); SEND_BATCH],
            n: 0,
        }
    }

    /// Whether another packet fits.
    pub fn is_full(&self) -> bool {
        self.n == SEND_BATCH
    }

    /// Whether the batch holds nothing.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The buffer for the next packet; commit it with [`Batch::push`].
    pub fn next_buffer(&mut self) -> &mut [u8; SYN_MAX_LEN] {
        &mut self.packets[self.n]
    }

    /// Adds the packet written into [`Batch::next_buffer`], `len` bytes, for `to`.
    pub fn push(&mut self, len: usize, to: SocketAddr) {
        self.lens[self.n] = len;
        self.to[self.n] = to;
        self.n += 1;
    }

    /// Sends every packet, in as few `sendmmsg(2)` calls as the kernel allows; calls `failed`
    /// with each packet's destination and error when the kernel refused it. Empties the batch.
    pub fn send(&mut self, socket: &Socket, mut failed: impl FnMut(SocketAddr, io::Error)) {
        let n = mem::take(&mut self.n);
        if n == 0 {
            return;
        }
        // SAFETY (all zeroed structs below): plain C structs for which all-zero is valid.
        let mut names: [libc::sockaddr_storage; SEND_BATCH] = unsafe { mem::zeroed() };
        let mut name_lens = [0 as libc::socklen_t; SEND_BATCH];
        let mut iov: [libc::iovec; SEND_BATCH] = unsafe { mem::zeroed() };
        let mut msgs: [libc::mmsghdr; SEND_BATCH] = unsafe { mem::zeroed() };
        for i in 0..n {
            // The raw socket routes by the destination address; the port must be 0.
            let addr = SockAddr::from(SocketAddr::new(self.to[i].ip(), 0));
            // SAFETY: SockAddr's storage is a sockaddr_storage of `len()` valid bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    addr.as_ptr().cast::<u8>(),
                    (&mut names[i] as *mut libc::sockaddr_storage).cast::<u8>(),
                    addr.len() as usize,
                );
            }
            name_lens[i] = addr.len();
            iov[i] = libc::iovec {
                iov_base: self.packets[i].as_mut_ptr().cast(),
                iov_len: self.lens[i],
            };
            msgs[i].msg_hdr.msg_name = (&mut names[i] as *mut libc::sockaddr_storage).cast();
            msgs[i].msg_hdr.msg_namelen = name_lens[i];
            msgs[i].msg_hdr.msg_iov = &mut iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        let mut i = 0;
        while i < n {
            // SAFETY: msgs[i..n] point into arrays alive for the call.
            let sent = unsafe {
                libc::sendmmsg(
                    socket.as_raw_fd(),
                    msgs[i..n].as_mut_ptr(),
                    (n - i) as libc::c_uint,
                    0,
                )
            };
            if sent > 0 {
                i += sent as usize;
                continue;
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                // Out of buffer: the rest would be refused too; all of it is back-pressure,
                // without a syscall per packet.
                Some(libc::EAGAIN | libc::ENOBUFS) => {
                    for &to in &self.to[i..n] {
                        failed(to, io::Error::from_raw_os_error(libc::EAGAIN));
                    }
                    return;
                }
                // The packet at `i` was refused (no route, a firewall); the next may go.
                _ => {
                    failed(self.to[i], err);
                    i += 1;
                }
            }
        }
    }
}

impl Default for Batch {
    fn default() -> Batch {
        Batch::new()
    }
}

/// The packet socket, registered with the worker's event loop.
pub struct Answers {
    fd: AsyncFd<Socket>,
    bufs: Box<[[u8; bpf::SNAPLEN as usize]; RECV_BATCH]>,
}

impl Answers {
    /// Registers the socket with the current runtime.
    pub fn new(socket: Socket) -> io::Result<Answers> {
        // SAFETY: `socket` owns its descriptor and moves into the `AsyncFd`, which owns it
        // until dropped; nothing else closes or replaces it meanwhile.
        let fd = unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        Ok(Answers {
            fd,
            bufs: Box::new([[0; bpf::SNAPLEN as usize]; RECV_BATCH]),
        })
    }

    /// Waits until the socket may have packets to read (then read them with
    /// [`Answers::drain`]).
    pub async fn readable(&self) -> io::Result<()> {
        let mut guard = self.fd.readable().await?;
        // Cleared before reading, never after: a packet arriving meanwhile sets it again.
        guard.clear_ready();
        Ok(())
    }

    /// Reads every packet waiting, without blocking, and hands each to `each`. Returns how
    /// many were read.
    pub fn drain(&mut self, mut each: impl FnMut(&[u8])) -> usize {
        let mut total = 0;
        loop {
            // SAFETY: zeroed C structs; each iovec points into `bufs`, alive for the call.
            let mut iov: [libc::iovec; RECV_BATCH] = unsafe { mem::zeroed() };
            let mut msgs: [libc::mmsghdr; RECV_BATCH] = unsafe { mem::zeroed() };
            for i in 0..RECV_BATCH {
                iov[i] = libc::iovec {
                    iov_base: self.bufs[i].as_mut_ptr().cast(),
                    iov_len: self.bufs[i].len(),
                };
                msgs[i].msg_hdr.msg_iov = &mut iov[i];
                msgs[i].msg_hdr.msg_iovlen = 1;
            }
            // SAFETY: as above; a null timeout means none.
            let got = unsafe {
                libc::recvmmsg(
                    self.fd.get_ref().as_raw_fd(),
                    msgs.as_mut_ptr(),
                    RECV_BATCH as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if got <= 0 {
                // EAGAIN (nothing left) or an error the next readiness will show again.
                return total;
            }
            let got = got as usize;
            for (msg, buf) in msgs.iter().zip(self.bufs.iter()).take(got) {
                let len = (msg.msg_len as usize).min(buf.len());
                each(&buf[..len]);
            }
            total += got;
            if got < RECV_BATCH {
                return total;
            }
        }
    }
}

/// The source address the kernel would use for each destination (a connected UDP socket's
/// local address: a route lookup, nothing sent), cached.
///
/// The cache keeps two generations, by compact entries (an IPv4 destination as 4 bytes of no
/// alignment, its source as an index into the sources seen: most scans have one): lookups go
/// to the current one, then the previous one (and a hit there moves to the current one); when
/// the current one holds 28,672 destinations it becomes the previous one, and the previous
/// one, emptied, the current one. So every destination of the last 28,672 looked up (at least)
/// is found again, as a port's retransmission a timeout later is, and the cache holds two
/// tables of a fixed size (32,768 buckets) whatever the size of the space: they are made once
/// and reused, never grown past their bucket count nor freed and made again. (Generations of
/// 65,536, each made anew and doubling to 131,072 buckets of 9 bytes, were 3.5 MB of a /15's
/// heap peak over 2 workers; now 0.8 MB.) 28,672 destinations are more than a worker starts in
/// a second at W2's or W4's rate (about 13,000 and 18,000 hosts a second), and a port's last
/// attempt leaves within about a second of its host's first probe; a destination found in
/// neither generation costs one lookup, never a wrong source. (A clear-when-full cache of
/// 8,192 made 110,000 of 131,072 SYNs of a silent /16 pay a lookup.)
#[derive(Default)]
pub struct Router {
    udp: [Option<Socket>; 2],
    /// Route lookups made (cache misses).
    lookups: u64,
    v4: [foldhash::HashMap<Dst4, u8>; 2],
    /// The IPv4 sources the cache's entries name, by index (at most 256: a destination whose
    /// source would be the 257th is not cached).
    sources4: Vec<Ipv4Addr>,
    v6: [foldhash::HashMap<u128, IpAddr>; 2],
}

/// An IPv4 destination in the route cache: its 4 bytes, aligned to 1, so an entry with its
/// source's index is 5 bytes (a table bucket 6, with the control byte; 9 with a `u32` key and
/// the address).
#[derive(Copy, Clone, PartialEq, Eq)]
struct Dst4([u8; 4]);

impl std::hash::Hash for Dst4 {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u32(u32::from_ne_bytes(self.0));
    }
}

/// Destinations per generation of the route cache (see [`Router`]): 7/8 of 32,768, the most a
/// table of 32,768 buckets holds before it doubles. An IPv4 bucket costs 6 bytes, so two
/// generations cost about 0.4 MB a worker.
const ROUTE_CACHE: usize = 28_672;

/// Looks `key` up in two generations, moving a hit in the older one to the newer one.
fn cached<K: std::hash::Hash + Eq + Copy, V: Copy>(
    gens: &mut [foldhash::HashMap<K, V>; 2],
    key: K,
) -> Option<V> {
    if let Some(&v) = gens[0].get(&key) {
        return Some(v);
    }
    let v = gens[1].remove(&key)?;
    remember(gens, key, v);
    Some(v)
}

fn remember<K: std::hash::Hash + Eq, V>(gens: &mut [foldhash::HashMap<K, V>; 2], key: K, v: V) {
    if gens[0].len() >= ROUTE_CACHE {
        // The previous generation's table, emptied, is the current one (its allocation kept);
        // the first time, when it was never filled, it is made at its full size at once.
        gens.swap(0, 1);
        gens[0].clear();
        gens[0].reserve(ROUTE_CACHE);
    }
    gens[0].insert(key, v);
}

impl Router {
    /// The source address for packets to `dst`.
    pub fn source_for(&mut self, dst: IpAddr) -> io::Result<IpAddr> {
        let hit = match dst {
            IpAddr::V4(a) => cached(&mut self.v4, Dst4(a.octets()))
                .map(|i| IpAddr::V4(self.sources4[usize::from(i)])),
            IpAddr::V6(a) => cached(&mut self.v6, a.to_bits()),
        };
        if let Some(src) = hit {
            return Ok(src);
        }
        let src = self.lookup(dst)?;
        match (dst, src) {
            (IpAddr::V4(d), IpAddr::V4(s)) => self.remember4(d, s),
            (IpAddr::V6(d), s) => remember(&mut self.v6, d.to_bits(), s),
            // (An IPv4 destination routed from an IPv6 address: not cached.)
            _ => {}
        }
        Ok(src)
    }

    /// Caches `src` as the source for `dst`, unless it would be the 257th source.
    fn remember4(&mut self, dst: Ipv4Addr, src: Ipv4Addr) {
        let i = match self.sources4.iter().position(|&s| s == src) {
            Some(i) => i,
            None if self.sources4.len() <= usize::from(u8::MAX) => {
                self.sources4.push(src);
                self.sources4.len() - 1
            }
            None => return,
        };
        // (At most 256 sources: the index fits.)
        remember(&mut self.v4, Dst4(dst.octets()), i as u8);
    }

    /// Asks the kernel.
    fn lookup(&mut self, dst: IpAddr) -> io::Result<IpAddr> {
        self.lookups += 1;
        let slot = &mut self.udp[usize::from(dst.is_ipv6())];
        let socket = match slot {
            Some(s) => s,
            None => slot.insert(Socket::new(
                Domain::for_address(SocketAddr::new(dst, 0)),
                Type::DGRAM.cloexec(),
                Some(Protocol::UDP),
            )?),
        };
        socket.connect(&SockAddr::from(SocketAddr::new(dst, 9)))?;
        socket
            .local_addr()?
            .as_socket()
            .map(|a| a.ip())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EAFNOSUPPORT))
    }

    /// How many destinations the cache holds.
    #[cfg(test)]
    fn cached(&self) -> usize {
        self.v4.iter().map(|m| m.len()).sum::<usize>()
            + self.v6.iter().map(|m| m.len()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_ports_cannot_be_bound_again() {
        let blocks = hold_ports(2, 4).unwrap();
        assert_eq!(blocks.len(), 2);
        let (lo, hi) = ephemeral_range();
        for b in &blocks {
            assert_eq!(b.last - b.first, 3);
            assert!(
                b.first > hi || b.last < lo,
                "{}-{} inside {lo}-{hi}",
                b.first,
                b.last
            );
            for port in b.first..=b.last {
                let taken = std::net::TcpListener::bind(("127.0.0.1", port));
                assert!(taken.is_err(), "port {port} was not held");
            }
        }
        assert!(blocks[0].last < blocks[1].first || blocks[1].last < blocks[0].first);
        // Released with the scan: every socket that held them is closed. (Binding a port
        // again would say so too, but a test running beside this one may hold it by then.)
        let holders: Vec<String> = blocks
            .iter()
            .flat_map(|b| &b._held)
            .map(|s| descriptor(s.as_raw_fd()).expect("a held socket is open"))
            .collect();
        assert_eq!(holders.len(), 8);
        assert!(
            holders.iter().all(|h| h.starts_with("socket:[")),
            "{holders:?}"
        );
        drop(blocks);
        let open: Vec<String> = std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .map(|target| target.to_string_lossy().into_owned())
            .collect();
        let left: Vec<&String> = holders.iter().filter(|h| open.contains(h)).collect();
        assert!(left.is_empty(), "still open after the drop: {left:?}");
    }

    /// What descriptor `fd` of this process is (`socket:[inode]` for a socket).
    fn descriptor(fd: std::os::fd::RawFd) -> Option<String> {
        let target = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
        Some(target.to_string_lossy().into_owned())
    }

    #[test]
    fn loopback_routes_from_loopback() {
        let mut r = Router::default();
        let v4 = r.source_for("127.0.0.1".parse().unwrap()).unwrap();
        assert_eq!(v4, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(r.source_for("127.0.0.1".parse().unwrap()).unwrap(), v4);
        assert_eq!(r.lookups, 1);
    }

    /// A wide scan's retransmission, a timeout later, finds its destination in the cache:
    /// the last ROUTE_CACHE destinations at least are kept, and never more than twice that.
    /// (Cleared when full at 8,192, it looked up 110,000 of a silent /16's 131,072 SYNs.)
    #[test]
    fn the_route_cache_keeps_the_last_destinations_and_stays_bounded() {
        let mut r = Router::default();
        let n = ROUTE_CACHE as u32 + 1000;
        let dst = |i: u32| IpAddr::V4(Ipv4Addr::from_bits(0x7f00_0001 + i));
        for i in 0..n {
            r.source_for(dst(i)).unwrap();
        }
        assert_eq!(r.lookups, u64::from(n));
        // The first ones again (their retransmissions): no lookup.
        for i in 0..1000 {
            r.source_for(dst(i)).unwrap();
        }
        assert_eq!(
            r.lookups,
            u64::from(n),
            "a recent destination was looked up again"
        );
        for i in n..3 * n {
            r.source_for(dst(i)).unwrap();
        }
        assert!(r.cached() <= 2 * ROUTE_CACHE, "{}", r.cached());
        // The last ROUTE_CACHE are all there.
        let looked = r.lookups;
        for i in (3 * n - ROUTE_CACHE as u32..3 * n).rev() {
            r.source_for(dst(i)).unwrap();
        }
        assert_eq!(
            r.lookups, looked,
            "one of the last ROUTE_CACHE was looked up"
        );
    }

    /// Each destination gets its own source back from the compact entries, whichever of
    /// several sources it had; past 256 sources a destination is not cached (asked again),
    /// and the cached ones keep theirs.
    #[test]
    fn the_route_cache_gives_each_destination_its_source() {
        let mut r = Router::default();
        let dst = |i: u32| Ipv4Addr::from_bits(0xc612_0000 + i);
        let src = |i: u32| Ipv4Addr::from_bits(0x0a00_0000 + i % 300);
        assert_eq!(std::mem::size_of::<(Dst4, u8)>(), 5);
        for i in 0..1000 {
            r.remember4(dst(i), src(i));
        }
        assert_eq!(r.sources4.len(), 256);
        for i in 0..1000 {
            let got = cached(&mut r.v4, Dst4(dst(i).octets())).map(|k| r.sources4[usize::from(k)]);
            if i % 300 < 256 {
                assert_eq!(got, Some(src(i)), "destination {i}");
            } else {
                assert_eq!(got, None, "destination {i}: its source has no index");
            }
        }
    }

    /// The cache's memory is two tables of 32,768 buckets (a capacity of 28,672) a family,
    /// whatever the number of destinations: a generation never grows past that bucket count,
    /// and once both are made they are reused, not freed and grown again by doubling. (With
    /// generations of 65,536 each table doubled to 131,072 buckets, and each new generation
    /// was a new table: 3.5 MB of a /15's heap peak over 2 workers.)
    #[test]
    fn the_route_cache_keeps_two_tables_of_a_fixed_size() {
        const FULL: usize = 28_672; // the capacity of 32,768 buckets
        let mut r = Router::default();
        let dst = |i: u32| IpAddr::V4(Ipv4Addr::from_bits(0x7f00_0001 + i));
        let mut i = 0;
        // Until both generations are made (the second rotation).
        while r.v4[1].capacity() < FULL {
            r.source_for(dst(i)).unwrap();
            assert!(r.v4[0].capacity() <= FULL, "{}", r.v4[0].capacity());
            i += 1;
            assert!(i < 4 * FULL as u32, "the second generation was never made");
        }
        for _ in 0..3 * FULL {
            r.source_for(dst(i)).unwrap();
            i += 1;
            let caps = [r.v4[0].capacity(), r.v4[1].capacity()];
            assert_eq!(caps, [FULL, FULL], "after {i} destinations");
        }
    }
}
