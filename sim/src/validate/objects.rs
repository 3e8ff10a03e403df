//! Sizes of the Meta-World free objects, shared by the state checks and the rebuilding of
//! states from perceived ones.

/// Meta-World free objects as (radius, half height) (m): the puck, the mug.
pub const PUCK: (f32, f32) = (0.02, 0.02);
pub const MUG: (f32, f32) = (0.028, 0.033);
