"""mailintake: register, acknowledge and track permit applications sent by email
to a Thai government office's central mailbox (saraban@)."""

__version__ = "0.1.0"
