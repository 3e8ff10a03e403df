//! State readout: reading object states (metres) from frames, for the imagination goal check
//! and the MED metric. [`readout`] holds the CNN, [`data`] renders labelled frames from the real
//! simulators, [`train`] fits the CNN.

pub mod data;
pub mod readout;
pub mod train;

pub use data::{
    LABELLED_EXPERT_NOISE, LabelledFrames, LabelledStates, render_labelled, true_state,
};
pub use readout::{ReadoutKind, StateReadout, position_error};
pub use train::{ReadoutOptions, ReadoutReport, train_readout, train_readout_fresh};
