"""The embedded Xoxzo-compatible sandbox carrier (plays another company's system)."""
