//! Offline reinforcement learning in tch: behaviour cloning and conservative Q-learning on real
//! and imagined datasets, with the VLGOR paper's policy network.
