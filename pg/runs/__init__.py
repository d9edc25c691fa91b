"""Run bookkeeping on top of pg.algo: a run's history as columns, checkpoints on disk (the
policy, its config, its history), and LiveRun (one to five seeds trained in chunks)."""
