"""Test utilities shipped for users' own tests and offline work: `local_hub`, a local Hugging Face Hub."""
