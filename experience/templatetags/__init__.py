"""Template filters of the experience pages."""
