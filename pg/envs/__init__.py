"""Environments: a batched, Gymnasium-exact CartPole."""

from pg.envs.cartpole import CartPole

__all__ = ["CartPole"]
