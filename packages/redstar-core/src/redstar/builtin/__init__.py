"""Core's own features, registered through the public hooks exactly as a third-party plugin
would register them (the host loads these modules as plugins named ``core:<module>``)."""
