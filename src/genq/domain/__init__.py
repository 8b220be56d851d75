"""Pure core of genq: job states, transitions, events, errors and retry policy. No I/O here."""
