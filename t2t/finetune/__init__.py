"""Fine-tuning: successful rollouts as SFT data, training, a tiny offline model, before/after."""
