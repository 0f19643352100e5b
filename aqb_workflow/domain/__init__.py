"""The pure core: no database, no clock, no network. Everything it needs is passed in."""
