"""Bundled data: prompts, the sample epic, demo scenarios, pricing and icons."""
