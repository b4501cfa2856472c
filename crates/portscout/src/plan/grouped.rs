//! The random order of a wide scan: hosts in groups, each group's probes permuted together.
//!
//! A permutation of the whole probe space spreads one host's ports over the whole scan: with
//! 3 ports on a /15, a host's first port comes early and its last one late, so nearly every
//! address of the space is undecided (and its state held) at once. Here the hosts are split
//! into `C = ⌈H / GROUP_HOSTS⌉` groups of `⌊H/C⌋` or `⌈H/C⌉` hosts (so no group is much
//! smaller than the others), the groups come one after the other in a keyed order, and the
//! probes of one group (its hosts × every port) are one keyed [`Permutation`]. A host's ports
//! therefore all come within its group's stretch of the scan, and the hosts under way at any
//! moment are about one group's worth, however large the space.
//!
//! Group `c` is the hosts `c, c + C, c + 2C, …` (by their index in the target set): every
//! `C`-th address, spread over the whole space, so no subnet receives a group's probes alone.
//! A space of at most `GROUP_HOSTS` hosts is one group, and its order is exactly the
//! permutation of the whole space that portscout has always used.

use super::permute::Permutation;

/// Hosts per group at most: a group's hosts are what a wide scan holds at once. 4096 is the
/// largest window, so one group keeps every probe slot busy with one probe per host.
pub(crate) const GROUP_HOSTS: u64 = 4096;

/// The grouped order of a space of `hosts × ports` probes (port-major indices, as
/// [`crate::space::ProbeSpace`] numbers them).
///
/// Group `c < H mod C` has `⌊H/C⌋ + 1` hosts ("big"), the others `⌊H/C⌋`. The big groups come
/// first, in a keyed order among themselves, then the small ones, so where each group's
/// stretch starts is one multiplication away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Grouped {
    hosts: u64,
    /// Number of groups, `C`.
    groups: u64,
    /// Hosts in a small group, `⌊H/C⌋`.
    small: u64,
    /// How many groups are big (`H mod C`).
    big: u64,
    /// Probes of a big group and of a small one.
    big_span: u64,
    small_span: u64,
    /// The order of the big groups and of the small ones.
    big_order: Permutation,
    small_order: Permutation,
    /// The order within a big group and within a small one (with one group: the whole space).
    in_big: Permutation,
    in_small: Permutation,
}

impl Grouped {
    /// The order of `hosts × ports` (both ≥ 1, product fitting a `u64`) keyed by `seed`.
    pub(crate) fn new(hosts: u64, ports: u64, seed: u64) -> Grouped {
        let hosts = hosts.max(1);
        let ports = ports.max(1);
        let groups = hosts.div_ceil(GROUP_HOSTS);
        let small = hosts / groups;
        let big = hosts % groups;
        // `big > 0` only with two groups or more, where `small + 1 ≤ H`: no overflow.
        let big_span = if big > 0 { (small + 1) * ports } else { 0 };
        let small_span = small * ports;
        let order_seed = seed ^ 0x6772_6f75_7073_2121;
        Grouped {
            hosts,
            groups,
            small,
            big,
            big_span,
            small_span,
            big_order: Permutation::new(big, order_seed),
            small_order: Permutation::new(groups - big, order_seed ^ 1),
            in_big: Permutation::new(big_span, seed),
            in_small: Permutation::new(small_span, seed),
        }
    }

    /// Number of groups.
    pub(crate) fn groups(&self) -> u64 {
        self.groups
    }

    /// The group of the host with index `host` in the target set.
    pub(crate) fn group_of(&self, host: u64) -> u64 {
        host % self.groups
    }

    /// The group visited `ordinal`-th (`ordinal < groups()`).
    pub(crate) fn group_at(&self, ordinal: u64) -> u64 {
        if ordinal < self.big {
            self.big_order.map(ordinal)
        } else {
            self.big + self.small_order.map(ordinal - self.big)
        }
    }

    /// The ordinal of the group whose stretch holds `position` (positions past the end give
    /// the last group).
    pub(crate) fn ordinal_at(&self, position: u64) -> u64 {
        let big_total = self.big * self.big_span;
        if position < big_total {
            position / self.big_span
        } else {
            (self.big + (position - big_total) / self.small_span).min(self.groups - 1)
        }
    }

    /// The probe-space index (port-major: `port · H + host`) at `position` of the order
    /// (`position < H · ports`).
    pub(crate) fn map(&self, position: u64) -> u64 {
        if self.groups == 1 {
            return self.in_small.map(position);
        }
        let big_total = self.big * self.big_span;
        let (ordinal, offset, size, within) = if position < big_total {
            (
                position / self.big_span,
                position % self.big_span,
                self.small + 1,
                &self.in_big,
            )
        } else {
            let p = position - big_total;
            (
                self.big + p / self.small_span,
                p % self.small_span,
                self.small,
                &self.in_small,
            )
        };
        let group = self.group_at(ordinal);
        let j = within.map(offset);
        let (port, local) = (j / size, j % size);
        port * self.hosts + group + local * self.groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(hosts: u64, ports: u64, seed: u64) {
        let g = Grouped::new(hosts, ports, seed);
        let n = hosts * ports;
        let mut seen = vec![false; n as usize];
        for position in 0..n {
            let i = g.map(position);
            assert!(i < n, "{hosts}x{ports}: {position} -> {i}");
            assert!(!seen[i as usize], "{hosts}x{ports}: {i} twice");
            seen[i as usize] = true;
            let host = i % hosts;
            assert_eq!(
                g.group_at(g.ordinal_at(position)),
                g.group_of(host),
                "{hosts}x{ports}: position {position} is outside its host's group"
            );
        }
    }

    #[test]
    fn is_a_permutation_that_keeps_each_host_in_its_group() {
        for (hosts, ports) in [
            (1, 1),
            (1, 7),
            (4096, 1),
            (4097, 1),
            (4097, 3),
            (8192, 2),
            (9000, 3),
            (12_289, 1),
        ] {
            for seed in [0, 5] {
                check(hosts, ports, seed);
            }
        }
    }

    #[test]
    fn one_group_is_the_permutation_of_the_whole_space() {
        let g = Grouped::new(4096, 3, 9);
        let p = Permutation::new(4096 * 3, 9);
        for i in (0..4096 * 3).step_by(7) {
            assert_eq!(g.map(i), p.map(i));
        }
    }

    #[test]
    fn a_hosts_ports_come_within_one_group_of_each_other() {
        // A /15 × 3 ports: every host's three probes lie within one group's stretch, at most
        // 4096 hosts × 3 ports of the order, not the whole space.
        let (hosts, ports) = (131_072u64, 3u64);
        let g = Grouped::new(hosts, ports, 1);
        let mut first = vec![u64::MAX; hosts as usize];
        let mut last = vec![0u64; hosts as usize];
        for position in 0..hosts * ports {
            let host = (g.map(position) % hosts) as usize;
            first[host] = first[host].min(position);
            last[host] = last[host].max(position);
        }
        let widest = (0..hosts as usize)
            .map(|h| last[h] - first[h])
            .max()
            .unwrap_or(0);
        assert!(widest < GROUP_HOSTS * ports, "{widest:?}");
    }
}
