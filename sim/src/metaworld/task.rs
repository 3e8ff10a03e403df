//! The ten Meta-World tasks of the paper's subset, with the original's workspace bounds, initial
//! hand positions, object and goal ranges (metres). See `shared/reference/metaworld.md`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::SimError;

/// One of the ten Meta-World tasks (Appendix B.1 of the paper).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    Reach,
    Push,
    PickPlace,
    ButtonPress,
    DoorUnlock,
    DoorOpen,
    WindowOpen,
    FaucetOpen,
    CoffeePush,
    CoffeeButtonPress,
}

impl Task {
    pub const ALL: [Task; 10] = [
        Task::Reach,
        Task::Push,
        Task::PickPlace,
        Task::ButtonPress,
        Task::DoorUnlock,
        Task::DoorOpen,
        Task::WindowOpen,
        Task::FaucetOpen,
        Task::CoffeePush,
        Task::CoffeeButtonPress,
    ];

    /// The original's task name (without the `-v3` suffix).
    pub fn name(self) -> &'static str {
        match self {
            Task::Reach => "reach",
            Task::Push => "push",
            Task::PickPlace => "pick-place",
            Task::ButtonPress => "button-press",
            Task::DoorUnlock => "door-unlock",
            Task::DoorOpen => "door-open",
            Task::WindowOpen => "window-open",
            Task::FaucetOpen => "faucet-open",
            Task::CoffeePush => "coffee-push",
            Task::CoffeeButtonPress => "coffee-button-press",
        }
    }

    /// Index in [`Task::ALL`].
    pub fn index(self) -> usize {
        Task::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    /// Mocap (hand target) bounds: low corner, high corner (m).
    pub fn hand_bounds(self) -> ([f32; 3], [f32; 3]) {
        let low_z = match self {
            Task::DoorUnlock | Task::FaucetOpen => -0.15,
            _ => 0.05,
        };
        ([-0.5, 0.40, low_z], [0.5, 1.0, 0.5])
    }

    /// Initial hand position (m).
    pub fn hand_init(self) -> [f32; 3] {
        match self {
            Task::Reach | Task::Push | Task::PickPlace | Task::DoorUnlock | Task::DoorOpen => {
                [0.0, 0.6, 0.2]
            }
            _ => [0.0, 0.4, 0.2],
        }
    }

    /// Range of the task's base position (object or fixture), low and high corner (m).
    pub fn base_range(self) -> ([f32; 3], [f32; 3]) {
        match self {
            Task::Reach | Task::Push | Task::PickPlace => ([-0.1, 0.6, 0.02], [0.1, 0.7, 0.02]),
            Task::ButtonPress => ([-0.1, 0.85, 0.115], [0.1, 0.9, 0.115]),
            Task::DoorUnlock => ([-0.1, 0.8, 0.15], [0.1, 0.85, 0.15]),
            Task::DoorOpen => ([0.0, 0.85, 0.15], [0.1, 0.95, 0.15]),
            Task::WindowOpen => ([-0.1, 0.7, 0.16], [0.1, 0.9, 0.16]),
            Task::FaucetOpen => ([-0.05, 0.8, 0.0], [0.05, 0.85, 0.0]),
            Task::CoffeePush => ([-0.1, 0.55, 0.0], [0.1, 0.65, 0.0]),
            Task::CoffeeButtonPress => ([-0.1, 0.8, 0.0], [0.1, 0.9, 0.0]),
        }
    }

    /// Whether the goal is a sampled free position (reach, push, pick-place, coffee-push) rather
    /// than a state of an articulated object.
    pub fn has_position_goal(self) -> bool {
        matches!(
            self,
            Task::Reach | Task::Push | Task::PickPlace | Task::CoffeePush
        )
    }

    /// Whether the task has a free (unjointed) object: the puck or the mug.
    pub fn has_free_object(self) -> bool {
        matches!(
            self,
            Task::Reach | Task::Push | Task::PickPlace | Task::CoffeePush
        )
    }

    /// The task in words, for `vlgor tasks`.
    pub fn goal_words(self) -> &'static str {
        match self {
            Task::Reach => "reach: gripper to goal",
            Task::Push => "push: puck to goal",
            Task::PickPlace => "pick-place: puck lifted to goal",
            Task::ButtonPress => "button-press: button pushed in",
            Task::DoorUnlock => "door-unlock: lock lever turned",
            Task::DoorOpen => "door-open: door swung open",
            Task::WindowOpen => "window-open: sash slid open",
            Task::FaucetOpen => "faucet-open: handle turned",
            Task::CoffeePush => "coffee-push: mug to machine",
            Task::CoffeeButtonPress => "coffee-button-press: machine button pushed",
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Task {
    type Err = SimError;
    /// Parses a task name; accepts the original's `-v2`/`-v3` suffixes and `coffee-button`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let base = s.trim_end_matches("-v2").trim_end_matches("-v3");
        let base = if base == "coffee-button" {
            "coffee-button-press"
        } else {
            base
        };
        Task::ALL
            .into_iter()
            .find(|t| t.name() == base)
            .ok_or_else(|| SimError::unknown("task", s, &Task::ALL.map(Task::name)))
    }
}
