//! The scene: cameras, goal marker, the arm posed by IK at the hand, and objects where simulated.

use vlgor_sim::metaworld::{MetaWorldEnv, Task};
use vlgor_sim::{Action, Env, ShapeKind};

#[test]
fn cameras_and_scene_contents() {
    let mut env = MetaWorldEnv::new(Task::PickPlace);
    assert_eq!(env.cameras()[0], "corner4");
    let s = env.scene("corner4").unwrap();
    assert_eq!(s.camera.eye, [0.75, 0.075, 0.7]);
    assert_eq!(s.camera.up, [0.0, 0.0, 1.0]);
    let t = env.scene("topview").unwrap();
    assert_eq!(t.camera.eye, [0.0, 0.5, 1.5]);
    assert_eq!(t.camera.fovy_deg, 45.0);
    let goal = env.goal_point();
    assert!(s.shapes.iter().any(
        |sh| matches!(sh.kind, ShapeKind::Sphere { radius } if radius == 0.02)
            && sh.position == goal
    ));
    // The puck is drawn where it is simulated.
    let obj = env.perceived().object;
    assert!(s.shapes.iter().any(
        |sh| matches!(sh.kind, ShapeKind::Cylinder { radius, .. } if radius == 0.02)
            && sh.position == obj
    ));
    // The arm follows the hand: some red link capsule ends near the wrist above the hand.
    for _ in 0..40 {
        env.step(&Action::Continuous([1.0, 0.5, 0.3, 0.0])).unwrap();
    }
    let hand = env.perceived().hand;
    let s = env.scene("corner4").unwrap();
    assert!(s.shapes.len() > 25, "{} shapes", s.shapes.len());
    for sh in &s.shapes {
        assert!(sh.position.iter().all(|v| v.is_finite()));
        let q = sh.rotation;
        assert!(
            ((q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]).sqrt() - 1.0).abs() < 1e-3
        );
    }
    let wrist_near = s.shapes.iter().any(|sh| {
        let d: f32 = (0..3)
            .map(|i| (sh.position[i] - hand[i]).powi(2))
            .sum::<f32>()
            .sqrt();
        matches!(sh.kind, ShapeKind::Capsule { .. }) && d < 0.25
    });
    assert!(wrist_near, "no arm link near the hand {hand:?}");
    for task in Task::ALL {
        let env = MetaWorldEnv::new(task);
        for cam in env.cameras() {
            env.scene(cam).unwrap();
        }
    }
}
