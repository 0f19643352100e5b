"""Sending what is due: one dispatch pass, and the daemon that runs it on a schedule."""
