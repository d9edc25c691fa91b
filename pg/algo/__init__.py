"""The algorithm, read in this order: nn (a tanh MLP), policies (softmax over actions, with
analytic gradients), optim (SGD, Adam), rollout (lock-step episodes), returns (reward-to-go,
GAE), baselines (what to subtract), estimators (the weight on each grad log pi), reinforce
(TrainConfig, the gradient, the training loop). Imports only pg.envs and NumPy."""
