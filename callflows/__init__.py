"""Call flows: MP3s, TTS scripts, rules, the action URL and the call log."""
