"""Pictures: arrays in, pictures out. The policy over a state grid (policy_grid), one recorded
episode (episode), pygame frames to MP4 (render), and the Altair chart builders (*_charts,
with the palette and sizes in style)."""
