"""The learner: advisory rollout-strategy suggestions. It never holds a writer."""
