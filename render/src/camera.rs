//! Camera maths shared by the renderer and tests: view-projection matrix (right-handed,
//! depth range 0..1 as wgpu expects) and the projection of a world point to pixel coordinates.

use glam::{Mat4, Vec3, Vec4};
use vlgor_sim::Camera;

/// Near clipping distance (m).
pub const NEAR: f32 = 0.02;
/// Far clipping distance (m).
pub const FAR: f32 = 100.0;

/// Checks that the camera can be used: finite numbers, eye != target, `up` not parallel to the
/// viewing direction, field of view in (0, 180) degrees.
pub fn validate(camera: &Camera) -> Result<(), String> {
    let nums = camera
        .eye
        .iter()
        .chain(&camera.target)
        .chain(&camera.up)
        .chain(std::iter::once(&camera.fovy_deg));
    if nums.clone().any(|v| !v.is_finite()) {
        return Err(format!("camera has non-finite numbers: {camera:?}"));
    }
    if !(camera.fovy_deg > 0.1 && camera.fovy_deg < 179.0) {
        return Err(format!(
            "camera fovy_deg {} is outside the valid range (0.1, 179) degrees",
            camera.fovy_deg
        ));
    }
    let dir = Vec3::from(camera.target) - Vec3::from(camera.eye);
    if dir.length() < 1e-6 {
        return Err("camera eye equals target: the viewing direction is undefined".into());
    }
    let up = Vec3::from(camera.up);
    if up.length() < 1e-6 || dir.normalize().cross(up.normalize()).length() < 1e-4 {
        return Err(format!(
            "camera up {:?} is zero or parallel to the viewing direction {:?}",
            camera.up,
            dir.to_array()
        ));
    }
    Ok(())
}

/// World-to-clip matrix for an image of aspect `width / height`.
pub fn view_proj(camera: &Camera, aspect: f32) -> Mat4 {
    let view = glam::camera::rh::view::look_at_mat4(
        Vec3::from(camera.eye),
        Vec3::from(camera.target),
        Vec3::from(camera.up),
    );
    let proj = glam::camera::rh::proj::directx::perspective(
        camera.fovy_deg.to_radians(),
        aspect,
        NEAR,
        FAR,
    );
    proj * view
}

/// Pixel coordinates `(x, y)` of world `point` in a `width` x `height` image: x to the right,
/// y downwards, (0, 0) is the top-left corner of the top-left pixel, so the centre of pixel
/// (col, row) is (col + 0.5, row + 0.5). `None` when the point is behind the camera or nearer
/// than the near plane.
pub fn project(camera: &Camera, point: [f32; 3], width: u32, height: u32) -> Option<(f32, f32)> {
    let clip =
        view_proj(camera, width as f32 / height as f32) * Vec4::from((Vec3::from(point), 1.0));
    if clip.w <= NEAR {
        return None;
    }
    let ndc = clip.truncate() / clip.w;
    let x = (ndc.x + 1.0) * 0.5 * width as f32;
    let y = (1.0 - ndc.y) * 0.5 * height as f32;
    Some((x, y))
}

/// A camera at `distance` (m) from `target`, MuJoCo-style: the viewing direction is
/// `(cos(el) cos(az), cos(el) sin(az), sin(el))` for azimuth `az` around +z and elevation `el`
/// (degrees; negative looks down), so azimuth 90 and elevation -45 look along +y and downwards.
/// `up` is +z.
pub fn orbit_camera(
    target: [f32; 3],
    distance: f32,
    azimuth_deg: f32,
    elevation_deg: f32,
    fovy_deg: f32,
) -> Camera {
    let (az, el) = (azimuth_deg.to_radians(), elevation_deg.to_radians());
    let dir = Vec3::new(el.cos() * az.cos(), el.cos() * az.sin(), el.sin());
    let eye = Vec3::from(target) - dir * distance;
    Camera {
        eye: eye.to_array(),
        target,
        up: [0.0, 0.0, 1.0],
        fovy_deg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_projects_to_image_centre_and_up_is_up() {
        let cam = orbit_camera([0.0, 0.2, -0.25], 2.2, 90.0, -45.0, 45.0);
        let (x, y) = project(&cam, cam.target, 128, 128).unwrap();
        assert!(
            (x - 64.0).abs() < 1e-3 && (y - 64.0).abs() < 1e-3,
            "{x} {y}"
        );
        // A point above the target appears higher in the image (smaller y).
        let (_, y_up) = project(&cam, [0.0, 0.2, 0.0], 128, 128).unwrap();
        assert!(y_up < y);
        // +x is to the right when looking along +y with +z up.
        let (x_right, _) = project(&cam, [0.3, 0.2, -0.25], 128, 128).unwrap();
        assert!(x_right > x);
        assert!(project(&cam, [0.0, -5.0, 5.0], 128, 128).is_none());
    }

    #[test]
    fn bad_cameras_are_rejected_with_reasons() {
        let mut cam = orbit_camera([0.0; 3], 1.0, 0.0, -90.0, 45.0);
        assert!(validate(&cam).unwrap_err().contains("parallel"));
        cam = orbit_camera([0.0; 3], 1.0, 0.0, -30.0, 0.0);
        assert!(validate(&cam).unwrap_err().contains("fovy"));
    }
}
