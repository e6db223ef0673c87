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

/// One node of a [`FlatTree`]: what a step of the walk reads, in one 16-byte load.
#[derive(Debug, Clone, Copy)]
struct Step {
    threshold: f64,
    feature: u32,
    next: u32,
}

/// Rows that walk a tree in lockstep: their steps are independent, so their loads overlap,
/// and their positions stay in registers.
const LANES: usize = 8;

/// An axis-parallel tree laid out for branch-free traversal: a leaf points to itself with an
/// infinite threshold, so every row takes exactly `depth` steps.
pub(crate) struct FlatTree {
    steps: Vec<Step>,
    value: Vec<f64>,
    depth: usize,
}

impl FlatTree {
    /// `None` for extended trees (they keep the general path).
    pub fn from_tree(t: &Tree) -> Option<Self> {
        if !t.features.is_empty() {
            return None;
        }
        let n = t.nodes.len();
        let mut f = FlatTree {
            steps: Vec::with_capacity(n),
            value: Vec::with_capacity(n),
            depth: 0,
        };
        let mut depth = vec![0usize; n];
        for (i, node) in t.nodes.iter().enumerate() {
            if node.split == LEAF {
                f.steps.push(Step {
                    threshold: f64::INFINITY,
                    feature: 0,
                    next: i as u32,
                });
                f.value.push(node.value);
                f.depth = f.depth.max(depth[i]);
            } else {
                f.steps.push(Step {
                    threshold: node.value,
                    feature: node.split,
                    next: node.left,
                });
                f.value.push(0.0);
                depth[node.left as usize] = depth[i] + 1;
                depth[node.left as usize + 1] = depth[i] + 1;
            }
        }
        Some(f)
    }

    /// Adds the path length of each row of a row-major block (`f` features per row) to `sums`.
    #[inline]
    pub fn add_path_lengths(&self, block: &[f64], f: usize, sums: &mut [f64]) {
        let mut lanes = sums.chunks_exact_mut(LANES);
        let mut first = 0;
        for group in &mut lanes {
            let rows = &block[first * f..(first + LANES) * f];
            let mut at = [0u32; LANES];
            for _ in 0..self.depth {
                for (l, a) in at.iter_mut().enumerate() {
                    let s = self.steps[*a as usize];
                    let x = rows[l * f + s.feature as usize];
                    *a = s.next + u32::from(x >= s.threshold);
                }
            }
            for (sum, a) in group.iter_mut().zip(at) {
                *sum += self.value[a as usize];
            }
            first += LANES;
        }
        for (k, sum) in lanes.into_remainder().iter_mut().enumerate() {
            let row = &block[(first + k) * f..(first + k + 1) * f];
            let mut a = 0u32;
            for _ in 0..self.depth {
                let s = self.steps[a as usize];
                a = s.next + u32::from(row[s.feature as usize] >= s.threshold);
            }
            *sum += self.value[a as usize];
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
        let tree = Builder {
            cols: &cols,
            features: &[0, 1, 2],
            max_depth: 8,
            split: SplitKind::AxisParallel,
        }
        .build(&mut rng);
        let flat = FlatTree::from_tree(&tree).expect("axis-parallel");
        // 37 rows: four lanes of 8 and a remainder of 5.
        let block: Vec<f64> = (0..37 * f).map(|_| rng.gen_range(-1.2..1.2)).collect();
        let mut sums = vec![0.5; 37];
        flat.add_path_lengths(&block, f, &mut sums);
        for (r, s) in sums.iter().enumerate() {
            let want = 0.5 + tree.path_length(&block[r * f..(r + 1) * f]);
            assert_eq!(*s, want, "row {r}");
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
