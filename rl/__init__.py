"""Training navigation policies: trajectories, SFT, the GRPO environment and rewards, before/after evaluation."""
