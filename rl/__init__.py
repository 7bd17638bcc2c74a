"""videonav.rl: training the planner to navigate better and cheaper.

``data`` (the one split, trees cached in the store) -> ``trajectories`` (teachers driving the
planner's own episode machinery) -> ``sft`` (TRL SFTTrainer) -> ``env`` + ``rewards`` +
``grpo`` (TRL GRPOTrainer with a multi-turn navigation environment) -> ``evaluate`` (the
before/after comparison through ``videonav.agent.evaluation.harness``). ``cmd_train`` is the CLI verb.
Nothing in ``videonav.agent`` imports this package.
"""
