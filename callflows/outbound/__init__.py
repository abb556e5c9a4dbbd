"""Outbound calls: a number calls someone, playing an MP3 or reading a text (model in dins)."""
