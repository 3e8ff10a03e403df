//! The Sawyer arm for drawing only: forward kinematics of the original's 7-joint chain and a
//! damped-least-squares inverse kinematics that places the hand frame at the simulated hand
//! (fingers down, the reference orientation). The physics never sees the arm.

use glam::{Quat, Vec3};

/// Joint angles (rad) of the original's reference pose with the hand at (0, 0.6, 0.2).
pub(crate) const REFERENCE_Q: [f32; 7] = [1.889, -0.576, -0.977, 1.642, 0.943, 1.044, 2.293];
/// Reference pose with the hand at (0, 0.4, 0.2).
pub(crate) const REFERENCE_Q_NEAR: [f32; 7] = [2.168, -0.546, -1.235, 2.171, 1.248, 1.020, 1.901];

/// Joint ranges (rad). The original limits j1 to [-3.8, -0.5], which cannot reach the far, low
/// part of the workspace with the fingers down (its arm hangs on the mocap weld and never has
/// to); the drawing IK allows the real Sawyer's j1 up to +0.5.
pub(crate) const JOINT_RANGE: [[f32; 2]; 7] = [
    [-3.0503, 3.0503],
    [-3.8, 0.5],
    [-3.0426, 3.0426],
    [-3.0439, 3.0439],
    [-2.9761, 2.9761],
    [-2.9761, 2.9761],
    [-4.7124, 4.7124],
];

/// Link half extents (m) of l0..l6.
pub(crate) const LINK_HALF: [[f32; 3]; 7] = [
    [0.076, 0.107, 0.171],
    [0.068, 0.103, 0.142],
    [0.053, 0.053, 0.159],
    [0.054, 0.088, 0.122],
    [0.047, 0.053, 0.158],
    [0.048, 0.069, 0.086],
    [0.033, 0.042, 0.055],
];
/// Weight of the orientation error against the position error (m per rad) in the IK.
const ORIENT_WEIGHT: f32 = 0.05;

/// Sawyer head (screen) half extents (m).
pub(crate) const HEAD_HALF: [f32; 3] = [0.044, 0.128, 0.124];

/// A unit quaternion from (w, x, y, z) components (normalised, so (1, 1, 0, 0) = 90° about x).
fn q(w: f32, x: f32, y: f32, z: f32) -> Quat {
    Quat::from_xyzw(x, y, z, w).normalize()
}

/// Parent-frame offsets (position, rotation) of l0..l6, right_hand and hand.
fn chain() -> [(Vec3, Quat); 9] {
    [
        (Vec3::new(0.0, 0.0, 0.08), Quat::IDENTITY),
        (Vec3::new(0.081, 0.05, 0.237), q(0.5, -0.5, 0.5, 0.5)),
        (Vec3::new(0.0, -0.14, 0.1425), q(1.0, 1.0, 0.0, 0.0)),
        (Vec3::new(0.0, -0.042, 0.26), q(1.0, -1.0, 0.0, 0.0)),
        (Vec3::new(0.0, -0.125, -0.1265), q(1.0, 1.0, 0.0, 0.0)),
        (Vec3::new(0.0, 0.031, 0.275), q(1.0, -1.0, 0.0, 0.0)),
        (
            Vec3::new(0.0, -0.11, 0.1053),
            q(0.0616, 0.0616, -0.7044, 0.7044),
        ),
        (Vec3::new(0.0, 0.0, 0.0245), q(1.0, 0.0, 0.0, 1.0)),
        (Vec3::new(0.0, 0.0, 0.12), q(-1.0, 0.0, 1.0, 0.0)),
    ]
}

/// World frames (origin, rotation) of l0..l6 (after their joint rotation) and of the hand.
pub(crate) fn forward(qs: &[f32; 7]) -> ([(Vec3, Quat); 7], (Vec3, Quat)) {
    let c = chain();
    let (mut p, mut r) = (Vec3::ZERO, Quat::IDENTITY);
    let mut links = [(Vec3::ZERO, Quat::IDENTITY); 7];
    for i in 0..7 {
        p += r * c[i].0;
        r = (r * c[i].1 * Quat::from_rotation_z(qs[i])).normalize();
        links[i] = (p, r);
    }
    for off in &c[7..] {
        p += r * off.0;
        r = (r * off.1).normalize();
    }
    (links, (p, r))
}

/// Rotation vector taking `from` to `to` (world frame).
fn rot_error(to: Quat, from: Quat) -> Vec3 {
    let mut d = to * from.inverse();
    if d.w < 0.0 {
        d = -d;
    }
    let (axis, angle) = d.to_axis_angle();
    axis * angle
}

/// Solves `A x = b` for a 6x6 system by Gaussian elimination with partial pivoting.
fn solve6(mut a: [[f32; 6]; 6], mut b: [f32; 6]) -> [f32; 6] {
    for c in 0..6 {
        let piv = (c..6)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap_or(c);
        a.swap(c, piv);
        b.swap(c, piv);
        let d = if a[c][c].abs() < 1e-12 {
            1e-12
        } else {
            a[c][c]
        };
        let pivot_row = a[c];
        for r in c + 1..6 {
            let f = a[r][c] / d;
            for (x, p) in a[r][c..].iter_mut().zip(&pivot_row[c..]) {
                *x -= f * p;
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = [0.0; 6];
    for c in (0..6).rev() {
        let s: f32 = (c + 1..6).map(|k| a[c][k] * x[k]).sum();
        let d = if a[c][c].abs() < 1e-12 {
            1e-12
        } else {
            a[c][c]
        };
        x[c] = (b[c] - s) / d;
    }
    x
}

/// Damped-least-squares IK: joint angles placing the hand frame at `target` with the reference
/// (fingers-down) orientation, starting from `start`. 150 iterations at most; joint limits held.
pub(crate) fn solve(target: Vec3, start: [f32; 7]) -> [f32; 7] {
    let goal_rot = forward(&REFERENCE_Q).1.1;
    let mut qs = start;
    let lambda2 = 0.01f32;
    for _ in 0..150 {
        let (_, (p, r)) = forward(&qs);
        let e_p = target - p;
        let e_r = rot_error(goal_rot, r) * ORIENT_WEIGHT;
        if e_p.length() < 1e-4 && e_r.length() < 1e-3 {
            break;
        }
        let e = [e_p.x, e_p.y, e_p.z, e_r.x, e_r.y, e_r.z];
        let mut jac = [[0.0f32; 7]; 6];
        let h = 1e-3;
        for j in 0..7 {
            let mut qh = qs;
            qh[j] += h;
            let (_, (ph, rh)) = forward(&qh);
            let dp = (ph - p) / h;
            let dr = rot_error(rh, r) * ORIENT_WEIGHT / h;
            for (row, v) in [dp.x, dp.y, dp.z, dr.x, dr.y, dr.z].into_iter().enumerate() {
                jac[row][j] = v;
            }
        }
        let mut a = [[0.0f32; 6]; 6];
        for (i, row) in a.iter_mut().enumerate() {
            for (k, v) in row.iter_mut().enumerate() {
                *v = (0..7).map(|j| jac[i][j] * jac[k][j]).sum::<f32>();
                if i == k {
                    *v += lambda2;
                }
            }
        }
        let y = solve6(a, e);
        for (j, qj) in qs.iter_mut().enumerate() {
            let dq: f32 = (0..6).map(|i| jac[i][j] * y[i]).sum();
            *qj = (*qj + dq.clamp(-0.3, 0.3)).clamp(JOINT_RANGE[j][0], JOINT_RANGE[j][1]);
        }
    }
    qs
}

/// A warm start for `target`: `previous` if its hand was near, else the nearer reference pose.
pub(crate) fn warm_start(target: Vec3, previous: [f32; 7]) -> [f32; 7] {
    let prev_hand = forward(&previous).1.0;
    if prev_hand.distance(target) < 0.05 {
        previous
    } else if target.y > 0.5 {
        REFERENCE_Q
    } else {
        REFERENCE_Q_NEAR
    }
}

/// Rotation taking +z to `dir` (unit).
pub(crate) fn z_to(dir: Vec3) -> Quat {
    Quat::from_rotation_arc(Vec3::Z, dir.normalize_or(Vec3::Z))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_kinematics_matches_the_reference_pose() {
        let (links, (hand, _)) = forward(&REFERENCE_Q);
        let want = [
            [0.0, 0.0, 0.08],
            [-0.073, 0.061, 0.317],
            [-0.245, 0.128, 0.393],
            [-0.285, 0.325, 0.564],
            [-0.111, 0.354, 0.589],
            [0.066, 0.515, 0.449],
            [0.006, 0.601, 0.340],
        ];
        for (i, w) in want.iter().enumerate() {
            assert!(
                links[i].0.distance(Vec3::from(*w)) < 0.01,
                "l{i}: {:?} vs {w:?}",
                links[i].0
            );
        }
        assert!(
            hand.distance(Vec3::new(0.0, 0.6, 0.2)) < 0.01,
            "hand {hand:?}"
        );
        let near = forward(&REFERENCE_Q_NEAR).1.0;
        assert!(
            near.distance(Vec3::new(0.0, 0.4, 0.2)) < 0.01,
            "hand {near:?}"
        );
    }

    #[test]
    fn ik_reaches_workspace_points_with_fingers_down() {
        let goal_rot = forward(&REFERENCE_Q).1.1;
        for t in [
            [0.2, 0.7, 0.1],
            [-0.3, 0.5, 0.3],
            [0.0, 0.9, 0.05],
            [0.4, 0.8, 0.4],
        ] {
            let t = Vec3::from(t);
            let q = solve(t, warm_start(t, REFERENCE_Q));
            let (_, (p, r)) = forward(&q);
            assert!(
                p.distance(t) < 0.005,
                "target {t:?} reached {p:?} with q {q:?}"
            );
            assert!(
                r.angle_between(goal_rot) < 0.6,
                "orientation off by {}",
                r.angle_between(goal_rot)
            );
        }
    }
}
