"""Talking to models, hosted or local, through one typed interface."""
