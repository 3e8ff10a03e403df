//! Surface templates of CLEVR instructions: background frames `t` with `{target}` and
//! `{behavior}` slots, and the phrase styles that render the manipulation target `m` and the
//! behavior pattern `b`. Training and rephrasing use disjoint frames and disjoint styles, so no
//! rephrasing text can ever equal a training text.

use super::goal::Direction;

/// How a template words the target ball and the behavior.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    /// Noun after the colour for the manipulated ball ("ball", "sphere", ...).
    pub noun: &'static str,
    /// Behavior phrases by [`Direction`] order (left, right, front, behind). Relations use
    /// `{ref}` for the reference ball's colour.
    pub phrases: [&'static str; 4],
    /// The phrase describes the opposite of the goal ("I can't stand the red ball ahead of the
    /// blue one. Could you switch ...?").
    pub opposite: bool,
}

impl Style {
    /// The behavior phrase for `dir` (for relations, `{ref}` still to be filled).
    pub fn phrase(&self, dir: Direction) -> &'static str {
        let d = if self.opposite { dir.opposite() } else { dir };
        self.phrases[Direction::ALL.iter().position(|x| *x == d).unwrap_or(0)]
    }
}

/// One template: a frame and a style.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Template {
    pub frame: &'static str,
    pub style: Style,
}

const fn style(noun: &'static str, phrases: [&'static str; 4]) -> Style {
    Style {
        noun,
        phrases,
        opposite: false,
    }
}

// ---- relations: "ball X is DIRECTION of ball Y" ----

const REL_STYLES_TRAIN: [Style; 3] = [
    style(
        "ball",
        [
            "to the left of the {ref} ball",
            "to the right of the {ref} ball",
            "in front of the {ref} ball",
            "behind the {ref} ball",
        ],
    ),
    style(
        "ball",
        [
            "left of the {ref} one",
            "right of the {ref} one",
            "in front of the {ref} one",
            "behind the {ref} one",
        ],
    ),
    style(
        "sphere",
        [
            "on the left side of the {ref} sphere",
            "on the right side of the {ref} sphere",
            "in front of the {ref} sphere",
            "behind the {ref} sphere",
        ],
    ),
];

const REL_FRAMES_TRAIN: [&str; 18] = [
    "Push the {target} {behavior}.",
    "Move the {target} {behavior}.",
    "Can you move the {target} {behavior}?",
    "Can you help me move the {target} {behavior}?",
    "I want the {target} {behavior}.",
    "Put the {target} {behavior}.",
    "Place the {target} {behavior}.",
    "Get the {target} {behavior}.",
    "Please push the {target} {behavior}.",
    "Could you put the {target} {behavior}?",
    "Keep pushing the {target} until it is {behavior}.",
    "The {target} should be {behavior}.",
    "Make sure the {target} ends up {behavior}.",
    "Help me get the {target} {behavior}.",
    "Try to move the {target} {behavior}.",
    "Slide the {target} {behavior}.",
    "Bring the {target} {behavior}.",
    "Position the {target} {behavior}.",
];

const REL_STYLES_REPHRASE: [Style; 2] = [
    style(
        "rubber ball",
        [
            "on the left-hand side of the {ref} rubber ball",
            "on the right-hand side of the {ref} rubber ball",
            "closer to the camera than the {ref} rubber ball",
            "farther from the camera than the {ref} rubber ball",
        ],
    ),
    style(
        "matte sphere",
        [
            "somewhere left of the {ref} matte sphere",
            "somewhere right of the {ref} matte sphere",
            "just ahead of the {ref} matte sphere",
            "just beyond the {ref} matte sphere",
        ],
    ),
];

const REL_FRAMES_REPHRASE: [&str; 10] = [
    "Would you mind relocating the {target} {behavior}?",
    "It would be great if the {target} sat {behavior}.",
    "Rearrange things so the {target} is {behavior}.",
    "I'd like to see the {target} {behavior}.",
    "Your job is to leave the {target} {behavior}.",
    "Let's have the {target} {behavior}.",
    "Go ahead and shove the {target} {behavior}.",
    "Arrange the table so that the {target} lies {behavior}.",
    "The goal: the {target} resting {behavior}.",
    "Could the {target} end up {behavior}, please?",
];

/// Describes the opposite relation (the state to undo).
const REL_STYLE_OPPOSITE: Style = Style {
    noun: "ball",
    phrases: [
        "to the left of the {ref} one",
        "to the right of the {ref} one",
        "ahead of the {ref} one",
        "behind the {ref} one",
    ],
    opposite: true,
};

const REL_FRAMES_OPPOSITE: [&str; 10] = [
    "I can't stand the {target} {behavior}. Could you switch the positions of them?",
    "The {target} is {behavior}, which I dislike. Please swap them around.",
    "Right now the {target} is {behavior}; reverse that.",
    "I don't like the {target} {behavior}. Flip their arrangement.",
    "Having the {target} {behavior} bothers me. Swap the two.",
    "Undo the {target} being {behavior} by swapping their sides.",
    "The {target} sits {behavior}. Please exchange their positions.",
    "It is wrong for the {target} to be {behavior}. Switch them.",
    "Seeing the {target} {behavior} annoys me; invert the two.",
    "Don't leave the {target} {behavior}. Trade their places.",
];

// ---- directional goals: "move ball X toward DIRECTION" (Table 5) ----

const MOVE_STYLES_TRAIN: [Style; 3] = [
    style(
        "ball",
        [
            "toward the left",
            "toward the right",
            "toward the front",
            "toward the back",
        ],
    ),
    style(
        "ball",
        ["to the left", "to the right", "to the front", "to the back"],
    ),
    style("sphere", ["leftward", "rightward", "frontward", "backward"]),
];

const MOVE_FRAMES_TRAIN: [&str; 18] = [
    "Move the {target} {behavior}.",
    "Push the {target} {behavior}.",
    "Slide the {target} {behavior}.",
    "Can you move the {target} {behavior}?",
    "Can you help me push the {target} {behavior}?",
    "Please move the {target} {behavior}.",
    "I want the {target} moved {behavior}.",
    "Shift the {target} {behavior}.",
    "Roll the {target} {behavior}.",
    "Nudge the {target} {behavior}.",
    "Could you push the {target} {behavior}?",
    "Get the {target} to go {behavior}.",
    "Help me move the {target} {behavior}.",
    "Try to push the {target} {behavior}.",
    "Send the {target} {behavior}.",
    "Give the {target} a push {behavior}.",
    "Make the {target} travel {behavior}.",
    "Drive the {target} {behavior}.",
];

const MOVE_STYLES_REPHRASE: [Style; 2] = [
    style(
        "rubber ball",
        [
            "over to the left-hand side",
            "over to the right-hand side",
            "closer to the camera",
            "away from the camera",
        ],
    ),
    style(
        "matte sphere",
        [
            "a bit further left",
            "a bit further right",
            "nearer to the viewer",
            "further from the viewer",
        ],
    ),
];

const MOVE_FRAMES_REPHRASE: [&str; 15] = [
    "Would you mind relocating the {target} {behavior}?",
    "I'd like the {target} displaced {behavior}.",
    "Go ahead and shove the {target} {behavior}.",
    "Could the {target} travel {behavior}, please?",
    "Your job is to shift the {target} {behavior}.",
    "Let's see the {target} head {behavior}.",
    "Transport the {target} {behavior}.",
    "Kindly relocate the {target} {behavior}.",
    "The {target} needs to go {behavior}.",
    "Have the {target} move {behavior}.",
    "Bump the {target} {behavior}.",
    "Ensure the {target} moves {behavior}.",
    "Carry the {target} {behavior}.",
    "Steer the {target} {behavior}.",
    "Propel the {target} {behavior}.",
];

// ---- hard level: several relations, ORDER, SORT ----

/// Frames for several relations; `{behavior}` is the relations joined with "and".
pub const HARD_FRAMES: [&str; 5] = [
    "Arrange the balls so that {behavior}.",
    "Push the balls until {behavior}.",
    "Make it so that {behavior}.",
    "I want a table where {behavior}.",
    "Rearrange the scene: {behavior}.",
];
/// ORDER instructions (fixed colour order red, blue, green, purple, cyan).
pub const ORDER_TEXTS: [&str; 3] = [
    "Line up the balls from left to right: red, blue, green, purple, cyan.",
    "Order the balls left to right as red, blue, green, purple and cyan.",
    "Put the red, blue, green, purple and cyan balls in a row from left to right.",
];
/// SORT instructions (gather around green).
pub const SORT_TEXTS: [&str; 3] = [
    "Gather the red, blue, purple and cyan balls around the green ball.",
    "Cluster every other ball close to the green ball.",
    "Bring all the other balls near the green one.",
];

fn cross(frames: &[&'static str], styles: &[Style]) -> Vec<Template> {
    styles
        .iter()
        .flat_map(|s| {
            frames.iter().map(move |f| Template {
                frame: f,
                style: *s,
            })
        })
        .collect()
}

/// Training templates for relation goals (54).
pub fn relation_training() -> Vec<Template> {
    cross(&REL_FRAMES_TRAIN, &REL_STYLES_TRAIN)
}

/// Rephrasing templates for relation goals (30), disjoint from training.
pub fn relation_rephrase() -> Vec<Template> {
    let mut t = cross(&REL_FRAMES_REPHRASE, &REL_STYLES_REPHRASE);
    t.extend(cross(&REL_FRAMES_OPPOSITE, &[REL_STYLE_OPPOSITE]));
    t
}

/// Training templates for directional goals (54).
pub fn move_training() -> Vec<Template> {
    cross(&MOVE_FRAMES_TRAIN, &MOVE_STYLES_TRAIN)
}

/// Rephrasing templates for directional goals (30), disjoint from training.
pub fn move_rephrase() -> Vec<Template> {
    cross(&MOVE_FRAMES_REPHRASE, &MOVE_STYLES_REPHRASE)
}
