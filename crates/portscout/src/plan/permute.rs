//! A keyed permutation of `0..n` for any `n`, computed one value at a time, in O(1) memory.
//!
//! The construction is the *generalized Feistel cipher* of J. Black and P. Rogaway,
//! "Ciphers with Arbitrary Finite Domains" (CT-RSA 2002, method FE2, with cycle walking), the
//! idea masscan's `blackrock` uses for the same purpose. `0..a·b` (with `a = ⌈√n⌉`,
//! `b = ⌈n/a⌉`, so `a·b ≥ n` and `a·b − n < a`) is split into a pair `(L, R) ∈ a × b`, and
//! each round replaces `(L, R)` by `(R, (L + F_j(R)) mod a or b)`: invertible whatever `F_j`
//! is, so the rounds form a permutation of `0..a·b`. Values that land in `n..a·b` are
//! enciphered again ("cycle walking") until they fall in `0..n`, which restricts the
//! permutation to `0..n`; since `a·b − n < a ≈ √n`, a walk is almost always one step.
//!
//! The round function is a 64-bit mixer (the `splitmix64` finalizer) of the half and a round
//! key derived from the seed, brought into `0..m` by a multiply and a shift (D. Lemire, "Fast
//! Random Integer Generation in an Interval", 2019) rather than a division. Nothing here is cryptographic: the aim is an order that spreads
//! probes over hosts and time, is the same on every machine for the same seed, and needs no
//! table.

/// Feistel rounds. Four rounds of a good mixer make a permutation with no visible structure
/// (Luby–Rackoff: three already give a pseudo-random permutation for a random round function).
const ROUNDS: usize = 4;

/// The `splitmix64` finalizer: a bijective 64-bit mixer.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A keyed permutation of `0..n`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Permutation {
    n: u64,
    a: u64,
    b: u64,
    keys: [u64; ROUNDS],
    /// `a·b` fits in a `u64`: the 64-bit path applies.
    fits: bool,
}

/// `⌈√n⌉` for any `u64`.
fn ceil_sqrt(n: u64) -> u64 {
    // The float estimate is within one of the truth; correct it exactly in u128.
    let mut r = (n as f64).sqrt() as u64;
    while u128::from(r) * u128::from(r) > u128::from(n) {
        r -= 1;
    }
    while u128::from(r + 1) * u128::from(r + 1) <= u128::from(n) {
        r += 1;
    }
    if u128::from(r) * u128::from(r) < u128::from(n) {
        r + 1
    } else {
        r
    }
}

impl Permutation {
    /// The permutation of `0..n` keyed by `seed` (`n` ≥ 1).
    pub(crate) fn new(n: u64, seed: u64) -> Permutation {
        let n = n.max(1);
        let a = ceil_sqrt(n).max(1);
        let b = n.div_ceil(a).max(1);
        let mut keys = [0; ROUNDS];
        for (j, k) in keys.iter_mut().enumerate() {
            *k = mix(seed ^ mix(0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(j as u64 + 1)));
        }
        let fits = a.checked_mul(b).is_some();
        Permutation {
            n,
            a,
            b,
            keys,
            fits,
        }
    }

    /// The Feistel rounds on `(l, r)`, `l < a`, `r < b`; after an even number of rounds
    /// `(l, r) ∈ a × b` again.
    fn rounds(&self, mut l: u64, mut r: u64) -> (u64, u64) {
        for (j, key) in self.keys.iter().enumerate() {
            let m = if j % 2 == 0 { self.a } else { self.b };
            // `F(r)` reduced to `0..m` by a multiply-shift (Lemire), not a division.
            let f = ((u128::from(mix(r ^ key)) * u128::from(m)) >> 64) as u64;
            // `l < m` and `f < m`: one subtraction reduces the sum.
            let mut t = l + f;
            if t >= m {
                t -= m;
            }
            l = r;
            r = t;
        }
        (l, r)
    }

    /// One pass of the cipher over `0..a·b`, for any `a·b` (up to 2^64 + 2^32).
    fn encipher(&self, x: u128) -> u128 {
        let a = u128::from(self.a);
        // `x % a < a` and `x / a < b`, both at most 2^32.
        let (l, r) = self.rounds((x % a) as u64, (x / a) as u64);
        a * u128::from(r) + u128::from(l)
    }

    /// [`Permutation::encipher`] in 64-bit arithmetic, when `a·b` fits (all but the largest
    /// domains).
    fn encipher64(&self, x: u64) -> u64 {
        let (l, r) = self.rounds(x % self.a, x / self.a);
        self.a * r + l
    }

    /// The image of `i` (`i < n`; larger values are reduced modulo `n` first).
    pub(crate) fn map(&self, i: u64) -> u64 {
        if self.fits {
            let mut x = i % self.n;
            loop {
                x = self.encipher64(x);
                if x < self.n {
                    return x;
                }
            }
        }
        let mut x = u128::from(i % self.n);
        loop {
            x = self.encipher(x);
            if x < u128::from(self.n) {
                return x as u64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ceil_sqrt_is_exact() {
        for n in [
            1u64,
            2,
            3,
            4,
            5,
            15,
            16,
            17,
            1 << 32,
            (1 << 32) + 1,
            u64::MAX,
        ] {
            let r = ceil_sqrt(n);
            assert!(u128::from(r) * u128::from(r) >= u128::from(n), "{n}");
            assert!(u128::from(r - 1) * u128::from(r - 1) < u128::from(n), "{n}");
        }
    }

    #[test]
    fn is_a_permutation_for_every_small_n() {
        for n in 1..=600u64 {
            for seed in [0, 1, 0xdead_beef] {
                let p = Permutation::new(n, seed);
                let mut seen = vec![false; n as usize];
                for i in 0..n {
                    let v = p.map(i);
                    assert!(v < n, "n={n} seed={seed}: {i} -> {v}");
                    assert!(!seen[v as usize], "n={n} seed={seed}: {v} twice");
                    seen[v as usize] = true;
                }
            }
        }
    }

    #[test]
    fn seeds_give_different_orders_and_the_same_seed_the_same() {
        let n = 65_535;
        let one: Vec<u64> = (0..64).map(|i| Permutation::new(n, 1).map(i)).collect();
        let again: Vec<u64> = (0..64).map(|i| Permutation::new(n, 1).map(i)).collect();
        let two: Vec<u64> = (0..64).map(|i| Permutation::new(n, 2).map(i)).collect();
        assert_eq!(one, again);
        assert_ne!(one, two);
        // Not the identity, nor nearly so.
        let fixed = (0..1000)
            .filter(|&i| Permutation::new(n, 1).map(i) == i)
            .count();
        assert!(fixed < 5, "{fixed} fixed points in 1000");
    }

    #[test]
    fn values_are_fixed_across_machines() {
        // Shards on different machines must agree: pin a few values of the cipher.
        let p = Permutation::new(1 << 20, 42);
        let got: Vec<u64> = (0..4).map(|i| p.map(i)).collect();
        assert_eq!(got, PINNED.to_vec());
    }

    const PINNED: [u64; 4] = [661_086, 584_552, 70_004, 848_097];

    #[test]
    fn both_paths_agree() {
        let p = Permutation::new(1 << 40, 3);
        for x in [0u64, 1, 12345, (1 << 40) + 777] {
            assert_eq!(u128::from(p.encipher64(x)), p.encipher(u128::from(x)));
        }
    }

    #[test]
    fn huge_domains_do_not_overflow() {
        for n in [u64::MAX, u64::MAX - 1, 1 << 63, (1 << 32) * 65_535] {
            let p = Permutation::new(n, 7);
            for i in [0, 1, n / 2, n - 1] {
                assert!(p.map(i) < n);
            }
        }
    }

    proptest! {
        #[test]
        fn injective_on_samples(n in 2u64..1_000_000_000_000, seed: u64, i: u64, j: u64) {
            let p = Permutation::new(n, seed);
            let (i, j) = (i % n, j % n);
            prop_assume!(i != j);
            prop_assert_ne!(p.map(i), p.map(j));
        }
    }
}
