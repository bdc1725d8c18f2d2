"""The screen of the user's session: capture (and, later, input) behind one platform interface."""
