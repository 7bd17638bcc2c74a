"""A trainable video captioner: Idefics3 on SmolLM2-135M, SFT then SCST (CIDEr-D reward).

``model`` builds/saves it, ``data`` makes (frames, captions) pairs, ``batch`` turns them into
tensors, ``train`` runs the loops, ``rewards`` holds the pure CIDEr-D/SCST reward functions.
CLI: ``videonav train captioner-sft|captioner-rl --config rl/configs/captioner_*.yaml``.
"""
