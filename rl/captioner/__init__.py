"""A trainable video captioner (Idefics3 on SmolLM2-135M): data, model, SFT and SCST loops, CIDEr-D rewards."""
