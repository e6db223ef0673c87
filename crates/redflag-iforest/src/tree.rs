//! One isolation tree: built on a sample, stored as a flat node array.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::params::SplitKind;

/// Euler–Mascheroni constant.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// c(n): the average path length of an unsuccessful search in a binary search tree of n
/// points, which normalises path lengths (Liu, Ting and Zhou 2008, eq. 1). c(1) = 0,
/// c(2) = 1, c(n) = 2 H(n − 1) − 2 (n − 1) / n with H(i) ≈ ln i + γ.
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

/// Marks a leaf in [`Node::split`].
const LEAF: u32 = u32::MAX;

/// A node. Internal: `split` is the feature (axis-parallel) or the row of the tree's hyperplane
/// table (extended), `value` the threshold, children at `left` and `left + 1`. Leaf: `value`
/// is the path length it stands for, depth + c(size).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Node {
    pub split: u32,
    pub left: u32,
    #[serde(with = "crate::exact::one")]
    pub value: f64,
}

/// A tree in pre-allocated, flat form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Tree {
    pub nodes: Vec<Node>,
    /// Extended trees: the features the hyperplanes span.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<u32>,
    /// Extended trees: one row of `features.len()` normal components per internal node.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        with = "crate::exact::many"
    )]
    pub normals: Vec<f64>,
}

impl Tree {
    /// Path length of a row (features indexed by the model's feature order).
    #[inline]
    pub fn path_length(&self, row: &[f64]) -> f64 {
        let mut i = 0usize;
        if self.features.is_empty() {
            loop {
                let n = self.nodes[i];
                if n.split == LEAF {
                    return n.value;
                }
                let go_right = row[n.split as usize] >= n.value;
                i = n.left as usize + usize::from(go_right);
            }
        } else {
            let k = self.features.len();
            loop {
                let n = self.nodes[i];
                if n.split == LEAF {
                    return n.value;
                }
                let w = &self.normals[n.split as usize * k..(n.split as usize + 1) * k];
                let dot: f64 = self
                    .features
                    .iter()
                    .zip(w)
                    .map(|(&f, &c)| row[f as usize] * c)
                    .sum();
                i = n.left as usize + usize::from(dot >= n.value);
            }
        }
    }

    /// The features this tree splits on (for attribution).
    pub fn used_features(&self, out: &mut [bool]) {
        if !self.features.is_empty() {
            for &f in &self.features {
                out[f as usize] = true;
            }
            return;
        }
        for n in &self.nodes {
            if n.split != LEAF {
                out[n.split as usize] = true;
            }
        }
    }
}

/// Rows that walk a tree in lockstep: their steps are independent, so their loads overlap.
/// 16 measured fastest: 8 leave the loads' latency exposed, 24 or 32 spill too many
/// positions out of registers.
pub(crate) const LANES: usize = 16;

/// Features a [`Group`] holds: a flat tree splits only on the first 256 features (a `u8`),
/// so that a step's feature index needs no bounds check.
pub(crate) const GROUP_FEATURES: usize = 256;

/// The order keys of [`LANES`] rows: `group[l][j]` is feature j of row l. Each row has a
/// fixed 256-key stride, so the address of a key is a constant per lane plus 8 × feature.
pub(crate) type Group = [[u64; ROW_STRIDE]; LANES];

/// Keys per row of a [`Group`]: 8 more than [`GROUP_FEATURES`], so that consecutive rows
/// start 33 cache lines apart. With a stride of exactly 256 keys (32 lines) every row's first
/// keys fall in the same two sets of a 64-set L1 cache and evict one another.
pub(crate) const ROW_STRIDE: usize = GROUP_FEATURES + 8;

/// Deepest tree laid out flat (2^12 slots, 68 KiB); deeper trees (a `max_depth` or sample
/// size far above the defaults) keep the general walk.
const MAX_FLAT_DEPTH: usize = 12;

/// Maps a finite f64 to a u64 with the same order, so that a walk compares integers; −0.0
/// and 0.0 get the same key, as they compare equal.
#[inline]
pub(crate) fn order_key(x: f64) -> u64 {
    let bits = (x + 0.0).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// An axis-parallel tree laid out as a perfect binary tree of its depth D, breadth first:
/// node i has children 2i + 1 and 2i + 2, so a step reads only a feature and a threshold.
/// A leaf above the bottom level passes rows down its leftmost path (its threshold key is
/// u64::MAX, which no finite value reaches), so every row takes exactly D steps and no
/// branch depends on the data. Arrays have 2^D slots so that every index is masked, not
/// checked.
pub(crate) struct FlatTree {
    feature: Vec<u8>,
    threshold: Vec<u64>,
    /// The thresholds of the top [`TOP_LEVELS`] levels as numbers, for [`Kernel::Block`]
    /// (NaN where a leaf passes rows left: no number compares ≥ NaN).
    top_threshold: [f64; TOP_SLOTS],
    /// Path length at each bottom-level slot (slots off a leftmost path are never reached).
    value: Vec<f64>,
}

impl FlatTree {
    /// `None` for extended trees, trees splitting on a feature past [`GROUP_FEATURES`] and
    /// trees deeper than [`MAX_FLAT_DEPTH`] (they keep the general walk).
    pub fn from_tree(t: &Tree) -> Option<Self> {
        let wide = |n: &Node| n.split != LEAF && n.split as usize >= GROUP_FEATURES;
        if !t.features.is_empty() || t.nodes.iter().any(wide) {
            return None;
        }
        let mut depth = 0;
        let mut stack = vec![(0usize, 0usize)];
        while let Some((i, d)) = stack.pop() {
            let n = t.nodes[i];
            if n.split == LEAF {
                depth = depth.max(d);
            } else {
                stack.push((n.left as usize, d + 1));
                stack.push((n.left as usize + 1, d + 1));
            }
        }
        if depth > MAX_FLAT_DEPTH {
            return None;
        }
        let slots = 1usize << depth;
        let mut f = FlatTree {
            feature: vec![0; slots],
            threshold: vec![u64::MAX; slots],
            top_threshold: [f64::NAN; TOP_SLOTS],
            value: vec![0.0; slots],
        };
        // (tree node, perfect-tree slot, level)
        let mut stack = vec![(0usize, 0usize, 0usize)];
        while let Some((i, slot, d)) = stack.pop() {
            let n = t.nodes[i];
            if n.split == LEAF {
                // The bottom slot at the end of the leftmost path below.
                let bottom = ((slot + 1) << (depth - d)) - 1;
                f.value[bottom + 1 - slots] = n.value;
            } else {
                f.feature[slot] = n.split as u8;
                f.threshold[slot] = order_key(n.value);
                if slot < TOP_SLOTS {
                    f.top_threshold[slot] = n.value;
                }
                stack.push((n.left as usize, 2 * slot + 1, d + 1));
                stack.push((n.left as usize + 1, 2 * slot + 2, d + 1));
            }
        }
        Some(f)
    }

    /// Adds each group's rows' path lengths to their sums. `groups` hold a block's rows as
    /// order keys, `cols` the same rows column by column (read by [`Kernel::Block`] only).
    pub fn add_path_lengths(
        &self,
        kernel: Kernel,
        groups: &[Group],
        cols: &[Column],
        sums: &mut [[f64; LANES]],
    ) {
        let mut pos = [0u64; BLOCK];
        let levels = match kernel {
            Kernel::Lanes => 0,
            Kernel::Block => self.top_positions(cols, &mut pos),
        };
        match self.value.len() {
            1 => self.walk::<1>(levels, &pos, groups, sums),
            2 => self.walk::<2>(levels, &pos, groups, sums),
            4 => self.walk::<4>(levels, &pos, groups, sums),
            8 => self.walk::<8>(levels, &pos, groups, sums),
            16 => self.walk::<16>(levels, &pos, groups, sums),
            32 => self.walk::<32>(levels, &pos, groups, sums),
            64 => self.walk::<64>(levels, &pos, groups, sums),
            128 => self.walk::<128>(levels, &pos, groups, sums),
            256 => self.walk::<256>(levels, &pos, groups, sums),
            512 => self.walk::<512>(levels, &pos, groups, sums),
            1024 => self.walk::<1024>(levels, &pos, groups, sums),
            2048 => self.walk::<2048>(levels, &pos, groups, sums),
            _ => self.walk::<4096>(levels, &pos, groups, sums),
        }
    }

    /// Takes every row of a block through the top levels (at most [`TOP_LEVELS`]) node by
    /// node, leaving in `pos[r]` row r's position within the last level taken; returns the
    /// number of levels taken.
    fn top_positions(&self, cols: &[Column], pos: &mut [u64; BLOCK]) -> usize {
        let levels = TOP_LEVELS.min(self.value.len().trailing_zeros() as usize);
        #[cfg(target_arch = "x86_64")]
        if has_avx512() {
            #[allow(unsafe_code)]
            // SAFETY: the CPU has every feature `top_avx512` is compiled for, checked above.
            unsafe {
                self.top_avx512(levels, cols, pos);
            }
            return levels;
        }
        self.top(levels, cols, pos);
        levels
    }

    /// [`FlatTree::top`] compiled for AVX-512, which compares eight numbers per instruction
    /// into mask registers.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn top_avx512(&self, levels: usize, cols: &[Column], pos: &mut [u64; BLOCK]) {
        self.top(levels, cols, pos);
    }

    /// Level by level, every node of the level compares every row of the block, and a row
    /// keeps the comparison of the node it is at: 2^level comparisons per row, each a lane
    /// of a vector instruction rather than a step with its own loads.
    #[inline(always)]
    fn top(&self, levels: usize, cols: &[Column], pos: &mut [u64; BLOCK]) {
        for level in 0..levels {
            let first = (1usize << level) - 1;
            let mut right = [0u64; BLOCK];
            for j in 0..1u64 << level {
                let slot = first + j as usize;
                let col = &cols[usize::from(self.feature[slot])];
                let t = self.top_threshold[slot];
                for ((r, &p), &x) in right.iter_mut().zip(pos.iter()).zip(col) {
                    *r |= u64::from(p == j) & u64::from(x >= t);
                }
            }
            for (p, r) in pos.iter_mut().zip(right) {
                *p = 2 * *p + r;
            }
        }
    }

    /// The walk for a tree of `N` = 2^D slots, from the positions the first `levels` levels
    /// left (`pos`, one per row of the block).
    #[inline]
    fn walk<const N: usize>(
        &self,
        levels: usize,
        pos: &[u64; BLOCK],
        groups: &[Group],
        sums: &mut [[f64; LANES]],
    ) {
        let (Ok(feature), Ok(threshold), Ok(value)) = (
            <&[u8; N]>::try_from(&self.feature[..]),
            <&[u64; N]>::try_from(&self.threshold[..]),
            <&[f64; N]>::try_from(&self.value[..]),
        ) else {
            unreachable!("a flat tree has 2^D slots in each array");
        };
        let depth = N.trailing_zeros() as usize;
        debug_assert!(groups.len() * LANES <= BLOCK, "one block at a time");
        for ((keys, sum), pos) in groups.iter().zip(sums).zip(pos.chunks_exact(LANES)) {
            // Slot of position p in level L: 2^L − 1 + p.
            let mut at = [0usize; LANES];
            for (a, &p) in at.iter_mut().zip(pos) {
                *a = (1 << levels) - 1 + p as usize;
            }
            for _ in levels..depth {
                for (l, a) in at.iter_mut().enumerate() {
                    let i = *a % N;
                    let x = keys[l][usize::from(feature[i])];
                    // 2i + 1, plus 1 to go right (x ≥ threshold).
                    *a = 2 * i + 2 - usize::from(x < threshold[i]);
                }
            }
            // After D steps a is in [N − 1, 2N − 1): bottom slot a + 1 − N.
            for (s, a) in sum.iter_mut().zip(at) {
                *s += value[(a + 1) % N];
            }
        }
    }
}

/// How a block's rows walk the flat trees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kernel {
    /// Every level in lanes of [`LANES`] rows, each step with its own loads.
    Lanes,
    /// The top [`TOP_LEVELS`] levels node by node over the whole block, in vector
    /// instructions, then the rest in lanes.
    Block,
}

impl Kernel {
    /// [`Kernel::Block`] where the CPU has AVX-512 (scoring measured about 9 % faster on an
    /// AMD EPYC, one thread); [`Kernel::Lanes`] elsewhere: with 2- or 4-wide vectors the
    /// comparisons cost about what the steps they replace do. Both give the same sums.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if has_avx512() {
            return Kernel::Block;
        }
        Kernel::Lanes
    }
}

/// Whether this CPU has every feature [`FlatTree::top_avx512`] is compiled for (the checks
/// are cached by the standard library).
#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512dq")
}

/// Rows of one block: the top levels of a tree compare all of them at once.
pub(crate) const BLOCK: usize = 64;
/// Levels [`Kernel::Block`] takes node by node. 3 measured fastest: level L costs 2^L
/// comparisons per row, so a 4th costs more than the step it saves.
const TOP_LEVELS: usize = 3;
/// Slots in the top [`TOP_LEVELS`] levels.
const TOP_SLOTS: usize = (1 << TOP_LEVELS) - 1;
/// One feature of a block's rows.
pub(crate) type Column = [f64; BLOCK];

/// Copies the first `rows` rows of a row-major block (`f` values each) column by column.
pub(crate) fn fill_columns(block: &[f64], f: usize, rows: usize, cols: &mut Vec<Column>) {
    let width = f.min(GROUP_FEATURES);
    if cols.len() < width {
        cols.resize(width, [0.0; BLOCK]);
    }
    for r in 0..rows {
        for (c, &v) in cols.iter_mut().zip(&block[r * f..r * f + width]) {
            c[r] = v;
        }
    }
}

/// Lays the first `rows` rows of a row-major block (`f` values each) out as groups of order
/// keys for [`FlatTree::add_path_lengths`], with at least `rows.div_ceil(LANES)` groups.
/// Lanes past the last row keep stale keys; their sums are not used.
pub(crate) fn fill_groups(block: &[f64], f: usize, rows: usize, groups: &mut Vec<Group>) {
    let needed = rows.div_ceil(LANES);
    if groups.len() < needed {
        groups.resize(needed, [[0; ROW_STRIDE]; LANES]);
    }
    let width = f.min(GROUP_FEATURES);
    for r in 0..rows {
        let keys = &mut groups[r / LANES][r % LANES];
        for (k, &v) in keys[..width].iter_mut().zip(&block[r * f..(r + 1) * f]) {
            *k = order_key(v);
        }
    }
}

/// Builds trees from a sample held column by column.
pub(crate) struct Builder<'a> {
    /// `cols[j]` holds feature `features[j]` of every sampled row.
    pub cols: &'a [Vec<f64>],
    /// Model feature index of each column.
    pub features: &'a [u32],
    pub max_depth: usize,
    pub split: SplitKind,
}

impl Builder<'_> {
    pub fn build(&self, rng: &mut ChaCha8Rng) -> Tree {
        let n = self.cols.first().map_or(0, Vec::len);
        let mut idx: Vec<u32> = (0..n as u32).collect();
        let mut tree = Tree {
            nodes: Vec::with_capacity(2 * n.max(1)),
            features: Vec::new(),
            normals: Vec::new(),
        };
        if self.split == SplitKind::Extended {
            tree.features = self.features.to_vec();
        }
        tree.nodes.push(Node {
            split: LEAF,
            left: 0,
            value: 0.0,
        });
        self.grow(&mut tree, 0, &mut idx, 0, rng);
        tree
    }

    fn leaf(tree: &mut Tree, at: usize, size: usize, depth: usize) {
        tree.nodes[at] = Node {
            split: LEAF,
            left: 0,
            value: depth as f64 + average_path_length(size),
        };
    }

    fn grow(
        &self,
        tree: &mut Tree,
        at: usize,
        idx: &mut [u32],
        depth: usize,
        rng: &mut ChaCha8Rng,
    ) {
        if depth >= self.max_depth || idx.len() <= 1 {
            Self::leaf(tree, at, idx.len(), depth);
            return;
        }
        let split = match self.split {
            SplitKind::AxisParallel => self.axis_split(idx, rng),
            SplitKind::Extended => self.hyperplane_split(tree, idx, rng),
        };
        let Some((split_id, threshold, mut values)) = split else {
            Self::leaf(tree, at, idx.len(), depth);
            return;
        };
        // Partition idx (and its values alongside): values below the threshold go left.
        let mut lo = 0usize;
        let mut hi = idx.len();
        while lo < hi {
            if values[lo] < threshold {
                lo += 1;
            } else {
                hi -= 1;
                idx.swap(lo, hi);
                values.swap(lo, hi);
            }
        }
        let left = tree.nodes.len();
        let blank = Node {
            split: LEAF,
            left: 0,
            value: 0.0,
        };
        tree.nodes.push(blank);
        tree.nodes.push(blank);
        tree.nodes[at] = Node {
            split: split_id,
            left: left as u32,
            value: threshold,
        };
        let (l, r) = idx.split_at_mut(lo);
        self.grow(tree, left, l, depth + 1, rng);
        self.grow(tree, left + 1, r, depth + 1, rng);
    }

    /// A random feature that varies in the node, and a threshold uniform in its range.
    fn axis_split(&self, idx: &[u32], rng: &mut ChaCha8Rng) -> Option<(u32, f64, Vec<f64>)> {
        let k = self.cols.len();
        if k == 0 {
            return None;
        }
        // Try features in a random order until one varies in this node.
        let start = rng.gen_range(0..k);
        for step in 0..k {
            let j = (start + step) % k;
            let col = &self.cols[j];
            let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
            for &i in idx {
                let v = col[i as usize];
                min = min.min(v);
                max = max.max(v);
            }
            if min < max {
                let t = rng.gen_range(min..max);
                // A threshold of exactly `min` would send nothing left.
                let t = if t <= min { (min + max) / 2.0 } else { t };
                let values = idx.iter().map(|&i| col[i as usize]).collect();
                return Some((self.features[j], t, values));
            }
        }
        None
    }

    /// A random hyperplane through a random point of the node's bounding box.
    fn hyperplane_split(
        &self,
        tree: &mut Tree,
        idx: &[u32],
        rng: &mut ChaCha8Rng,
    ) -> Option<(u32, f64, Vec<f64>)> {
        let k = self.cols.len();
        let mut normal = Vec::with_capacity(k);
        let mut offset = 0.0;
        let mut varies = false;
        for col in self.cols {
            let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
            for &i in idx {
                let v = col[i as usize];
                min = min.min(v);
                max = max.max(v);
            }
            let w = standard_normal(rng);
            let p = if min < max {
                varies = true;
                rng.gen_range(min..max)
            } else {
                min
            };
            normal.push(w);
            offset += w * p;
        }
        if !varies {
            return None;
        }
        let projected: Vec<f64> = idx
            .iter()
            .map(|&i| {
                self.cols
                    .iter()
                    .zip(&normal)
                    .map(|(c, w)| c[i as usize] * w)
                    .sum()
            })
            .collect();
        let row = (tree.normals.len() / k.max(1)) as u32;
        tree.normals.extend_from_slice(&normal);
        Some((row, offset, projected))
    }
}

/// A standard normal draw (Box–Muller), from uniform draws of the tree's generator.
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.r#gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_walk_matches_the_tree_in_lanes_and_the_remainder() {
        use rand::SeedableRng;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let f = 3;
        let cols: Vec<Vec<f64>> = (0..f)
            .map(|_| (0..256).map(|_| rng.gen_range(-1.0..1.0)).collect())
            .collect();
        // 6 rows leave leaves in the top levels, which pass rows down their leftmost path.
        let few: Vec<Vec<f64>> = cols.iter().map(|c| c[..6].to_vec()).collect();
        for (sample, max_depth) in [(&cols, 0), (&cols, 1), (&cols, 3), (&cols, 8), (&few, 8)] {
            let tree = Builder {
                cols: sample,
                features: &[0, 1, 2],
                max_depth,
                split: SplitKind::AxisParallel,
            }
            .build(&mut rng);
            let flat = FlatTree::from_tree(&tree).expect("axis-parallel");
            // 37 rows: full groups and a partial one; exact thresholds, zeros of
            // both signs and the extremes too.
            let mut block: Vec<f64> = (0..37 * f).map(|_| rng.gen_range(-1.2..1.2)).collect();
            let thresholds: Vec<f64> = tree
                .nodes
                .iter()
                .filter(|n| n.split != LEAF)
                .map(|n| n.value)
                .collect();
            for (k, v) in block.iter_mut().step_by(4).enumerate() {
                *v = match k % 5 {
                    0 => 0.0,
                    1 => -0.0,
                    2 => f64::MAX,
                    3 => f64::MIN,
                    _ => thresholds
                        .get(k % thresholds.len().max(1))
                        .copied()
                        .unwrap_or(0.5),
                };
            }
            let mut groups = Vec::new();
            fill_groups(&block, f, 37, &mut groups);
            let mut block_cols = Vec::new();
            fill_columns(&block, f, 37, &mut block_cols);
            for kernel in [Kernel::Lanes, Kernel::Block] {
                let mut sums = vec![[0.5; LANES]; groups.len()];
                flat.add_path_lengths(kernel, &groups, &block_cols, &mut sums);
                for r in 0..37 {
                    let want = 0.5 + tree.path_length(&block[r * f..(r + 1) * f]);
                    assert_eq!(
                        sums[r / LANES][r % LANES],
                        want,
                        "{} rows, depth {max_depth}, {kernel:?}, row {r}",
                        sample[0].len()
                    );
                }
            }
        }
    }

    #[test]
    fn order_keys_sort_like_the_numbers() {
        let v = [
            f64::MIN,
            -3.5,
            -1e-300,
            -0.0,
            0.0,
            1e-300,
            2.0,
            f64::MAX,
            f64::INFINITY,
        ];
        for a in v {
            for b in v {
                assert_eq!(order_key(a) >= order_key(b), a >= b, "{a} >= {b}");
            }
        }
    }

    #[test]
    fn c_of_n_known_values() {
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        // c(256) as used by scikit-learn: 2 (ln 255 + γ) − 2 · 255 / 256.
        let want = 2.0 * (255f64.ln() + EULER_GAMMA) - 2.0 * 255.0 / 256.0;
        assert!((average_path_length(256) - want).abs() < 1e-12);
        assert!((average_path_length(256) - 10.244_770_920_116_851).abs() < 1e-9);
    }
}
