"""EDIT SFT-phase toolkit: tasks, char tokenizer, masked-diffusion training, AdamW-evolution recorder."""
